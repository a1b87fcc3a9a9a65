//! The cli-single-role blueprint (seed 001, `[blueprint.cli-single-role]`): person users cannot
//! generate or use PATs, service users can, so the only PAT a developer's CLI can hold is the
//! role-restricted token of a paired `<PERSON>_CLI` service user (`snowpat cli-user`).
//!
//! * Two authentication policies (`snowflake-behaviour.md` §5.9): `person_policy` without
//!   `PROGRAMMATIC_ACCESS_TOKEN` and `service_policy` with it and
//!   `PAT_POLICY = (NETWORK_POLICY_EVALUATION = ...)`, set at the account's type slots with
//!   `ALTER ACCOUNT SET AUTHENTICATION POLICY ... FOR ALL PERSON USERS` / `FOR ALL SERVICE USERS`
//!   (§5.10), never with FORCE: FORCE would override every user-level policy (§5.9.5), including
//!   the one that keeps an administrator in. A slot holding another policy is UNSET first.
//! * Lockout guard: §5.9.5 resolves a user's policy as user-level first, then its type slot. If
//!   the applying identity has no user-level policy and its own authentication method (a PAT for
//!   a person user, typically) is missing from the policy its type slot is about to get, the
//!   apply would cut it off mid-way. That is refused ([`BlueprintError::Lockout`], exit 2, only
//!   reads sent) unless `keep_access_policy` is set: then the plan first creates that policy (the
//!   person methods plus the applying method) and sets it on the applying user.
//! * Drift: the policies' AUTHENTICATION_METHODS and NETWORK_POLICY_EVALUATION, and which policy
//!   each slot holds, are read back (DESCRIBE / SHOW ... ON ACCOUNT) and repaired.
//!
//! The `cli-user` pairing ([`CliUsers`]): a TYPE=SERVICE user `<PERSON>_CLI` with DEFAULT_ROLE
//! `<PERSON>_CLI_ROLE`, that role only, and a PAT restricted to it (seed 001's walkthrough: role
//! and user as USERADMIN, the role grant as SECURITYADMIN, the token by the user's owner), its
//! secret delivered to a sink, and a connections.toml entry (`crate::cli_config`).

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use snowpat_client::{Client, ServerTime};
use snowpat_sql::ast::{
    AddPat, AlterAccountAction, AlterPolicyAction, AlterUserAction, CreateMode, Grantee,
    ObjectName, PolicyOn, PolicyScope, Property, ShowFilter, ShowGrantsTarget, ShowKind, ShowScope,
    Statement, Value,
};

use super::common::{
    available_roles, col, current_user, ident, like, list_items, name_value, names, read,
    require_roles, same_set, string_list,
};
use super::{AuthMethod, BlueprintError, Outcome};
use crate::config::CliSingleRoleConfig;
use crate::plan::{Plan, Step};
use crate::sinks::Sink;

const ACCOUNTADMIN: &str = "ACCOUNTADMIN";
const USERADMIN: &str = "USERADMIN";
const SECURITYADMIN: &str = "SECURITYADMIN";
const METHODS: [&str; 8] = [
    "ALL",
    "SAML",
    "OIDC",
    "PASSWORD",
    "OAUTH",
    "KEYPAIR",
    "PROGRAMMATIC_ACCESS_TOKEN",
    "WORKLOAD_IDENTITY",
];
const EVALUATIONS: [&str; 3] = ["ENFORCED_REQUIRED", "ENFORCED_NOT_REQUIRED", "NOT_ENFORCED"];

/// The blueprint with validated settings.
#[derive(Clone, Debug)]
pub struct CliSingleRole {
    pub config: CliSingleRoleConfig,
}

/// What the reads found.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub database: bool,
    pub schema: bool,
    /// Policies in the schema.
    pub policies: Vec<String>,
    /// (policy, AUTHENTICATION_METHODS, PAT_POLICY text) for the blueprint's policies.
    pub described: Vec<(String, Vec<String>, String)>,
    /// Policy in the PERSON_USERS / SERVICE_USERS slot: (database, schema, name).
    pub person_slot: Option<(String, String, String)>,
    pub service_slot: Option<(String, String, String)>,
    /// The applying user, its TYPE, and its user-level policy.
    pub me: String,
    pub my_type: String,
    pub my_policy: Option<String>,
}

impl CliSingleRole {
    /// Validates the settings (methods, evaluation, names).
    pub fn new(config: CliSingleRoleConfig) -> Result<Self, BlueprintError> {
        for (key, methods) in [
            ("person_methods", &config.person_methods),
            ("service_methods", &config.service_methods),
        ] {
            if methods.is_empty() {
                return Err(BlueprintError::Config(format!(
                    "[blueprint.cli-single-role] {key}: at least one method"
                )));
            }
            for m in methods {
                if !METHODS.contains(&m.to_ascii_uppercase().as_str()) {
                    return Err(BlueprintError::Config(format!(
                        "[blueprint.cli-single-role] {key}: unknown method {m:?} (known: {})",
                        METHODS.join(", ")
                    )));
                }
            }
        }
        let pat = |v: &[String]| {
            v.iter().any(|m| {
                m.eq_ignore_ascii_case("PROGRAMMATIC_ACCESS_TOKEN") || m.eq_ignore_ascii_case("ALL")
            })
        };
        if pat(&config.person_methods) {
            return Err(BlueprintError::Config(
                "[blueprint.cli-single-role] person_methods must not allow PROGRAMMATIC_ACCESS_TOKEN \
                 (or ALL): barring person users from PATs is the point of seed 001"
                    .into(),
            ));
        }
        if !pat(&config.service_methods) {
            return Err(BlueprintError::Config(
                "[blueprint.cli-single-role] service_methods must include PROGRAMMATIC_ACCESS_TOKEN"
                    .into(),
            ));
        }
        if !EVALUATIONS.contains(&config.network_policy_evaluation.as_str()) {
            return Err(BlueprintError::Config(format!(
                "[blueprint.cli-single-role] network_policy_evaluation: one of {}",
                EVALUATIONS.join(", ")
            )));
        }
        for (key, name) in [
            ("database", &config.database),
            ("schema", &config.schema),
            ("person_policy", &config.person_policy),
            ("service_policy", &config.service_policy),
        ] {
            super::common::fold_name(name, key)?;
        }
        if let Some(k) = &config.keep_access_policy {
            super::common::fold_name(k, "keep_access_policy")?;
        }
        Ok(Self { config })
    }

    fn qualified(&self, name: &str) -> ObjectName {
        ObjectName(vec![
            ident(&self.config.database.to_ascii_uppercase()),
            ident(&self.config.schema.to_ascii_uppercase()),
            ident(&name.to_ascii_uppercase()),
        ])
    }

    fn upper(v: &[String]) -> Vec<String> {
        v.iter().map(|s| s.to_ascii_uppercase()).collect()
    }

    /// Preflight: every change runs as ACCOUNTADMIN (APPLY AUTHENTICATION POLICY on the account
    /// and CREATE AUTHENTICATION POLICY, §4.3).
    pub async fn preflight(&self, client: &Client) -> Result<(), BlueprintError> {
        let roles = available_roles(client).await?;
        require_roles(
            &roles,
            &[(
                ACCOUNTADMIN,
                "CREATE AUTHENTICATION POLICY and ALTER ACCOUNT SET AUTHENTICATION POLICY",
            )],
        )
    }

    /// Reads the account (SHOW / DESCRIBE / SELECT only).
    pub async fn observe(&self, client: &Client) -> Result<Observed, BlueprintError> {
        let c = &self.config;
        let db = c.database.to_ascii_uppercase();
        let schema = c.schema.to_ascii_uppercase();
        let r = Some(ACCOUNTADMIN);
        let mut o = Observed::default();
        let rs = read(
            client,
            r,
            Statement::ShowObjects {
                kind: ShowKind::Databases,
                filter: like(&db),
                scope: None,
            },
        )
        .await?;
        o.database = names(&rs).contains(&db);
        if o.database {
            let rs = read(
                client,
                r,
                Statement::ShowObjects {
                    kind: ShowKind::Schemas,
                    filter: like(&schema),
                    scope: Some(ShowScope::Database(ident(&db))),
                },
            )
            .await?;
            o.schema = names(&rs).contains(&schema);
        }
        if o.schema {
            let rs = read(
                client,
                r,
                Statement::ShowAuthenticationPolicies {
                    filter: ShowFilter::default(),
                    scope: Some(ShowScope::Schema(ObjectName(vec![
                        ident(&db),
                        ident(&schema),
                    ]))),
                    on: None,
                },
            )
            .await?;
            o.policies = names(&rs);
            for policy in [&c.person_policy, &c.service_policy] {
                let policy = policy.to_ascii_uppercase();
                if !o.policies.contains(&policy) {
                    continue;
                }
                let rs = read(
                    client,
                    r,
                    Statement::DescribeAuthenticationPolicy {
                        name: self.qualified(&policy),
                    },
                )
                .await?;
                let mut methods = Vec::new();
                let mut pat = String::new();
                for i in 0..rs.len() {
                    match col(&rs, i, "property").as_str() {
                        "AUTHENTICATION_METHODS" => methods = list_items(&col(&rs, i, "value")),
                        "PAT_POLICY" => pat = col(&rs, i, "value"),
                        _ => {}
                    }
                }
                o.described.push((policy, methods, pat));
            }
        }
        let rs = read(
            client,
            r,
            Statement::ShowAuthenticationPolicies {
                filter: ShowFilter::default(),
                scope: None,
                on: Some(PolicyOn::Account),
            },
        )
        .await?;
        for i in 0..rs.len() {
            let slot = (
                col(&rs, i, "database_name"),
                col(&rs, i, "schema_name"),
                col(&rs, i, "name"),
            );
            let options = col(&rs, i, "options");
            if options.contains("PERSON_USERS") {
                o.person_slot = Some(slot.clone());
            }
            if options.contains("SERVICE_USERS") {
                o.service_slot = Some(slot);
            }
        }
        o.me = current_user(client).await?;
        let rs = read(
            client,
            r,
            Statement::ShowUsers {
                terse: false,
                filter: like(&o.me),
            },
        )
        .await?;
        if let Some(i) = names(&rs).iter().position(|n| *n == o.me) {
            o.my_type = col(&rs, i, "type");
        }
        let rs = read(
            client,
            r,
            Statement::ShowAuthenticationPolicies {
                filter: ShowFilter::default(),
                scope: None,
                on: Some(PolicyOn::User(ident(&o.me))),
            },
        )
        .await?;
        o.my_policy = names(&rs).into_iter().next();
        Ok(o)
    }

    fn slot_matches(&self, slot: &Option<(String, String, String)>, policy: &str) -> bool {
        slot.as_ref().is_some_and(|(d, s, n)| {
            d.eq_ignore_ascii_case(&self.config.database)
                && s.eq_ignore_ascii_case(&self.config.schema)
                && n.eq_ignore_ascii_case(policy)
        })
    }

    /// Whether the change would bar `method` for the applying identity (§5.9.5).
    pub fn locks_out(&self, o: &Observed, method: AuthMethod) -> bool {
        if o.my_policy.is_some() {
            return false;
        }
        let service = matches!(
            o.my_type.to_ascii_uppercase().as_str(),
            "SERVICE" | "LEGACY_SERVICE"
        );
        let person = matches!(
            o.my_type.to_ascii_uppercase().as_str(),
            "" | "NULL" | "PERSON"
        );
        let methods = if service {
            &self.config.service_methods
        } else if person {
            &self.config.person_methods
        } else {
            // SERVICE_AGENT: neither slot covers it (§5.9.5).
            return false;
        };
        !methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case("ALL") || m.eq_ignore_ascii_case(method.policy_name()))
    }

    /// The changes, or [`BlueprintError::Lockout`] when they would cut off the applying identity.
    pub fn plan(&self, o: &Observed, method: AuthMethod) -> Result<Plan, BlueprintError> {
        let c = &self.config;
        let mut steps = Vec::new();
        let a = ACCOUNTADMIN;
        if !o.database {
            steps.push(Step::change(
                a,
                "database for the authentication policies",
                Statement::CreateDatabase {
                    or_replace: false,
                    if_not_exists: true,
                    name: ident(&c.database.to_ascii_uppercase()),
                    comment: None,
                },
            ));
        }
        if !o.schema {
            steps.push(Step::change(
                a,
                "schema for the authentication policies",
                Statement::CreateSchema {
                    or_replace: false,
                    if_not_exists: true,
                    name: ObjectName(vec![
                        ident(&c.database.to_ascii_uppercase()),
                        ident(&c.schema.to_ascii_uppercase()),
                    ]),
                    comment: None,
                },
            ));
        }
        let containers = steps.len();
        let pat_policy = || {
            Property::new(
                "PAT_POLICY",
                Value::Properties(vec![Property::new(
                    "NETWORK_POLICY_EVALUATION",
                    name_value(&c.network_policy_evaluation),
                )]),
            )
        };
        for (policy, methods, pat, what) in [
            (
                &c.person_policy,
                &c.person_methods,
                false,
                "person users: no PROGRAMMATIC_ACCESS_TOKEN (seed 001)",
            ),
            (
                &c.service_policy,
                &c.service_methods,
                true,
                "service users: PATs allowed (seed 001)",
            ),
        ] {
            let policy = policy.to_ascii_uppercase();
            let wanted = Self::upper(methods);
            match o.described.iter().find(|(n, _, _)| *n == policy) {
                None => {
                    let mut properties = vec![Property::new(
                        "AUTHENTICATION_METHODS",
                        string_list(&wanted),
                    )];
                    if pat {
                        properties.push(pat_policy());
                    }
                    steps.push(Step::change(
                        a,
                        what,
                        Statement::CreateAuthenticationPolicy {
                            create: CreateMode::Create,
                            if_not_exists: true,
                            name: self.qualified(&policy),
                            properties,
                        },
                    ));
                }
                Some((_, have, pat_text)) => {
                    let mut drift = Vec::new();
                    if !same_set(have, &wanted) {
                        drift.push(Property::new(
                            "AUTHENTICATION_METHODS",
                            string_list(&wanted),
                        ));
                    }
                    let evaluation =
                        format!("NETWORK_POLICY_EVALUATION={}", c.network_policy_evaluation);
                    if pat && !pat_text.replace(' ', "").contains(&evaluation) {
                        drift.push(pat_policy());
                    }
                    if !drift.is_empty() {
                        steps.push(Step::change(
                            a,
                            format!("drift: {policy} differs from the blueprint"),
                            Statement::AlterAuthenticationPolicy {
                                if_exists: false,
                                name: self.qualified(&policy),
                                action: AlterPolicyAction::Set(drift),
                            },
                        ));
                    }
                }
            }
        }
        for (slot, policy, scope, what) in [
            (
                &o.person_slot,
                &c.person_policy,
                PolicyScope::PersonUsers,
                "PERSON",
            ),
            (
                &o.service_slot,
                &c.service_policy,
                PolicyScope::ServiceUsers,
                "SERVICE",
            ),
        ] {
            if self.slot_matches(slot, policy) {
                continue;
            }
            if let Some((d, s, n)) = slot {
                steps.push(Step::change(
                    a,
                    format!("FOR ALL {what} USERS holds {d}.{s}.{n}: unset it (no FORCE, §5.9.5)"),
                    Statement::AlterAccount(AlterAccountAction::UnsetAuthenticationPolicy {
                        scope,
                    }),
                ));
            }
            steps.push(Step::change(
                a,
                format!("{policy} for all {what} users (seed 001)"),
                Statement::AlterAccount(AlterAccountAction::SetAuthenticationPolicy {
                    policy: self.qualified(policy),
                    scope,
                    force: false,
                }),
            ));
        }
        // Any change here moves the applying identity toward the configured policies; if those
        // bar its own method and it has no user-level policy, it would be cut off part-way
        // (a slot set, or a policy's methods repaired).
        if steps.len() > containers && self.locks_out(o, method) {
            match &c.keep_access_policy {
                None => {
                    return Err(BlueprintError::Lockout(format!(
                        "this apply would lock out {} (TYPE {}, authenticating with {}): the \
                         policy for its user type does not allow {}, and the user has no \
                         user-level authentication policy. Set keep_access_policy = \"NAME\" in \
                         [blueprint.cli-single-role] to give it one first, or apply with another \
                         identity or method",
                        o.me,
                        if o.my_type.is_empty() {
                            "NULL"
                        } else {
                            &o.my_type
                        },
                        method.policy_name(),
                        method.policy_name()
                    )));
                }
                Some(keep) => {
                    let mut methods = if o.my_type.eq_ignore_ascii_case("SERVICE") {
                        Self::upper(&c.service_methods)
                    } else {
                        Self::upper(&c.person_methods)
                    };
                    methods.push(method.policy_name().to_string());
                    methods.dedup();
                    let keep_steps = [
                        Step::change(
                            a,
                            format!(
                                "keep the applying user {} in: a user-level policy that allows {}",
                                o.me,
                                method.policy_name()
                            ),
                            Statement::CreateAuthenticationPolicy {
                                create: CreateMode::Create,
                                if_not_exists: true,
                                name: self.qualified(keep),
                                properties: vec![Property::new(
                                    "AUTHENTICATION_METHODS",
                                    string_list(&methods),
                                )],
                            },
                        ),
                        Step::change(
                            a,
                            "user-level policies take precedence over the type slots (§5.9.5)",
                            Statement::AlterUser {
                                if_exists: false,
                                user: Some(ident(&o.me)),
                                action: AlterUserAction::SetAuthenticationPolicy {
                                    policy: self.qualified(keep),
                                    force: false,
                                },
                            },
                        ),
                    ];
                    // After the database and schema, before any policy or slot change.
                    steps.splice(containers..containers, keep_steps);
                }
            }
        }
        Ok(Plan { steps })
    }
}

/// `bootstrap cli-single-role`: preflight, read, plan (refusing a lockout), and with `apply` send.
pub async fn bootstrap_cli_single_role(
    client: &Client,
    blueprint: &CliSingleRole,
    apply: bool,
    method: AuthMethod,
) -> Result<Outcome, BlueprintError> {
    blueprint.preflight(client).await?;
    let observed = blueprint.observe(client).await?;
    let plan = blueprint.plan(&observed, method)?;
    if apply {
        plan.apply(client).await?;
    }
    Ok(Outcome {
        plan,
        applied: apply,
        delivered: None,
        warnings: Vec::new(),
    })
}

/// `snowpat cli-user add | rotate | remove PERSON`.
pub struct CliUsers {
    pub client: Client,
    pub config: CliSingleRoleConfig,
}

/// The names of one pairing.
#[derive(Clone, Debug)]
pub struct Pairing {
    pub person: String,
    pub user: String,
    pub role: String,
    pub token: String,
}

/// What a `cli-user` command did.
#[derive(Debug)]
pub struct CliUserOutcome {
    pub pairing: Pairing,
    /// `created`, `rotated`, `unchanged`, `removed`.
    pub action: String,
    pub expires_at: Option<String>,
    pub secret_sha256: Option<String>,
    /// The secret, only when the sink is `stdout`.
    pub secret: Option<SecretString>,
}

impl CliUsers {
    /// The pairing's names; `person` must match `^[A-Za-z0-9_]{1,64}$`.
    pub fn pairing(&self, person: &str) -> Result<Pairing, BlueprintError> {
        let person = super::common::fold_name(person, "PERSON")?;
        let expand = |t: &str| t.replace("{person}", &person).to_ascii_uppercase();
        Ok(Pairing {
            user: expand(&self.config.cli_user),
            role: expand(&self.config.cli_role),
            token: self.config.token.to_ascii_uppercase(),
            person,
        })
    }

    async fn change(
        &self,
        role: &str,
        statement: Statement,
    ) -> Result<snowpat_client::ResultSet, BlueprintError> {
        let step = Step::change(role, "", statement);
        crate::plan::execute(&self.client, &step)
            .await
            .map_err(|source| {
                BlueprintError::Step(crate::plan::PlanError {
                    index: 0,
                    statement: step.redacted().to_string(),
                    source,
                })
            })
    }

    /// (name, expires_at) of the service user's tokens, rotated objects included.
    async fn tokens(
        &self,
        user: &str,
    ) -> Result<Vec<(String, Option<ServerTime>)>, BlueprintError> {
        let rs = read(
            &self.client,
            Some(USERADMIN),
            Statement::ShowUserPats {
                for_user: Some(ident(user)),
            },
        )
        .await?;
        rs.rows()
            .iter()
            .map(|row| {
                Ok((
                    row.get::<String>("name")?,
                    row.get::<Option<ServerTime>>("expires_at")?,
                ))
            })
            .collect::<Result<_, snowpat_client::RowError>>()
            .map_err(BlueprintError::Row)
    }

    async fn user_exists(&self, user: &str) -> Result<bool, BlueprintError> {
        let rs = read(
            &self.client,
            Some(ACCOUNTADMIN),
            Statement::ShowUsers {
                terse: false,
                filter: like(user),
            },
        )
        .await?;
        Ok(names(&rs).iter().any(|n| n == user))
    }

    /// `cli-user add PERSON`: role, service user, role grant, restricted PAT to `sink`. A pairing
    /// whose token already exists is left alone (`unchanged`; `rotate` replaces its secret).
    pub async fn add(&self, person: &str, sink: &Sink) -> Result<CliUserOutcome, BlueprintError> {
        let p = self.pairing(person)?;
        sink.preflight()
            .map_err(|e| BlueprintError::Config(e.to_string()))?;
        if !self.user_exists(&p.person).await? {
            return Err(BlueprintError::NotFound(format!(
                "person user {} does not exist (or is not visible): the pairing is for an \
                 existing developer",
                p.person
            )));
        }
        self.change(
            USERADMIN,
            Statement::CreateRole {
                or_replace: false,
                if_not_exists: true,
                name: ident(&p.role),
                comment: Some("Least-privileged role for Cortex Code CLI".into()),
            },
        )
        .await?;
        self.change(
            USERADMIN,
            Statement::CreateUser {
                or_replace: false,
                if_not_exists: true,
                name: ident(&p.user),
                properties: vec![
                    Property::new("TYPE", name_value("SERVICE")),
                    Property::new("DEFAULT_ROLE", name_value(&p.role)),
                    Property::new(
                        "COMMENT",
                        Value::String(format!("Service user for Cortex Code CLI ({})", p.person)),
                    ),
                ],
            },
        )
        .await?;
        let rs = read(
            &self.client,
            Some(SECURITYADMIN),
            Statement::ShowGrants(ShowGrantsTarget::ToUser(ident(&p.user))),
        )
        .await?;
        if !(0..rs.len()).any(|i| col(&rs, i, "role") == p.role) {
            self.change(
                SECURITYADMIN,
                Statement::GrantRole {
                    role: ident(&p.role),
                    to: Grantee::User(ident(&p.user)),
                    with_grant_option: false,
                },
            )
            .await?;
        }
        let tokens = self.tokens(&p.user).await?;
        if let Some((_, expires)) = tokens.iter().find(|(n, _)| *n == p.token) {
            return Ok(CliUserOutcome {
                pairing: p,
                action: "unchanged".into(),
                expires_at: expires.map(|e| e.to_string()),
                secret_sha256: None,
                secret: None,
            });
        }
        let rs = self
            .change(
                USERADMIN,
                Statement::AlterUser {
                    if_exists: false,
                    user: Some(ident(&p.user)),
                    action: AlterUserAction::AddPat(AddPat {
                        if_not_exists: false,
                        name: ident(&p.token),
                        role_restriction: Some(ident(&p.role)),
                        days_to_expiry: Some(i64::from(self.config.days)),
                        mins_to_bypass_network_policy_requirement: None,
                        comment: Some("Token for Cortex Code CLI".into()),
                    }),
                },
            )
            .await?;
        let secret = rs
            .first()
            .and_then(|r| r.secret("token_secret").ok())
            .ok_or_else(|| BlueprintError::Sink {
                sink: format!("{sink:?}"),
                message: "the ADD PAT answer carried no token_secret".into(),
            })?;
        self.deliver(p, "created", secret, sink).await
    }

    async fn deliver(
        &self,
        p: Pairing,
        action: &str,
        secret: SecretString,
        sink: &Sink,
    ) -> Result<CliUserOutcome, BlueprintError> {
        sink.deliver(&secret, &self.client)
            .await
            .map_err(|e| BlueprintError::Sink {
                sink: format!("{sink:?}"),
                message: e.to_string(),
            })?;
        let expires_at = self
            .tokens(&p.user)
            .await?
            .into_iter()
            .find(|(n, _)| *n == p.token)
            .and_then(|(_, e)| e.map(|e| e.to_string()));
        Ok(CliUserOutcome {
            pairing: p,
            action: action.into(),
            expires_at,
            secret_sha256: Some(crate::tenants::secret_sha256(&secret)),
            secret: matches!(sink, Sink::Stdout).then_some(secret),
        })
    }

    /// `cli-user rotate PERSON`: a new secret to `sink`; the old one keeps working for
    /// min(`grace_hours`, hours it has left) (§6.2).
    pub async fn rotate(
        &self,
        person: &str,
        sink: &Sink,
        grace_hours: u32,
    ) -> Result<CliUserOutcome, BlueprintError> {
        let p = self.pairing(person)?;
        sink.preflight()
            .map_err(|e| BlueprintError::Config(e.to_string()))?;
        let tokens = self.tokens(&p.user).await?;
        let Some((_, expires)) = tokens.iter().find(|(n, _)| *n == p.token) else {
            return Err(BlueprintError::NotFound(format!(
                "{} has no token {}: run `snowpat cli-user add {}` first",
                p.user, p.token, p.person
            )));
        };
        let now = super::server_now(&self.client).await?;
        let left = expires
            .map(|e| (e.epoch_millis() - now.epoch_millis()).max(0) / 3_600_000)
            .and_then(|h| u32::try_from(h).ok())
            .unwrap_or(0);
        let grace = grace_hours.min(left);
        let rs = self
            .change(
                USERADMIN,
                Statement::AlterUser {
                    if_exists: false,
                    user: Some(ident(&p.user)),
                    action: AlterUserAction::RotatePat {
                        if_exists: false,
                        name: ident(&p.token),
                        expire_rotated_token_after_hours: Some(i64::from(grace)),
                    },
                },
            )
            .await?;
        let secret = rs
            .first()
            .and_then(|r| r.secret("token_secret").ok())
            .ok_or_else(|| BlueprintError::Sink {
                sink: format!("{sink:?}"),
                message: "the ROTATE answer carried no token_secret".into(),
            })?;
        self.deliver(p, "rotated", secret, sink).await
    }

    /// `cli-user remove PERSON`: every token of the service user (rotated objects included),
    /// then the user, then the role.
    pub async fn remove(&self, person: &str) -> Result<CliUserOutcome, BlueprintError> {
        let p = self.pairing(person)?;
        if self.user_exists(&p.user).await? {
            for (name, _) in self.tokens(&p.user).await? {
                self.change(
                    USERADMIN,
                    Statement::AlterUser {
                        if_exists: true,
                        user: Some(ident(&p.user)),
                        action: AlterUserAction::RemovePat {
                            if_exists: true,
                            name: ident(&name),
                        },
                    },
                )
                .await?;
            }
            self.change(
                USERADMIN,
                Statement::DropUser {
                    if_exists: true,
                    name: ident(&p.user),
                },
            )
            .await?;
        }
        self.change(
            USERADMIN,
            Statement::DropRole {
                if_exists: true,
                name: ident(&p.role),
            },
        )
        .await?;
        Ok(CliUserOutcome {
            pairing: p,
            action: "removed".into(),
            expires_at: None,
            secret_sha256: None,
            secret: None,
        })
    }
}

/// Removes the `[name]` table from a connections.toml (kept: every other entry and comment),
/// written atomically 0600; absent file or entry: nothing to do.
pub fn remove_connection(
    path: &Path,
    name: &str,
) -> Result<bool, crate::cli_config::CliConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(crate::cli_config::CliConfigError::Read {
                path: PathBuf::from(path),
                source,
            })
        }
    };
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        crate::cli_config::CliConfigError::Parse {
            path: PathBuf::from(path),
            message: e.to_string(),
        }
    })?;
    if doc.remove(name).is_none() {
        return Ok(false);
    }
    crate::cli_config::write_atomic(path, &doc.to_string())?;
    Ok(true)
}
