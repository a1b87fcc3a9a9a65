//! The admin-runtime blueprint (seed 002, SnowClaw, `[blueprint.admin-runtime]`): an admin role
//! that provisions, a runtime role that holds exactly the grants the seed lists and nothing more,
//! a runtime service user holding only the runtime role, its role-restricted PAT stored as a
//! Snowflake SECRET, and the service created under the runtime role through a transient
//! CREATE SERVICE grant that is revoked in a finally step.
//!
//! * Roles: created (USERADMIN), runtime granted to admin, admin granted to the applying user,
//!   and the seed's five account privileges granted to admin (ACCOUNTADMIN) — or, with
//!   `existing_roles = true`, taken as the seed's steps 1–2 left them: the preflight then names
//!   whatever is missing (a role, the runtime → admin grant, an account privilege) before any
//!   change.
//! * Everything else runs as the admin role, so it owns the infrastructure (database, schema,
//!   image repository, stage, compute pool, egress network rule, external access integration,
//!   secret); the runtime user and its PAT run as USERADMIN (CREATE USER and ownership of the
//!   user, `snowflake-behaviour.md` §4.3).
//! * The runtime role's grants are compared with the seed's list ([`AdminRuntime::runtime_grants`]):
//!   missing ones are granted, any other privilege, role or database role is revoked (OWNERSHIP of
//!   its own service is the one ownership it keeps, §5.20).
//! * The PAT's secret goes to the `snowflake-secret:DB.SCHEMA.NAME` sink, written by the admin
//!   role with CREATE SECRET (first time) or ALTER SECRET (keeps the READ grant, §5.13). The
//!   secret's COMMENT records the PAT's `expires_at`, which changes at every ADD or ROTATE: a
//!   secret whose comment does not match the live PAT (a write lost after the PAT was minted) is
//!   stale, and the next apply rotates with no grace and writes again. A PAT that exists while the
//!   secret does not is rotated the same way, so an apply converges from any partial state.
//! * Service ownership (seed 002, "the transient CREATE SERVICE dance"): `GRANT CREATE SERVICE ON
//!   SCHEMA ... TO ROLE runtime`, `CREATE SERVICE` as the runtime role, then `REVOKE CREATE SERVICE`
//!   in a finally step that runs even when CREATE SERVICE (or anything between) fails
//!   ([`apply`]). A leftover grant found on a later apply is revoked as drift.

use std::collections::BTreeSet;

use secrecy::SecretString;
use snowpat_client::{Client, ResultSet, ServerTime};
use snowpat_sql::ast::{
    AddPat, AlterUserAction, GrantTarget, Grantee, ObjectKind, ObjectName, Privileges, Property,
    ShowGrantsTarget, ShowKind, ShowScope, Statement, Value,
};

use super::common::{
    available_roles, col, current_user, grants, grants_to_role, ident, like, name_value, names,
    read, require_roles, string_list,
};
use super::{BlueprintError, Outcome};
use crate::config::AdminRuntimeConfig;
use crate::plan::{execute, Plan, PlanError, Step};
use crate::sinks::{Sink, SinkSpec};

const ACCOUNTADMIN: &str = "ACCOUNTADMIN";
const USERADMIN: &str = "USERADMIN";
const SECURITYADMIN: &str = "SECURITYADMIN";
/// Seed 002, "Account-level privileges the admin role needs for provisioning".
pub const ADMIN_ACCOUNT_PRIVILEGES: [&str; 5] = [
    "CREATE DATABASE",
    "CREATE COMPUTE POOL",
    "CREATE INTEGRATION",
    "BIND SERVICE ENDPOINT",
    "MANAGE GRANTS",
];
/// The comment prefix that ties the stored secret to the live PAT.
const SECRET_MARK: &str = "snowpat admin-runtime: PAT expires_at ";

/// Object names, all upper case.
#[derive(Clone, Debug)]
pub struct Names {
    pub db: String,
    pub schema: String,
    pub repo: String,
    pub stage: String,
    pub pool: String,
    pub rule: String,
    pub eai: String,
    pub service: String,
    /// The secret holding the runtime PAT: (database, schema, name).
    pub secret: [String; 3],
}

/// The blueprint with validated settings.
#[derive(Clone, Debug)]
pub struct AdminRuntime {
    pub config: AdminRuntimeConfig,
    pub names: Names,
    pub admin: String,
    pub runtime: String,
    pub user: String,
    pub token: String,
}

/// One grant of the runtime role: (privilege, granted_on, name) as SHOW GRANTS prints it.
pub type Grant = (String, String, String);

/// What the reads found.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub me: String,
    pub roles: BTreeSet<String>,
    pub my_roles: BTreeSet<String>,
    pub admin_grants: Vec<Grant>,
    /// Users the admin role is granted to (`SHOW GRANTS OF ROLE`).
    pub admin_users: BTreeSet<String>,
    pub runtime_grants: Vec<Grant>,
    pub database: bool,
    pub schema: bool,
    /// Schema objects present: (kind keyword, name).
    pub objects: BTreeSet<(String, String)>,
    pub pool: bool,
    pub eai: bool,
    pub user: bool,
    pub user_type: String,
    pub user_default_role: String,
    pub user_roles: BTreeSet<String>,
    /// The runtime PAT's expires_at, when it exists.
    pub token_expires: Option<String>,
    /// The stored secret's comment, when the secret exists.
    pub secret_comment: Option<String>,
}

fn upper(s: &str) -> String {
    s.to_ascii_uppercase()
}

fn obj(parts: &[&str]) -> ObjectName {
    ObjectName(parts.iter().map(|p| ident(p)).collect())
}

fn dotted(parts: &[&str]) -> String {
    parts.join(".")
}

impl AdminRuntime {
    /// Validates the settings and the sink (`snowflake-secret:DB.SCHEMA.NAME`; default
    /// `<PREFIX>_DB.<PREFIX>_SCHEMA.<PREFIX>_SF_TOKEN`).
    pub fn new(config: AdminRuntimeConfig, sink: Option<&str>) -> Result<Self, BlueprintError> {
        let fold = super::common::fold_name;
        let p = fold(&config.prefix, "prefix")?;
        let admin = fold(&config.admin_role, "admin_role")?;
        let runtime = fold(&config.runtime_role, "runtime_role")?;
        let user = fold(&config.runtime_user, "runtime_user")?;
        let token = fold(&config.runtime_token, "runtime_token")?;
        if let Some(u) = &config.admin_user {
            fold(u, "admin_user")?;
        }
        if config.egress_hosts.is_empty() {
            return Err(BlueprintError::Config(
                "[blueprint.admin-runtime] egress_hosts: at least one host:port".into(),
            ));
        }
        if config.days == 0 || config.days > 365 {
            return Err(BlueprintError::Config(
                "[blueprint.admin-runtime] days: 1..365".into(),
            ));
        }
        let db = format!("{p}_DB");
        let schema = format!("{p}_SCHEMA");
        let secret = match sink {
            None => [db.clone(), schema.clone(), format!("{p}_SF_TOKEN")],
            Some(spec) => {
                let parsed =
                    SinkSpec::parse(spec).map_err(|e| BlueprintError::Config(e.to_string()))?;
                match parsed.for_tenant(&p) {
                    Sink::SnowflakeSecret(name) if name.0.len() == 3 => [
                        name.0[0].as_str().to_string(),
                        name.0[1].as_str().to_string(),
                        name.0[2].as_str().to_string(),
                    ],
                    _ => {
                        return Err(BlueprintError::Config(format!(
                            "--sink {spec:?}: admin-runtime stores the runtime PAT as a Snowflake \
                             SECRET (seed 002): snowflake-secret:DB.SCHEMA.NAME"
                        )))
                    }
                }
            }
        };
        if secret[0] != db || secret[1] != schema {
            return Err(BlueprintError::Config(format!(
                "the runtime PAT's secret must live in {db}.{schema}, next to the service that \
                 binds it"
            )));
        }
        Ok(Self {
            names: Names {
                repo: format!("{p}_REPO"),
                stage: format!("{p}_STATE_STAGE"),
                pool: format!("{p}_POOL"),
                rule: format!("{p}_EGRESS_RULE"),
                eai: format!("{p}_EXTERNAL_ACCESS"),
                service: format!("{p}_SERVICE"),
                db,
                schema,
                secret,
            },
            admin,
            runtime,
            user,
            token,
            config,
        })
    }

    fn in_schema(&self, name: &str) -> ObjectName {
        obj(&[&self.names.db, &self.names.schema, name])
    }

    fn schema_name(&self) -> ObjectName {
        obj(&[&self.names.db, &self.names.schema])
    }

    /// The service specification with `{db}`, `{schema}`, `{repo}` and `{secret}` filled in.
    pub fn specification(&self) -> String {
        let n = &self.names;
        self.config
            .service_spec
            .replace("{db}", &n.db.to_ascii_lowercase())
            .replace("{schema}", &n.schema.to_ascii_lowercase())
            .replace("{repo}", &n.repo.to_ascii_lowercase())
            .replace("{secret}", &dotted(&[&n.db, &n.schema, &n.secret[2]]))
    }

    /// The runtime role's grants, exactly as seed 002 lists them ("Runtime role privileges"),
    /// as SHOW GRANTS TO ROLE prints them; OWNERSHIP of the service comes with CREATE SERVICE.
    pub fn runtime_grants(&self) -> Vec<Grant> {
        let n = &self.names;
        let s = |name: &str| dotted(&[&n.db, &n.schema, name]);
        let g = |p: &str, on: &str, name: String| (p.to_string(), on.to_string(), name);
        vec![
            g("USAGE", "DATABASE", n.db.clone()),
            g("USAGE", "SCHEMA", dotted(&[&n.db, &n.schema])),
            g("USAGE", "COMPUTE_POOL", n.pool.clone()),
            g("MONITOR", "COMPUTE_POOL", n.pool.clone()),
            g("USAGE", "INTEGRATION", n.eai.clone()),
            g("READ", "STAGE", s(&n.stage)),
            g("WRITE", "STAGE", s(&n.stage)),
            g("READ", "IMAGE_REPOSITORY", s(&n.repo)),
            g("READ", "SECRET", s(&n.secret[2])),
            g("BIND SERVICE ENDPOINT", "ACCOUNT", String::new()),
            g("USAGE", "DATABASE_ROLE", "SNOWFLAKE.CORTEX_USER".into()),
            g("OWNERSHIP", "SERVICE", s(&n.service)),
        ]
    }

    fn reader(&self) -> &str {
        if self.config.existing_roles {
            &self.admin
        } else {
            ACCOUNTADMIN
        }
    }

    /// Preflight: the roles the plan runs as, and with `existing_roles` what the seed's steps
    /// 1–2 must have set up; every missing item is named.
    pub fn preflight(&self, available: &[String], o: &Observed) -> Result<(), BlueprintError> {
        if !self.config.existing_roles {
            return require_roles(
                available,
                &[
                    (ACCOUNTADMIN, "the admin role's account privileges"),
                    (USERADMIN, "CREATE ROLE, CREATE USER and the runtime PAT"),
                    (SECURITYADMIN, "GRANT ROLE"),
                ],
            );
        }
        let mut missing = Vec::new();
        for role in [&self.admin, &self.runtime] {
            if !o.roles.contains(role) {
                missing.push(format!("role {role} does not exist (seed 002 steps 1-2)"));
            }
        }
        if !available.contains(&self.admin) {
            missing.push(format!(
                "the applying identity cannot use {} (GRANT ROLE {} TO USER {})",
                self.admin, self.admin, o.me
            ));
        }
        if o.roles.contains(&self.runtime) && !available.contains(&self.runtime) {
            missing.push(format!(
                "the applying identity cannot use {} (CREATE SERVICE runs as it; a PAT restricted \
                 to {} cannot switch roles, use a key pair or an unrestricted session)",
                self.runtime, self.admin
            ));
        }
        if !available.iter().any(|a| a == USERADMIN) {
            missing.push(format!(
                "the applying identity cannot use {USERADMIN} (CREATE USER {} and its PAT)",
                self.user
            ));
        }
        if o.roles.contains(&self.admin) {
            if !o
                .admin_grants
                .iter()
                .any(|(p, on, n)| p == "USAGE" && on == "ROLE" && *n == self.runtime)
            {
                missing.push(format!(
                    "GRANT ROLE {} TO ROLE {} (the transient CREATE SERVICE step)",
                    self.runtime, self.admin
                ));
            }
            for privilege in ADMIN_ACCOUNT_PRIVILEGES {
                if !o
                    .admin_grants
                    .iter()
                    .any(|(p, on, _)| p == privilege && on == "ACCOUNT")
                {
                    missing.push(format!(
                        "GRANT {privilege} ON ACCOUNT TO ROLE {}",
                        self.admin
                    ));
                }
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(BlueprintError::Preflight(format!(
                "existing_roles = true, but the applying identity or the roles lack: {}",
                missing.join("; ")
            )))
        }
    }

    /// Reads the account (SHOW / SELECT only).
    pub async fn observe(
        &self,
        client: &Client,
        available: &[String],
    ) -> Result<Observed, BlueprintError> {
        let n = &self.names;
        let r = Some(self.reader());
        let mut o = Observed {
            me: current_user(client).await?,
            ..Observed::default()
        };
        for role in [&self.admin, &self.runtime] {
            let rs = read(
                client,
                None,
                Statement::ShowRoles {
                    terse: false,
                    filter: like(role),
                },
            )
            .await?;
            if names(&rs).contains(role) {
                o.roles.insert(role.clone());
            }
        }
        let usable = |r: &str| available.iter().any(|a| a == r);
        // What cannot be read is named by the preflight instead.
        if !usable(self.reader()) || !usable(USERADMIN) {
            return Ok(o);
        }
        let rs = read(
            client,
            r,
            Statement::ShowGrants(ShowGrantsTarget::ToUser(ident(&o.me))),
        )
        .await?;
        o.my_roles = (0..rs.len()).map(|i| col(&rs, i, "role")).collect();
        if o.roles.contains(&self.admin) {
            o.admin_grants = grants_to_role(client, r, &self.admin).await?;
            let rs = read(
                client,
                r,
                Statement::ShowGrants(ShowGrantsTarget::OfRole(ident(&self.admin))),
            )
            .await?;
            o.admin_users = (0..rs.len())
                .filter(|i| col(&rs, *i, "granted_to") == "USER")
                .map(|i| col(&rs, i, "grantee_name"))
                .collect();
        }
        if o.roles.contains(&self.runtime) {
            o.runtime_grants = grants_to_role(client, r, &self.runtime).await?;
        }
        let rs = read(
            client,
            r,
            Statement::ShowObjects {
                kind: ShowKind::Databases,
                filter: like(&n.db),
                scope: None,
            },
        )
        .await?;
        o.database = names(&rs).contains(&n.db);
        if o.database {
            let rs = read(
                client,
                r,
                Statement::ShowObjects {
                    kind: ShowKind::Schemas,
                    filter: like(&n.schema),
                    scope: Some(ShowScope::Database(ident(&n.db))),
                },
            )
            .await?;
            o.schema = names(&rs).contains(&n.schema);
        }
        if o.schema {
            for (kind, word) in [
                (ShowKind::ImageRepositories, "IMAGE REPOSITORY"),
                (ShowKind::Stages, "STAGE"),
                (ShowKind::NetworkRules, "NETWORK RULE"),
                (ShowKind::Secrets, "SECRET"),
                (ShowKind::Services, "SERVICE"),
            ] {
                let rs = read(
                    client,
                    r,
                    Statement::ShowObjects {
                        kind,
                        filter: Default::default(),
                        scope: Some(ShowScope::Schema(self.schema_name())),
                    },
                )
                .await?;
                for i in 0..rs.len() {
                    let name = col(&rs, i, "name");
                    if kind == ShowKind::Secrets && name == n.secret[2] {
                        o.secret_comment = Some(col(&rs, i, "comment"));
                    }
                    o.objects.insert((word.to_string(), name));
                }
            }
        }
        let rs = read(
            client,
            r,
            Statement::ShowObjects {
                kind: ShowKind::ComputePools,
                filter: like(&n.pool),
                scope: None,
            },
        )
        .await?;
        o.pool = names(&rs).contains(&n.pool);
        let rs = read(
            client,
            r,
            Statement::ShowObjects {
                kind: ShowKind::Integrations,
                filter: like(&n.eai),
                scope: None,
            },
        )
        .await?;
        o.eai = names(&rs).contains(&n.eai);
        let rs = read(
            client,
            Some(USERADMIN),
            Statement::ShowUsers {
                terse: false,
                filter: like(&self.user),
            },
        )
        .await?;
        if let Some(i) = names(&rs).iter().position(|u| *u == self.user) {
            o.user = true;
            o.user_type = col(&rs, i, "type");
            o.user_default_role = col(&rs, i, "default_role");
            let rs = read(
                client,
                Some(USERADMIN),
                Statement::ShowGrants(ShowGrantsTarget::ToUser(ident(&self.user))),
            )
            .await?;
            o.user_roles = (0..rs.len()).map(|i| col(&rs, i, "role")).collect();
            let rs = read(
                client,
                Some(USERADMIN),
                Statement::ShowUserPats {
                    for_user: Some(ident(&self.user)),
                },
            )
            .await?;
            o.token_expires = token_expiry(&rs, &self.token)?;
        }
        Ok(o)
    }

    fn has(&self, o: &Observed, kind: &str, name: &str) -> bool {
        o.objects.contains(&(kind.to_string(), name.to_string()))
    }

    /// The changes. The secret steps carry an empty SECRET_STRING that [`apply`] fills with the
    /// PAT minted just before them (printed as `'***'`).
    pub fn plan(&self, o: &Observed) -> Plan {
        let n = &self.names;
        let a = self.admin.as_str();
        let mut steps = Vec::new();
        let existing = self.config.existing_roles;
        // Seed 002 steps 1-2 (unless the roles were made beforehand).
        if !existing {
            for (role, what) in [
                (&self.runtime, "runtime role (seed 002 step 1)"),
                (&self.admin, "admin role (seed 002 step 2)"),
            ] {
                if !o.roles.contains(role) {
                    steps.push(Step::change(
                        USERADMIN,
                        what,
                        Statement::CreateRole {
                            or_replace: false,
                            if_not_exists: true,
                            name: ident(role),
                            comment: None,
                        },
                    ));
                }
            }
            if !o
                .admin_grants
                .iter()
                .any(|(p, on, name)| p == "USAGE" && on == "ROLE" && *name == self.runtime)
            {
                steps.push(Step::change(
                    SECURITYADMIN,
                    "admin may use the runtime role (the transient CREATE SERVICE step)",
                    Statement::GrantRole {
                        role: ident(&self.runtime),
                        to: Grantee::Role(ident(&self.admin)),
                        with_grant_option: false,
                    },
                ));
            }
            // The applying user runs the rest as the admin role; `admin_user` (seed 002's
            // `<your_user>`) gets it too.
            let mut users = vec![o.me.clone()];
            if let Some(u) = &self.config.admin_user {
                if upper(u) != o.me {
                    users.push(upper(u));
                }
            }
            for user in users {
                let holds = o.admin_users.contains(&user)
                    || (user == o.me && o.my_roles.contains(&self.admin));
                if !holds {
                    steps.push(Step::change(
                        SECURITYADMIN,
                        "the admin role for the administrator (seed 002 step 2)",
                        Statement::GrantRole {
                            role: ident(&self.admin),
                            to: Grantee::User(ident(&user)),
                            with_grant_option: false,
                        },
                    ));
                }
            }
            for privilege in ADMIN_ACCOUNT_PRIVILEGES {
                if !o
                    .admin_grants
                    .iter()
                    .any(|(p, on, _)| p == privilege && on == "ACCOUNT")
                {
                    steps.push(Step::change(
                        ACCOUNTADMIN,
                        "admin role account privilege (seed 002 step 2)",
                        Statement::GrantPrivileges {
                            privileges: Privileges::List(vec![privilege.into()]),
                            on: GrantTarget::Account,
                            to_role: ident(&self.admin),
                            with_grant_option: false,
                        },
                    ));
                }
            }
        }
        // Infrastructure, owned by the admin role.
        if !o.database {
            steps.push(Step::change(
                a,
                "database",
                Statement::CreateDatabase {
                    or_replace: false,
                    if_not_exists: true,
                    name: ident(&n.db),
                    comment: None,
                },
            ));
        }
        if !o.schema {
            steps.push(Step::change(
                a,
                "schema",
                Statement::CreateSchema {
                    or_replace: false,
                    if_not_exists: true,
                    name: self.schema_name(),
                    comment: None,
                },
            ));
        }
        let create = |kind: ObjectKind, name: ObjectName, properties: Vec<Property>| {
            Statement::CreateObject {
                kind,
                or_replace: false,
                if_not_exists: true,
                name,
                in_compute_pool: None,
                specification: None,
                properties,
            }
        };
        if !self.has(o, "IMAGE REPOSITORY", &n.repo) {
            steps.push(Step::change(
                a,
                "image repository",
                create(ObjectKind::ImageRepository, self.in_schema(&n.repo), vec![]),
            ));
        }
        if !self.has(o, "STAGE", &n.stage) {
            steps.push(Step::change(
                a,
                "state stage",
                create(ObjectKind::Stage, self.in_schema(&n.stage), vec![]),
            ));
        }
        if !o.pool {
            steps.push(Step::change(
                a,
                "compute pool",
                create(
                    ObjectKind::ComputePool,
                    obj(&[&n.pool]),
                    vec![
                        Property::new("MIN_NODES", Value::Number("1".into())),
                        Property::new("MAX_NODES", Value::Number("1".into())),
                        Property::new("INSTANCE_FAMILY", name_value("CPU_X64_XS")),
                    ],
                ),
            ));
        }
        if !self.has(o, "NETWORK RULE", &n.rule) {
            steps.push(Step::change(
                a,
                "egress network rule (the runtime role gets no privilege on it)",
                Statement::CreateNetworkRule {
                    or_replace: false,
                    if_not_exists: true,
                    name: self.in_schema(&n.rule),
                    properties: vec![
                        Property::new("TYPE", name_value("HOST_PORT")),
                        Property::new("MODE", name_value("EGRESS")),
                        Property::new("VALUE_LIST", string_list(&self.config.egress_hosts)),
                    ],
                },
            ));
        }
        if !o.eai {
            steps.push(Step::change(
                a,
                "external access integration wrapping the egress rule",
                create(
                    ObjectKind::ExternalAccessIntegration,
                    obj(&[&n.eai]),
                    vec![
                        Property::new(
                            "ALLOWED_NETWORK_RULES",
                            Value::List(vec![Value::Name(self.in_schema(&n.rule))]),
                        ),
                        Property::new("ENABLED", Value::Bool(true)),
                    ],
                ),
            ));
        }
        // The runtime service user: only the runtime role.
        if !o.user {
            steps.push(Step::change(
                USERADMIN,
                "runtime service user",
                Statement::CreateUser {
                    or_replace: false,
                    if_not_exists: true,
                    name: ident(&self.user),
                    properties: vec![
                        Property::new("TYPE", name_value("SERVICE")),
                        Property::new("DEFAULT_ROLE", name_value(&self.runtime)),
                    ],
                },
            ));
        } else {
            let mut drift = Vec::new();
            if !o.user_type.eq_ignore_ascii_case("SERVICE") {
                drift.push(Property::new("TYPE", name_value("SERVICE")));
            }
            if o.user_default_role != self.runtime {
                drift.push(Property::new("DEFAULT_ROLE", name_value(&self.runtime)));
            }
            if !drift.is_empty() {
                steps.push(Step::change(
                    USERADMIN,
                    "drift: runtime user TYPE / DEFAULT_ROLE",
                    Statement::AlterUser {
                        if_exists: false,
                        user: Some(ident(&self.user)),
                        action: AlterUserAction::Set(drift),
                    },
                ));
            }
        }
        for role in &o.user_roles {
            if *role != self.runtime {
                steps.push(Step::change(
                    a,
                    format!("drift: the runtime user holds only {}", self.runtime),
                    Statement::RevokeRole {
                        role: ident(role),
                        from: Grantee::User(ident(&self.user)),
                        grant_option_for: false,
                        behavior: None,
                    },
                ));
            }
        }
        if !o.user_roles.contains(&self.runtime) {
            steps.push(Step::change(
                a,
                "the runtime user gets the runtime role",
                Statement::GrantRole {
                    role: ident(&self.runtime),
                    to: Grantee::User(ident(&self.user)),
                    with_grant_option: false,
                },
            ));
        }
        // The runtime PAT and its secret.
        let secret_name = self.in_schema(&n.secret[2]);
        let marked = matches!(
            (&o.token_expires, &o.secret_comment),
            (Some(e), Some(c)) if *c == format!("{SECRET_MARK}{e}")
        );
        let mints = !marked;
        if mints {
            let statement = if o.token_expires.is_none() {
                AlterUserAction::AddPat(AddPat {
                    if_not_exists: false,
                    name: ident(&self.token),
                    role_restriction: Some(ident(&self.runtime)),
                    days_to_expiry: Some(i64::from(self.config.days)),
                    mins_to_bypass_network_policy_requirement: None,
                    comment: Some("snowpat admin-runtime: runtime PAT".into()),
                })
            } else {
                AlterUserAction::RotatePat {
                    if_exists: false,
                    name: ident(&self.token),
                    expire_rotated_token_after_hours: Some(0),
                }
            };
            steps.push(Step::change(
                USERADMIN,
                if o.token_expires.is_none() {
                    "runtime PAT, restricted to the runtime role (secret to the SECRET below)"
                } else {
                    "the stored secret is missing or stale: rotate (no grace) and store again"
                },
                Statement::AlterUser {
                    if_exists: false,
                    user: Some(ident(&self.user)),
                    action: statement,
                },
            ));
            let secret = Property::new("SECRET_STRING", Value::String(String::new()));
            steps.push(Step::change(
                a,
                "the runtime PAT stored as a Snowflake SECRET (seed 002)",
                if o.secret_comment.is_none() {
                    Statement::CreateSecret {
                        or_replace: false,
                        if_not_exists: false,
                        name: secret_name.clone(),
                        properties: vec![
                            Property::new("TYPE", name_value("GENERIC_STRING")),
                            secret,
                        ],
                    }
                } else {
                    Statement::AlterSecret {
                        if_exists: false,
                        name: secret_name.clone(),
                        properties: vec![secret],
                    }
                },
            ));
        }
        // The runtime role's grants: exactly the seed's list.
        let wanted = self.runtime_grants();
        let held = |g: &Grant| {
            o.runtime_grants.iter().any(|h| {
                h.0 == g.0 && h.1 == g.1 && (g.1 == "ACCOUNT" || h.2.eq_ignore_ascii_case(&g.2))
            })
        };
        for (p, on, name) in &o.runtime_grants {
            let listed = wanted
                .iter()
                .any(|g| g.0 == *p && g.1 == *on && (on == "ACCOUNT" || g.2 == *name));
            if listed || p == "OWNERSHIP" {
                continue;
            }
            // The transient CREATE SERVICE grant is revoked below (finally).
            if p == "CREATE SERVICE" && on == "SCHEMA" {
                continue;
            }
            if let Some(step) = self.revoke(p, on, name) {
                steps.push(step);
            }
        }
        for g in &wanted {
            if g.0 == "OWNERSHIP" {
                continue;
            }
            // A secret created in this apply gets its READ grant after it exists.
            let secret_grant = g.1 == "SECRET" && mints && o.secret_comment.is_none();
            if held(g) && !secret_grant {
                continue;
            }
            steps.push(self.grant(g));
        }
        // The service, created as the runtime role between a transient grant and its revoke.
        let leftover = o
            .runtime_grants
            .iter()
            .any(|(p, on, _)| p == "CREATE SERVICE" && on == "SCHEMA");
        let transient = || {
            (
                GrantTarget::Object {
                    kind: ObjectKind::Schema,
                    name: self.schema_name(),
                },
                Privileges::List(vec!["CREATE SERVICE".into()]),
            )
        };
        if !self.has(o, "SERVICE", &n.service) {
            let (on, privileges) = transient();
            if !leftover {
                steps.push(Step::change(
                    a,
                    "transient: the runtime role may create its service",
                    Statement::GrantPrivileges {
                        privileges,
                        on,
                        to_role: ident(&self.runtime),
                        with_grant_option: false,
                    },
                ));
            }
            steps.push(Step::change(
                &self.runtime,
                "the service, owned by the runtime role (GRANT OWNERSHIP ON SERVICE is blocked)",
                Statement::CreateObject {
                    kind: ObjectKind::Service,
                    or_replace: false,
                    if_not_exists: true,
                    name: self.in_schema(&n.service),
                    in_compute_pool: Some(ident(&n.pool)),
                    specification: Some(self.specification()),
                    properties: vec![Property::new(
                        "EXTERNAL_ACCESS_INTEGRATIONS",
                        Value::List(vec![name_value(&n.eai)]),
                    )],
                },
            ));
        }
        if !self.has(o, "SERVICE", &n.service) || leftover {
            let (on, privileges) = transient();
            steps.push(Step::change(
                a,
                FINALLY,
                Statement::RevokePrivileges {
                    grant_option_for: false,
                    privileges,
                    on,
                    from_role: ident(&self.runtime),
                    behavior: None,
                },
            ));
        }
        Plan { steps }
    }

    fn grant(&self, g: &Grant) -> Step {
        let a = self.admin.as_str();
        let reason = "runtime role grant (seed 002's list)";
        if g.1 == "DATABASE_ROLE" {
            return Step::change(
                a,
                reason,
                Statement::GrantDatabaseRole {
                    role: obj(&["SNOWFLAKE", "CORTEX_USER"]),
                    to: Grantee::Role(ident(&self.runtime)),
                },
            );
        }
        let on = target(&g.1, &g.2).unwrap_or(GrantTarget::Account);
        Step::change(
            a,
            reason,
            Statement::GrantPrivileges {
                privileges: Privileges::List(vec![g.0.clone()]),
                on,
                to_role: ident(&self.runtime),
                with_grant_option: false,
            },
        )
    }

    fn revoke(&self, privilege: &str, on: &str, name: &str) -> Option<Step> {
        let a = self.admin.as_str();
        let reason = format!("drift: {privilege} on {on} {name} is not in seed 002's list");
        let statement = match on {
            "ROLE" => Statement::RevokeRole {
                role: ident(name),
                from: Grantee::Role(ident(&self.runtime)),
                grant_option_for: false,
                behavior: None,
            },
            "DATABASE_ROLE" => Statement::RevokeDatabaseRole {
                role: ObjectName(name.split('.').map(ident).collect()),
                from: Grantee::Role(ident(&self.runtime)),
            },
            _ => Statement::RevokePrivileges {
                grant_option_for: false,
                privileges: Privileges::List(vec![privilege.to_string()]),
                on: target(on, name)?,
                from_role: ident(&self.runtime),
                behavior: None,
            },
        };
        Some(Step::change(a, reason, statement))
    }
}

/// The reason of the finally step (how [`apply`] recognises it).
const FINALLY: &str =
    "finally: revoke the transient CREATE SERVICE grant (runs even if a step before it fails)";

/// A SHOW GRANTS `granted_on` + `name` as a grant target.
fn target(on: &str, name: &str) -> Option<GrantTarget> {
    let kind = match on {
        "ACCOUNT" => return Some(GrantTarget::Account),
        "DATABASE" => ObjectKind::Database,
        "SCHEMA" => ObjectKind::Schema,
        "USER" => ObjectKind::User,
        "INTEGRATION" => ObjectKind::Integration,
        "STAGE" => ObjectKind::Stage,
        "IMAGE_REPOSITORY" => ObjectKind::ImageRepository,
        "COMPUTE_POOL" => ObjectKind::ComputePool,
        "SECRET" => ObjectKind::Secret,
        "NETWORK_RULE" => ObjectKind::NetworkRule,
        "AUTHENTICATION_POLICY" => ObjectKind::AuthenticationPolicy,
        "SERVICE" => ObjectKind::Service,
        "MCP_SERVER" => ObjectKind::McpServer,
        _ => return None,
    };
    Some(GrantTarget::Object {
        kind,
        name: ObjectName(name.split('.').map(ident).collect()),
    })
}

fn token_expiry(rs: &ResultSet, token: &str) -> Result<Option<String>, BlueprintError> {
    for row in rs.rows() {
        if row.get::<String>("name")? == token {
            let status: String = row.get("status")?;
            if status == "EXPIRED" {
                return Ok(None);
            }
            return Ok(row
                .get::<Option<ServerTime>>("expires_at")?
                .map(|t| t.epoch_millis().to_string()));
        }
    }
    Ok(None)
}

/// Sends `plan` in order. The PAT minted by an ADD/ROTATE step fills the SECRET_STRING of the
/// secret step after it, whose COMMENT then records the PAT's `expires_at`. When a step fails,
/// the finally step (the revoke of the transient CREATE SERVICE grant) still runs, and the first
/// failure is returned.
pub async fn apply(
    client: &Client,
    blueprint: &AdminRuntime,
    plan: &Plan,
) -> Result<(), BlueprintError> {
    let mut minted: Option<SecretString> = None;
    let mut failure: Option<BlueprintError> = None;
    for (index, step) in plan.steps.iter().enumerate() {
        let is_finally = step.reason == FINALLY;
        if failure.is_some() && !is_finally {
            continue;
        }
        let mut to_send = step.clone();
        let mut fills_secret = false;
        if let Statement::CreateSecret { properties, .. }
        | Statement::AlterSecret { properties, .. } = &mut to_send.statement
        {
            if let Some(secret) = &minted {
                use secrecy::ExposeSecret as _;
                let expires = {
                    let rs = read(
                        client,
                        Some(USERADMIN),
                        Statement::ShowUserPats {
                            for_user: Some(ident(&blueprint.user)),
                        },
                    )
                    .await;
                    match rs {
                        Ok(rs) => token_expiry(&rs, &blueprint.token)?.unwrap_or_default(),
                        Err(e) => {
                            failure = Some(e);
                            continue;
                        }
                    }
                };
                for p in properties.iter_mut() {
                    if p.name.as_str() == "SECRET_STRING" {
                        p.value = Value::String(secret.expose_secret().to_string());
                    }
                }
                properties.push(Property::new(
                    "COMMENT",
                    Value::String(format!("{SECRET_MARK}{expires}")),
                ));
                fills_secret = true;
            } else {
                // The PAT step before it did not run or returned no secret: never store an
                // empty secret (the next apply sees the secret missing and mints again).
                failure = Some(BlueprintError::Sink {
                    sink: step.redacted().to_string(),
                    message: "no freshly minted runtime PAT to store".into(),
                });
                continue;
            }
        }
        match execute(client, &to_send).await {
            Ok(rs) => {
                if matches!(
                    &step.statement,
                    Statement::AlterUser {
                        action: AlterUserAction::AddPat(_) | AlterUserAction::RotatePat { .. },
                        ..
                    }
                ) {
                    minted = rs.first().and_then(|r| r.secret("token_secret").ok());
                }
                if fills_secret {
                    minted = None;
                }
            }
            Err(source) => {
                let err = BlueprintError::Step(PlanError {
                    index,
                    statement: step.redacted().to_string(),
                    source,
                });
                if failure.is_none() {
                    failure = Some(err);
                } else {
                    tracing::warn!(error = %err, "the finally step failed too");
                }
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `bootstrap admin-runtime`: read, preflight, plan; with `apply` send (finally included).
pub async fn bootstrap_admin_runtime(
    client: &Client,
    blueprint: &AdminRuntime,
    apply_it: bool,
) -> Result<Outcome, BlueprintError> {
    let available = available_roles(client).await?;
    let observed = blueprint.observe(client, &available).await?;
    blueprint.preflight(&available, &observed)?;
    let plan = blueprint.plan(&observed);
    if apply_it {
        apply(client, blueprint, &plan).await?;
    }
    Ok(Outcome {
        plan,
        applied: apply_it,
        delivered: None,
        warnings: Vec::new(),
    })
}

/// `SHOW GRANTS TO ROLE` rows as (privilege, granted_on, name), sorted, with the account's name
/// left empty as in [`AdminRuntime::runtime_grants`], for comparisons.
pub fn sorted_grants(rs: &ResultSet) -> Vec<Grant> {
    let mut g: Vec<Grant> = grants(rs)
        .into_iter()
        .map(|(p, on, n)| {
            let n = if on == "ACCOUNT" { String::new() } else { n };
            (p, on, n)
        })
        .collect();
    g.sort();
    g
}
