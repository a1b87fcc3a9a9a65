//! Effective roles (§4.1), privilege checks (§4.2) and name resolution (§1.1).

use std::collections::BTreeSet;

use snowpat_sql::ast::ObjectName;

use super::catalog::{Kind, Target};
use super::errors;
use super::{Account, AuthMethod, Session, SqlError};

impl Account {
    /// Opens a session for a user: `role` if given, else DEFAULT_ROLE when granted, else PUBLIC;
    /// secondary roles from DEFAULT_SECONDARY_ROLES unless the session is role-restricted (§4.1).
    pub(crate) fn open_session(
        &self,
        user_id: u64,
        auth: AuthMethod,
        role: Option<String>,
    ) -> Session {
        let user = self.catalog.users.get(&user_id);
        let restricted = matches!(
            &auth,
            AuthMethod::Pat {
                role_restriction: Some(_),
                ..
            }
        );
        let primary = match role {
            Some(r) => r,
            None => user
                .and_then(|u| u.default_role.clone())
                .filter(|r| self.catalog.user_has_role(user_id, r))
                .unwrap_or_else(|| "PUBLIC".to_owned()),
        };
        let (database, schema) = user
            .and_then(|u| u.default_namespace.as_deref())
            .map(split_namespace)
            .unwrap_or((None, None));
        Session {
            user_id,
            user_name: user.map(|u| u.name.clone()).unwrap_or_default(),
            auth,
            primary_role: primary,
            secondary_roles_all: !restricted && user.is_some_and(|u| u.default_secondary_all),
            database,
            schema,
            warehouse: user.and_then(|u| u.default_warehouse.clone()),
            parameters: Vec::new(),
            oauth_integration: None,
        }
    }

    /// Closure of the primary role plus PUBLIC: what CREATE checks use (§4.2).
    pub(crate) fn primary_roles(&self, s: &Session) -> BTreeSet<u64> {
        let mut start: Vec<u64> = Vec::new();
        if let Some(r) = self.catalog.role_id(&s.primary_role) {
            // A role revoked from the user after the session started no longer counts.
            if self.catalog.user_has_role(s.user_id, &s.primary_role)
                || matches!(s.auth, AuthMethod::Internal)
            {
                start.push(r);
            }
        }
        start.extend(self.catalog.public_id());
        self.catalog.closure(start)
    }

    /// Primary + secondary roles + PUBLIC, closed under the hierarchy (§4.1).
    pub(crate) fn effective_roles(&self, s: &Session) -> BTreeSet<u64> {
        let mut roles = self.primary_roles(s);
        if s.secondary_roles_all {
            roles.extend(self.catalog.user_role_closure(s.user_id));
        }
        roles
    }

    /// The names of the roles a session may use (for CURRENT_AVAILABLE_ROLES()).
    pub(crate) fn available_role_names(&self, s: &Session) -> Vec<String> {
        let ids = match &s.auth {
            AuthMethod::Pat {
                role_restriction: Some(_),
                ..
            } => self.primary_roles(s),
            _ => self.catalog.user_role_closure(s.user_id),
        };
        let mut names: Vec<String> = ids
            .into_iter()
            .filter_map(|id| self.catalog.roles.get(&id))
            .filter(|r| r.database.is_none())
            .map(|r| r.name.clone())
            .collect();
        names.sort();
        names
    }

    pub(crate) fn has_account_priv(&self, roles: &BTreeSet<u64>, privilege: &str) -> bool {
        self.catalog.holds(roles, privilege, Target::Account)
    }

    pub(crate) fn manage_grants(&self, roles: &BTreeSet<u64>) -> bool {
        self.has_account_priv(roles, "MANAGE GRANTS")
    }

    /// `003001` on the account unless one of `roles` holds `privilege` on it.
    pub(crate) fn require_account_priv(
        &self,
        roles: &BTreeSet<u64>,
        privilege: &str,
    ) -> Result<(), SqlError> {
        if self.has_account_priv(roles, privilege) {
            Ok(())
        } else {
            Err(errors::insufficient(Kind::Account, &self.name))
        }
    }

    /// The error for a failed check on an object: `003001` when the caller can see it,
    /// `002003` otherwise (§4.2). Users, roles and the account are always visible.
    pub(crate) fn denied(&self, roles: &BTreeSet<u64>, target: Target) -> SqlError {
        let (kind, name) = self.catalog.target_info(target, &self.name);
        let visible = matches!(target, Target::Account | Target::User(_) | Target::Role(_))
            || self.catalog.holds_any(roles, target);
        if visible {
            errors::insufficient(kind, &name)
        } else {
            errors::not_found(kind, &name)
        }
    }

    /// `[db, schema]` for a schema name of one or two parts.
    pub(crate) fn schema_path(
        &self,
        s: &Session,
        name: &ObjectName,
        statement: &str,
    ) -> Result<Vec<String>, SqlError> {
        let parts: Vec<String> = name.0.iter().map(|i| i.as_str().to_owned()).collect();
        match parts.len() {
            1 => match &s.database {
                Some(db) => Ok(vec![db.clone(), parts[0].clone()]),
                None => Err(errors::no_current(statement, "database")),
            },
            2 => Ok(parts),
            _ => Err(errors::syntax(
                &name
                    .0
                    .iter()
                    .map(|i| i.as_str())
                    .collect::<Vec<_>>()
                    .join("."),
            )),
        }
    }

    /// `[db, schema, name]` for a schema object name of one to three parts (§1.1).
    pub(crate) fn object_path(
        &self,
        s: &Session,
        name: &ObjectName,
        statement: &str,
    ) -> Result<Vec<String>, SqlError> {
        let parts: Vec<String> = name.0.iter().map(|i| i.as_str().to_owned()).collect();
        match parts.len() {
            1 => match (&s.database, &s.schema) {
                (Some(db), Some(schema)) => Ok(vec![db.clone(), schema.clone(), parts[0].clone()]),
                (None, _) => Err(errors::no_current(statement, "database")),
                (Some(_), None) => Err(errors::no_current(statement, "schema")),
            },
            2 => match &s.database {
                Some(db) => Ok(vec![db.clone(), parts[0].clone(), parts[1].clone()]),
                None => Err(errors::no_current(statement, "database")),
            },
            3 => Ok(parts),
            _ => Err(errors::syntax(&parts.join("."))),
        }
    }

    /// CREATE inside a schema: USAGE (or OWNERSHIP) on the database and schema, and `privilege`
    /// on the schema, all through the primary role's closure (§4.2). Answers the schema's id.
    pub(crate) fn check_create_in_schema(
        &self,
        s: &Session,
        schema_path: &[String],
        privilege: &str,
    ) -> Result<u64, SqlError> {
        let roles = self.primary_roles(s);
        let all = self.effective_roles(s);
        let db = self.catalog.object_id(Kind::Database, &schema_path[..1]);
        let schema = self.catalog.object_id(Kind::Schema, schema_path);
        let (Some(db), Some(schema)) = (db, schema) else {
            return Err(match db {
                None => errors::not_found(Kind::Database, &schema_path[0]),
                Some(_) => errors::not_found(Kind::Schema, &schema_path.join(".")),
            });
        };
        if !self.catalog.holds(&all, "USAGE", Target::Object(db)) {
            return Err(self.denied(&all, Target::Object(db)));
        }
        if !self.catalog.holds(&all, "USAGE", Target::Object(schema)) {
            return Err(self.denied(&all, Target::Object(schema)));
        }
        if !self
            .catalog
            .holds(&roles, privilege, Target::Object(schema))
        {
            return Err(errors::insufficient(Kind::Schema, &schema_path.join(".")));
        }
        Ok(schema)
    }

    /// Whether the session user may manage `target`'s PATs: self-PERSON, or OWNERSHIP or MPAM
    /// on the user (§4.3).
    pub(crate) fn may_manage_pats(&self, s: &Session, target: u64) -> bool {
        if let Some(u) = self.catalog.users.get(&target) {
            if u.id == s.user_id && u.is_person() {
                return true;
            }
        }
        let roles = self.effective_roles(s);
        self.catalog.holds(
            &roles,
            "MODIFY PROGRAMMATIC AUTHENTICATION METHODS",
            Target::User(target),
        )
    }
}

/// `DB.SCHEMA` or `DB` → (database, schema).
pub(crate) fn split_namespace(ns: &str) -> (Option<String>, Option<String>) {
    match ns.split_once('.') {
        Some((db, schema)) => (Some(db.to_owned()), Some(schema.to_owned())),
        None => (Some(ns.to_owned()), Some("PUBLIC".to_owned())),
    }
}
