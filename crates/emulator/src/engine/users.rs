//! CREATE / ALTER / DROP / DESCRIBE USER (§5.1–§5.3).

use chrono::{DateTime, Utc};
use snowpat_sql::ast::{AlterUserAction, Ident, Property, Value};

use super::catalog::{Kind, Target, User};
use super::{auth, errors, props, unchanged};
use super::{Account, Cell, Column, ResultSet, Session, SqlError};

/// Properties a SERVICE user cannot have (§5.1).
const SERVICE_FORBIDDEN: &[&str] = &[
    "FIRST_NAME",
    "MIDDLE_NAME",
    "LAST_NAME",
    "PASSWORD",
    "MUST_CHANGE_PASSWORD",
    "MINS_TO_BYPASS_MFA",
];

const USER_TYPES: &[&str] = &["PERSON", "SERVICE", "LEGACY_SERVICE", "SERVICE_AGENT"];

/// Which privilege a user property needs (§4.3).
#[derive(Clone, Copy, Eq, PartialEq)]
enum Needs {
    Ownership,
    OwnershipOrMpam,
    NetworkPolicy,
}

fn needs(property: &str) -> Needs {
    match property {
        "RSA_PUBLIC_KEY" | "RSA_PUBLIC_KEY_2" => Needs::OwnershipOrMpam,
        "NETWORK_POLICY" => Needs::NetworkPolicy,
        _ => Needs::Ownership,
    }
}

fn forbidden_for_service(u: &User) -> Option<&'static str> {
    if u.user_type.as_deref() != Some("SERVICE") {
        return None;
    }
    SERVICE_FORBIDDEN.iter().copied().find(|p| match *p {
        "FIRST_NAME" => u.first_name.is_some(),
        "MIDDLE_NAME" => u.middle_name.is_some(),
        "LAST_NAME" => u.last_name.is_some(),
        "PASSWORD" => u.password_digest.is_some(),
        "MUST_CHANGE_PASSWORD" => u.must_change_password,
        "MINS_TO_BYPASS_MFA" => u.mins_to_bypass_mfa.is_some(),
        _ => false,
    })
}

/// A SERVICE-forbidden property supplied (with a non-NULL value) in this statement.
fn supplied_forbidden(u: &User, properties: &[Property]) -> Option<&'static str> {
    if u.user_type.as_deref() != Some("SERVICE") {
        return None;
    }
    properties.iter().find_map(|p| {
        SERVICE_FORBIDDEN
            .iter()
            .copied()
            .find(|f| *f == p.name.as_str() && !matches!(p.value, Value::Null))
    })
}

impl Account {
    /// Applies one property to a user record; network policies are resolved by the caller.
    fn set_user_property(&self, u: &mut User, p: &Property) -> Result<(), SqlError> {
        let name = p.name.as_str();
        match name {
            "PASSWORD" => {
                u.password_digest = props::opt_string(p)?.map(|s| auth::sha256_hex(s.as_bytes()))
            }
            "LOGIN_NAME" => u.login_name = props::value_text(&p.value),
            "DISPLAY_NAME" => u.display_name = props::opt_string(p)?,
            "FIRST_NAME" => u.first_name = props::opt_string(p)?,
            "MIDDLE_NAME" => u.middle_name = props::opt_string(p)?,
            "LAST_NAME" => u.last_name = props::opt_string(p)?,
            "EMAIL" => u.email = props::opt_string(p)?,
            "COMMENT" => u.comment = props::opt_string(p)?,
            "MUST_CHANGE_PASSWORD" => u.must_change_password = props::boolean(p)?,
            "DISABLED" => u.disabled = props::boolean(p)?,
            "DAYS_TO_EXPIRY" => {
                let n = props::integer(p)?;
                if n < 0 {
                    return Err(errors::invalid_value(&n.to_string(), name));
                }
                u.days_to_expiry = Some(n.to_string());
            }
            "MINS_TO_UNLOCK" => {
                let n = props::integer(p)?;
                if n < 0 {
                    return Err(errors::invalid_value(&n.to_string(), name));
                }
                if n == 0 {
                    u.locked_until = None;
                    u.failed_logins = 0;
                    u.mins_to_unlock = None;
                } else {
                    u.mins_to_unlock = Some(n.to_string());
                }
            }
            "MINS_TO_BYPASS_MFA" => {
                let n = props::integer(p)?;
                if n < 0 {
                    return Err(errors::invalid_value(&n.to_string(), name));
                }
                u.mins_to_bypass_mfa = Some(n.to_string());
            }
            "DEFAULT_WAREHOUSE" => u.default_warehouse = Some(props::name(p)?),
            "DEFAULT_NAMESPACE" => {
                u.default_namespace = Some(match &p.value {
                    Value::String(s) => props::split_qualified(s).join("."),
                    other => props::value_text(other),
                })
            }
            "DEFAULT_ROLE" => u.default_role = Some(props::name(p)?),
            "DEFAULT_SECONDARY_ROLES" => {
                let items = props::list(p)?;
                u.default_secondary_all = match items.as_slice() {
                    [] => false,
                    [Value::String(s)] if s.eq_ignore_ascii_case("ALL") => true,
                    [Value::Name(n)] if n.name().as_str().eq_ignore_ascii_case("ALL") => true,
                    _ => return Err(errors::invalid_value(&props::value_text(&p.value), name)),
                };
            }
            "RSA_PUBLIC_KEY" | "RSA_PUBLIC_KEY_2" => {
                let key = props::opt_string(p)?.map(|k| auth::normalize_public_key(&k));
                if let Some(k) = &key {
                    if auth::fingerprint(k).is_none() {
                        return Err(errors::invalid_value("<key>", name));
                    }
                }
                if name == "RSA_PUBLIC_KEY" {
                    u.rsa_public_key = key;
                } else {
                    u.rsa_public_key_2 = key;
                }
            }
            "TYPE" => {
                u.user_type = match &p.value {
                    Value::Null => None,
                    _ => {
                        let t = props::keyword(p)?;
                        if !USER_TYPES.contains(&t.as_str()) {
                            return Err(errors::syntax(&t));
                        }
                        Some(t)
                    }
                }
            }
            "NETWORK_POLICY" => {}
            _ => return Err(errors::syntax(name)),
        }
        Ok(())
    }

    /// Resolves NETWORK_POLICY and checks the session owns it (§4.3, [21]).
    fn network_policy_for_user(&self, s: &Session, p: &Property) -> Result<Option<u64>, SqlError> {
        if matches!(p.value, Value::Null) {
            return Ok(None);
        }
        let name = props::name(p)?;
        let id = self
            .catalog
            .object_id(Kind::NetworkPolicy, std::slice::from_ref(&name))
            .ok_or_else(|| errors::not_found(Kind::NetworkPolicy, &name))?;
        let roles = self.effective_roles(s);
        if !self.catalog.owns(&roles, Target::Object(id)) {
            return Err(errors::insufficient(Kind::NetworkPolicy, &name));
        }
        Ok(Some(id))
    }

    pub(crate) fn create_user(
        &mut self,
        s: &Session,
        or_replace: bool,
        if_not_exists: bool,
        name: &str,
        properties: &[Property],
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        if or_replace && if_not_exists {
            return Err(errors::syntax("IF"));
        }
        let roles = self.primary_roles(s);
        self.require_account_priv(&roles, "CREATE USER")?;
        let existing = self.catalog.user_id(name);
        if existing.is_some() && !or_replace {
            if if_not_exists {
                return Ok(unchanged(ResultSet::status(format!(
                    "{name} already exists, statement succeeded."
                ))));
            }
            return Err(errors::already_exists(name));
        }
        if let Some(old) = existing {
            let roles = self.effective_roles(s);
            if !self.catalog.owns(&roles, Target::User(old)) {
                return Err(errors::insufficient(Kind::User, name));
            }
        }
        let mut u = User {
            name: name.to_owned(),
            login_name: name.to_owned(),
            display_name: Some(name.to_owned()),
            created_on: t,
            ..User::default()
        };
        let mut np = None;
        for p in properties {
            if p.name.as_str() == "NETWORK_POLICY" {
                np = self.network_policy_for_user(s, p)?;
            }
            self.set_user_property(&mut u, p)?;
        }
        u.login_name = u.login_name.to_uppercase();
        if let Some(prop) = supplied_forbidden(&u, properties).or_else(|| forbidden_for_service(&u))
        {
            return Err(errors::service_property(prop));
        }
        u.network_policy = np;
        if let Some(old) = existing {
            self.remove_user(old);
        }
        let id = self.catalog.new_id();
        u.id = id;
        u.owner = self.catalog.role_id(&s.primary_role);
        self.catalog.users.insert(id, u);
        Ok(ResultSet::status(format!(
            "User {name} successfully created."
        )))
    }

    fn remove_user(&mut self, id: u64) {
        self.catalog.users.remove(&id);
        self.catalog.forget_target(Target::User(id));
        self.catalog.pats.retain(|p| p.user_id != id);
    }

    pub(crate) fn drop_user(
        &mut self,
        s: &Session,
        if_exists: bool,
        name: &str,
    ) -> Result<ResultSet, SqlError> {
        let Some(id) = self.catalog.user_id(name) else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(format!(
                    "Drop statement executed successfully ({name} already dropped)."
                ))));
            }
            return Err(errors::not_found(Kind::User, name));
        };
        let roles = self.effective_roles(s);
        if !self.catalog.owns(&roles, Target::User(id)) {
            return Err(errors::insufficient(Kind::User, name));
        }
        self.remove_user(id);
        Ok(ResultSet::status(format!("{name} successfully dropped.")))
    }

    pub(crate) fn alter_user(
        &mut self,
        s: &mut Session,
        if_exists: bool,
        user: Option<&Ident>,
        action: &AlterUserAction,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let name = user
            .map(|u| u.as_str().to_owned())
            .unwrap_or_else(|| s.user_name.clone());
        let Some(id) = self.catalog.user_id(&name) else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(
                    "Statement executed successfully.",
                )));
            }
            return Err(errors::not_found(Kind::User, &name));
        };
        match action {
            AlterUserAction::AddPat(add) => self.add_pat(s, id, add, t),
            AlterUserAction::RotatePat {
                if_exists,
                name,
                expire_rotated_token_after_hours,
            } => self.rotate_pat(
                s,
                id,
                *if_exists,
                name.as_str(),
                *expire_rotated_token_after_hours,
                t,
            ),
            AlterUserAction::ModifyPat {
                if_exists,
                name,
                change,
            } => self.modify_pat(s, id, *if_exists, name.as_str(), change, t),
            AlterUserAction::RemovePat { if_exists, name } => {
                self.remove_pat(s, id, *if_exists, name.as_str())
            }
            AlterUserAction::SetAuthenticationPolicy { policy, force } => {
                self.set_user_auth_policy(s, id, policy, *force)
            }
            AlterUserAction::UnsetAuthenticationPolicy => self.unset_user_auth_policy(s, id),
            AlterUserAction::Rename(new) => {
                let roles = self.effective_roles(s);
                if !self.catalog.owns(&roles, Target::User(id)) {
                    return Err(errors::insufficient(Kind::User, &name));
                }
                if self.catalog.user_id(new.as_str()).is_some() {
                    return Err(errors::already_exists(new.as_str()));
                }
                if let Some(u) = self.catalog.users.get_mut(&id) {
                    u.name = new.as_str().to_owned();
                }
                if s.user_id == id {
                    s.user_name = new.as_str().to_owned();
                }
                Ok(ResultSet::status("Statement executed successfully."))
            }
            AlterUserAction::Set(properties) => self.alter_user_set(s, id, &name, properties),
            AlterUserAction::Unset(names) => self.alter_user_unset(s, id, &name, names),
        }
    }

    fn check_user_property_privilege(
        &self,
        s: &Session,
        id: u64,
        user: &str,
        property: &str,
    ) -> Result<(), SqlError> {
        let roles = self.effective_roles(s);
        let owns = self.catalog.owns(&roles, Target::User(id));
        let ok = match needs(property) {
            Needs::Ownership | Needs::NetworkPolicy => owns,
            Needs::OwnershipOrMpam => {
                owns || self.catalog.holds(
                    &roles,
                    "MODIFY PROGRAMMATIC AUTHENTICATION METHODS",
                    Target::User(id),
                )
            }
        };
        if ok {
            Ok(())
        } else {
            Err(errors::insufficient(Kind::User, user))
        }
    }

    fn alter_user_set(
        &mut self,
        s: &Session,
        id: u64,
        name: &str,
        properties: &[Property],
    ) -> Result<ResultSet, SqlError> {
        let Some(mut u) = self.catalog.users.get(&id).cloned() else {
            return Err(errors::not_found(Kind::User, name));
        };
        let was_disabled = u.disabled;
        for p in properties {
            self.check_user_property_privilege(s, id, name, p.name.as_str())?;
            if p.name.as_str() == "NETWORK_POLICY" {
                u.network_policy = self.network_policy_for_user(s, p)?;
            }
            self.set_user_property(&mut u, p)?;
        }
        if let Some(prop) = supplied_forbidden(&u, properties).or_else(|| forbidden_for_service(&u))
        {
            return Err(errors::service_property(prop));
        }
        // §5.2: disabling a user disables all of its tokens; enabling leaves them disabled.
        let disables = properties
            .iter()
            .any(|p| p.name.as_str() == "DISABLED" && matches!(props::boolean(p), Ok(true)));
        if disables {
            for pat in self.catalog.pats.iter_mut().filter(|p| p.user_id == id) {
                pat.disabled = true;
            }
        }
        let _ = was_disabled;
        self.catalog.users.insert(id, u);
        Ok(ResultSet::status("Statement executed successfully."))
    }

    fn alter_user_unset(
        &mut self,
        s: &Session,
        id: u64,
        name: &str,
        names: &[Ident],
    ) -> Result<ResultSet, SqlError> {
        let Some(mut u) = self.catalog.users.get(&id).cloned() else {
            return Err(errors::not_found(Kind::User, name));
        };
        for n in names {
            let prop = n.as_str();
            self.check_user_property_privilege(s, id, name, prop)?;
            match prop {
                "PASSWORD" => u.password_digest = None,
                "LOGIN_NAME" => u.login_name = u.name.to_uppercase(),
                "DISPLAY_NAME" => u.display_name = None,
                "FIRST_NAME" => u.first_name = None,
                "MIDDLE_NAME" => u.middle_name = None,
                "LAST_NAME" => u.last_name = None,
                "EMAIL" => u.email = None,
                "COMMENT" => u.comment = None,
                "MUST_CHANGE_PASSWORD" => u.must_change_password = false,
                "DISABLED" => u.disabled = false,
                "DAYS_TO_EXPIRY" => u.days_to_expiry = None,
                "MINS_TO_UNLOCK" => {
                    u.mins_to_unlock = None;
                    u.locked_until = None;
                }
                "MINS_TO_BYPASS_MFA" => u.mins_to_bypass_mfa = None,
                "DEFAULT_WAREHOUSE" => u.default_warehouse = None,
                "DEFAULT_NAMESPACE" => u.default_namespace = None,
                "DEFAULT_ROLE" => u.default_role = None,
                "DEFAULT_SECONDARY_ROLES" => u.default_secondary_all = false,
                "RSA_PUBLIC_KEY" => u.rsa_public_key = None,
                "RSA_PUBLIC_KEY_2" => u.rsa_public_key_2 = None,
                "TYPE" => u.user_type = None,
                "NETWORK_POLICY" => u.network_policy = None,
                _ => return Err(errors::syntax(prop)),
            }
        }
        self.catalog.users.insert(id, u);
        Ok(ResultSet::status("Statement executed successfully."))
    }

    pub(crate) fn describe_user(&self, s: &Session, name: &str) -> Result<ResultSet, SqlError> {
        let Some(u) = self.catalog.user_by_name(name) else {
            return Err(errors::not_found(Kind::User, name));
        };
        let roles = self.effective_roles(s);
        let allowed = u.id == s.user_id
            || self.catalog.holds_any(&roles, Target::User(u.id))
            || self.manage_grants(&roles);
        if !allowed {
            return Err(errors::insufficient(Kind::User, name));
        }
        let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "null".into());
        let np = u
            .network_policy
            .and_then(|id| self.catalog.objects.get(&id))
            .map(|o| o.name().to_owned());
        let rows: Vec<(&str, String)> = vec![
            ("NAME", u.name.clone()),
            ("COMMENT", text(&u.comment)),
            ("DISPLAY_NAME", text(&u.display_name)),
            ("TYPE", text(&u.user_type)),
            ("LOGIN_NAME", u.login_name.clone()),
            ("FIRST_NAME", text(&u.first_name)),
            ("MIDDLE_NAME", text(&u.middle_name)),
            ("LAST_NAME", text(&u.last_name)),
            ("EMAIL", text(&u.email)),
            (
                "PASSWORD",
                if u.password_digest.is_some() {
                    "********".into()
                } else {
                    "null".into()
                },
            ),
            ("MUST_CHANGE_PASSWORD", u.must_change_password.to_string()),
            ("DISABLED", u.disabled.to_string()),
            ("SNOWFLAKE_LOCK", "false".into()),
            ("DAYS_TO_EXPIRY", text(&u.days_to_expiry)),
            ("MINS_TO_UNLOCK", text(&u.mins_to_unlock)),
            ("DEFAULT_WAREHOUSE", text(&u.default_warehouse)),
            ("DEFAULT_NAMESPACE", text(&u.default_namespace)),
            ("DEFAULT_ROLE", text(&u.default_role)),
            (
                "DEFAULT_SECONDARY_ROLES",
                if u.default_secondary_all {
                    "[\"ALL\"]".into()
                } else {
                    "[]".into()
                },
            ),
            ("MINS_TO_BYPASS_MFA", text(&u.mins_to_bypass_mfa)),
            ("RSA_PUBLIC_KEY", text(&u.rsa_public_key)),
            (
                "RSA_PUBLIC_KEY_FP",
                text(&u.rsa_public_key.as_deref().and_then(auth::fingerprint)),
            ),
            ("RSA_PUBLIC_KEY_2", text(&u.rsa_public_key_2)),
            (
                "RSA_PUBLIC_KEY_2_FP",
                text(&u.rsa_public_key_2.as_deref().and_then(auth::fingerprint)),
            ),
            ("NETWORK_POLICY", text(&np)),
        ];
        Ok(unchanged(ResultSet {
            columns: vec![
                Column::text("property"),
                Column::text("value"),
                Column::text("default"),
                Column::text("description"),
            ],
            rows: rows
                .into_iter()
                .map(|(k, v)| {
                    vec![
                        Cell::Text(k.into()),
                        Cell::Text(v),
                        Cell::Text("null".into()),
                        Cell::Text(String::new()),
                    ]
                })
                .collect(),
            changed: false,
            carries_secret: false,
        }))
    }
}
