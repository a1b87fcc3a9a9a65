//! The catalog: every object of the account (`snowflake-behaviour.md` §2) and the grants between
//! them. Objects are keyed by a numeric id so that renames never break a grant.
//!
//! # Cost per statement
//!
//! snowpat provisions thousands of tenants against one emulator, so a statement must cost about
//! the same at 5,000 users as at 5:
//!
//! * Change tracking and atomicity: the tables are [`TrackedMap`]s and [`TrackedVec`]s. Between
//!   [`Catalog::begin`] and [`Catalog::end`] their mutating methods keep an undo record (a map
//!   keeps the old value of each key it touches, once; a vector only its old length while it is
//!   merely appended to, and a copy of itself otherwise). [`Catalog::changed`] compares only what
//!   was touched with its old value and [`Catalog::rollback`] puts it back, so a read-only
//!   statement copies nothing and a write costs what it touches.
//! * Indexes kept beside the tables, refreshed incrementally while the tables are only appended
//!   to and rebuilt after any other change: PAT records by secret digest, the earliest PAT expiry
//!   (so the 7-day purge of §6.1 does nothing until something is due), and role grants by
//!   grantee (role closures of §4.1).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::{Deref, Index, IndexMut};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use snowpat_sql::ast::ObjectKind;

/// The kinds of object the catalog holds (the serialisable twin of [`ObjectKind`]).
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
pub(crate) enum Kind {
    Account,
    User,
    Role,
    DatabaseRole,
    Database,
    Schema,
    AuthenticationPolicy,
    NetworkPolicy,
    NetworkRule,
    Secret,
    Integration,
    Stage,
    ImageRepository,
    ComputePool,
    Service,
    McpServer,
    Warehouse,
}

impl Kind {
    pub(crate) fn from_ast(kind: ObjectKind) -> Self {
        match kind {
            ObjectKind::Account => Self::Account,
            ObjectKind::User => Self::User,
            ObjectKind::Role => Self::Role,
            ObjectKind::Database => Self::Database,
            ObjectKind::Schema => Self::Schema,
            ObjectKind::AuthenticationPolicy => Self::AuthenticationPolicy,
            ObjectKind::NetworkPolicy => Self::NetworkPolicy,
            ObjectKind::NetworkRule => Self::NetworkRule,
            ObjectKind::Secret => Self::Secret,
            ObjectKind::Integration | ObjectKind::ExternalAccessIntegration => Self::Integration,
            ObjectKind::Stage => Self::Stage,
            ObjectKind::ImageRepository => Self::ImageRepository,
            ObjectKind::ComputePool => Self::ComputePool,
            ObjectKind::Service => Self::Service,
            ObjectKind::McpServer => Self::McpServer,
            ObjectKind::Warehouse => Self::Warehouse,
        }
    }

    /// `granted_on` in SHOW GRANTS.
    pub(crate) fn granted_on(self) -> &'static str {
        match self {
            Self::Account => "ACCOUNT",
            Self::User => "USER",
            Self::Role => "ROLE",
            Self::DatabaseRole => "DATABASE_ROLE",
            Self::Database => "DATABASE",
            Self::Schema => "SCHEMA",
            Self::AuthenticationPolicy => "AUTHENTICATION_POLICY",
            Self::NetworkPolicy => "NETWORK_POLICY",
            Self::NetworkRule => "NETWORK_RULE",
            Self::Secret => "SECRET",
            Self::Integration => "INTEGRATION",
            Self::Stage => "STAGE",
            Self::ImageRepository => "IMAGE_REPOSITORY",
            Self::ComputePool => "COMPUTE_POOL",
            Self::Service => "SERVICE",
            Self::McpServer => "MCP_SERVER",
            Self::Warehouse => "WAREHOUSE",
        }
    }

    /// Lower-case noun for `003001` messages (`authentication policy`).
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::User => "user",
            Self::Role => "role",
            Self::DatabaseRole => "database role",
            Self::Database => "database",
            Self::Schema => "schema",
            Self::AuthenticationPolicy => "authentication policy",
            Self::NetworkPolicy => "network policy",
            Self::NetworkRule => "network rule",
            Self::Secret => "secret",
            Self::Integration => "integration",
            Self::Stage => "stage",
            Self::ImageRepository => "image repository",
            Self::ComputePool => "compute pool",
            Self::Service => "service",
            Self::McpServer => "MCP server",
            Self::Warehouse => "warehouse",
        }
    }

    /// Capitalised noun for `002003` messages (`Authentication policy`).
    pub(crate) fn title(self) -> String {
        let noun = self.noun();
        let mut chars = noun.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }

    /// Title-case keyword for CREATE status rows (`Authentication policy P successfully created.`).
    pub(crate) fn created_word(self) -> String {
        self.title()
    }

    /// Whether the object lives in a schema (`db.schema.name`).
    pub(crate) fn schema_level(self) -> bool {
        matches!(
            self,
            Self::AuthenticationPolicy
                | Self::NetworkRule
                | Self::Secret
                | Self::Stage
                | Self::ImageRepository
                | Self::Service
                | Self::McpServer
        )
    }
}

/// A user (§2, §5.1).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub(crate) struct User {
    pub id: u64,
    pub name: String,
    pub login_name: String,
    pub display_name: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// SHA-256 hex digest of the password, if one is set.
    pub password_digest: Option<String>,
    pub must_change_password: bool,
    pub disabled: bool,
    pub days_to_expiry: Option<String>,
    pub mins_to_unlock: Option<String>,
    pub mins_to_bypass_mfa: Option<String>,
    pub default_warehouse: Option<String>,
    pub default_namespace: Option<String>,
    pub default_role: Option<String>,
    /// `DEFAULT_SECONDARY_ROLES = ('ALL')`.
    pub default_secondary_all: bool,
    pub rsa_public_key: Option<String>,
    pub rsa_public_key_2: Option<String>,
    /// Network policy object id.
    pub network_policy: Option<u64>,
    /// Authentication policy object id.
    pub auth_policy: Option<u64>,
    /// `TYPE`, upper case; None = NULL (PERSON semantics).
    pub user_type: Option<String>,
    pub comment: Option<String>,
    pub owner: Option<u64>,
    pub created_on: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub failed_logins: u32,
    pub last_success_login: Option<DateTime<Utc>>,
}

impl User {
    /// TYPE SERVICE or LEGACY_SERVICE.
    pub(crate) fn is_service(&self) -> bool {
        matches!(
            self.user_type.as_deref(),
            Some("SERVICE") | Some("LEGACY_SERVICE")
        )
    }

    /// TYPE PERSON or NULL.
    pub(crate) fn is_person(&self) -> bool {
        matches!(self.user_type.as_deref(), None | Some("PERSON"))
    }
}

/// An account role or a database role of `SNOWFLAKE` (§3).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub(crate) struct Role {
    pub id: u64,
    pub name: String,
    /// `Some("SNOWFLAKE")` for database roles.
    pub database: Option<String>,
    pub comment: Option<String>,
    pub owner: Option<u64>,
    pub created_on: DateTime<Utc>,
    pub system: bool,
}

impl Role {
    /// `SNOWFLAKE.CORTEX_USER` for database roles, the name otherwise.
    pub(crate) fn display(&self) -> String {
        match &self.database {
            Some(db) => format!("{db}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// PAT_POLICY of an authentication policy (§5.9.3).
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub(crate) struct PatPolicy {
    pub default_expiry_in_days: i64,
    pub max_expiry_in_days: i64,
    pub network_policy_evaluation: String,
    pub require_role_restriction_for_service_users: bool,
    pub require_role_restriction_for_person_users: bool,
    pub blocked_roles_list: Vec<String>,
}

impl Default for PatPolicy {
    /// Built-in defaults (§5.9.4).
    fn default() -> Self {
        Self {
            default_expiry_in_days: 15,
            max_expiry_in_days: 365,
            network_policy_evaluation: "ENFORCED_REQUIRED".into(),
            require_role_restriction_for_service_users: true,
            require_role_restriction_for_person_users: false,
            blocked_roles_list: Vec::new(),
        }
    }
}

/// An authentication policy's properties (§5.9).
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub(crate) struct AuthPolicy {
    pub authentication_methods: Vec<String>,
    pub client_types: Vec<String>,
    pub client_policy: Vec<(String, String)>,
    pub security_integrations: Vec<String>,
    pub mfa_enrollment: Option<String>,
    pub mfa_allowed_methods: Vec<String>,
    pub mfa_enforce_on_external: String,
    pub pat_policy: PatPolicy,
    pub workload_identity: Vec<(String, Vec<String>)>,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            authentication_methods: vec!["ALL".into()],
            client_types: vec!["ALL".into()],
            client_policy: Vec::new(),
            security_integrations: vec!["ALL".into()],
            mfa_enrollment: None,
            mfa_allowed_methods: vec!["ALL".into()],
            mfa_enforce_on_external: "NONE".into(),
            pat_policy: PatPolicy::default(),
            workload_identity: default_workload_identity(),
        }
    }
}

pub(crate) fn default_workload_identity() -> Vec<(String, Vec<String>)> {
    [
        "ALLOWED_PROVIDERS",
        "ALLOWED_AWS_ACCOUNTS",
        "ALLOWED_AWS_PARTITIONS",
        "ALLOWED_AZURE_ISSUERS",
        "ALLOWED_OIDC_ISSUERS",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), vec!["ALL".to_owned()]))
    .collect()
}

impl AuthPolicy {
    pub(crate) fn allows(&self, method: &str) -> bool {
        self.authentication_methods
            .iter()
            .any(|m| m == "ALL" || m == method)
    }
}

/// A network rule (§5.11).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub(crate) struct NetworkRule {
    pub rule_type: String,
    pub mode: String,
    pub values: Vec<String>,
}

/// A network policy (§5.11). Rules are object ids.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub(crate) struct NetworkPolicy {
    pub allowed_rules: Vec<u64>,
    pub blocked_rules: Vec<u64>,
    pub allowed_ips: Vec<String>,
    pub blocked_ips: Vec<String>,
}

/// Type-specific contents of an object.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub(crate) enum Body {
    None,
    AuthPolicy(Box<AuthPolicy>),
    NetworkRule(NetworkRule),
    NetworkPolicy(NetworkPolicy),
    /// A secret: its type and the SHA-256 of its string (never shown).
    Secret {
        secret_type: String,
        digest: String,
    },
    /// Stored properties (integrations, stages, services, ...), rendered as text.
    Properties(Vec<(String, String)>),
}

/// Any object other than users and roles.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub(crate) struct Object {
    pub id: u64,
    pub kind: Kind,
    /// `[name]`, `[db, name]` for schemas, `[db, schema, name]` for schema objects.
    pub path: Vec<String>,
    pub owner: Option<u64>,
    pub created_on: DateTime<Utc>,
    pub comment: Option<String>,
    pub body: Body,
}

impl Object {
    pub(crate) fn name(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or("")
    }

    pub(crate) fn full_name(&self) -> String {
        self.path.join(".")
    }
}

/// What a privilege is granted on.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
pub(crate) enum Target {
    Account,
    User(u64),
    Role(u64),
    Object(u64),
}

/// A privilege granted to a role (OWNERSHIP is the objects' `owner` field, not a grant).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub(crate) struct PrivGrant {
    pub privilege: String,
    pub target: Target,
    pub role: u64,
    pub grant_option: bool,
    pub granted_by: Option<u64>,
    pub created_on: DateTime<Utc>,
    /// Part of the bootstrap account: cannot be revoked (099941).
    pub system: bool,
}

/// Who a role is granted to.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
pub(crate) enum Grantee {
    Role(u64),
    User(u64),
}

/// A role granted to a role or a user.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub(crate) struct RoleGrant {
    pub role: u64,
    pub to: Grantee,
    pub grant_option: bool,
    pub granted_by: Option<u64>,
    pub created_on: DateTime<Utc>,
    pub system: bool,
}

/// A programmatic access token (§6.1). Only the secret's SHA-256 digest is kept.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub(crate) struct Pat {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    /// Hex SHA-256 of the secret.
    pub digest: String,
    pub role_restriction: Option<String>,
    pub created_on: DateTime<Utc>,
    pub created_by: u64,
    pub expires_at: DateTime<Utc>,
    pub disabled: bool,
    pub comment: Option<String>,
    pub bypass_until: Option<DateTime<Utc>>,
    pub rotated_to: Option<String>,
    pub days_to_expiry: i64,
    pub last_used_on: Option<DateTime<Utc>>,
}

/// Status computed on read (§6.1).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum PatStatus {
    Active,
    Expired,
    Disabled,
}

impl PatStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Expired => "EXPIRED",
            Self::Disabled => "DISABLED",
        }
    }
}

impl Pat {
    pub(crate) fn status(&self, now: DateTime<Utc>) -> PatStatus {
        if now >= self.expires_at {
            PatStatus::Expired
        } else if self.disabled {
            PatStatus::Disabled
        } else {
            PatStatus::Active
        }
    }

    pub(crate) fn is_rotated_object(&self) -> bool {
        self.rotated_to.is_some()
    }
}

/// One account-level authentication policy slot (§5.9.5).
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub(crate) struct Slot {
    pub policy: u64,
    pub force: bool,
}

/// A `BTreeMap` whose changes are recorded while a statement runs ([`Catalog::begin`]): the old
/// value of every key a mutating method touches, taken once per statement. Reads go through
/// `Deref`; serialised exactly as the map.
#[derive(Debug)]
pub(crate) struct TrackedMap<K, V> {
    map: BTreeMap<K, V>,
    /// `Some` while recording: key → value before the statement (None = absent).
    undo: Option<BTreeMap<K, Option<V>>>,
    /// Moves whenever an existing entry may have changed or gone, or a key was inserted below
    /// the largest one; inserting above the largest key (new ids) leaves it, so that indexes
    /// can catch up from their last key.
    version: u64,
}

impl<K, V> Default for TrackedMap<K, V> {
    fn default() -> Self {
        Self {
            map: BTreeMap::new(),
            undo: None,
            version: 0,
        }
    }
}

impl<K: Ord, V> Deref for TrackedMap<K, V> {
    type Target = BTreeMap<K, V>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl<K: Serialize, V: Serialize> Serialize for TrackedMap<K, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(serializer)
    }
}

impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Deserialize<'de> for TrackedMap<K, V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self {
            map: BTreeMap::deserialize(deserializer)?,
            undo: None,
            version: 0,
        })
    }
}

impl<K, V> TrackedMap<K, V> {
    pub(crate) fn version(&self) -> u64 {
        self.version
    }
}

impl<K: Ord + Clone, V: Clone + PartialEq> TrackedMap<K, V> {
    fn record(&mut self, key: &K) {
        if let Some(undo) = &mut self.undo {
            if !undo.contains_key(key) {
                undo.insert(key.clone(), self.map.get(key).cloned());
            }
        }
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if self.map.contains_key(key) {
            self.record(key);
            self.version += 1;
        }
        self.map.get_mut(key)
    }

    /// Changes one entry in a way no index depends on (`version` does not move); still
    /// recorded while a statement runs.
    pub(crate) fn update_unindexed(&mut self, key: &K, f: impl FnOnce(&mut V)) {
        if self.map.contains_key(key) {
            self.record(key);
        }
        if let Some(v) = self.map.get_mut(key) {
            f(v);
        }
    }

    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.record(&key);
        if self
            .map
            .last_key_value()
            .is_some_and(|(last, _)| key <= *last)
        {
            self.version += 1;
        }
        self.map.insert(key, value)
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        if self.map.contains_key(key) {
            self.record(key);
            self.version += 1;
        }
        self.map.remove(key)
    }

    /// Every value, mutably: records every entry (used by rare account-wide statements).
    pub(crate) fn values_mut(&mut self) -> std::collections::btree_map::ValuesMut<'_, K, V> {
        self.version += 1;
        if let Some(undo) = &mut self.undo {
            for (k, v) in &self.map {
                if !undo.contains_key(k) {
                    undo.insert(k.clone(), Some(v.clone()));
                }
            }
        }
        self.map.values_mut()
    }

    fn begin(&mut self) {
        self.undo = Some(BTreeMap::new());
    }

    fn changed(&self) -> bool {
        self.undo
            .as_ref()
            .is_some_and(|undo| undo.iter().any(|(k, old)| self.map.get(k) != old.as_ref()))
    }

    fn rollback(&mut self) {
        if let Some(undo) = self.undo.take() {
            self.version += 1;
            for (k, old) in undo {
                match old {
                    Some(v) => {
                        self.map.insert(k, v);
                    }
                    None => {
                        self.map.remove(&k);
                    }
                }
            }
        }
    }

    fn end(&mut self) {
        self.undo = None;
    }
}

/// What a [`TrackedVec`] needs to undo the current statement.
#[derive(Debug)]
enum VecUndo<T> {
    /// Not recording.
    Off,
    /// Recording, nothing changed yet.
    Clean,
    /// Appended to and/or changed in place: the old length and the old value of every element
    /// (below it) that was handed out mutably.
    Patched { len: usize, old: BTreeMap<usize, T> },
    /// Elements removed or reordered: the old contents.
    Copied(Vec<T>),
}

/// A `Vec` whose changes are recorded while a statement runs ([`Catalog::begin`]): appends cost
/// nothing (the old length is kept), an element changed in place costs a copy of that element,
/// and only removals or a mutable scan copy the vector (once per statement).
/// `version` moves whenever existing elements may have changed or moved, so that indexes built
/// on the vector know when to rebuild. Reads go through `Deref`; serialised exactly as the vector.
#[derive(Debug)]
pub(crate) struct TrackedVec<T> {
    items: Vec<T>,
    undo: VecUndo<T>,
    version: u64,
}

impl<T> Default for TrackedVec<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            undo: VecUndo::Off,
            version: 0,
        }
    }
}

impl<T> Deref for TrackedVec<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Self::Target {
        &self.items
    }
}

impl<'a, T> IntoIterator for &'a TrackedVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<T: Serialize> Serialize for TrackedVec<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for TrackedVec<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self {
            items: Vec::deserialize(deserializer)?,
            undo: VecUndo::Off,
            version: 0,
        })
    }
}

impl<T: Clone + PartialEq> Index<usize> for TrackedVec<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.items[i]
    }
}

impl<T: Clone + PartialEq> IndexMut<usize> for TrackedVec<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.version += 1;
        self.before_element(i);
        &mut self.items[i]
    }
}

impl<T: Clone + PartialEq> TrackedVec<T> {
    fn before_append(&mut self) {
        if matches!(self.undo, VecUndo::Clean) {
            self.undo = VecUndo::Patched {
                len: self.items.len(),
                old: BTreeMap::new(),
            };
        }
    }

    /// Element `i` is about to be handed out mutably.
    fn before_element(&mut self, i: usize) {
        if matches!(self.undo, VecUndo::Clean) {
            self.before_append();
        }
        if let VecUndo::Patched { len, old } = &mut self.undo {
            if i < *len && !old.contains_key(&i) {
                if let Some(item) = self.items.get(i) {
                    old.insert(i, item.clone());
                }
            }
        }
    }

    /// Elements may be removed, reordered or all handed out mutably.
    fn before_change(&mut self) {
        self.version += 1;
        self.undo = match std::mem::replace(&mut self.undo, VecUndo::Off) {
            VecUndo::Off => VecUndo::Off,
            VecUndo::Clean => VecUndo::Copied(self.items.clone()),
            VecUndo::Patched { len, old } => {
                let mut original = self.items[..len.min(self.items.len())].to_vec();
                for (i, v) in old {
                    if let Some(slot) = original.get_mut(i) {
                        *slot = v;
                    }
                }
                VecUndo::Copied(original)
            }
            copied @ VecUndo::Copied(_) => copied,
        };
    }

    /// Changes to existing elements or their order move this.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn push(&mut self, item: T) {
        self.before_append();
        self.items.push(item);
    }

    pub(crate) fn extend(&mut self, items: impl IntoIterator<Item = T>) {
        self.before_append();
        self.items.extend(items);
    }

    /// Like `Vec::retain`: `keep` sees every element exactly once, in order (callers may keep
    /// state in it, such as an index counter).
    pub(crate) fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        let mask: Vec<bool> = self.items.iter().map(keep).collect();
        if mask.iter().all(|k| *k) {
            return;
        }
        self.before_change();
        let mut mask = mask.into_iter();
        self.items.retain(|_| mask.next().unwrap_or(true));
    }

    pub(crate) fn remove(&mut self, i: usize) -> T {
        self.before_change();
        self.items.remove(i)
    }

    pub(crate) fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.before_change();
        self.items.iter_mut()
    }

    #[allow(dead_code)] // part of the Vec-like surface the statement handlers use
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.items.len() {
            return None;
        }
        self.version += 1;
        self.before_element(i);
        self.items.get_mut(i)
    }

    /// Changes one element in a way no index depends on (`version` does not move); still
    /// recorded while a statement runs.
    pub(crate) fn update_unindexed(&mut self, i: usize, f: impl FnOnce(&mut T)) {
        if i >= self.items.len() {
            return;
        }
        self.before_element(i);
        if let Some(item) = self.items.get_mut(i) {
            f(item);
        }
    }

    fn begin(&mut self) {
        self.undo = VecUndo::Clean;
    }

    fn changed(&self) -> bool {
        match &self.undo {
            VecUndo::Off | VecUndo::Clean => false,
            VecUndo::Patched { len, old } => {
                self.items.len() != *len || old.iter().any(|(i, v)| self.items.get(*i) != Some(v))
            }
            VecUndo::Copied(old) => *old != self.items,
        }
    }

    fn rollback(&mut self) {
        match std::mem::replace(&mut self.undo, VecUndo::Off) {
            VecUndo::Off | VecUndo::Clean => {}
            VecUndo::Patched { len, old } => {
                self.items.truncate(len);
                for (i, v) in old {
                    if let Some(slot) = self.items.get_mut(i) {
                        *slot = v;
                    }
                }
                self.version += 1;
            }
            VecUndo::Copied(old) => {
                self.items = old;
                self.version += 1;
            }
        }
    }

    fn end(&mut self) {
        self.undo = VecUndo::Off;
    }
}

/// The catalog's small account-level fields, compared and restored as a whole.
#[derive(Clone, Debug, PartialEq)]
struct Scalars {
    next_id: u64,
    account_slot: Option<Slot>,
    person_slot: Option<Slot>,
    service_slot: Option<Slot>,
    account_network_policy: Option<u64>,
    account_parameters: Vec<(String, String)>,
}

/// PAT records by digest and the earliest expiry, for `pats` as of (`version`, `len`).
#[derive(Debug, Default)]
struct PatIndex {
    built: bool,
    version: u64,
    len: usize,
    by_digest: HashMap<String, usize>,
    earliest_expiry: Option<DateTime<Utc>>,
}

/// Roles granted to each grantee, for `role_grants` as of (`version`, `len`).
#[derive(Debug, Default)]
struct GrantIndex {
    built: bool,
    version: u64,
    len: usize,
    by_grantee: HashMap<Grantee, Vec<u64>>,
}

/// Ids by name for a [`TrackedMap`] keyed by id, as of (`version`, `last`): entries above
/// `last` are added as they come, anything else rebuilds. The lowest id wins a name, as a scan
/// in id order would.
#[derive(Debug, Default)]
struct NameIndex {
    built: bool,
    version: u64,
    last: Option<u64>,
    by_name: HashMap<String, u64>,
}

impl NameIndex {
    fn refresh<V>(
        &mut self,
        map: &TrackedMap<u64, V>,
        name: impl Fn(&V) -> Option<&str>,
    ) -> &HashMap<String, u64> {
        if !self.built || self.version != map.version() {
            *self = NameIndex {
                built: true,
                version: map.version(),
                ..NameIndex::default()
            };
        }
        let from = match self.last {
            Some(last) => std::ops::Bound::Excluded(last),
            None => std::ops::Bound::Unbounded,
        };
        for (id, v) in map.range((from, std::ops::Bound::Unbounded)) {
            if let Some(n) = name(v) {
                self.by_name.entry(n.to_owned()).or_insert(*id);
            }
        }
        if let Some((last, _)) = map.last_key_value() {
            self.last = Some(*last);
        }
        &self.by_name
    }
}

/// Indexes beside the tables (never serialised; rebuilt on demand).
#[derive(Debug, Default)]
struct Indexes {
    pats: PatIndex,
    grants: GrantIndex,
    user_names: NameIndex,
    role_names: NameIndex,
}

/// All objects and grants.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct Catalog {
    pub next_id: u64,
    pub users: TrackedMap<u64, User>,
    pub roles: TrackedMap<u64, Role>,
    pub objects: TrackedMap<u64, Object>,
    pub priv_grants: TrackedVec<PrivGrant>,
    pub role_grants: TrackedVec<RoleGrant>,
    pub pats: TrackedVec<Pat>,
    pub account_slot: Option<Slot>,
    pub person_slot: Option<Slot>,
    pub service_slot: Option<Slot>,
    pub account_network_policy: Option<u64>,
    pub account_parameters: Vec<(String, String)>,
    /// The small fields as they were when the statement began.
    #[serde(skip)]
    scalars_before: Option<Scalars>,
    #[serde(skip)]
    indexes: Mutex<Indexes>,
}

impl Catalog {
    pub(crate) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn scalars(&self) -> Scalars {
        Scalars {
            next_id: self.next_id,
            account_slot: self.account_slot,
            person_slot: self.person_slot,
            service_slot: self.service_slot,
            account_network_policy: self.account_network_policy,
            account_parameters: self.account_parameters.clone(),
        }
    }

    /// Starts recording a statement's changes (discarding any record left open).
    pub(crate) fn begin(&mut self) {
        self.users.begin();
        self.roles.begin();
        self.objects.begin();
        self.priv_grants.begin();
        self.role_grants.begin();
        self.pats.begin();
        self.scalars_before = Some(self.scalars());
    }

    /// Whether anything recorded since [`Catalog::begin`] differs from what it was.
    pub(crate) fn changed(&self) -> bool {
        self.users.changed()
            || self.roles.changed()
            || self.objects.changed()
            || self.priv_grants.changed()
            || self.role_grants.changed()
            || self.pats.changed()
            || self
                .scalars_before
                .as_ref()
                .is_some_and(|before| *before != self.scalars())
    }

    /// Puts back everything recorded since [`Catalog::begin`] and stops recording.
    pub(crate) fn rollback(&mut self) {
        self.users.rollback();
        self.roles.rollback();
        self.objects.rollback();
        self.priv_grants.rollback();
        self.role_grants.rollback();
        self.pats.rollback();
        if let Some(before) = self.scalars_before.take() {
            self.next_id = before.next_id;
            self.account_slot = before.account_slot;
            self.person_slot = before.person_slot;
            self.service_slot = before.service_slot;
            self.account_network_policy = before.account_network_policy;
            self.account_parameters = before.account_parameters;
        }
    }

    /// Keeps the statement's changes and stops recording.
    pub(crate) fn end(&mut self) {
        self.users.end();
        self.roles.end();
        self.objects.end();
        self.priv_grants.end();
        self.role_grants.end();
        self.pats.end();
        self.scalars_before = None;
    }

    fn indexes(&self) -> std::sync::MutexGuard<'_, Indexes> {
        self.indexes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Brings the PAT index up to date: appended records are added, anything else rebuilds.
    fn refresh_pat_index(&self, index: &mut PatIndex) {
        let pats = &self.pats;
        if !index.built || index.version != pats.version() || index.len > pats.len() {
            *index = PatIndex {
                built: true,
                version: pats.version(),
                ..PatIndex::default()
            };
        }
        for (i, p) in pats.iter().enumerate().skip(index.len) {
            index.by_digest.insert(p.digest.clone(), i);
            index.earliest_expiry = Some(match index.earliest_expiry {
                Some(e) => e.min(p.expires_at),
                None => p.expires_at,
            });
        }
        index.len = pats.len();
    }

    /// The position of the PAT record whose digest (hex SHA-256) is `digest`.
    pub(crate) fn pat_by_digest(&self, digest: &str) -> Option<usize> {
        let mut indexes = self.indexes();
        self.refresh_pat_index(&mut indexes.pats);
        indexes.pats.by_digest.get(digest).copied()
    }

    /// ROTATE's change of a record's secret and expiry (§6.4), keeping the PAT index valid in
    /// place: the earliest expiry it keeps stays a lower bound (see
    /// [`Catalog::reset_pat_expiry`]).
    pub(crate) fn set_pat_secret(&mut self, i: usize, digest: String, expires_at: DateTime<Utc>) {
        let Some(old_digest) = self.pats.get(i).map(|p| p.digest.clone()) else {
            return;
        };
        let new_digest = digest.clone();
        self.pats.update_unindexed(i, |p| {
            p.digest = digest;
            p.expires_at = expires_at;
        });
        let mut indexes = self
            .indexes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = &mut indexes.pats;
        if index.built && index.version == self.pats.version() && i < index.len {
            if index.by_digest.get(&old_digest) == Some(&i) {
                index.by_digest.remove(&old_digest);
            }
            index.by_digest.insert(new_digest, i);
            index.earliest_expiry = Some(match index.earliest_expiry {
                Some(e) => e.min(expires_at),
                None => expires_at,
            });
        }
    }

    /// Recomputes the earliest PAT expiry exactly (after a purge that found it was only a
    /// lower bound).
    pub(crate) fn reset_pat_expiry(&self) {
        let mut indexes = self.indexes();
        self.refresh_pat_index(&mut indexes.pats);
        indexes.pats.earliest_expiry = self.pats.iter().map(|p| p.expires_at).min();
    }

    /// The earliest `expires_at` of all PAT records (None when there are none).
    pub(crate) fn earliest_pat_expiry(&self) -> Option<DateTime<Utc>> {
        let mut indexes = self.indexes();
        self.refresh_pat_index(&mut indexes.pats);
        indexes.pats.earliest_expiry
    }

    pub(crate) fn user_by_name(&self, name: &str) -> Option<&User> {
        let id = {
            let mut indexes = self.indexes();
            indexes
                .user_names
                .refresh(&self.users, |u| Some(u.name.as_str()))
                .get(name)
                .copied()
        }?;
        self.users.get(&id).filter(|u| u.name == name)
    }

    pub(crate) fn user_id(&self, name: &str) -> Option<u64> {
        self.user_by_name(name).map(|u| u.id)
    }

    /// An account role (not a database role) by exact name.
    pub(crate) fn role_id(&self, name: &str) -> Option<u64> {
        let id = {
            let mut indexes = self.indexes();
            indexes
                .role_names
                .refresh(&self.roles, |r| {
                    r.database.is_none().then_some(r.name.as_str())
                })
                .get(name)
                .copied()
        }?;
        self.roles
            .get(&id)
            .filter(|r| r.database.is_none() && r.name == name)
            .map(|r| r.id)
    }

    pub(crate) fn database_role_id(&self, db: &str, name: &str) -> Option<u64> {
        self.roles
            .values()
            .find(|r| r.database.as_deref() == Some(db) && r.name == name)
            .map(|r| r.id)
    }

    pub(crate) fn role_name(&self, id: u64) -> String {
        self.roles.get(&id).map(Role::display).unwrap_or_default()
    }

    pub(crate) fn opt_role_name(&self, id: Option<u64>) -> String {
        id.map(|id| self.role_name(id)).unwrap_or_default()
    }

    /// A user's name, or its numeric id when it was dropped (§5.3).
    pub(crate) fn user_display(&self, id: u64) -> String {
        self.users
            .get(&id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    pub(crate) fn object_by_path(&self, kind: Kind, path: &[String]) -> Option<&Object> {
        let family = |k: Kind| k == kind;
        self.objects
            .values()
            .find(|o| family(o.kind) && o.path.as_slice() == path)
    }

    /// Any schema-level object (whatever its kind) with this path: schema objects share names
    /// only within their own kind, so this is used for kind-specific lookups only.
    pub(crate) fn object_id(&self, kind: Kind, path: &[String]) -> Option<u64> {
        self.object_by_path(kind, path).map(|o| o.id)
    }

    /// Brings the grant index up to date: appended grants are added, anything else rebuilds.
    fn refresh_grant_index(&self, index: &mut GrantIndex) {
        let grants = &self.role_grants;
        if !index.built || index.version != grants.version() || index.len > grants.len() {
            *index = GrantIndex {
                built: true,
                version: grants.version(),
                ..GrantIndex::default()
            };
        }
        for g in grants.iter().skip(index.len) {
            index.by_grantee.entry(g.to).or_default().push(g.role);
        }
        index.len = grants.len();
    }

    /// Roles directly granted to a grantee.
    pub(crate) fn roles_granted_to(&self, grantee: Grantee) -> BTreeSet<u64> {
        let mut indexes = self.indexes();
        self.refresh_grant_index(&mut indexes.grants);
        indexes
            .grants
            .by_grantee
            .get(&grantee)
            .map(|roles| roles.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Closure of roles under "is granted to": the roles and everything granted to them.
    pub(crate) fn closure(&self, start: impl IntoIterator<Item = u64>) -> BTreeSet<u64> {
        let mut indexes = self.indexes();
        self.refresh_grant_index(&mut indexes.grants);
        let by_grantee = &indexes.grants.by_grantee;
        let mut out = BTreeSet::new();
        let mut stack: Vec<u64> = start.into_iter().collect();
        while let Some(r) = stack.pop() {
            if !self.roles.contains_key(&r) || !out.insert(r) {
                continue;
            }
            for role in by_grantee.get(&Grantee::Role(r)).into_iter().flatten() {
                if !out.contains(role) {
                    stack.push(*role);
                }
            }
        }
        out
    }

    pub(crate) fn public_id(&self) -> Option<u64> {
        self.role_id("PUBLIC")
    }

    /// Roles a user may activate: the closure of the roles granted to it, plus PUBLIC.
    pub(crate) fn user_role_closure(&self, user_id: u64) -> BTreeSet<u64> {
        let mut start: Vec<u64> = self
            .roles_granted_to(Grantee::User(user_id))
            .into_iter()
            .collect();
        start.extend(self.public_id());
        self.closure(start)
    }

    /// Whether `role` is in the closure of roles granted to `user`.
    pub(crate) fn user_has_role(&self, user_id: u64, role_name: &str) -> bool {
        match self.role_id(role_name) {
            Some(r) => self.user_role_closure(user_id).contains(&r),
            None => false,
        }
    }

    /// Owner of a target.
    pub(crate) fn owner_of(&self, target: Target) -> Option<u64> {
        match target {
            Target::Account => None,
            Target::User(id) => self.users.get(&id).and_then(|u| u.owner),
            Target::Role(id) => self.roles.get(&id).and_then(|r| r.owner),
            Target::Object(id) => self.objects.get(&id).and_then(|o| o.owner),
        }
    }

    pub(crate) fn set_owner(&mut self, target: Target, role: u64) {
        match target {
            Target::Account => {}
            Target::User(id) => {
                if let Some(u) = self.users.get_mut(&id) {
                    u.owner = Some(role);
                }
            }
            Target::Role(id) => {
                if let Some(r) = self.roles.get_mut(&id) {
                    r.owner = Some(role);
                }
            }
            Target::Object(id) => {
                if let Some(o) = self.objects.get_mut(&id) {
                    o.owner = Some(role);
                }
            }
        }
    }

    /// Kind and display name of a target (for SHOW GRANTS and messages).
    pub(crate) fn target_info(&self, target: Target, account: &str) -> (Kind, String) {
        match target {
            Target::Account => (Kind::Account, account.to_owned()),
            Target::User(id) => (Kind::User, self.user_display(id)),
            Target::Role(id) => {
                let kind = match self.roles.get(&id).and_then(|r| r.database.as_ref()) {
                    Some(_) => Kind::DatabaseRole,
                    None => Kind::Role,
                };
                (kind, self.role_name(id))
            }
            Target::Object(id) => match self.objects.get(&id) {
                Some(o) => (o.kind, o.full_name()),
                None => (Kind::Account, String::new()),
            },
        }
    }

    /// Whether any of `roles` holds `privilege` on `target` (or owns it).
    pub(crate) fn holds(&self, roles: &BTreeSet<u64>, privilege: &str, target: Target) -> bool {
        if let Some(owner) = self.owner_of(target) {
            if roles.contains(&owner) {
                return true;
            }
        }
        self.priv_grants
            .iter()
            .any(|g| g.target == target && g.privilege == privilege && roles.contains(&g.role))
    }

    /// Whether any of `roles` owns `target`.
    pub(crate) fn owns(&self, roles: &BTreeSet<u64>, target: Target) -> bool {
        self.owner_of(target).is_some_and(|o| roles.contains(&o))
    }

    /// Whether any of `roles` holds any privilege (or ownership) on `target`.
    pub(crate) fn holds_any(&self, roles: &BTreeSet<u64>, target: Target) -> bool {
        self.owns(roles, target)
            || self
                .priv_grants
                .iter()
                .any(|g| g.target == target && roles.contains(&g.role))
    }

    /// Removes every grant on or to a target and, for roles, every role grant involving it.
    pub(crate) fn forget_target(&mut self, target: Target) {
        self.priv_grants.retain(|g| g.target != target);
        match target {
            Target::Role(id) => {
                self.priv_grants.retain(|g| g.role != id);
                self.role_grants
                    .retain(|g| g.role != id && g.to != Grantee::Role(id));
            }
            Target::User(id) => {
                self.role_grants.retain(|g| g.to != Grantee::User(id));
            }
            _ => {}
        }
    }
}

/// `t + d`, saturating instead of panicking at the end of the representable range.
pub(crate) fn later(t: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_retain_calls_keep_once_per_element_in_order() {
        let mut v: TrackedVec<u32> = TrackedVec::default();
        for x in [10, 11, 12, 13] {
            v.push(x);
        }
        // A stateful predicate, as REVOKE uses: drop the element at index 2.
        let mut idx = 0;
        v.retain(|_| {
            let keep = idx != 2;
            idx += 1;
            keep
        });
        assert_eq!(idx, 4);
        assert_eq!(v.to_vec(), vec![10, 11, 13]);
    }

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::hours(h)
    }

    fn pat(id: u64, digest: &str, expires: i64) -> Pat {
        Pat {
            id,
            user_id: 1,
            name: format!("T{id}"),
            digest: digest.into(),
            role_restriction: None,
            created_on: t(0),
            created_by: 1,
            expires_at: t(expires),
            disabled: false,
            comment: None,
            bypass_until: None,
            rotated_to: None,
            days_to_expiry: 1,
            last_used_on: None,
        }
    }

    fn user(id: u64, name: &str) -> User {
        User {
            id,
            name: name.into(),
            login_name: name.into(),
            ..User::default()
        }
    }

    fn json(c: &Catalog) -> String {
        serde_json::to_string(c).unwrap_or_default()
    }

    fn sample() -> Catalog {
        let mut c = Catalog::default();
        c.users.insert(1, user(1, "A"));
        c.users.insert(2, user(2, "B"));
        c.pats.push(pat(10, "d10", 48));
        c.pats.push(pat(11, "d11", 24));
        c.role_grants.push(RoleGrant {
            role: 5,
            to: Grantee::User(1),
            grant_option: false,
            granted_by: None,
            created_on: t(0),
            system: false,
        });
        c.next_id = 20;
        c
    }

    #[test]
    fn rollback_restores_every_table_exactly() {
        let mut c = sample();
        let before = json(&c);
        c.begin();
        c.users.insert(3, user(3, "C"));
        c.users.remove(&2);
        if let Some(u) = c.users.get_mut(&1) {
            u.comment = Some("x".into());
        }
        c.pats.push(pat(12, "d12", 1));
        c.pats[0].disabled = true;
        c.pats.remove(1);
        c.role_grants.push(RoleGrant {
            role: 6,
            to: Grantee::User(3),
            grant_option: false,
            granted_by: None,
            created_on: t(1),
            system: false,
        });
        c.new_id();
        c.account_parameters.push(("P".into(), "1".into()));
        assert!(c.changed());
        c.rollback();
        c.end();
        assert_eq!(json(&c), before);
        assert_eq!(c.pat_by_digest("d11"), Some(1));
        assert_eq!(c.pat_by_digest("d12"), None);
        assert_eq!(c.roles_granted_to(Grantee::User(3)), BTreeSet::new());
    }

    #[test]
    fn in_place_changes_are_undone_element_by_element() {
        let mut c = sample();
        let before = json(&c);
        c.begin();
        c.pats.push(pat(12, "d12", 5));
        c.set_pat_secret(0, "rotated".into(), t(1));
        c.pats.update_unindexed(1, |p| p.comment = Some("c".into()));
        c.pats[2].disabled = true;
        assert_eq!(c.pat_by_digest("rotated"), Some(0));
        assert_eq!(c.pat_by_digest("d10"), None);
        assert_eq!(c.earliest_pat_expiry(), Some(t(1)));
        assert!(c.changed());
        c.rollback();
        c.end();
        assert_eq!(json(&c), before);
        assert_eq!(c.pat_by_digest("d10"), Some(0));
        assert_eq!(c.pat_by_digest("rotated"), None);

        // a change then a removal in one statement still rolls back exactly
        c.begin();
        c.pats[0].disabled = true;
        c.pats.remove(1);
        c.rollback();
        c.end();
        assert_eq!(json(&c), before);

        // changed back to the old value: no change
        c.begin();
        c.pats.update_unindexed(0, |p| p.disabled = true);
        c.pats.update_unindexed(0, |p| p.disabled = false);
        assert!(!c.changed());
        c.end();
    }

    #[test]
    fn touching_without_changing_is_not_a_change() {
        let mut c = sample();
        c.begin();
        if let Some(u) = c.users.get_mut(&1) {
            u.comment = Some("x".into());
            u.comment = None;
        }
        c.users.values_mut().for_each(|_| {});
        c.pats.retain(|_| true);
        assert_eq!(c.pats.iter_mut().count(), 2);
        c.role_grants.extend(Vec::new());
        assert!(!c.changed());
        c.end();

        c.begin();
        c.role_grants.push(RoleGrant {
            role: 7,
            to: Grantee::Role(5),
            grant_option: false,
            granted_by: None,
            created_on: t(0),
            system: false,
        });
        assert!(c.changed());
        c.end();
    }

    #[test]
    fn indexes_follow_appends_and_rebuild_after_other_changes() {
        let mut c = sample();
        assert_eq!(c.pat_by_digest("d10"), Some(0));
        assert_eq!(c.earliest_pat_expiry(), Some(t(24)));
        c.pats.push(pat(12, "d12", 2));
        assert_eq!(c.pat_by_digest("d12"), Some(2));
        assert_eq!(c.earliest_pat_expiry(), Some(t(2)));
        c.pats.remove(0);
        assert_eq!(c.pat_by_digest("d10"), None);
        assert_eq!(c.pat_by_digest("d12"), Some(1));
        c.pats[0].digest = "new".into();
        assert_eq!(c.pat_by_digest("d11"), None);
        assert_eq!(c.pat_by_digest("new"), Some(0));
        c.pats.retain(|p| p.id != 12);
        assert_eq!(c.earliest_pat_expiry(), Some(t(24)));

        c.roles.insert(
            5,
            Role {
                id: 5,
                name: "R5".into(),
                database: None,
                comment: None,
                owner: None,
                created_on: t(0),
                system: false,
            },
        );
        assert_eq!(c.closure([5]), BTreeSet::from([5]));
        c.roles.insert(
            6,
            Role {
                id: 6,
                name: "R6".into(),
                database: None,
                comment: None,
                owner: None,
                created_on: t(0),
                system: false,
            },
        );
        c.role_grants.push(RoleGrant {
            role: 6,
            to: Grantee::Role(5),
            grant_option: false,
            granted_by: None,
            created_on: t(0),
            system: false,
        });
        assert_eq!(c.closure([5]), BTreeSet::from([5, 6]));
        c.role_grants.retain(|g| g.role != 6);
        assert_eq!(c.closure([5]), BTreeSet::from([5]));
    }

    #[test]
    fn name_lookups_follow_inserts_renames_removals_and_rollback() {
        let mut c = sample();
        assert_eq!(c.user_id("A"), Some(1));
        assert_eq!(c.user_id("C"), None);
        c.users.insert(30, user(30, "C"));
        assert_eq!(c.user_id("C"), Some(30));
        if let Some(u) = c.users.get_mut(&30) {
            u.name = "D".into();
        }
        assert_eq!((c.user_id("C"), c.user_id("D")), (None, Some(30)));
        c.begin();
        c.users.remove(&30);
        c.users.insert(25, user(25, "E"));
        assert_eq!((c.user_id("D"), c.user_id("E")), (None, Some(25)));
        c.rollback();
        c.end();
        assert_eq!((c.user_id("D"), c.user_id("E")), (Some(30), None));
        // an unindexed update leaves the index valid
        c.users.update_unindexed(&1, |u| u.failed_logins = 3);
        assert_eq!(c.user_id("A"), Some(1));
        // the lowest id wins a duplicated name, as a scan would
        c.users.insert(40, user(40, "A"));
        assert_eq!(c.user_id("A"), Some(1));
        // roles: account roles only
        c.roles.insert(
            50,
            Role {
                id: 50,
                name: "CORTEX_USER".into(),
                database: Some("SNOWFLAKE".into()),
                comment: None,
                owner: None,
                created_on: t(0),
                system: true,
            },
        );
        assert_eq!(c.role_id("CORTEX_USER"), None);
        assert_eq!(c.database_role_id("SNOWFLAKE", "CORTEX_USER"), Some(50));
    }

    #[test]
    fn serialised_form_is_unchanged_by_tracking() {
        let c = sample();
        let text = json(&c);
        assert!(text.contains("\"users\":{\"1\":"), "{text}");
        assert!(text.contains("\"pats\":[{"), "{text}");
        let back: Catalog = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(json(&back), text);
        assert_eq!(back.pat_by_digest("d11"), Some(1));
    }
}
