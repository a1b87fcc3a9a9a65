//! The catalog: every object of the account (`snowflake-behaviour.md` §2) and the grants between
//! them. Objects are keyed by a numeric id so that renames never break a grant; names are looked
//! up by scanning (an emulated account holds few objects).

use std::collections::{BTreeMap, BTreeSet};

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
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
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
#[derive(Clone, Debug, Deserialize, Serialize)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct NetworkRule {
    pub rule_type: String,
    pub mode: String,
    pub values: Vec<String>,
}

/// A network policy (§5.11). Rules are object ids.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct NetworkPolicy {
    pub allowed_rules: Vec<u64>,
    pub blocked_rules: Vec<u64>,
    pub allowed_ips: Vec<String>,
    pub blocked_ips: Vec<String>,
}

/// Type-specific contents of an object.
#[derive(Clone, Debug, Deserialize, Serialize)]
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
#[derive(Clone, Debug, Deserialize, Serialize)]
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
#[derive(Clone, Debug, Deserialize, Serialize)]
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
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(crate) struct RoleGrant {
    pub role: u64,
    pub to: Grantee,
    pub grant_option: bool,
    pub granted_by: Option<u64>,
    pub created_on: DateTime<Utc>,
    pub system: bool,
}

/// A programmatic access token (§6.1). Only the secret's SHA-256 digest is kept.
#[derive(Clone, Debug, Deserialize, Serialize)]
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

/// All objects and grants.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct Catalog {
    pub next_id: u64,
    pub users: BTreeMap<u64, User>,
    pub roles: BTreeMap<u64, Role>,
    pub objects: BTreeMap<u64, Object>,
    pub priv_grants: Vec<PrivGrant>,
    pub role_grants: Vec<RoleGrant>,
    pub pats: Vec<Pat>,
    pub account_slot: Option<Slot>,
    pub person_slot: Option<Slot>,
    pub service_slot: Option<Slot>,
    pub account_network_policy: Option<u64>,
    pub account_parameters: Vec<(String, String)>,
}

impl Catalog {
    pub(crate) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(crate) fn user_by_name(&self, name: &str) -> Option<&User> {
        self.users.values().find(|u| u.name == name)
    }

    pub(crate) fn user_id(&self, name: &str) -> Option<u64> {
        self.user_by_name(name).map(|u| u.id)
    }

    /// An account role (not a database role) by exact name.
    pub(crate) fn role_id(&self, name: &str) -> Option<u64> {
        self.roles
            .values()
            .find(|r| r.database.is_none() && r.name == name)
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

    /// Roles directly granted to a grantee.
    pub(crate) fn roles_granted_to(&self, grantee: Grantee) -> BTreeSet<u64> {
        self.role_grants
            .iter()
            .filter(|g| g.to == grantee)
            .map(|g| g.role)
            .collect()
    }

    /// Closure of roles under "is granted to": the roles and everything granted to them.
    pub(crate) fn closure(&self, start: impl IntoIterator<Item = u64>) -> BTreeSet<u64> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<u64> = start.into_iter().collect();
        while let Some(r) = stack.pop() {
            if !self.roles.contains_key(&r) || !out.insert(r) {
                continue;
            }
            for g in &self.role_grants {
                if g.to == Grantee::Role(r) && !out.contains(&g.role) {
                    stack.push(g.role);
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
