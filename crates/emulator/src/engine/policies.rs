//! Authentication policies (§5.9) and their effective resolution (§5.9.5), ALTER ACCOUNT (§5.10).

use chrono::{DateTime, Utc};
use snowpat_sql::ast::{
    AlterAccountAction, AlterPolicyAction, CreateMode, ObjectName, PolicyOn, PolicyScope, Property,
    ShowFilter, ShowScope, Value,
};

use super::catalog::{
    default_workload_identity, AuthPolicy, Body, Kind, Object, PatPolicy, Slot, Target, User,
};
use super::{errors, props, show, unchanged};
use super::{Account, Cell, Column, ResultSet, Session, SqlError};

const OK: &str = "Statement executed successfully.";

const METHODS: &[&str] = &[
    "ALL",
    "SAML",
    "OIDC",
    "PASSWORD",
    "OAUTH",
    "KEYPAIR",
    "PROGRAMMATIC_ACCESS_TOKEN",
    "WORKLOAD_IDENTITY",
];
const CLIENT_TYPES: &[&str] = &["ALL", "SNOWFLAKE_UI", "DRIVERS", "SNOWFLAKE_CLI", "SNOWSQL"];
const NPE: &[&str] = &["ENFORCED_REQUIRED", "ENFORCED_NOT_REQUIRED", "NOT_ENFORCED"];

fn check_members(values: &[String], allowed: &[&str], property: &str) -> Result<(), SqlError> {
    for v in values {
        if !allowed.contains(&v.as_str()) {
            return Err(errors::invalid_value(v, property));
        }
    }
    Ok(())
}

fn nested(p: &Property) -> Result<&[Property], SqlError> {
    match &p.value {
        Value::Properties(ps) => Ok(ps),
        Value::List(items) if items.is_empty() => Ok(&[]),
        other => Err(errors::syntax(&props::value_text(other))),
    }
}

fn list_text(v: &[String]) -> String {
    format!("[{}]", v.join(", "))
}

fn pat_policy_text(p: &PatPolicy) -> String {
    format!(
        "{{DEFAULT_EXPIRY_IN_DAYS={}, MAX_EXPIRY_IN_DAYS={}, NETWORK_POLICY_EVALUATION={}, REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS={}, REQUIRE_ROLE_RESTRICTION_FOR_PERSON_USERS={}, BLOCKED_ROLES_LIST={}}}",
        p.default_expiry_in_days,
        p.max_expiry_in_days,
        p.network_policy_evaluation,
        p.require_role_restriction_for_service_users,
        p.require_role_restriction_for_person_users,
        list_text(&p.blocked_roles_list)
    )
}

fn mfa_text(p: &AuthPolicy) -> String {
    format!(
        "{{ALLOWED_METHODS={}, ENFORCE_MFA_ON_EXTERNAL_AUTHENTICATION={}}}",
        list_text(&p.mfa_allowed_methods),
        p.mfa_enforce_on_external
    )
}

fn wip_text(w: &[(String, Vec<String>)]) -> String {
    let inner: Vec<String> = w
        .iter()
        .map(|(k, v)| format!("{k}={}", list_text(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

fn client_policy_text(c: &[(String, String)]) -> String {
    let inner: Vec<String> = c
        .iter()
        .map(|(k, v)| format!("{k}={{MINIMUM_VERSION={v}}}"))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

impl Account {
    // ---- effective policy (§5.9.5) ----

    fn slot_for_type(&self, u: &User) -> Option<Slot> {
        if u.is_person() {
            self.catalog.person_slot
        } else if u.is_service() {
            self.catalog.service_slot
        } else {
            None
        }
    }

    fn policy_by_id(&self, id: u64) -> Option<&AuthPolicy> {
        match self.catalog.objects.get(&id).map(|o| &o.body) {
            Some(Body::AuthPolicy(p)) => Some(p),
            _ => None,
        }
    }

    /// The authentication policy in force for a user, or the built-in defaults (§5.9.4).
    pub(crate) fn effective_auth_policy(&self, u: &User) -> AuthPolicy {
        let type_slot = self.slot_for_type(u);
        let account = self.catalog.account_slot;
        let chosen = account
            .filter(|s| s.force)
            .map(|s| s.policy)
            .or(type_slot.filter(|s| s.force).map(|s| s.policy))
            .or(u.auth_policy)
            .or(type_slot.map(|s| s.policy))
            .or(account.map(|s| s.policy));
        chosen
            .and_then(|id| self.policy_by_id(id))
            .cloned()
            .unwrap_or_default()
    }

    // ---- authentication policies ----

    fn resolve_auth_policy(
        &self,
        s: &Session,
        name: &ObjectName,
        statement: &str,
    ) -> Result<(Vec<String>, Option<u64>), SqlError> {
        let path = self.object_path(s, name, statement)?;
        let id = self.catalog.object_id(Kind::AuthenticationPolicy, &path);
        Ok((path, id))
    }

    /// Applies SET properties to a policy (PAT_POLICY and MFA_POLICY merge field by field).
    fn apply_auth_policy_props(
        &self,
        p: &mut AuthPolicy,
        comment: &mut Option<String>,
        properties: &[Property],
    ) -> Result<(), SqlError> {
        for prop in properties {
            let name = prop.name.as_str();
            match name {
                "AUTHENTICATION_METHODS" => {
                    let v = props::keyword_list(prop)?;
                    check_members(&v, METHODS, name)?;
                    p.authentication_methods = v;
                }
                "CLIENT_TYPES" => {
                    let v = props::keyword_list(prop)?;
                    check_members(&v, CLIENT_TYPES, name)?;
                    p.client_types = v;
                }
                "CLIENT_POLICY" => {
                    let mut out = Vec::new();
                    for c in nested(prop)? {
                        let mut version = String::new();
                        for f in nested(c)? {
                            if f.name.as_str() != "MINIMUM_VERSION" {
                                return Err(errors::syntax(f.name.as_str()));
                            }
                            version = props::string(f)?;
                        }
                        out.push((c.name.as_str().to_owned(), version));
                    }
                    p.client_policy = out;
                }
                "SECURITY_INTEGRATIONS" => {
                    p.security_integrations = props::list(prop)?
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => props::resolve_literal_name(s),
                            other => props::value_text(other),
                        })
                        .collect();
                }
                "MFA_ENROLLMENT" => {
                    let v = props::keyword(prop)?;
                    check_members(
                        std::slice::from_ref(&v),
                        &["REQUIRED", "REQUIRED_PASSWORD_ONLY", "OPTIONAL"],
                        name,
                    )?;
                    p.mfa_enrollment = Some(v);
                }
                "MFA_POLICY" => {
                    for f in nested(prop)? {
                        match f.name.as_str() {
                            "ALLOWED_METHODS" => p.mfa_allowed_methods = props::keyword_list(f)?,
                            "ENFORCE_MFA_ON_EXTERNAL_AUTHENTICATION" => {
                                let v = props::keyword(f)?;
                                check_members(
                                    std::slice::from_ref(&v),
                                    &["ALL", "NONE"],
                                    f.name.as_str(),
                                )?;
                                p.mfa_enforce_on_external = v;
                            }
                            other => return Err(errors::syntax(other)),
                        }
                    }
                }
                "PAT_POLICY" => {
                    let mut pp = p.pat_policy.clone();
                    for f in nested(prop)? {
                        let fname = f.name.as_str();
                        match fname {
                            "DEFAULT_EXPIRY_IN_DAYS" => {
                                pp.default_expiry_in_days = props::integer(f)?
                            }
                            "MAX_EXPIRY_IN_DAYS" => pp.max_expiry_in_days = props::integer(f)?,
                            "NETWORK_POLICY_EVALUATION" => {
                                let v = props::keyword(f)?;
                                check_members(std::slice::from_ref(&v), NPE, fname)?;
                                pp.network_policy_evaluation = v;
                            }
                            "REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS" => {
                                pp.require_role_restriction_for_service_users = props::boolean(f)?
                            }
                            "REQUIRE_ROLE_RESTRICTION_FOR_PERSON_USERS" => {
                                pp.require_role_restriction_for_person_users = props::boolean(f)?
                            }
                            "BLOCKED_ROLES_LIST" => {
                                let mut roles = Vec::new();
                                for v in props::list(f)? {
                                    let r = match &v {
                                        Value::String(s) => props::resolve_literal_name(s),
                                        Value::Name(n) if n.0.len() == 1 => {
                                            n.name().as_str().to_owned()
                                        }
                                        other => {
                                            return Err(errors::syntax(&props::value_text(other)))
                                        }
                                    };
                                    if self.catalog.role_id(&r).is_none() {
                                        return Err(errors::blocked_role_missing(&r));
                                    }
                                    roles.push(r);
                                }
                                pp.blocked_roles_list = roles;
                            }
                            other => return Err(errors::syntax(other)),
                        }
                    }
                    if !(1..=365).contains(&pp.max_expiry_in_days) {
                        return Err(errors::invalid_value(
                            &pp.max_expiry_in_days.to_string(),
                            "MAX_EXPIRY_IN_DAYS",
                        ));
                    }
                    if !(1..=pp.max_expiry_in_days).contains(&pp.default_expiry_in_days) {
                        return Err(errors::invalid_value(
                            &pp.default_expiry_in_days.to_string(),
                            "DEFAULT_EXPIRY_IN_DAYS",
                        ));
                    }
                    p.pat_policy = pp;
                }
                "WORKLOAD_IDENTITY_POLICY" => {
                    let mut w = default_workload_identity();
                    for f in nested(prop)? {
                        let key = f.name.as_str().to_owned();
                        let v = props::list(f)?
                            .iter()
                            .map(props::value_text)
                            .collect::<Vec<_>>();
                        match w.iter_mut().find(|(k, _)| *k == key) {
                            Some(slot) => slot.1 = v,
                            None => return Err(errors::syntax(&key)),
                        }
                    }
                    p.workload_identity = w;
                }
                "COMMENT" => *comment = props::opt_string(prop)?,
                other => return Err(errors::syntax(other)),
            }
        }
        if let Some((client, _)) = p.client_policy.first() {
            let ok = p.client_types.is_empty()
                || p.client_types.iter().any(|c| c == "ALL" || c == "DRIVERS");
            if !ok {
                return Err(errors::client_policy_without_drivers(client));
            }
        }
        Ok(())
    }

    pub(crate) fn create_auth_policy(
        &mut self,
        s: &Session,
        create: CreateMode,
        if_not_exists: bool,
        name: &ObjectName,
        properties: &[Property],
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        if create == CreateMode::OrReplace && if_not_exists {
            return Err(errors::syntax("IF"));
        }
        let statement = "CREATE AUTHENTICATION POLICY";
        let (path, existing) = self.resolve_auth_policy(s, name, statement)?;
        self.check_create_in_schema(s, &path[..2], statement)?;
        let pname = path[2].clone();
        if let Some(id) = existing {
            match create {
                CreateMode::Create if if_not_exists => {
                    return Ok(unchanged(ResultSet::status(format!(
                        "{pname} already exists, statement succeeded."
                    ))))
                }
                CreateMode::Create => return Err(errors::already_exists(&pname)),
                CreateMode::OrAlter => {
                    let roles = self.effective_roles(s);
                    if !self.catalog.owns(&roles, Target::Object(id)) {
                        return Err(self.denied(&roles, Target::Object(id)));
                    }
                    let Some(obj) = self.catalog.objects.get(&id) else {
                        return Err(errors::not_found(Kind::AuthenticationPolicy, &pname));
                    };
                    let mut comment = obj.comment.clone();
                    let mut policy = match &obj.body {
                        Body::AuthPolicy(p) => (**p).clone(),
                        _ => AuthPolicy::default(),
                    };
                    self.apply_auth_policy_props(&mut policy, &mut comment, properties)?;
                    if let Some(obj) = self.catalog.objects.get_mut(&id) {
                        obj.comment = comment;
                        obj.body = Body::AuthPolicy(Box::new(policy));
                    }
                    return Ok(ResultSet::status(OK));
                }
                CreateMode::OrReplace => {
                    let roles = self.effective_roles(s);
                    if !self.catalog.owns(&roles, Target::Object(id)) {
                        return Err(self.denied(&roles, Target::Object(id)));
                    }
                }
            }
        }
        let mut policy = AuthPolicy::default();
        let mut comment = None;
        self.apply_auth_policy_props(&mut policy, &mut comment, properties)?;
        let owner = self.catalog.role_id(&s.primary_role);
        let id = match existing {
            Some(id) => id,
            None => self.catalog.new_id(),
        };
        self.catalog.objects.insert(
            id,
            Object {
                id,
                kind: Kind::AuthenticationPolicy,
                path,
                owner,
                created_on: t,
                comment,
                body: Body::AuthPolicy(Box::new(policy)),
            },
        );
        Ok(ResultSet::status(format!(
            "Authentication policy {pname} successfully created."
        )))
    }

    pub(crate) fn alter_auth_policy(
        &mut self,
        s: &Session,
        if_exists: bool,
        name: &ObjectName,
        action: &AlterPolicyAction,
    ) -> Result<ResultSet, SqlError> {
        let (path, id) = self.resolve_auth_policy(s, name, "ALTER AUTHENTICATION POLICY")?;
        let Some(id) = id else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(OK)));
            }
            return Err(errors::not_found(
                Kind::AuthenticationPolicy,
                &path.join("."),
            ));
        };
        let roles = self.effective_roles(s);
        if !self.catalog.owns(&roles, Target::Object(id)) {
            return Err(self.denied(&roles, Target::Object(id)));
        }
        let Some(obj) = self.catalog.objects.get(&id).cloned() else {
            return Err(errors::not_found(
                Kind::AuthenticationPolicy,
                &path.join("."),
            ));
        };
        let mut policy = match &obj.body {
            Body::AuthPolicy(p) => (**p).clone(),
            _ => AuthPolicy::default(),
        };
        let mut comment = obj.comment.clone();
        let mut new_path = obj.path.clone();
        match action {
            AlterPolicyAction::Rename(new) => {
                let np = self.object_path(s, new, "ALTER AUTHENTICATION POLICY")?;
                if self
                    .catalog
                    .object_id(Kind::AuthenticationPolicy, &np)
                    .is_some()
                {
                    return Err(errors::already_exists(&np[2]));
                }
                new_path = np;
            }
            AlterPolicyAction::Set(properties) => {
                self.apply_auth_policy_props(&mut policy, &mut comment, properties)?
            }
            AlterPolicyAction::Unset(names) => {
                let d = AuthPolicy::default();
                for n in names {
                    match n.as_str() {
                        "AUTHENTICATION_METHODS" => {
                            policy.authentication_methods = d.authentication_methods.clone()
                        }
                        "CLIENT_TYPES" => policy.client_types = d.client_types.clone(),
                        "CLIENT_POLICY" => policy.client_policy.clear(),
                        "SECURITY_INTEGRATIONS" => {
                            policy.security_integrations = d.security_integrations.clone()
                        }
                        "MFA_ENROLLMENT" => policy.mfa_enrollment = None,
                        "MFA_POLICY" => {
                            policy.mfa_allowed_methods = d.mfa_allowed_methods.clone();
                            policy.mfa_enforce_on_external = d.mfa_enforce_on_external.clone();
                        }
                        "PAT_POLICY" => policy.pat_policy = PatPolicy::default(),
                        "WORKLOAD_IDENTITY_POLICY" => {
                            policy.workload_identity = default_workload_identity()
                        }
                        "COMMENT" => comment = None,
                        other => return Err(errors::syntax(other)),
                    }
                }
            }
        }
        if let Some(o) = self.catalog.objects.get_mut(&id) {
            o.body = Body::AuthPolicy(Box::new(policy));
            o.comment = comment;
            o.path = new_path;
        }
        Ok(ResultSet::status(OK))
    }

    pub(crate) fn drop_auth_policy(
        &mut self,
        s: &Session,
        if_exists: bool,
        name: &ObjectName,
    ) -> Result<ResultSet, SqlError> {
        let (path, id) = self.resolve_auth_policy(s, name, "DROP AUTHENTICATION POLICY")?;
        let Some(id) = id else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(format!(
                    "Drop statement executed successfully ({} already dropped).",
                    path[2]
                ))));
            }
            return Err(errors::not_found(
                Kind::AuthenticationPolicy,
                &path.join("."),
            ));
        };
        let roles = self.effective_roles(s);
        if !self.catalog.owns(&roles, Target::Object(id)) {
            return Err(self.denied(&roles, Target::Object(id)));
        }
        let c = &self.catalog;
        let attached = c.users.values().any(|u| u.auth_policy == Some(id))
            || [c.account_slot, c.person_slot, c.service_slot]
                .iter()
                .flatten()
                .any(|sl| sl.policy == id);
        if attached {
            return Err(errors::policy_in_use(&path[2]));
        }
        self.catalog.objects.remove(&id);
        self.catalog.forget_target(Target::Object(id));
        Ok(ResultSet::status(format!(
            "{} successfully dropped.",
            path[2]
        )))
    }

    pub(crate) fn describe_auth_policy(
        &self,
        s: &Session,
        name: &ObjectName,
    ) -> Result<ResultSet, SqlError> {
        let (path, id) = self.resolve_auth_policy(s, name, "DESCRIBE AUTHENTICATION POLICY")?;
        let Some(id) = id else {
            return Err(errors::not_found(
                Kind::AuthenticationPolicy,
                &path.join("."),
            ));
        };
        let roles = self.effective_roles(s);
        if !self.has_account_priv(&roles, "APPLY AUTHENTICATION POLICY")
            && !self.catalog.owns(&roles, Target::Object(id))
        {
            return Err(self.denied(&roles, Target::Object(id)));
        }
        let Some(obj) = self.catalog.objects.get(&id) else {
            return Err(errors::not_found(
                Kind::AuthenticationPolicy,
                &path.join("."),
            ));
        };
        let p = match &obj.body {
            Body::AuthPolicy(p) => (**p).clone(),
            _ => AuthPolicy::default(),
        };
        let d = AuthPolicy::default();
        let rows: Vec<(&str, String, String, &str)> = vec![
            (
                "NAME",
                obj.name().to_owned(),
                String::new(),
                "Name of the authentication policy",
            ),
            (
                "OWNER",
                self.catalog.opt_role_name(obj.owner),
                String::new(),
                "Owner of the authentication policy",
            ),
            (
                "COMMENT",
                obj.comment.clone().unwrap_or_else(|| "null".into()),
                "null".into(),
                "Comment",
            ),
            (
                "AUTHENTICATION_METHODS",
                list_text(&p.authentication_methods),
                list_text(&d.authentication_methods),
                "Allowed authentication methods",
            ),
            (
                "CLIENT_TYPES",
                list_text(&p.client_types),
                list_text(&d.client_types),
                "Allowed client types",
            ),
            (
                "CLIENT_POLICY",
                client_policy_text(&p.client_policy),
                "{}".into(),
                "Minimum client versions",
            ),
            (
                "SECURITY_INTEGRATIONS",
                list_text(&p.security_integrations),
                list_text(&d.security_integrations),
                "Allowed security integrations",
            ),
            (
                "MFA_ENROLLMENT",
                p.mfa_enrollment
                    .clone()
                    .unwrap_or_else(|| "REQUIRED_PASSWORD_ONLY".into()),
                "REQUIRED_PASSWORD_ONLY".into(),
                "MFA enrollment",
            ),
            ("MFA_POLICY", mfa_text(&p), mfa_text(&d), "MFA policy"),
            (
                "PAT_POLICY",
                pat_policy_text(&p.pat_policy),
                pat_policy_text(&d.pat_policy),
                "Programmatic access token policy",
            ),
            (
                "WORKLOAD_IDENTITY_POLICY",
                wip_text(&p.workload_identity),
                wip_text(&d.workload_identity),
                "Workload identity policy",
            ),
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
                .map(|(k, v, d, desc)| {
                    vec![
                        Cell::Text(k.into()),
                        Cell::Text(v),
                        Cell::Text(d),
                        Cell::Text(desc.into()),
                    ]
                })
                .collect(),
            changed: false,
            carries_secret: false,
        }))
    }

    pub(crate) fn show_auth_policies(
        &self,
        s: &Session,
        filter: &ShowFilter,
        scope: Option<&ShowScope>,
        on: Option<&PolicyOn>,
    ) -> Result<ResultSet, SqlError> {
        let roles = self.effective_roles(s);
        let all = self.has_account_priv(&roles, "APPLY AUTHENTICATION POLICY");
        let mut rows: Vec<(String, Vec<Cell>)> = Vec::new();
        let ids: Vec<(u64, String)> = match on {
            None => self
                .catalog
                .objects
                .values()
                .filter(|o| o.kind == Kind::AuthenticationPolicy)
                .map(|o| (o.id, String::new()))
                .collect(),
            Some(PolicyOn::Account) => {
                let c = &self.catalog;
                let mut out: Vec<(u64, Vec<&str>)> = Vec::new();
                for (slot, label) in [
                    (c.account_slot, "ACCOUNT"),
                    (c.person_slot, "PERSON_USERS"),
                    (c.service_slot, "SERVICE_USERS"),
                ] {
                    if let Some(sl) = slot {
                        match out.iter_mut().find(|(id, _)| *id == sl.policy) {
                            Some(e) => e.1.push(label),
                            None => out.push((sl.policy, vec![label])),
                        }
                    }
                }
                out.into_iter()
                    .map(|(id, scopes)| {
                        (
                            id,
                            serde_json::json!({ "target_scopes": scopes }).to_string(),
                        )
                    })
                    .collect()
            }
            Some(PolicyOn::User(u)) => {
                let user = self
                    .catalog
                    .user_by_name(u.as_str())
                    .ok_or_else(|| errors::not_found(Kind::User, u.as_str()))?;
                user.auth_policy
                    .map(|id| (id, String::new()))
                    .into_iter()
                    .collect()
            }
        };
        for (id, options) in ids {
            let Some(o) = self.catalog.objects.get(&id) else {
                continue;
            };
            if !all && !self.catalog.holds_any(&roles, Target::Object(id)) {
                continue;
            }
            let in_scope = match scope {
                None | Some(ShowScope::Account) => true,
                Some(ShowScope::Database(d)) => o.path[0] == d.as_str(),
                Some(ShowScope::Schema(sn)) => {
                    let sp = self.schema_path(s, sn, "SHOW AUTHENTICATION POLICIES")?;
                    o.path[..2] == sp[..]
                }
            };
            if !in_scope {
                continue;
            }
            rows.push((
                o.name().to_owned(),
                vec![
                    Cell::Timestamp(o.created_on),
                    Cell::Text(o.name().to_owned()),
                    Cell::Text(o.comment.clone().unwrap_or_default()),
                    Cell::Text(o.path[0].clone()),
                    Cell::Text(o.path[1].clone()),
                    Cell::Text("AUTHENTICATION_POLICY".into()),
                    Cell::Text(self.catalog.opt_role_name(o.owner)),
                    Cell::Text("ROLE".into()),
                    Cell::Text(options),
                ],
            ));
        }
        let rows = show::apply_filter(rows, filter);
        Ok(unchanged(ResultSet {
            columns: vec![
                show::ts_col("created_on"),
                Column::text("name"),
                Column::text("comment"),
                Column::text("database_name"),
                Column::text("schema_name"),
                Column::text("kind"),
                Column::text("owner"),
                Column::text("owner_role_type"),
                Column::text("options"),
            ],
            rows,
            changed: false,
            carries_secret: false,
        }))
    }

    /// Resolves a policy named in ALTER USER/ACCOUNT SET AUTHENTICATION POLICY.
    fn attachable_policy(
        &self,
        s: &Session,
        name: &ObjectName,
        statement: &str,
    ) -> Result<u64, SqlError> {
        let (path, id) = self.resolve_auth_policy(s, name, statement)?;
        id.ok_or_else(|| errors::not_found(Kind::AuthenticationPolicy, &path.join(".")))
    }

    /// `ALTER USER u SET AUTHENTICATION POLICY p [FORCE]` (§5.2, §4.3 incl. row 35).
    pub(crate) fn set_user_auth_policy(
        &mut self,
        s: &Session,
        user: u64,
        policy: &ObjectName,
        force: bool,
    ) -> Result<ResultSet, SqlError> {
        let (path, id) = self.resolve_auth_policy(s, policy, "ALTER USER")?;
        let not_found = || errors::not_found(Kind::AuthenticationPolicy, &path.join("."));
        let pid = id.ok_or_else(not_found)?;
        if let Err(error) = self.check_user_policy_privilege(s, user, Some(pid)) {
            // A policy on which the caller holds nothing is invisible to it: 002003, not 003001
            // (§4.2).
            let roles = self.effective_roles(s);
            if !self.catalog.holds_any(&roles, Target::Object(pid)) {
                return Err(not_found());
            }
            return Err(error);
        }
        let Some(u) = self.catalog.users.get_mut(&user) else {
            return Err(errors::not_found(Kind::User, ""));
        };
        if u.auth_policy.is_some() && !force {
            return Err(errors::policy_attached(&format!("user {}", u.name)));
        }
        u.auth_policy = Some(pid);
        Ok(ResultSet::status(OK))
    }

    pub(crate) fn unset_user_auth_policy(
        &mut self,
        s: &Session,
        user: u64,
    ) -> Result<ResultSet, SqlError> {
        let current = self.catalog.users.get(&user).and_then(|u| u.auth_policy);
        self.check_user_policy_privilege(s, user, current)?;
        let Some(u) = self.catalog.users.get_mut(&user) else {
            return Err(errors::not_found(Kind::User, ""));
        };
        let changed = u.auth_policy.take().is_some();
        let mut r = ResultSet::status(OK);
        r.changed = changed;
        Ok(r)
    }

    fn check_user_policy_privilege(
        &self,
        s: &Session,
        user: u64,
        policy: Option<u64>,
    ) -> Result<(), SqlError> {
        let roles = self.effective_roles(s);
        // APPLY AUTHENTICATION POLICY on the user must be an actual grant: owning the user alone
        // is not enough, it also takes OWNERSHIP (or APPLY) of the policy (§4.3).
        let apply_on_user = self.catalog.priv_grants.iter().any(|g| {
            g.target == Target::User(user)
                && g.privilege == "APPLY AUTHENTICATION POLICY"
                && roles.contains(&g.role)
        });
        let ok = self.has_account_priv(&roles, "APPLY AUTHENTICATION POLICY")
            || apply_on_user
            || (self.catalog.owns(&roles, Target::User(user))
                && policy.is_none_or(|p| self.catalog.holds(&roles, "APPLY", Target::Object(p))));
        if ok {
            Ok(())
        } else {
            Err(errors::insufficient(
                Kind::User,
                &self.catalog.user_display(user),
            ))
        }
    }

    // ---- ALTER ACCOUNT (§5.10) ----

    pub(crate) fn alter_account(
        &mut self,
        s: &Session,
        action: &AlterAccountAction,
    ) -> Result<ResultSet, SqlError> {
        let roles = self.effective_roles(s);
        match action {
            AlterAccountAction::SetAuthenticationPolicy {
                policy,
                scope,
                force,
            } => {
                self.require_account_priv(&roles, "APPLY AUTHENTICATION POLICY")?;
                let pid = self.attachable_policy(s, policy, "ALTER ACCOUNT")?;
                let (slot, label) = self.slot_mut(*scope);
                if slot.is_some() && !force {
                    return Err(errors::policy_attached(label));
                }
                *slot = Some(Slot {
                    policy: pid,
                    force: *force,
                });
                Ok(ResultSet::status(OK))
            }
            AlterAccountAction::UnsetAuthenticationPolicy { scope } => {
                self.require_account_priv(&roles, "APPLY AUTHENTICATION POLICY")?;
                let (slot, _) = self.slot_mut(*scope);
                let changed = slot.take().is_some();
                let mut r = ResultSet::status(OK);
                r.changed = changed;
                Ok(r)
            }
            AlterAccountAction::SetNetworkPolicy(name) => {
                self.require_network_attach(&roles)?;
                let id = self
                    .catalog
                    .object_id(Kind::NetworkPolicy, &[name.as_str().to_owned()])
                    .ok_or_else(|| errors::not_found(Kind::NetworkPolicy, name.as_str()))?;
                self.catalog.account_network_policy = Some(id);
                Ok(ResultSet::status(OK))
            }
            AlterAccountAction::UnsetNetworkPolicy => {
                self.require_network_attach(&roles)?;
                let changed = self.catalog.account_network_policy.take().is_some();
                let mut r = ResultSet::status(OK);
                r.changed = changed;
                Ok(r)
            }
            AlterAccountAction::SetParameters(properties) => {
                self.require_accountadmin(&roles)?;
                for p in properties {
                    let v = props::value_text(&p.value);
                    let params = &mut self.catalog.account_parameters;
                    params.retain(|(k, _)| k != p.name.as_str());
                    params.push((p.name.as_str().to_owned(), v));
                }
                Ok(ResultSet::status(OK))
            }
            AlterAccountAction::UnsetParameters(names) => {
                self.require_accountadmin(&roles)?;
                for n in names {
                    self.catalog
                        .account_parameters
                        .retain(|(k, _)| k != n.as_str());
                }
                Ok(ResultSet::status(OK))
            }
        }
    }

    fn slot_mut(&mut self, scope: PolicyScope) -> (&mut Option<Slot>, &'static str) {
        match scope {
            PolicyScope::Account => (&mut self.catalog.account_slot, "the account"),
            PolicyScope::PersonUsers => (&mut self.catalog.person_slot, "all PERSON users"),
            PolicyScope::ServiceUsers => (&mut self.catalog.service_slot, "all SERVICE users"),
        }
    }

    fn require_accountadmin(
        &self,
        roles: &std::collections::BTreeSet<u64>,
    ) -> Result<(), SqlError> {
        match self.catalog.role_id("ACCOUNTADMIN") {
            Some(id) if roles.contains(&id) => Ok(()),
            _ => Err(errors::insufficient(Kind::Account, &self.name)),
        }
    }

    /// SECURITYADMIN or higher, or ATTACH POLICY on the account (§4.3).
    fn require_network_attach(
        &self,
        roles: &std::collections::BTreeSet<u64>,
    ) -> Result<(), SqlError> {
        let sa = self
            .catalog
            .role_id("SECURITYADMIN")
            .is_some_and(|id| roles.contains(&id));
        if sa || self.has_account_priv(roles, "ATTACH POLICY") {
            Ok(())
        } else {
            Err(errors::insufficient(Kind::Account, &self.name))
        }
    }
}
