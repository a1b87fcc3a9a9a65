//! The multi-tenant blueprint (seed 000, `[blueprint.multi-tenant]`): a runtime role that can only
//! call Cortex, an automation role and service user that provision deployment users and their
//! role-restricted PATs, a strict deployment authentication policy and a relaxed one for the
//! automation user, and (unless `allowed_cidrs = ["none"]`) a network rule and policy.
//!
//! Differences from the seed, each deliberate:
//! * the automation identity is an RSA key pair by default (`automation_auth = "pat"` opts into the
//!   seed's unrestricted PAT);
//! * the deployment policy is not handed to the automation role by OWNERSHIP (which would let it
//!   weaken the policy, `snowflake-behaviour.md` §4.3 "ALTER AUTHENTICATION POLICY") unless
//!   `--seed-compat`; by default the automation role gets APPLY on that policy object only (the
//!   privilege §4.2 asks for to name it). It gets no `APPLY AUTHENTICATION POLICY ON ACCOUNT`
//!   (which would let it re-policy any user, e.g. relax ADMIN's); instead provisioning grants
//!   `APPLY AUTHENTICATION POLICY ON USER <u>` for each deployment user it creates and owns — the
//!   second form §4.3 lists for `ALTER USER SET AUTHENTICATION POLICY`. An account-wide grant found
//!   on re-apply is revoked (drift);
//! * with CIDRs configured, PAT_POLICY uses `NETWORK_POLICY_EVALUATION = ENFORCED_REQUIRED`, and the
//!   network policy is attached at user level (§6.5: a service user must be subject to a policy
//!   with a network rule to generate or use a PAT): to the automation user here, and to each
//!   deployment user by provisioning. §4.3 lets only the policy's owner attach it
//!   (`CREATE USER ... NETWORK_POLICY`, `ALTER USER SET NETWORK_POLICY`), so OWNERSHIP of the
//!   network policy goes to the automation role. Trade-off: the automation role can then alter
//!   that policy (e.g. widen its IP lists or drop the rule); it does not own the network rule, so
//!   it cannot edit the rule's VALUE_LIST. The spec offers no narrower privilege for attaching a
//!   user-level network policy (no APPLY/ATTACH on a network policy object; the global ATTACH
//!   POLICY covers only the account-level policy), so this is the least it can hold; an audit
//!   should flag the ownership. With `allowed_cidrs = ["none"]` nothing is created or attached
//!   (ENFORCED_NOT_REQUIRED);
//! * the automation role is granted to SYSADMIN (`GRANT ROLE AUTOMATION_ROLE TO ROLE SYSADMIN`),
//!   Snowflake's recommended place for custom roles. §3.1: custom roles are not granted to
//!   ACCOUNTADMIN automatically, so ACCOUNTADMIN could not
//!   attach the network policy the automation role owns (§4.3), so `tenant provision` run as
//!   ACCOUNTADMIN failed with `003001`. Through SYSADMIN → AUTOMATION_ROLE, ACCOUNTADMIN's
//!   effective roles (§4.1) include the owner, and tenant commands work as ACCOUNTADMIN (with the
//!   warning `interfaces.md` asks for). The alternatives are worse: handing the network policy
//!   back to ACCOUNTADMIN would break provisioning by the automation identity, and granting the
//!   role straight to ACCOUNTADMIN leaves SYSADMIN unable to manage what the blueprint owns,
//!   against Snowflake's guidance. Trade-off: SYSADMIN sessions also hold the automation role's
//!   privileges (CREATE USER, the network policy, MPAM on deployment users); an administrator who
//!   can already use SYSADMIN is trusted with account objects anyway. The runtime role is not
//!   granted to SYSADMIN: it owns nothing, and ACCOUNTADMIN reaches it through its owner.
//!
//! Applying is idempotent: the account is read first and only what is missing or drifted is sent
//! (roles, grants, PAT_POLICY contents, the network rule's size and the fingerprint of its
//! VALUE_LIST kept in its COMMENT, the automation user's TYPE,
//! DEFAULT_ROLE, network policy, role, policy and key, who owns the deployment policy and network
//! policy, the automation role's grant to SYSADMIN, and an account-wide APPLY AUTHENTICATION
//! POLICY to revoke).

use std::collections::BTreeSet;

use secrecy::SecretString;
use snowpat_client::{Client, ResultSet};
use snowpat_sql::ast::{
    AddPat, AlterPolicyAction, AlterUserAction, CreateMode, CurrentGrants, Expr, GrantTarget,
    Grantee, Ident, ObjectKind, ObjectName, OwnershipTarget, PolicyOn, Privileges, Property,
    Select, SelectItem, ShowFilter, ShowGrantsTarget, ShowKind, ShowScope, Statement, Value,
};

use super::BlueprintError;
use crate::config::{AutomationAuth, MultiTenantConfig};
use crate::plan::{execute, Plan, Step};

/// The role used for role and grant management (seed step 1 and 2).
const SECURITYADMIN: &str = "SECURITYADMIN";
/// The role used for policies, users and account-level grants (seed step 3 and 4).
const ACCOUNTADMIN: &str = "ACCOUNTADMIN";
/// The system role custom roles are granted to (`snowflake-behaviour.md` §3.1).
const SYSADMIN: &str = "SYSADMIN";
/// The name of the automation PAT in `automation_auth = "pat"` mode (seed step 4).
pub const AUTOMATION_PAT: &str = "AUTOMATION_PAT";
/// The network rule and policy created when `allowed_cidrs` is not `["none"]`.
pub const NETWORK_RULE: &str = "SNOWPAT_DEPLOYMENT_INGRESS";
pub const NETWORK_POLICY: &str = "SNOWPAT_DEPLOYMENT_NETWORK_POLICY";
/// Roles no deployment PAT may be restricted to (seed step 3).
const BLOCKED_ROLES: [&str; 3] = ["ACCOUNTADMIN", "SYSADMIN", "SECURITYADMIN"];

/// Options of `bootstrap multi-tenant`.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Reproduce the seed's GRANT OWNERSHIP of the deployment policy to the automation role.
    pub seed_compat: bool,
}

/// The blueprint with its validated settings.
#[derive(Clone, Debug)]
pub struct MultiTenant {
    pub config: MultiTenantConfig,
    pub auth: AutomationAuth,
    pub cidrs: Option<Vec<String>>,
    pub options: Options,
}

/// What the reads found.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub roles: BTreeSet<String>,
    /// Owner of the runtime role.
    pub runtime_owner: Option<String>,
    pub database: bool,
    pub schema: bool,
    /// Policies in the schema: name → owner.
    pub policies: Vec<(String, String)>,
    /// PAT_POLICY text per existing policy.
    pub pat_policies: Vec<(String, String)>,
    pub network_rule: bool,
    /// `entries_in_valuelist` of the network rule.
    pub network_rule_entries: Option<u64>,
    /// The network rule's COMMENT (carries a fingerprint of its VALUE_LIST).
    pub network_rule_comment: Option<String>,
    pub network_policy: bool,
    /// (privilege, granted_on, name) to the runtime role.
    pub runtime_grants: Vec<(String, String, String)>,
    /// (privilege, granted_on, name) to the automation role.
    pub automation_grants: Vec<(String, String, String)>,
    pub user: bool,
    /// DESCRIBE USER property → value.
    pub user_props: Vec<(String, String)>,
    /// Roles granted to the automation user.
    pub user_roles: BTreeSet<String>,
    /// Roles granted to SYSADMIN (`SHOW GRANTS TO ROLE SYSADMIN`, `granted_on = ROLE`).
    pub sysadmin_roles: BTreeSet<String>,
    /// Authentication policy set on the automation user.
    pub user_policy: Option<String>,
    pub user_pats: BTreeSet<String>,
}

/// What `apply` produced: the key or PAT to deliver, if one was minted.
pub enum Minted {
    None,
    /// PKCS#8 PEM private key of the automation user.
    PrivateKey(SecretString),
    /// The automation PAT secret.
    Pat(SecretString),
}

fn ident(s: &str) -> Ident {
    Ident::new(s)
}

fn like(s: &str) -> ShowFilter {
    ShowFilter {
        like: Some(s.to_string()),
        ..ShowFilter::default()
    }
}

fn name_value(s: &str) -> Value {
    Value::Name(ObjectName::simple(s))
}

fn col(rs: &ResultSet, row: usize, name: &str) -> String {
    rs.rows()
        .get(row)
        .and_then(|r| r.get::<Option<String>>(name).ok().flatten())
        .unwrap_or_default()
}

fn rs_u64(rs: &ResultSet, row: usize, name: &str) -> Option<u64> {
    let row = rs.rows().get(row)?;
    row.get::<Option<u64>>(name)
        .ok()
        .flatten()
        .or_else(|| row.get::<Option<String>>(name).ok().flatten()?.parse().ok())
}

fn names(rs: &ResultSet) -> Vec<String> {
    (0..rs.len()).map(|i| col(rs, i, "name")).collect()
}

fn grants(rs: &ResultSet) -> Vec<(String, String, String)> {
    (0..rs.len())
        .map(|i| {
            (
                col(rs, i, "privilege"),
                col(rs, i, "granted_on"),
                col(rs, i, "name"),
            )
        })
        .collect()
}

impl MultiTenant {
    /// Validates `config` (the same checks as loading `snowpat.toml`).
    pub fn new(config: MultiTenantConfig, options: Options) -> Result<Self, BlueprintError> {
        let auth = config
            .auth()
            .map_err(|m| BlueprintError::Config(format!("automation_auth: {m}")))?;
        let cidrs = config
            .cidrs()
            .map_err(|m| BlueprintError::Config(format!("allowed_cidrs: {m}")))?;
        Ok(Self {
            config,
            auth,
            cidrs,
            options,
        })
    }

    fn schema_name(&self) -> ObjectName {
        ObjectName(vec![
            ident(&self.config.database),
            ident(&self.config.schema),
        ])
    }

    fn qualified(&self, name: &str) -> ObjectName {
        ObjectName(vec![
            ident(&self.config.database),
            ident(&self.config.schema),
            ident(name),
        ])
    }

    /// The fully qualified deployment policy (for `ALTER USER ... SET AUTHENTICATION POLICY`).
    pub fn deployment_policy(&self) -> ObjectName {
        self.qualified(&self.config.deployment_policy)
    }

    /// `NETWORK_POLICY_EVALUATION` of both policies.
    fn evaluation(&self) -> &'static str {
        if self.cidrs.is_some() {
            "ENFORCED_REQUIRED"
        } else {
            "ENFORCED_NOT_REQUIRED"
        }
    }

    /// PAT_POLICY as the seed's, with `require` for service users.
    fn pat_policy(&self, require: bool) -> Vec<Property> {
        vec![Property::new(
            "PAT_POLICY",
            Value::Properties(vec![
                Property::new("NETWORK_POLICY_EVALUATION", name_value(self.evaluation())),
                Property::new("MAX_EXPIRY_IN_DAYS", Value::Number("365".into())),
                Property::new("DEFAULT_EXPIRY_IN_DAYS", Value::Number("90".into())),
                Property::new(
                    "REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS",
                    Value::Bool(require),
                ),
                Property::new(
                    "BLOCKED_ROLES_LIST",
                    Value::List(
                        BLOCKED_ROLES
                            .iter()
                            .map(|r| Value::String((*r).to_string()))
                            .collect(),
                    ),
                ),
            ]),
        )]
    }

    /// Whether an observed PAT_POLICY text matches what [`Self::pat_policy`] sets.
    fn pat_policy_matches(&self, text: &str, require: bool) -> bool {
        let t = text.replace(' ', "").to_ascii_uppercase();
        let require = if require { "TRUE" } else { "FALSE" };
        t.contains(&format!("NETWORK_POLICY_EVALUATION={}", self.evaluation()))
            && t.contains(&format!(
                "REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS={require}"
            ))
            && t.contains("MAX_EXPIRY_IN_DAYS=365")
            && t.contains("DEFAULT_EXPIRY_IN_DAYS=90")
            && BLOCKED_ROLES.iter().all(|r| t.contains(r))
    }

    /// Privilege preflight: the applying identity must be able to use the roles the plan runs as.
    pub async fn preflight(&self, client: &Client) -> Result<(), BlueprintError> {
        let select = Statement::Select(Select {
            items: vec![SelectItem {
                expr: Expr::Function {
                    name: "CURRENT_AVAILABLE_ROLES".into(),
                    args: vec![],
                },
                alias: Some(ident("ROLES")),
            }],
            from: None,
            filter: vec![],
        });
        let rs = execute(client, &Step::read(None, select)).await?;
        let available: Vec<String> =
            serde_json::from_str(&col(&rs, 0, "ROLES")).unwrap_or_default();
        let missing: Vec<&str> = [SECURITYADMIN, ACCOUNTADMIN]
            .into_iter()
            .filter(|r| !available.iter().any(|a| a.eq_ignore_ascii_case(r)))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(BlueprintError::Preflight(format!(
                "the applying identity cannot use role(s) {} (needed for CREATE ROLE, GRANT, \
                 CREATE AUTHENTICATION POLICY and CREATE USER); it has {}",
                missing.join(", "),
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            )))
        }
    }

    /// With `existing_roles = true` (seed 002: an admin created the roles beforehand) the roles
    /// must already exist; snowpat never creates them.
    pub fn check_existing_roles(&self, o: &Observed) -> Result<(), BlueprintError> {
        if !self.config.existing_roles {
            return Ok(());
        }
        let missing: Vec<&str> = [&self.config.runtime_role, &self.config.automation_role]
            .into_iter()
            .filter(|r| !o.roles.contains(*r))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(BlueprintError::Preflight(format!(
                "existing_roles = true but role(s) {} do not exist; create them first or set \
                 existing_roles = false",
                missing.join(", ")
            )))
        }
    }

    /// Reads the account (SHOW / DESCRIBE only), as ACCOUNTADMIN.
    pub async fn observe(&self, client: &Client) -> Result<Observed, BlueprintError> {
        let c = &self.config;
        let read = |s: Statement| Step::read(Some(ACCOUNTADMIN), s);
        let mut o = Observed::default();
        for role in [&c.runtime_role, &c.automation_role] {
            let rs = execute(
                client,
                &read(Statement::ShowRoles {
                    terse: false,
                    filter: like(role),
                }),
            )
            .await?;
            for i in 0..rs.len() {
                let name = col(&rs, i, "name");
                if name == *role {
                    if *role == c.runtime_role {
                        o.runtime_owner = Some(col(&rs, i, "owner"));
                    }
                    o.roles.insert(name);
                }
            }
        }
        let dbs = execute(
            client,
            &read(Statement::ShowObjects {
                kind: ShowKind::Databases,
                filter: like(&c.database),
                scope: None,
            }),
        )
        .await?;
        o.database = names(&dbs).contains(&c.database);
        if o.database {
            let schemas = execute(
                client,
                &read(Statement::ShowObjects {
                    kind: ShowKind::Schemas,
                    filter: like(&c.schema),
                    scope: Some(ShowScope::Database(ident(&c.database))),
                }),
            )
            .await?;
            o.schema = names(&schemas).contains(&c.schema);
        }
        if o.schema {
            let rs = execute(
                client,
                &read(Statement::ShowAuthenticationPolicies {
                    filter: ShowFilter::default(),
                    scope: Some(ShowScope::Schema(self.schema_name())),
                    on: None,
                }),
            )
            .await?;
            for i in 0..rs.len() {
                o.policies.push((col(&rs, i, "name"), col(&rs, i, "owner")));
            }
            for policy in [&c.deployment_policy, &c.automation_policy] {
                if o.policies.iter().any(|(n, _)| n == policy) {
                    let rs = execute(
                        client,
                        &read(Statement::DescribeAuthenticationPolicy {
                            name: self.qualified(policy),
                        }),
                    )
                    .await?;
                    for i in 0..rs.len() {
                        if col(&rs, i, "property") == "PAT_POLICY" {
                            o.pat_policies.push((policy.clone(), col(&rs, i, "value")));
                        }
                    }
                }
            }
            let rules = execute(
                client,
                &read(Statement::ShowObjects {
                    kind: ShowKind::NetworkRules,
                    filter: like(NETWORK_RULE),
                    scope: Some(ShowScope::Schema(self.schema_name())),
                }),
            )
            .await?;
            o.network_rule = names(&rules).iter().any(|n| n == NETWORK_RULE);
            if let Some(i) = names(&rules).iter().position(|n| n == NETWORK_RULE) {
                o.network_rule_entries = rs_u64(&rules, i, "entries_in_valuelist");
                o.network_rule_comment = Some(col(&rules, i, "comment"));
            }
        }
        let policies = execute(
            client,
            &read(Statement::ShowObjects {
                kind: ShowKind::NetworkPolicies,
                filter: like(NETWORK_POLICY),
                scope: None,
            }),
        )
        .await?;
        o.network_policy = names(&policies).iter().any(|n| n == NETWORK_POLICY);
        if o.roles.contains(&c.runtime_role) {
            let rs = execute(
                client,
                &read(Statement::ShowGrants(ShowGrantsTarget::ToRole(ident(
                    &c.runtime_role,
                )))),
            )
            .await?;
            o.runtime_grants = grants(&rs);
        }
        if o.roles.contains(&c.automation_role) {
            let rs = execute(
                client,
                &read(Statement::ShowGrants(ShowGrantsTarget::ToRole(ident(
                    &c.automation_role,
                )))),
            )
            .await?;
            o.automation_grants = grants(&rs);
        }
        let rs = execute(
            client,
            &read(Statement::ShowGrants(ShowGrantsTarget::ToRole(ident(
                SYSADMIN,
            )))),
        )
        .await?;
        o.sysadmin_roles = grants(&rs)
            .into_iter()
            .filter(|(p, on, _)| p == "USAGE" && on == "ROLE")
            .map(|(_, _, name)| name)
            .collect();
        let users = execute(
            client,
            &read(Statement::ShowUsers {
                terse: false,
                filter: like(&c.automation_user),
            }),
        )
        .await?;
        o.user = names(&users).contains(&c.automation_user);
        if o.user {
            let user = ident(&c.automation_user);
            let rs = execute(
                client,
                &read(Statement::DescribeUser { name: user.clone() }),
            )
            .await?;
            for i in 0..rs.len() {
                o.user_props
                    .push((col(&rs, i, "property"), col(&rs, i, "value")));
            }
            let rs = execute(
                client,
                &read(Statement::ShowGrants(ShowGrantsTarget::ToUser(
                    user.clone(),
                ))),
            )
            .await?;
            o.user_roles = (0..rs.len()).map(|i| col(&rs, i, "role")).collect();
            let rs = execute(
                client,
                &read(Statement::ShowAuthenticationPolicies {
                    filter: ShowFilter::default(),
                    scope: None,
                    on: Some(PolicyOn::User(user.clone())),
                }),
            )
            .await?;
            o.user_policy = rs.first().map(|_| col(&rs, 0, "name"));
            if self.auth == AutomationAuth::Pat {
                let rs = execute(
                    client,
                    &read(Statement::ShowUserPats {
                        for_user: Some(user),
                    }),
                )
                .await?;
                o.user_pats = names(&rs).into_iter().collect();
            }
        }
        Ok(o)
    }

    /// The changes that take the observed account to the blueprint. `public_key` is the base64
    /// DER key to set when the automation user has none (key-pair mode).
    pub fn plan(&self, o: &Observed, public_key: Option<&str>) -> Plan {
        let c = &self.config;
        let mut steps = Vec::new();
        let runtime = ident(&c.runtime_role);
        let automation = ident(&c.automation_role);
        let has_grant = |grants: &[(String, String, String)], p: &str, on: &str, name: &str| {
            grants.iter().any(|(gp, gon, gn)| {
                gp.eq_ignore_ascii_case(p)
                    && gon.eq_ignore_ascii_case(on)
                    && (name.is_empty() || gn.eq_ignore_ascii_case(name) || gn.ends_with(name))
            })
        };

        // Seed step 1: the runtime role.
        if !o.roles.contains(&c.runtime_role) && !c.existing_roles {
            steps.push(Step::change(
                SECURITYADMIN,
                "runtime role (seed step 1)",
                Statement::CreateRole {
                    or_replace: false,
                    if_not_exists: true,
                    name: runtime.clone(),
                    comment: Some("Runtime role for Cortex REST API access only".into()),
                },
            ));
        }
        if !has_grant(
            &o.runtime_grants,
            "USAGE",
            "DATABASE_ROLE",
            "CORTEX_REST_API_USER",
        ) {
            steps.push(Step::change(
                SECURITYADMIN,
                "Cortex REST API access for the runtime role (seed step 1)",
                Statement::GrantDatabaseRole {
                    role: ObjectName(vec![ident("SNOWFLAKE"), ident("CORTEX_REST_API_USER")]),
                    to: Grantee::Role(runtime.clone()),
                },
            ));
        }
        // Seed step 2: the automation role.
        if !o.roles.contains(&c.automation_role) && !c.existing_roles {
            steps.push(Step::change(
                SECURITYADMIN,
                "automation role (seed step 2)",
                Statement::CreateRole {
                    or_replace: false,
                    if_not_exists: true,
                    name: automation.clone(),
                    comment: Some(
                        "Control plane role for provisioning deployment users and PATs".into(),
                    ),
                },
            ));
        }
        if !has_grant(&o.automation_grants, "CREATE USER", "ACCOUNT", "") {
            steps.push(Step::change(
                SECURITYADMIN,
                "the automation role creates deployment users (seed step 2)",
                Statement::GrantPrivileges {
                    privileges: Privileges::List(vec!["CREATE USER".into()]),
                    on: GrantTarget::Account,
                    to_role: automation.clone(),
                    with_grant_option: false,
                },
            ));
        }
        if o.runtime_owner.as_deref() != Some(c.automation_role.as_str()) {
            steps.push(Step::change(
                SECURITYADMIN,
                "the automation role grants the runtime role (seed step 2)",
                Statement::GrantOwnership {
                    on: OwnershipTarget::Object {
                        kind: ObjectKind::Role,
                        name: ObjectName(vec![runtime.clone()]),
                    },
                    to_role: automation.clone(),
                    current_grants: Some(CurrentGrants::Copy),
                },
            ));
        }
        // The automation role joins the SYSADMIN hierarchy (Snowflake's recommended place for
        // custom roles), so ACCOUNTADMIN inherits what it owns: see the module doc.
        if !o.sysadmin_roles.contains(&c.automation_role) {
            steps.push(Step::change(
                SECURITYADMIN,
                "the automation role under SYSADMIN, so ACCOUNTADMIN inherits what it owns",
                Statement::GrantRole {
                    role: automation.clone(),
                    to: Grantee::Role(ident(SYSADMIN)),
                    with_grant_option: false,
                },
            ));
        }
        // Seed step 3: where the policies live, and the policies.
        if !o.database {
            steps.push(Step::change(
                ACCOUNTADMIN,
                "database for policies and network rules",
                Statement::CreateDatabase {
                    or_replace: false,
                    if_not_exists: true,
                    name: ident(&c.database),
                    comment: None,
                },
            ));
        }
        if !o.schema {
            steps.push(Step::change(
                ACCOUNTADMIN,
                "schema for policies and network rules",
                Statement::CreateSchema {
                    or_replace: false,
                    if_not_exists: true,
                    name: self.schema_name(),
                    comment: None,
                },
            ));
        }
        // Without --seed-compat, an automation role that owns the deployment policy (an earlier
        // --seed-compat apply, or a hand-made grant) could weaken it: take it back first.
        let automation_owns_policy = o
            .policies
            .iter()
            .any(|(n, owner)| *n == c.deployment_policy && *owner == c.automation_role);
        if !self.options.seed_compat && automation_owns_policy {
            steps.push(Step::change(
                ACCOUNTADMIN,
                "the automation role must not own the deployment policy (use APPLY)",
                Statement::GrantOwnership {
                    on: OwnershipTarget::Object {
                        kind: ObjectKind::AuthenticationPolicy,
                        name: self.deployment_policy(),
                    },
                    to_role: ident(ACCOUNTADMIN),
                    current_grants: None,
                },
            ));
        }
        for (policy, require, what) in [
            (
                &c.deployment_policy,
                true,
                "strict deployment policy (seed step 3)",
            ),
            (
                &c.automation_policy,
                false,
                "relaxed automation policy (seed step 3)",
            ),
        ] {
            let exists = o.policies.iter().any(|(n, _)| n == policy);
            if !exists {
                steps.push(Step::change(
                    ACCOUNTADMIN,
                    what,
                    Statement::CreateAuthenticationPolicy {
                        create: CreateMode::Create,
                        if_not_exists: true,
                        name: self.qualified(policy),
                        properties: self.pat_policy(require),
                    },
                ));
            } else {
                let text = o
                    .pat_policies
                    .iter()
                    .find(|(n, _)| n == policy)
                    .map(|(_, t)| t.as_str())
                    .unwrap_or("");
                if !self.pat_policy_matches(text, require) {
                    let owner = o
                        .policies
                        .iter()
                        .find(|(n, _)| n == policy)
                        .map(|(_, owner)| owner.clone())
                        .filter(|owner| !owner.is_empty())
                        .filter(|_| self.options.seed_compat || !automation_owns_policy)
                        .unwrap_or_else(|| ACCOUNTADMIN.to_string());
                    steps.push(Step::change(
                        &owner,
                        format!("{what}: PAT_POLICY drifted"),
                        Statement::AlterAuthenticationPolicy {
                            if_exists: false,
                            name: self.qualified(policy),
                            action: AlterPolicyAction::Set(self.pat_policy(require)),
                        },
                    ));
                }
            }
        }
        if let Some(cidrs) = &self.cidrs {
            // SHOW NETWORK RULES gives the entry count but not the values (there is no DESCRIBE
            // NETWORK RULE in the spec), so the rule's COMMENT carries a SHA-256 of its
            // VALUE_LIST: a changed allowed_cidrs, or a rule replaced by hand, shows as drift.
            let comment = cidrs_comment(cidrs);
            let count_drift = o.network_rule
                && (o
                    .network_rule_entries
                    .is_some_and(|n| n != cidrs.len() as u64)
                    || o.network_rule_comment.as_deref() != Some(comment.as_str()));
            if !o.network_rule || count_drift {
                steps.push(Step::change(
                    ACCOUNTADMIN,
                    if count_drift {
                        "ingress network rule: VALUE_LIST drifted from allowed_cidrs"
                    } else {
                        "ingress network rule from allowed_cidrs"
                    },
                    Statement::CreateNetworkRule {
                        or_replace: count_drift,
                        if_not_exists: !count_drift,
                        name: self.qualified(NETWORK_RULE),
                        properties: vec![
                            Property::new("TYPE", name_value("IPV4")),
                            Property::new("MODE", name_value("INGRESS")),
                            Property::new(
                                "VALUE_LIST",
                                Value::List(
                                    cidrs.iter().map(|c| Value::String(c.clone())).collect(),
                                ),
                            ),
                            Property::new("COMMENT", Value::String(comment)),
                        ],
                    },
                ));
            }
            if !o.network_policy {
                let rule = self.qualified(NETWORK_RULE);
                let rule_text = rule
                    .0
                    .iter()
                    .map(|i| i.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                steps.push(Step::change(
                    ACCOUNTADMIN,
                    "network policy for deployment users (ENFORCED_REQUIRED)",
                    Statement::CreateNetworkPolicy {
                        or_replace: false,
                        if_not_exists: true,
                        name: ident(NETWORK_POLICY),
                        properties: vec![Property::new(
                            "ALLOWED_NETWORK_RULE_LIST",
                            Value::List(vec![Value::String(rule_text)]),
                        )],
                    },
                ));
            }
        }
        // The automation role may reference the deployment policy.
        if !has_grant(&o.automation_grants, "USAGE", "DATABASE", &c.database) {
            steps.push(Step::change(
                ACCOUNTADMIN,
                "the automation role sees the policy database",
                Statement::GrantPrivileges {
                    privileges: Privileges::List(vec!["USAGE".into()]),
                    on: GrantTarget::Object {
                        kind: ObjectKind::Database,
                        name: ObjectName::simple(c.database.clone()),
                    },
                    to_role: automation.clone(),
                    with_grant_option: false,
                },
            ));
        }
        if !has_grant(&o.automation_grants, "USAGE", "SCHEMA", &c.schema) {
            steps.push(Step::change(
                ACCOUNTADMIN,
                "the automation role sees the policy schema",
                Statement::GrantPrivileges {
                    privileges: Privileges::List(vec!["USAGE".into()]),
                    on: GrantTarget::Object {
                        kind: ObjectKind::Schema,
                        name: self.schema_name(),
                    },
                    to_role: automation.clone(),
                    with_grant_option: false,
                },
            ));
        }
        if self.options.seed_compat {
            let owner = o
                .policies
                .iter()
                .find(|(n, _)| *n == c.deployment_policy)
                .map(|(_, owner)| owner.as_str());
            if owner != Some(c.automation_role.as_str()) {
                steps.push(Step::change(
                    ACCOUNTADMIN,
                    "--seed-compat: the automation role owns the deployment policy (seed step 3)",
                    Statement::GrantOwnership {
                        on: OwnershipTarget::Object {
                            kind: ObjectKind::AuthenticationPolicy,
                            name: self.deployment_policy(),
                        },
                        to_role: automation.clone(),
                        current_grants: None,
                    },
                ));
            }
        } else if !has_grant(
            &o.automation_grants,
            "APPLY",
            "AUTHENTICATION_POLICY",
            &c.deployment_policy,
        ) {
            steps.push(Step::change(
                ACCOUNTADMIN,
                "the automation role may reference (but not alter) the deployment policy",
                Statement::GrantPrivileges {
                    privileges: Privileges::List(vec!["APPLY".into()]),
                    on: GrantTarget::Object {
                        kind: ObjectKind::AuthenticationPolicy,
                        name: self.deployment_policy(),
                    },
                    to_role: automation.clone(),
                    with_grant_option: false,
                },
            ));
        }
        // Account-wide APPLY AUTHENTICATION POLICY would let the automation role re-policy any
        // user; provisioning grants it per deployment user instead (§4.3).
        if has_grant(
            &o.automation_grants,
            "APPLY AUTHENTICATION POLICY",
            "ACCOUNT",
            "",
        ) {
            steps.push(Step::change(
                ACCOUNTADMIN,
                "drift: the automation role must not apply authentication policies account-wide",
                Statement::RevokePrivileges {
                    grant_option_for: false,
                    privileges: Privileges::List(vec!["APPLY AUTHENTICATION POLICY".into()]),
                    on: GrantTarget::Account,
                    from_role: automation.clone(),
                    behavior: None,
                },
            ));
        }
        // Seed step 4: the automation user.
        let user = ident(&c.automation_user);
        let prop = |name: &str| {
            o.user_props
                .iter()
                .find(|(p, _)| p == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        // The deployment network policy: attached to the automation user here (as ACCOUNTADMIN,
        // which must own it for that, §4.3), then owned by the automation role so provisioning
        // can attach it to each deployment user.
        let np_value = Value::Name(ObjectName::simple(NETWORK_POLICY));
        let automation_owns_np = has_grant(
            &o.automation_grants,
            "OWNERSHIP",
            "NETWORK_POLICY",
            NETWORK_POLICY,
        );
        let attach_np = self.cidrs.is_some()
            && !(o.user && prop("NETWORK_POLICY").eq_ignore_ascii_case(NETWORK_POLICY));
        if attach_np && automation_owns_np {
            steps.push(Step::change(
                ACCOUNTADMIN,
                "network policy back to ACCOUNTADMIN to attach it to the automation user",
                Statement::GrantOwnership {
                    on: OwnershipTarget::Object {
                        kind: ObjectKind::NetworkPolicy,
                        name: ObjectName::simple(NETWORK_POLICY),
                    },
                    to_role: ident(ACCOUNTADMIN),
                    current_grants: None,
                },
            ));
        }
        if !o.user {
            let mut properties = vec![
                Property::new("TYPE", name_value("SERVICE")),
                Property::new(
                    "DEFAULT_ROLE",
                    Value::Name(ObjectName(vec![automation.clone()])),
                ),
            ];
            if attach_np {
                properties.push(Property::new("NETWORK_POLICY", np_value.clone()));
            }
            steps.push(Step::change(
                ACCOUNTADMIN,
                "automation service user (seed step 4)",
                Statement::CreateUser {
                    or_replace: false,
                    if_not_exists: true,
                    name: user.clone(),
                    properties,
                },
            ));
        } else {
            let mut drift = Vec::new();
            if !prop("TYPE").eq_ignore_ascii_case("SERVICE") {
                drift.push(Property::new("TYPE", name_value("SERVICE")));
            }
            if prop("DEFAULT_ROLE") != c.automation_role {
                drift.push(Property::new(
                    "DEFAULT_ROLE",
                    Value::Name(ObjectName(vec![automation.clone()])),
                ));
            }
            if attach_np {
                drift.push(Property::new("NETWORK_POLICY", np_value.clone()));
            }
            if !drift.is_empty() {
                steps.push(Step::change(
                    ACCOUNTADMIN,
                    "automation user TYPE / DEFAULT_ROLE / NETWORK_POLICY drifted",
                    Statement::AlterUser {
                        if_exists: false,
                        user: Some(user.clone()),
                        action: AlterUserAction::Set(drift),
                    },
                ));
            }
        }
        if self.cidrs.is_some() && (attach_np || !automation_owns_np) {
            steps.push(Step::change(
                ACCOUNTADMIN,
                "the automation role owns the deployment network policy (to attach it, §4.3)",
                Statement::GrantOwnership {
                    on: OwnershipTarget::Object {
                        kind: ObjectKind::NetworkPolicy,
                        name: ObjectName::simple(NETWORK_POLICY),
                    },
                    to_role: automation.clone(),
                    current_grants: None,
                },
            ));
        }
        if !o.user_roles.contains(&c.automation_role) {
            steps.push(Step::change(
                ACCOUNTADMIN,
                "automation user gets the automation role (seed step 4)",
                Statement::GrantRole {
                    role: automation.clone(),
                    to: Grantee::User(user.clone()),
                    with_grant_option: false,
                },
            ));
        }
        if o.user_policy.as_deref() != Some(c.automation_policy.as_str()) {
            steps.push(Step::change(
                ACCOUNTADMIN,
                "relaxed policy on the automation user (seed step 4)",
                Statement::AlterUser {
                    if_exists: false,
                    user: Some(user.clone()),
                    action: AlterUserAction::SetAuthenticationPolicy {
                        policy: self.qualified(&c.automation_policy),
                        force: o.user_policy.is_some(),
                    },
                },
            ));
        }
        match self.auth {
            AutomationAuth::KeyPair => {
                // Either slot counts: after --rotate-automation-key the key may live in _2.
                if key_fingerprints(o).is_empty() {
                    steps.push(Step::change(
                        ACCOUNTADMIN,
                        "automation identity: a generated RSA key (private key to --sink)",
                        Statement::AlterUser {
                            if_exists: false,
                            user: Some(user),
                            action: AlterUserAction::Set(vec![Property::new(
                                "RSA_PUBLIC_KEY",
                                Value::String(public_key.unwrap_or("").to_string()),
                            )]),
                        },
                    ));
                }
            }
            AutomationAuth::Pat => {
                if !o.user_pats.contains(AUTOMATION_PAT) {
                    steps.push(Step::change(
                        ACCOUNTADMIN,
                        "automation identity: unrestricted PAT (seed step 4; secret to --sink)",
                        Statement::AlterUser {
                            if_exists: false,
                            user: Some(user),
                            action: AlterUserAction::AddPat(AddPat {
                                if_not_exists: false,
                                name: ident(AUTOMATION_PAT),
                                role_restriction: None,
                                days_to_expiry: Some(90),
                                mins_to_bypass_network_policy_requirement: None,
                                comment: Some("Control plane PAT - no role restriction".into()),
                            }),
                        },
                    ));
                }
            }
        }
        Plan { steps }
    }

    /// True when the plan mints a credential (and so needs a sink).
    pub fn mints(plan: &Plan) -> bool {
        plan.changes().any(|s| {
            matches!(
                &s.statement,
                Statement::AlterUser {
                    action: AlterUserAction::AddPat(_),
                    ..
                }
            ) || matches!(
                &s.statement,
                Statement::AlterUser { action: AlterUserAction::Set(p), .. }
                    if p.iter().any(|p| p.name.as_str() == "RSA_PUBLIC_KEY")
            )
        })
    }

    /// The `[connection]` snippet for the automation identity.
    pub fn connection_snippet(&self, url: &str, credential_file: &str) -> String {
        let key = match self.auth {
            AutomationAuth::KeyPair => "private_key_file",
            AutomationAuth::Pat => "token_file",
        };
        let q = |s: &str| toml_string(s);
        format!(
            "[connection]\nurl = {}\nuser = {}\nrole = {}\n{key} = {}\n",
            q(url),
            q(&self.config.automation_user),
            q(&self.config.automation_role),
            q(credential_file)
        )
    }
}

/// The network rule's COMMENT: a SHA-256 of the CIDRs, in order.
fn cidrs_comment(cidrs: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for c in cidrs {
        h.update(c.as_bytes());
        h.update(b"\n");
    }
    format!("snowpat allowed_cidrs sha256:{}", hex::encode(h.finalize()))
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The fingerprints of the automation user's keys: (`RSA_PUBLIC_KEY` or `RSA_PUBLIC_KEY_2`, fp).
pub fn key_fingerprints(o: &Observed) -> Vec<(&'static str, String)> {
    [
        ("RSA_PUBLIC_KEY", "RSA_PUBLIC_KEY_FP"),
        ("RSA_PUBLIC_KEY_2", "RSA_PUBLIC_KEY_2_FP"),
    ]
    .into_iter()
    .filter_map(|(slot, fp)| {
        let value = o
            .user_props
            .iter()
            .find(|(p, _)| p == fp)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        (!value.is_empty() && value != "null").then_some((slot, value))
    })
    .collect()
}

/// Whether the private key in a sink belongs to a key Snowflake has for the automation user.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum KeyStatus {
    /// Snowflake has no key for the automation user (the next apply sets one).
    NoKey,
    /// The sink's private key matches this slot.
    Held(&'static str),
    /// Snowflake has these key fingerprints, and the sink has no private key for any of them.
    Lost { fingerprints: Vec<String> },
}

/// `SHA256:...` of the private key in `path` (as DESCRIBE USER prints it), if it is a readable key.
pub fn sink_fingerprint(path: &std::path::Path) -> Option<String> {
    snowpat_client::KeyPair::from_file("ACCOUNT", "USER", path)
        .ok()
        .map(|k| k.fingerprint().to_string())
}

/// Compares the automation user's keys with the private key in `sink`.
pub fn key_status(o: &Observed, sink: &super::FileSink) -> KeyStatus {
    let keys = key_fingerprints(o);
    if !o.user || keys.is_empty() {
        return KeyStatus::NoKey;
    }
    let held = sink_fingerprint(&sink.0);
    match keys.iter().find(|(_, fp)| Some(fp) == held.as_ref()) {
        Some((slot, _)) => KeyStatus::Held(slot),
        None => KeyStatus::Lost {
            fingerprints: keys.into_iter().map(|(_, fp)| fp).collect(),
        },
    }
}

/// What `--rotate-automation-key` did.
#[derive(Debug)]
pub struct KeyRotation {
    /// `rotated` (or `rotated after finishing an interrupted rotation`).
    pub action: &'static str,
    /// The slot that now holds the key whose private half is in the sink.
    pub slot: &'static str,
    pub fingerprint: String,
    /// The slot unset at the end, if one was set.
    pub unset: Option<&'static str>,
}

impl MultiTenant {
    async fn current_account(&self, client: &Client) -> Result<String, BlueprintError> {
        let rs = execute(
            client,
            &Step::read(
                None,
                Statement::Select(Select {
                    items: vec![SelectItem {
                        expr: Expr::Function {
                            name: "CURRENT_ACCOUNT".into(),
                            args: vec![],
                        },
                        alias: Some(ident("A")),
                    }],
                    from: None,
                    filter: vec![],
                }),
            ),
        )
        .await?;
        Ok(col(&rs, 0, "A"))
    }

    /// Opens a key-pair session as the automation user with `pem`; an error unless it works.
    async fn verify_key(
        &self,
        client: &Client,
        account: &str,
        pem: &SecretString,
    ) -> Result<(), BlueprintError> {
        let key = snowpat_client::KeyPair::from_pem(account, &self.config.automation_user, pem)
            .map_err(|e| BlueprintError::Key(e.to_string()))?;
        let session = client.with_credential(snowpat_client::Credential::KeyPair(key));
        let who = execute(
            &session,
            &Step::read(
                Some(&self.config.automation_role),
                Statement::Select(Select {
                    items: vec![SelectItem {
                        expr: Expr::Function {
                            name: "CURRENT_USER".into(),
                            args: vec![],
                        },
                        alias: Some(ident("U")),
                    }],
                    from: None,
                    filter: vec![],
                }),
            ),
        )
        .await?;
        if col(&who, 0, "U") == self.config.automation_user {
            Ok(())
        } else {
            Err(BlueprintError::Key(format!(
                "the new key opened a session as {:?}, not {}",
                col(&who, 0, "U"),
                self.config.automation_user
            )))
        }
    }

    async fn unset_key(&self, client: &Client, slot: &str) -> Result<(), BlueprintError> {
        execute(
            client,
            &Step::change(
                ACCOUNTADMIN,
                "retire the old automation key",
                Statement::AlterUser {
                    if_exists: false,
                    user: Some(ident(&self.config.automation_user)),
                    action: AlterUserAction::Unset(vec![ident(slot)]),
                },
            ),
        )
        .await?;
        Ok(())
    }

    /// `bootstrap multi-tenant --rotate-automation-key`: a new key pair for the automation user,
    /// in this order, each step safe to crash after: set the new public key in the free slot
    /// (`RSA_PUBLIC_KEY_2` when the current key is in `RSA_PUBLIC_KEY`, and the other way round),
    /// deliver the private key to the sink, verify that a key-pair session as the automation
    /// user opens with it, then unset the old slot. A rerun after a crash finds the sink's key in
    /// one slot and another key in the other (a crash after the sink write, where the other is the
    /// old key, or before it, where the other was never delivered; they look the same): it
    /// verifies the sink's key, unsets the other slot, and rotates from there. A lost
    /// key file is repaired the same way, since the administrator, not the key, authorises this.
    pub async fn rotate_automation_key(
        &self,
        client: &Client,
        sink: &super::FileSink,
    ) -> Result<KeyRotation, BlueprintError> {
        if self.auth != AutomationAuth::KeyPair {
            return Err(BlueprintError::Config(
                "--rotate-automation-key needs automation_auth = \"keypair\"".into(),
            ));
        }
        sink.preflight()?;
        self.preflight(client).await?;
        let o = self.observe(client).await?;
        if !o.user {
            return Err(BlueprintError::NotFound(format!(
                "user {} does not exist: run `snowpat bootstrap multi-tenant --apply` first",
                self.config.automation_user
            )));
        }
        let keys = key_fingerprints(&o);
        let held = sink_fingerprint(&sink.0);
        let current = keys
            .iter()
            .find(|(_, fp)| Some(fp) == held.as_ref())
            .map(|(slot, _)| *slot);
        let other = |slot: &str| {
            if slot == "RSA_PUBLIC_KEY" {
                "RSA_PUBLIC_KEY_2"
            } else {
                "RSA_PUBLIC_KEY"
            }
        };
        let user = ident(&self.config.automation_user);
        let account = self.current_account(client).await?;
        let mut keys = keys;
        let mut action = "rotated";
        if let (Some(slot), 2) = (current, keys.len()) {
            // Both slots set and the sink holds one: either a crash after the sink write (the
            // other slot is the old key) or before it (the other slot is an undelivered key).
            // The two look the same; either way the other slot is not needed: verify the sink's
            // key, unset the other, and rotate from there.
            let pem = std::fs::read_to_string(&sink.0).map_err(|e| BlueprintError::Sink {
                sink: sink.0.display().to_string(),
                message: e.to_string(),
            })?;
            self.verify_key(client, &account, &SecretString::from(pem))
                .await?;
            self.unset_key(client, other(slot)).await?;
            keys.retain(|(s, _)| *s == slot);
            action = "rotated after finishing an interrupted rotation";
        }
        let target = match current {
            Some(slot) => other(slot),
            None if keys.iter().any(|(s, _)| *s == "RSA_PUBLIC_KEY") => "RSA_PUBLIC_KEY_2",
            None => "RSA_PUBLIC_KEY",
        };
        let (private, public) = super::generate_key()?;
        execute(
            client,
            &Step::change(
                ACCOUNTADMIN,
                "new automation key",
                Statement::AlterUser {
                    if_exists: false,
                    user: Some(user.clone()),
                    action: AlterUserAction::Set(vec![Property::new(
                        target,
                        Value::String(public),
                    )]),
                },
            ),
        )
        .await?;
        sink.write(&private)?;
        let fingerprint = sink_fingerprint(&sink.0).unwrap_or_default();
        let slot = target;
        // Verify before anything old is removed.
        self.verify_key(client, &account, &private).await?;
        let old = other(slot);
        let unset = if keys.iter().any(|(s, _)| *s == old) {
            self.unset_key(client, old).await?;
            Some(old)
        } else {
            None
        };
        Ok(KeyRotation {
            action,
            slot,
            fingerprint,
            unset,
        })
    }
}
