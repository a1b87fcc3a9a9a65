//! Roles, GRANT/REVOKE of roles and privileges, database roles and ownership (§5.4–§5.8).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use snowpat_sql::ast::{
    CurrentGrants, DropBehavior, GrantTarget, Grantee as AstGrantee, ObjectKind, ObjectName,
    OwnershipTarget, Privileges,
};

use super::catalog::{Grantee, Kind, PrivGrant, Role, RoleGrant, Target};
use super::{errors, unchanged};
use super::{Account, ResultSet, Session, SqlError};

const OK: &str = "Statement executed successfully.";

/// Privileges accepted ON ACCOUNT that are not `CREATE <x>` (§5.7).
const ACCOUNT_PRIVILEGES: &[&str] = &[
    "APPLY TAG",
    "ATTACH POLICY",
    "AUDIT",
    "BIND SERVICE ENDPOINT",
    "MANAGE GRANTS",
    "MANAGE WAREHOUSES",
    "MONITOR EXECUTION",
    "MONITOR SECURITY",
    "MONITOR USAGE",
    "EXECUTE TASK",
    "EXECUTE MANAGED TASK",
    "EXECUTE ALERT",
    "IMPORT SHARE",
    "USE AI FUNCTIONS",
    "OVERRIDE SHARE RESTRICTIONS",
    "APPLY BUDGET",
    "RESOLVE ALL",
    "MANAGE ACCOUNT SUPPORT CASES",
    "MANAGE USER SUPPORT CASES",
    "MANAGE ORGANIZATION SUPPORT CASES",
];

/// `CREATE <x>` privileges accepted ON ACCOUNT.
const ACCOUNT_CREATE: &[&str] = &[
    "ACCOUNT",
    "APPLICATION",
    "APPLICATION PACKAGE",
    "COMPUTE POOL",
    "DATABASE",
    "EXTERNAL VOLUME",
    "FAILOVER GROUP",
    "INTEGRATION",
    "NETWORK POLICY",
    "REPLICATION GROUP",
    "ROLE",
    "SHARE",
    "USER",
    "WAREHOUSE",
    "DATA EXCHANGE LISTING",
    "CREDENTIAL",
    "ORGANIZATION LISTING",
];

/// Privileges grantable on a kind (the account's are handled apart); the first list is what
/// `ALL` expands to.
fn object_privileges(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::User => &[
            "MONITOR",
            "IMPERSONATE",
            "MODIFY PROGRAMMATIC AUTHENTICATION METHODS",
            "APPLY AUTHENTICATION POLICY",
        ],
        Kind::Database => &[
            "USAGE",
            "MODIFY",
            "MONITOR",
            "CREATE SCHEMA",
            "CREATE DATABASE ROLE",
            "APPLYBUDGET",
            "IMPORTED PRIVILEGES",
        ],
        Kind::Integration => &["USAGE", "USE_ANY_ROLE"],
        Kind::AuthenticationPolicy => &["APPLY"],
        Kind::Secret => &["READ", "USAGE"],
        Kind::NetworkRule => &["USAGE"],
        Kind::NetworkPolicy => &["USAGE"],
        Kind::Stage => &["READ", "WRITE", "USAGE"],
        Kind::ImageRepository => &["READ", "WRITE"],
        Kind::ComputePool => &["USAGE", "MONITOR", "OPERATE", "MODIFY"],
        Kind::Service => &["USAGE", "MONITOR", "OPERATE"],
        Kind::McpServer => &["USAGE", "MODIFY", "MONITOR"],
        Kind::Warehouse => &["USAGE", "OPERATE", "MONITOR", "MODIFY", "APPLYBUDGET"],
        Kind::Schema => &[
            "USAGE",
            "MODIFY",
            "MONITOR",
            "ADD SEARCH OPTIMIZATION",
            "APPLYBUDGET",
        ],
        _ => &[],
    }
}

/// Schema-level kinds for `CREATE <kind>` ON SCHEMA.
const SCHEMA_CREATE: &[&str] = &[
    "TABLE",
    "EXTERNAL TABLE",
    "DYNAMIC TABLE",
    "HYBRID TABLE",
    "ICEBERG TABLE",
    "EVENT TABLE",
    "VIEW",
    "MATERIALIZED VIEW",
    "SEMANTIC VIEW",
    "MASKING POLICY",
    "ROW ACCESS POLICY",
    "SESSION POLICY",
    "PASSWORD POLICY",
    "AUTHENTICATION POLICY",
    "PACKAGES POLICY",
    "AGGREGATION POLICY",
    "PROJECTION POLICY",
    "JOIN POLICY",
    "PRIVACY POLICY",
    "NETWORK RULE",
    "SECRET",
    "STAGE",
    "FILE FORMAT",
    "SEQUENCE",
    "FUNCTION",
    "PROCEDURE",
    "PIPE",
    "STREAM",
    "TASK",
    "ALERT",
    "TAG",
    "SERVICE",
    "IMAGE REPOSITORY",
    "MCP SERVER",
    "CORTEX SEARCH SERVICE",
    "AGENT",
    "MODEL",
    "NOTEBOOK",
    "STREAMLIT",
    "SNAPSHOT",
    "DATASET",
    "GIT REPOSITORY",
];

fn privilege_valid(kind: Kind, p: &str) -> bool {
    match kind {
        Kind::Account => {
            ACCOUNT_PRIVILEGES.contains(&p)
                || p.strip_prefix("CREATE ")
                    .is_some_and(|k| ACCOUNT_CREATE.contains(&k))
                || (p.starts_with("APPLY ") && p.ends_with(" POLICY"))
        }
        Kind::Schema => {
            object_privileges(kind).contains(&p)
                || p.strip_prefix("CREATE ")
                    .is_some_and(|k| SCHEMA_CREATE.contains(&k))
        }
        _ => object_privileges(kind).contains(&p),
    }
}

fn expand_all(kind: Kind) -> Vec<String> {
    let mut out: Vec<String> = match kind {
        Kind::Account => ACCOUNT_CREATE
            .iter()
            .map(|k| format!("CREATE {k}"))
            .chain(ACCOUNT_PRIVILEGES.iter().map(|p| (*p).to_owned()))
            .collect(),
        Kind::Schema => object_privileges(kind)
            .iter()
            .map(|p| (*p).to_owned())
            .chain(SCHEMA_CREATE.iter().map(|k| format!("CREATE {k}")))
            .collect(),
        _ => object_privileges(kind)
            .iter()
            .map(|p| (*p).to_owned())
            .collect(),
    };
    out.dedup();
    out
}

impl Account {
    /// Resolves `ON <kind> <name>` to a catalog target (002003 when missing).
    pub(crate) fn resolve_target(
        &self,
        s: &Session,
        kind: ObjectKind,
        name: &ObjectName,
        statement: &str,
    ) -> Result<Target, SqlError> {
        let k = Kind::from_ast(kind);
        let simple = || {
            name.0
                .iter()
                .map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(".")
        };
        match k {
            Kind::Account => Ok(Target::Account),
            Kind::User => self
                .catalog
                .user_id(name.name().as_str())
                .map(Target::User)
                .ok_or_else(|| errors::not_found(Kind::User, &simple())),
            Kind::Role => self
                .catalog
                .role_id(name.name().as_str())
                .map(Target::Role)
                .ok_or_else(|| errors::not_found(Kind::Role, &simple())),
            Kind::Schema => {
                let path = self.schema_path(s, name, statement)?;
                self.catalog
                    .object_id(Kind::Schema, &path)
                    .map(Target::Object)
                    .ok_or_else(|| errors::not_found(Kind::Schema, &path.join(".")))
            }
            k if k.schema_level() => {
                let path = self.object_path(s, name, statement)?;
                self.catalog
                    .object_id(k, &path)
                    .map(Target::Object)
                    .ok_or_else(|| errors::not_found(k, &path.join(".")))
            }
            k => {
                let path = vec![name.name().as_str().to_owned()];
                self.catalog
                    .object_id(k, &path)
                    .map(Target::Object)
                    .ok_or_else(|| errors::not_found(k, &simple()))
            }
        }
    }

    pub(crate) fn create_role(
        &mut self,
        s: &Session,
        or_replace: bool,
        if_not_exists: bool,
        name: &str,
        comment: &Option<String>,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        if or_replace && if_not_exists {
            return Err(errors::syntax("IF"));
        }
        let roles = self.primary_roles(s);
        self.require_account_priv(&roles, "CREATE ROLE")?;
        if let Some(old) = self.catalog.role_id(name) {
            if !or_replace {
                if if_not_exists {
                    return Ok(unchanged(ResultSet::status(format!(
                        "{name} already exists, statement succeeded."
                    ))));
                }
                return Err(errors::already_exists(name));
            }
            if self.catalog.roles.get(&old).is_some_and(|r| r.system) {
                return Err(errors::system_role(name));
            }
            let all = self.effective_roles(s);
            if !self.catalog.owns(&all, Target::Role(old)) {
                return Err(errors::insufficient(Kind::Role, name));
            }
            self.catalog.roles.remove(&old);
            self.catalog.forget_target(Target::Role(old));
        }
        let id = self.catalog.new_id();
        self.catalog.roles.insert(
            id,
            Role {
                id,
                name: name.to_owned(),
                database: None,
                comment: comment.clone(),
                owner: self.catalog.role_id(&s.primary_role),
                created_on: t,
                system: false,
            },
        );
        Ok(ResultSet::status(format!(
            "Role {name} successfully created."
        )))
    }

    pub(crate) fn drop_role(
        &mut self,
        s: &Session,
        if_exists: bool,
        name: &str,
    ) -> Result<ResultSet, SqlError> {
        let Some(id) = self.catalog.role_id(name) else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(format!(
                    "Drop statement executed successfully ({name} already dropped)."
                ))));
            }
            return Err(errors::not_found(Kind::Role, name));
        };
        if self.catalog.roles.get(&id).is_some_and(|r| r.system) {
            return Err(errors::system_role(name));
        }
        let roles = self.effective_roles(s);
        if !self.catalog.owns(&roles, Target::Role(id)) {
            return Err(errors::insufficient(Kind::Role, name));
        }
        // Objects the dropped role owned pass to the dropping session's primary role.
        let heir = self.catalog.role_id(&s.primary_role).filter(|h| *h != id);
        for u in self.catalog.users.values_mut() {
            if u.owner == Some(id) {
                u.owner = heir;
            }
        }
        for r in self.catalog.roles.values_mut() {
            if r.owner == Some(id) {
                r.owner = heir;
            }
        }
        for o in self.catalog.objects.values_mut() {
            if o.owner == Some(id) {
                o.owner = heir;
            }
        }
        self.catalog.roles.remove(&id);
        self.catalog.forget_target(Target::Role(id));
        Ok(ResultSet::status(format!("{name} successfully dropped.")))
    }

    fn grantee(&self, g: &AstGrantee) -> Result<Grantee, SqlError> {
        match g {
            AstGrantee::Role(r) => self
                .catalog
                .role_id(r.as_str())
                .map(Grantee::Role)
                .ok_or_else(|| errors::not_found(Kind::Role, r.as_str())),
            AstGrantee::User(u) => self
                .catalog
                .user_id(u.as_str())
                .map(Grantee::User)
                .ok_or_else(|| errors::not_found(Kind::User, u.as_str())),
        }
    }

    /// OWNERSHIP of the role or MANAGE GRANTS (§4.3).
    fn may_grant_role(&self, s: &Session, role: u64) -> bool {
        let roles = self.effective_roles(s);
        self.catalog.owns(&roles, Target::Role(role)) || self.manage_grants(&roles)
    }

    pub(crate) fn grant_role(
        &mut self,
        s: &Session,
        role: &str,
        to: &AstGrantee,
        with_grant_option: bool,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let rid = self
            .catalog
            .role_id(role)
            .ok_or_else(|| errors::not_found(Kind::Role, role))?;
        let grantee = self.grantee(to)?;
        if with_grant_option && matches!(grantee, Grantee::User(_)) {
            return Err(errors::syntax("WITH"));
        }
        if !self.may_grant_role(s, rid) {
            return Err(errors::grant_not_executed());
        }
        if let Grantee::Role(parent) = grantee {
            if parent == rid || self.catalog.closure([rid]).contains(&parent) {
                let pname = self.catalog.role_name(parent);
                return Err(errors::role_cycle(role, &pname));
            }
        }
        // Found read-only, changed in place only when needed (a mutable scan would cost the
        // catalog's change tracking a copy of every grant).
        if let Some(i) = self
            .catalog
            .role_grants
            .iter()
            .position(|g| g.role == rid && g.to == grantee)
        {
            if with_grant_option && !self.catalog.role_grants[i].grant_option {
                self.catalog.role_grants[i].grant_option = true;
                return Ok(ResultSet::status(OK));
            }
            return Ok(unchanged(ResultSet::status(OK)));
        }
        let granted_by = self.catalog.role_id(&s.primary_role);
        self.catalog.role_grants.push(RoleGrant {
            role: rid,
            to: grantee,
            grant_option: with_grant_option,
            granted_by,
            created_on: t,
            system: false,
        });
        Ok(ResultSet::status(OK))
    }

    pub(crate) fn revoke_role(
        &mut self,
        s: &Session,
        grant_option_for: bool,
        role: &str,
        from: &AstGrantee,
    ) -> Result<ResultSet, SqlError> {
        let rid = self
            .catalog
            .role_id(role)
            .ok_or_else(|| errors::not_found(Kind::Role, role))?;
        let grantee = self.grantee(from)?;
        if !self.may_grant_role(s, rid) {
            return Err(errors::grant_not_executed());
        }
        let matching: Vec<bool> = self
            .catalog
            .role_grants
            .iter()
            .filter(|g| g.role == rid && g.to == grantee)
            .map(|g| g.system)
            .collect();
        if matching.is_empty() {
            return Ok(unchanged(ResultSet::status(OK)));
        }
        if matching.iter().any(|sys| *sys) {
            return Err(errors::system_role(role));
        }
        if grant_option_for {
            for g in self
                .catalog
                .role_grants
                .iter_mut()
                .filter(|g| g.role == rid && g.to == grantee)
            {
                g.grant_option = false;
            }
        } else {
            self.catalog
                .role_grants
                .retain(|g| !(g.role == rid && g.to == grantee));
        }
        Ok(ResultSet::status(OK))
    }

    fn database_role(&self, s: &Session, name: &ObjectName) -> Result<u64, SqlError> {
        let parts: Vec<&str> = name.0.iter().map(|i| i.as_str()).collect();
        let (db, role) = match parts.as_slice() {
            [db, role] => ((*db).to_owned(), (*role).to_owned()),
            [role] => match &s.database {
                Some(db) => (db.clone(), (*role).to_owned()),
                None => return Err(errors::no_current("GRANT DATABASE ROLE", "database")),
            },
            _ => return Err(errors::syntax(&parts.join("."))),
        };
        self.catalog
            .database_role_id(&db, &role)
            .ok_or_else(|| errors::not_found(Kind::DatabaseRole, &format!("{db}.{role}")))
    }

    pub(crate) fn grant_database_role(
        &mut self,
        s: &Session,
        role: &ObjectName,
        to: &AstGrantee,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        if matches!(to, AstGrantee::User(_)) {
            return Err(errors::database_role_to_user());
        }
        let rid = self.database_role(s, role)?;
        let grantee = self.grantee(to)?;
        let roles = self.effective_roles(s);
        if !self.manage_grants(&roles) && !self.catalog.owns(&roles, Target::Role(rid)) {
            return Err(errors::grant_not_executed());
        }
        if self
            .catalog
            .role_grants
            .iter()
            .any(|g| g.role == rid && g.to == grantee)
        {
            return Ok(unchanged(ResultSet::status(OK)));
        }
        let granted_by = self.catalog.role_id(&s.primary_role);
        self.catalog.role_grants.push(RoleGrant {
            role: rid,
            to: grantee,
            grant_option: false,
            granted_by,
            created_on: t,
            system: false,
        });
        Ok(ResultSet::status(OK))
    }

    pub(crate) fn revoke_database_role(
        &mut self,
        s: &Session,
        role: &ObjectName,
        from: &AstGrantee,
    ) -> Result<ResultSet, SqlError> {
        if matches!(from, AstGrantee::User(_)) {
            return Err(errors::database_role_to_user());
        }
        let rid = self.database_role(s, role)?;
        let grantee = self.grantee(from)?;
        let roles = self.effective_roles(s);
        if !self.manage_grants(&roles) && !self.catalog.owns(&roles, Target::Role(rid)) {
            return Err(errors::grant_not_executed());
        }
        let before = self.catalog.role_grants.len();
        self.catalog
            .role_grants
            .retain(|g| !(g.role == rid && g.to == grantee));
        let changed = before != self.catalog.role_grants.len();
        let mut r = ResultSet::status(OK);
        r.changed = changed;
        Ok(r)
    }

    pub(crate) fn grant_ownership(
        &mut self,
        s: &Session,
        on: &OwnershipTarget,
        to_role: &str,
        current_grants: Option<CurrentGrants>,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let targets: Vec<Target> = match on {
            OwnershipTarget::Object { kind, name } => {
                if *kind == ObjectKind::Service {
                    return Err(errors::service_ownership());
                }
                vec![self.resolve_target(s, *kind, name, "GRANT OWNERSHIP")?]
            }
            OwnershipTarget::All {
                kind,
                in_kind,
                in_name,
            } => {
                if *kind == ObjectKind::Service {
                    return Err(errors::service_ownership());
                }
                let k = Kind::from_ast(*kind);
                let prefix: Vec<String> = match in_kind {
                    ObjectKind::Database => vec![in_name.name().as_str().to_owned()],
                    _ => self.schema_path(s, in_name, "GRANT OWNERSHIP")?,
                };
                self.catalog
                    .objects
                    .values()
                    .filter(|o| {
                        o.kind == k && o.path.len() > prefix.len() && o.path.starts_with(&prefix)
                    })
                    .map(|o| Target::Object(o.id))
                    .collect()
            }
        };
        let new_owner = self
            .catalog
            .role_id(to_role)
            .ok_or_else(|| errors::not_found(Kind::Role, to_role))?;
        let roles = self.effective_roles(s);
        let mg = self.manage_grants(&roles);
        for target in &targets {
            if matches!(target, Target::Account) {
                return Err(errors::syntax("ACCOUNT"));
            }
            if let Target::Role(r) = target {
                if self.catalog.roles.get(r).is_some_and(|r| r.system) {
                    let n = self.catalog.role_name(*r);
                    return Err(errors::system_role(&n));
                }
            }
            if !mg && !self.catalog.owns(&roles, *target) {
                return Err(self.denied(&roles, *target));
            }
            if current_grants == Some(CurrentGrants::Copy) && !mg && !roles.contains(&new_owner) {
                return Err(self.denied(&roles, *target));
            }
            if current_grants.is_none() && !matches!(target, Target::Role(_)) {
                let outbound = self.catalog.priv_grants.iter().any(|g| g.target == *target);
                if outbound {
                    let (_, name) = self.catalog.target_info(*target, &self.name);
                    return Err(errors::ownership_needs_clause(&name));
                }
            }
        }
        for target in targets {
            let old_owner = self.catalog.owner_of(target);
            if old_owner == Some(new_owner) {
                continue;
            }
            self.catalog.set_owner(target, new_owner);
            match (target, current_grants) {
                (Target::Role(r), None) => {
                    // §5.6: each existing grant of the role shows twice, granted by old and new owner.
                    let dups: Vec<RoleGrant> = self
                        .catalog
                        .role_grants
                        .iter()
                        .filter(|g| g.role == r && g.granted_by != Some(new_owner))
                        .map(|g| RoleGrant {
                            granted_by: Some(new_owner),
                            created_on: t,
                            ..g.clone()
                        })
                        .collect();
                    self.catalog.role_grants.extend(dups);
                }
                (Target::Role(r), Some(CurrentGrants::Revoke)) => {
                    self.catalog
                        .role_grants
                        .retain(|g| g.to != Grantee::Role(r) || g.system);
                    self.catalog.priv_grants.retain(|g| g.target != target);
                }
                (Target::Role(r), Some(CurrentGrants::Copy)) => {
                    for g in self
                        .catalog
                        .role_grants
                        .iter_mut()
                        .filter(|g| g.to == Grantee::Role(r))
                    {
                        g.granted_by = Some(new_owner);
                    }
                }
                (_, Some(CurrentGrants::Revoke)) => {
                    self.catalog.priv_grants.retain(|g| g.target != target);
                }
                (_, Some(CurrentGrants::Copy)) => {
                    for g in self
                        .catalog
                        .priv_grants
                        .iter_mut()
                        .filter(|g| g.target == target)
                    {
                        g.granted_by = Some(new_owner);
                    }
                }
                (_, None) => {}
            }
        }
        Ok(ResultSet::status(OK))
    }

    fn privilege_list(&self, privileges: &Privileges, kind: Kind) -> Result<Vec<String>, SqlError> {
        match privileges {
            Privileges::All => Ok(expand_all(kind)),
            Privileges::List(list) => {
                for p in list {
                    if !privilege_valid(kind, p) {
                        return Err(errors::syntax(p));
                    }
                }
                Ok(list.clone())
            }
        }
    }

    fn grant_target(
        &self,
        s: &Session,
        on: &GrantTarget,
        statement: &str,
    ) -> Result<Target, SqlError> {
        match on {
            GrantTarget::Account => Ok(Target::Account),
            GrantTarget::Object { kind, name } => self.resolve_target(s, *kind, name, statement),
        }
    }

    fn target_kind(&self, target: Target) -> Kind {
        self.catalog.target_info(target, &self.name).0
    }

    pub(crate) fn grant_privileges(
        &mut self,
        s: &Session,
        privileges: &Privileges,
        on: &GrantTarget,
        to_role: &str,
        with_grant_option: bool,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let target = self.grant_target(s, on, "GRANT")?;
        let kind = self.target_kind(target);
        let list = self.privilege_list(privileges, kind)?;
        let role = self
            .catalog
            .role_id(to_role)
            .ok_or_else(|| errors::not_found(Kind::Role, to_role))?;
        let roles = self.effective_roles(s);
        let full = self.manage_grants(&roles) || self.catalog.owns(&roles, target);
        let grantable: Vec<String> = list
            .into_iter()
            .filter(|p| {
                full || self.catalog.priv_grants.iter().any(|g| {
                    g.target == target
                        && &g.privilege == p
                        && g.grant_option
                        && roles.contains(&g.role)
                })
            })
            .collect();
        if grantable.is_empty() {
            return Err(self.denied(&roles, target));
        }
        let granted_by = self.catalog.role_id(&s.primary_role);
        let mut changed = false;
        for p in grantable {
            if let Some(g) = self
                .catalog
                .priv_grants
                .iter_mut()
                .find(|g| g.target == target && g.privilege == p && g.role == role)
            {
                if with_grant_option && !g.grant_option {
                    g.grant_option = true;
                    changed = true;
                }
                continue;
            }
            self.catalog.priv_grants.push(PrivGrant {
                privilege: p,
                target,
                role,
                grant_option: with_grant_option,
                granted_by,
                created_on: t,
                system: false,
            });
            changed = true;
        }
        let mut r = ResultSet::status(OK);
        r.changed = changed;
        Ok(r)
    }

    pub(crate) fn revoke_privileges(
        &mut self,
        s: &Session,
        grant_option_for: bool,
        privileges: &Privileges,
        on: &GrantTarget,
        from_role: &str,
        behavior: Option<DropBehavior>,
    ) -> Result<ResultSet, SqlError> {
        let target = self.grant_target(s, on, "REVOKE")?;
        let kind = self.target_kind(target);
        let list = self.privilege_list(privileges, kind)?;
        let role = self
            .catalog
            .role_id(from_role)
            .ok_or_else(|| errors::not_found(Kind::Role, from_role))?;
        let roles = self.effective_roles(s);
        let mg = self.manage_grants(&roles) || self.catalog.owns(&roles, target);
        let wanted: BTreeSet<&String> = list.iter().collect();
        let matching: Vec<usize> = self
            .catalog
            .priv_grants
            .iter()
            .enumerate()
            .filter(|(_, g)| g.target == target && g.role == role && wanted.contains(&g.privilege))
            .map(|(i, _)| i)
            .collect();
        if matching.is_empty() {
            return Ok(unchanged(ResultSet::status(OK)));
        }
        for i in &matching {
            let g = &self.catalog.priv_grants[*i];
            if g.system {
                return Err(errors::system_role(&self.catalog.role_name(g.role)));
            }
            let grantor_active = g.granted_by.is_some_and(|b| roles.contains(&b));
            if !mg && !grantor_active {
                return Err(self.denied(&roles, target));
            }
        }
        // Dependent grants: the same privilege on the same target granted by the revokee.
        let dependents: Vec<usize> = self
            .catalog
            .priv_grants
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                g.target == target
                    && g.granted_by == Some(role)
                    && g.role != role
                    && wanted.contains(&g.privilege)
            })
            .map(|(i, _)| i)
            .collect();
        if !dependents.is_empty() && behavior != Some(DropBehavior::Cascade) {
            let p = self.catalog.priv_grants[dependents[0]].privilege.clone();
            return Err(errors::dependent_grants(&p));
        }
        if grant_option_for {
            for i in &matching {
                self.catalog.priv_grants[*i].grant_option = false;
            }
        }
        let mut remove: BTreeSet<usize> = dependents.into_iter().collect();
        if !grant_option_for {
            remove.extend(matching);
        }
        let mut idx = 0;
        self.catalog.priv_grants.retain(|_| {
            let keep = !remove.contains(&idx);
            idx += 1;
            keep
        });
        Ok(ResultSet::status(OK))
    }
}
