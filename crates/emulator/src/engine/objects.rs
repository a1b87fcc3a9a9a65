//! Databases, schemas, secrets, integrations and the objects of the admin/runtime pattern
//! (§5.13–§5.15, §5.20, §5.21).

use chrono::{DateTime, Utc};
use snowpat_sql::ast::{Ident, ObjectKind, ObjectName, Property};

use super::catalog::{Body, Kind, Object, Target};
use super::{auth, errors, oauth, props, unchanged};
use super::{Account, Cell, Column, ResultSet, Session, SqlError};

/// Properties of CREATE/ALTER SECURITY INTEGRATION (§5.14).
const INTEGRATION_PROPERTIES: &[&str] = &[
    "TYPE",
    "ENABLED",
    "COMMENT",
    "EXTERNAL_OAUTH_TYPE",
    "EXTERNAL_OAUTH_ISSUER",
    "EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM",
    "EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE",
    "EXTERNAL_OAUTH_JWS_KEYS_URL",
    "EXTERNAL_OAUTH_RSA_PUBLIC_KEY",
    "EXTERNAL_OAUTH_RSA_PUBLIC_KEY_2",
    "EXTERNAL_OAUTH_BLOCKED_ROLES_LIST",
    "EXTERNAL_OAUTH_ALLOWED_ROLES_LIST",
    "EXTERNAL_OAUTH_AUDIENCE_LIST",
    "EXTERNAL_OAUTH_ANY_ROLE_MODE",
    "EXTERNAL_OAUTH_SCOPE_DELIMITER",
    "EXTERNAL_OAUTH_SCOPE_MAPPING_ATTRIBUTE",
    "OAUTH_CLIENT",
    "OAUTH_CLIENT_TYPE",
    "OAUTH_REDIRECT_URI",
    "OAUTH_ISSUE_REFRESH_TOKENS",
    "OAUTH_REFRESH_TOKEN_VALIDITY",
    "OAUTH_ENFORCE_PKCE",
    "OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED",
    "OAUTH_USE_SECONDARY_ROLES",
    "PRE_AUTHORIZED_ROLES_LIST",
    "BLOCKED_ROLES_LIST",
    "OAUTH_ALLOW_NON_TLS_REDIRECT_URI",
    "OAUTH_ALTERNATE_REDIRECT_URIS",
];

/// The parts of a `CREATE <kind>` of §5.20.
pub(crate) struct CreateObject<'a> {
    pub kind: ObjectKind,
    pub or_replace: bool,
    pub if_not_exists: bool,
    pub name: &'a ObjectName,
    pub in_compute_pool: Option<&'a Ident>,
    pub specification: Option<&'a str>,
    pub properties: &'a [Property],
}

impl Account {
    /// IF NOT EXISTS / OR REPLACE handling; replacing needs OWNERSHIP of the existing object.
    fn exists_answer(
        &self,
        s: &Session,
        existing: Option<u64>,
        or_replace: bool,
        if_not_exists: bool,
        name: &str,
    ) -> Result<Option<ResultSet>, SqlError> {
        if or_replace && if_not_exists {
            return Err(errors::syntax("IF"));
        }
        if existing.is_some() && !or_replace {
            if if_not_exists {
                return Ok(Some(unchanged(ResultSet::status(format!(
                    "{name} already exists, statement succeeded."
                )))));
            }
            return Err(errors::already_exists(name));
        }
        if let Some(id) = existing {
            let roles = self.effective_roles(s);
            if !self.catalog.owns(&roles, Target::Object(id)) {
                return Err(self.denied(&roles, Target::Object(id)));
            }
        }
        Ok(None)
    }

    /// Removes an object, everything under it (for containers) and their grants.
    fn remove_object_tree(&mut self, id: u64) {
        let Some(obj) = self.catalog.objects.get(&id).cloned() else {
            return;
        };
        let nested = matches!(obj.kind, Kind::Database | Kind::Schema);
        let victims: Vec<u64> = self
            .catalog
            .objects
            .values()
            .filter(|o| {
                o.id == id
                    || (nested && o.path.len() > obj.path.len() && o.path.starts_with(&obj.path))
            })
            .map(|o| o.id)
            .collect();
        for v in victims {
            self.catalog.objects.remove(&v);
            self.catalog.forget_target(Target::Object(v));
            for u in self.catalog.users.values_mut() {
                if u.auth_policy == Some(v) {
                    u.auth_policy = None;
                }
            }
            let c = &mut self.catalog;
            for slot in [&mut c.account_slot, &mut c.person_slot, &mut c.service_slot] {
                if slot.is_some_and(|s| s.policy == v) {
                    *slot = None;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_object(
        &mut self,
        s: &Session,
        kind: Kind,
        path: Vec<String>,
        existing: Option<u64>,
        comment: Option<String>,
        body: Body,
        t: DateTime<Utc>,
    ) -> u64 {
        if let Some(old) = existing {
            self.remove_object_tree(old);
        }
        let id = self.catalog.new_id();
        let owner = self.catalog.role_id(&s.primary_role);
        self.catalog.objects.insert(
            id,
            Object {
                id,
                kind,
                path,
                owner,
                created_on: t,
                comment,
                body,
            },
        );
        id
    }

    pub(crate) fn create_database(
        &mut self,
        s: &mut Session,
        or_replace: bool,
        if_not_exists: bool,
        name: &str,
        comment: &Option<String>,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let path = vec![name.to_owned()];
        let existing = self.catalog.object_id(Kind::Database, &path);
        if let Some(r) = self.exists_answer(s, existing, or_replace, if_not_exists, name)? {
            return Ok(r);
        }
        let roles = self.primary_roles(s);
        self.require_account_priv(&roles, "CREATE DATABASE")?;
        if name == "SNOWFLAKE" {
            return Err(errors::already_exists(name));
        }
        self.insert_object(
            s,
            Kind::Database,
            path,
            existing,
            comment.clone(),
            Body::None,
            t,
        );
        self.insert_object(
            s,
            Kind::Schema,
            vec![name.to_owned(), "PUBLIC".to_owned()],
            None,
            None,
            Body::None,
            t,
        );
        s.database = Some(name.to_owned());
        s.schema = Some("PUBLIC".to_owned());
        Ok(ResultSet::status(format!(
            "Database {name} successfully created."
        )))
    }

    pub(crate) fn drop_database(
        &mut self,
        s: &mut Session,
        if_exists: bool,
        name: &str,
    ) -> Result<ResultSet, SqlError> {
        let Some(id) = self.catalog.object_id(Kind::Database, &[name.to_owned()]) else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(format!(
                    "Drop statement executed successfully ({name} already dropped)."
                ))));
            }
            return Err(errors::not_found(Kind::Database, name));
        };
        let roles = self.effective_roles(s);
        if !self.catalog.owns(&roles, Target::Object(id)) {
            return Err(self.denied(&roles, Target::Object(id)));
        }
        self.remove_object_tree(id);
        if s.database.as_deref() == Some(name) {
            s.database = None;
            s.schema = None;
        }
        Ok(ResultSet::status(format!("{name} successfully dropped.")))
    }

    pub(crate) fn create_schema(
        &mut self,
        s: &mut Session,
        or_replace: bool,
        if_not_exists: bool,
        name: &ObjectName,
        comment: &Option<String>,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let path = self.schema_path(s, name, "CREATE SCHEMA")?;
        let db = self
            .catalog
            .object_id(Kind::Database, &path[..1])
            .ok_or_else(|| errors::not_found(Kind::Database, &path[0]))?;
        let roles = self.primary_roles(s);
        if !self
            .catalog
            .holds(&roles, "CREATE SCHEMA", Target::Object(db))
        {
            return Err(self.denied(&self.effective_roles(s), Target::Object(db)));
        }
        let existing = self.catalog.object_id(Kind::Schema, &path);
        if let Some(r) = self.exists_answer(s, existing, or_replace, if_not_exists, &path[1])? {
            return Ok(r);
        }
        let display = path[1].clone();
        s.database = Some(path[0].clone());
        s.schema = Some(path[1].clone());
        self.insert_object(
            s,
            Kind::Schema,
            path,
            existing,
            comment.clone(),
            Body::None,
            t,
        );
        Ok(ResultSet::status(format!(
            "Schema {display} successfully created."
        )))
    }

    pub(crate) fn drop_schema(
        &mut self,
        s: &mut Session,
        if_exists: bool,
        name: &ObjectName,
    ) -> Result<ResultSet, SqlError> {
        let path = self.schema_path(s, name, "DROP SCHEMA")?;
        let Some(id) = self.catalog.object_id(Kind::Schema, &path) else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(format!(
                    "Drop statement executed successfully ({} already dropped).",
                    path[1]
                ))));
            }
            return Err(errors::not_found(Kind::Schema, &path.join(".")));
        };
        let roles = self.effective_roles(s);
        if !self.catalog.owns(&roles, Target::Object(id)) {
            return Err(self.denied(&roles, Target::Object(id)));
        }
        self.remove_object_tree(id);
        if s.database.as_deref() == Some(&path[0]) && s.schema.as_deref() == Some(&path[1]) {
            s.schema = None;
        }
        Ok(ResultSet::status(format!(
            "{} successfully dropped.",
            path[1]
        )))
    }

    /// DROP of any schema-level object (network rule, secret, stage, ...).
    pub(crate) fn drop_schema_object(
        &mut self,
        s: &Session,
        kind: Kind,
        if_exists: bool,
        name: &ObjectName,
    ) -> Result<ResultSet, SqlError> {
        let path = self.object_path(s, name, &format!("DROP {}", kind.noun().to_uppercase()))?;
        self.drop_by_path(s, kind, if_exists, path)
    }

    fn drop_by_path(
        &mut self,
        s: &Session,
        kind: Kind,
        if_exists: bool,
        path: Vec<String>,
    ) -> Result<ResultSet, SqlError> {
        let short = path.last().cloned().unwrap_or_default();
        let Some(id) = self.catalog.object_id(kind, &path) else {
            if if_exists {
                return Ok(unchanged(ResultSet::status(format!(
                    "Drop statement executed successfully ({short} already dropped)."
                ))));
            }
            return Err(errors::not_found(kind, &path.join(".")));
        };
        let roles = self.effective_roles(s);
        if !self.catalog.owns(&roles, Target::Object(id)) {
            return Err(self.denied(&roles, Target::Object(id)));
        }
        if kind == Kind::NetworkRule {
            for o in self.catalog.objects.values_mut() {
                if let Body::NetworkPolicy(np) = &mut o.body {
                    np.allowed_rules.retain(|r| *r != id);
                    np.blocked_rules.retain(|r| *r != id);
                }
            }
        }
        self.remove_object_tree(id);
        Ok(ResultSet::status(format!("{short} successfully dropped.")))
    }

    pub(crate) fn create_secret(
        &mut self,
        s: &Session,
        or_replace: bool,
        if_not_exists: bool,
        name: &ObjectName,
        properties: &[Property],
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let statement = "CREATE SECRET";
        let path = self.object_path(s, name, statement)?;
        self.check_create_in_schema(s, &path[..2], statement)?;
        let existing = self.catalog.object_id(Kind::Secret, &path);
        if let Some(r) = self.exists_answer(s, existing, or_replace, if_not_exists, &path[2])? {
            return Ok(r);
        }
        let mut secret_type = None;
        let mut digest = None;
        let mut comment = None;
        for p in properties {
            match p.name.as_str() {
                "TYPE" => {
                    let v = props::keyword(p)?;
                    if v != "GENERIC_STRING" {
                        return Err(errors::syntax(&v));
                    }
                    secret_type = Some(v);
                }
                "SECRET_STRING" => {
                    digest = Some(auth::sha256_hex(props::string(p)?.as_bytes()));
                }
                "COMMENT" => comment = props::opt_string(p)?,
                other => return Err(errors::syntax(other)),
            }
        }
        let (Some(secret_type), Some(digest)) = (secret_type, digest) else {
            return Err(errors::syntax("<EOF>"));
        };
        let display = path[2].clone();
        self.insert_object(
            s,
            Kind::Secret,
            path,
            existing,
            comment,
            Body::Secret {
                secret_type,
                digest,
            },
            t,
        );
        Ok(ResultSet::status(format!(
            "Secret {display} successfully created."
        )))
    }

    /// The object of `kind` at `path` that an ALTER in session `s` changes: `Ok(None)` when it
    /// is missing and IF EXISTS was given (the statement does nothing), "does not exist" when it
    /// is missing otherwise, and insufficient privileges unless an active role owns it.
    pub(crate) fn owned_for_alter(
        &self,
        s: &Session,
        kind: Kind,
        path: &[String],
        if_exists: bool,
    ) -> Result<Option<u64>, SqlError> {
        let Some(id) = self.catalog.object_id(kind, path) else {
            if if_exists {
                return Ok(None);
            }
            return Err(errors::not_found(kind, &path.join(".")));
        };
        let roles = self.effective_roles(s);
        if !self.catalog.owns(&roles, Target::Object(id)) {
            return Err(self.denied(&roles, Target::Object(id)));
        }
        Ok(Some(id))
    }

    pub(crate) fn alter_secret(
        &mut self,
        s: &Session,
        if_exists: bool,
        name: &ObjectName,
        properties: &[Property],
    ) -> Result<ResultSet, SqlError> {
        let path = self.object_path(s, name, "ALTER SECRET")?;
        let Some(id) = self.owned_for_alter(s, Kind::Secret, &path, if_exists)? else {
            return Ok(unchanged(ResultSet::status(
                "Statement executed successfully.",
            )));
        };
        let mut new_digest = None;
        let mut new_comment = None;
        for p in properties {
            match p.name.as_str() {
                "SECRET_STRING" => {
                    new_digest = Some(auth::sha256_hex(props::string(p)?.as_bytes()))
                }
                "COMMENT" => new_comment = Some(props::opt_string(p)?),
                other => return Err(errors::syntax(other)),
            }
        }
        if let Some(o) = self.catalog.objects.get_mut(&id) {
            if let (Some(d), Body::Secret { digest, .. }) = (new_digest, &mut o.body) {
                *digest = d;
            }
            if let Some(c) = new_comment {
                o.comment = c;
            }
        }
        Ok(ResultSet::status("Statement executed successfully."))
    }

    pub(crate) fn describe_secret(
        &self,
        s: &Session,
        name: &ObjectName,
    ) -> Result<ResultSet, SqlError> {
        let path = self.object_path(s, name, "DESCRIBE SECRET")?;
        let id = self
            .catalog
            .object_id(Kind::Secret, &path)
            .ok_or_else(|| errors::not_found(Kind::Secret, &path.join(".")))?;
        let roles = self.effective_roles(s);
        if !self.catalog.holds_any(&roles, Target::Object(id)) {
            return Err(errors::not_found(Kind::Secret, &path.join(".")));
        }
        let Some(o) = self.catalog.objects.get(&id) else {
            return Err(errors::not_found(Kind::Secret, &path.join(".")));
        };
        let ty = match &o.body {
            Body::Secret { secret_type, .. } => secret_type.clone(),
            _ => String::new(),
        };
        Ok(unchanged(ResultSet {
            columns: vec![
                super::show::ts_col("created_on"),
                Column::text("name"),
                Column::text("schema_name"),
                Column::text("database_name"),
                Column::text("owner"),
                Column::text("comment"),
                Column::text("secret_type"),
            ],
            rows: vec![vec![
                Cell::Timestamp(o.created_on),
                Cell::Text(o.name().to_owned()),
                Cell::Text(o.path[1].clone()),
                Cell::Text(o.path[0].clone()),
                Cell::Text(self.catalog.opt_role_name(o.owner)),
                o.comment.clone().map(Cell::Text).unwrap_or(Cell::Null),
                Cell::Text(ty),
            ]],
            changed: false,
            carries_secret: false,
        }))
    }

    pub(crate) fn create_integration(
        &mut self,
        s: &Session,
        or_replace: bool,
        if_not_exists: bool,
        name: &str,
        properties: &[Property],
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let roles = self.primary_roles(s);
        self.require_account_priv(&roles, "CREATE INTEGRATION")?;
        let path = vec![name.to_owned()];
        let existing = self.catalog.object_id(Kind::Integration, &path);
        if let Some(r) = self.exists_answer(s, existing, or_replace, if_not_exists, name)? {
            return Ok(r);
        }
        let mut stored = Vec::new();
        let mut comment = None;
        let mut ty = None;
        for p in properties {
            if !INTEGRATION_PROPERTIES.contains(&p.name.as_str()) {
                return Err(errors::syntax(p.name.as_str()));
            }
            match p.name.as_str() {
                "COMMENT" => comment = props::opt_string(p)?,
                "TYPE" => {
                    let v = props::keyword(p)?;
                    if !["EXTERNAL_OAUTH", "OAUTH"].contains(&v.as_str()) {
                        return Err(errors::syntax(&v));
                    }
                    ty = Some(v.clone());
                    stored.push(("TYPE".to_owned(), v));
                }
                other => {
                    let value = match oauth::stored_value(p)? {
                        Some(v) => v,
                        None => props::value_text(&p.value),
                    };
                    stored.retain(|(k, _)| k != other);
                    stored.push((other.to_owned(), value));
                }
            }
        }
        if ty.is_none() {
            return Err(errors::syntax("<EOF>"));
        }
        oauth::check_integration(&stored)?;
        let id = self.insert_object(
            s,
            Kind::Integration,
            path,
            existing,
            comment,
            Body::Properties(stored),
            t,
        );
        self.register_oauth_client(id);
        Ok(ResultSet::status(format!(
            "Integration {name} successfully created."
        )))
    }

    pub(crate) fn alter_integration(
        &mut self,
        s: &Session,
        if_exists: bool,
        name: &str,
        properties: &[Property],
    ) -> Result<ResultSet, SqlError> {
        let Some(id) = self.owned_for_alter(s, Kind::Integration, &[name.to_owned()], if_exists)?
        else {
            return Ok(unchanged(ResultSet::status(
                "Statement executed successfully.",
            )));
        };
        let Some(mut o) = self.catalog.objects.get(&id).cloned() else {
            return Err(errors::not_found(Kind::Integration, name));
        };
        for p in properties {
            if !INTEGRATION_PROPERTIES.contains(&p.name.as_str()) || p.name.as_str() == "TYPE" {
                return Err(errors::syntax(p.name.as_str()));
            }
            let key = p.name.as_str().to_owned();
            if key == "COMMENT" {
                o.comment = props::opt_string(p)?;
                continue;
            }
            let value = match oauth::stored_value(p)? {
                Some(v) => v,
                None => props::value_text(&p.value),
            };
            if let Body::Properties(list) = &mut o.body {
                list.retain(|(k, _)| *k != key);
                list.push((key, value));
            }
        }
        if let Body::Properties(list) = &o.body {
            oauth::check_integration(list)?;
        }
        self.catalog.objects.insert(id, o);
        Ok(ResultSet::status("Statement executed successfully."))
    }

    pub(crate) fn drop_integration(
        &mut self,
        s: &Session,
        if_exists: bool,
        name: &str,
    ) -> Result<ResultSet, SqlError> {
        self.drop_by_path(s, Kind::Integration, if_exists, vec![name.to_owned()])
    }

    pub(crate) fn create_object(
        &mut self,
        s: &Session,
        c: CreateObject<'_>,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let kind = Kind::from_ast(c.kind);
        let keyword = c.kind.keyword();
        let statement = format!("CREATE {keyword}");
        let path = if kind.schema_level() {
            let path = self.object_path(s, c.name, &statement)?;
            self.check_create_in_schema(s, &path[..2], &statement)?;
            path
        } else {
            let roles = self.primary_roles(s);
            let privilege = match kind {
                Kind::ComputePool => "CREATE COMPUTE POOL",
                Kind::Integration => "CREATE INTEGRATION",
                Kind::Warehouse => "CREATE WAREHOUSE",
                _ => return Err(errors::syntax(keyword)),
            };
            self.require_account_priv(&roles, privilege)?;
            vec![c.name.name().as_str().to_owned()]
        };
        let existing = self.catalog.object_id(kind, &path);
        let short = path.last().cloned().unwrap_or_default();
        if let Some(r) = self.exists_answer(s, existing, c.or_replace, c.if_not_exists, &short)? {
            return Ok(r);
        }
        let mut stored: Vec<(String, String)> = Vec::new();
        let mut comment = None;
        for p in c.properties {
            if p.name.as_str() == "COMMENT" {
                comment = props::opt_string(p)?;
            } else {
                stored.push((p.name.as_str().to_owned(), props::value_text(&p.value)));
            }
        }
        if kind == Kind::Service {
            // The service's owner (the primary role) needs the privileges (§5.20).
            let roles = self.primary_roles(s);
            let pool = c.in_compute_pool.ok_or_else(|| errors::syntax("<EOF>"))?;
            let pid = self
                .catalog
                .object_id(Kind::ComputePool, &[pool.as_str().to_owned()])
                .ok_or_else(|| errors::not_found(Kind::ComputePool, pool.as_str()))?;
            if !self.catalog.holds(&roles, "USAGE", Target::Object(pid)) {
                return Err(self.denied(&roles, Target::Object(pid)));
            }
            if let Some(spec) = c.specification {
                self.check_service_references(s, &path, spec)?;
            }
            let public = c
                .specification
                .is_some_and(|spec| spec.replace(' ', "").to_lowercase().contains("public:true"));
            if public && !self.has_account_priv(&self.primary_roles(s), "BIND SERVICE ENDPOINT") {
                return Err(SqlError::new(
                    "003001",
                    "42501",
                    "SQL access control error:\nPlease grant BIND SERVICE ENDPOINT to service owner role",
                ));
            }
            stored.push(("COMPUTE_POOL".into(), pool.as_str().to_owned()));
        }
        if let Some(spec) = c.specification {
            stored.push(("SPECIFICATION".into(), spec.to_owned()));
        }
        self.insert_object(
            s,
            kind,
            path,
            existing,
            comment,
            Body::Properties(stored),
            t,
        );
        let word = match c.kind {
            ObjectKind::ExternalAccessIntegration => "Integration".to_owned(),
            _ => kind.created_word(),
        };
        Ok(ResultSet::status(format!(
            "{word} {short} successfully created."
        )))
    }

    /// CREATE SERVICE: READ on the image repository of every `image:` and on every secret a
    /// `snowflakeSecret` names, for the service's owner role (§5.20, seed 002).
    fn check_service_references(
        &self,
        s: &Session,
        service: &[String],
        spec: &str,
    ) -> Result<(), SqlError> {
        let roles = self.primary_roles(s);
        let lines: Vec<&str> = spec.lines().collect();
        let value = |line: &str, key: &str| -> Option<String> {
            let at = line.find(key)?;
            let v = line[at + key.len()..]
                .trim()
                .trim_matches(|c| c == '"' || c == '\'' || c == '{' || c == '}' || c == ',')
                .trim();
            (!v.is_empty()).then(|| v.to_owned())
        };
        for (i, line) in lines.iter().enumerate() {
            if let Some(image) = value(line, "image:") {
                // /db/schema/repo/name:tag, matched case-insensitively
                let parts: Vec<&str> = image.trim_start_matches('/').split('/').collect();
                if parts.len() >= 4 {
                    let repo = self.catalog.objects.values().find(|o| {
                        o.kind == Kind::ImageRepository
                            && o.path.len() == 3
                            && o.path
                                .iter()
                                .zip(&parts)
                                .all(|(a, b)| a.eq_ignore_ascii_case(b))
                    });
                    match repo {
                        Some(r) if self.catalog.holds(&roles, "READ", Target::Object(r.id)) => {}
                        Some(r) => return Err(self.denied(&roles, Target::Object(r.id))),
                        None => {
                            return Err(errors::not_found(
                                Kind::ImageRepository,
                                &parts[..3].join(".").to_uppercase(),
                            ))
                        }
                    }
                }
            }
            let secret = value(line, "snowflakeSecret:").or_else(|| {
                line.contains("snowflakeSecret:")
                    .then(|| lines.get(i + 1).and_then(|next| value(next, "objectName:")))
                    .flatten()
            });
            if let Some(name) = secret {
                let parts = props::split_qualified(&name);
                let path: Vec<String> = match parts.len() {
                    1 => vec![service[0].clone(), service[1].clone(), parts[0].clone()],
                    2 => vec![service[0].clone(), parts[0].clone(), parts[1].clone()],
                    _ => parts,
                };
                let id = self
                    .catalog
                    .object_id(Kind::Secret, &path)
                    .ok_or_else(|| errors::not_found(Kind::Secret, &path.join(".")))?;
                if !self.catalog.holds(&roles, "READ", Target::Object(id)) {
                    return Err(self.denied(&roles, Target::Object(id)));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn drop_object(
        &mut self,
        s: &Session,
        kind: ObjectKind,
        if_exists: bool,
        name: &ObjectName,
    ) -> Result<ResultSet, SqlError> {
        let k = Kind::from_ast(kind);
        if k.schema_level() {
            self.drop_schema_object(s, k, if_exists, name)
        } else {
            self.drop_by_path(s, k, if_exists, vec![name.name().as_str().to_owned()])
        }
    }
}
