//! The account: catalog, statement semantics, privilege checks and credential verification.
//!
//! The contract with [`crate::server`]:
//!
//! * [`Account::new`] builds the start-up account of `snowflake-behaviour.md` §3.2.
//! * [`Account::authenticate`] turns a presented credential into a [`Session`] or an
//!   [`AuthError`] (§6.6, protocols §3.2).
//! * [`Account::execute`] runs one parsed statement in a session and answers a [`ResultSet`] or a
//!   [`SqlError`] (§9). It never panics on any statement the parser accepts.
//! * Every time-dependent rule reads [`Now`]: `account` (the account clock, moved only by the
//!   control API) for account objects, `real` for client-signed JWTs (§6.9).
//! * [`Account`] is `Serialize + Deserialize`: the server persists it for `--state`;
//!   [`Account::apply_config`] re-applies `--pat-session-rules` to a restored account.
//! * [`Account::internal_session`] opens a session the server uses for its own statements;
//!   [`Account::cortex_allowed`] is the Cortex role check (protocols §7.1).
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | `catalog` | the data model (§2): users, roles, objects keyed by numeric id, grants, PAT records |
//! | `privileges` | effective roles (§4.1), privilege checks (§4.2), name resolution (§1.1) |
//! | `users` | CREATE/ALTER/DROP/DESCRIBE USER (§5.1–§5.3) |
//! | `roles_grants` | roles, GRANT/REVOKE of roles, privileges, database roles, ownership (§5.4–§5.8) |
//! | `policies` | authentication policies (§5.9), effective policy (§5.9.5), ALTER ACCOUNT (§5.10) |
//! | `network` | network rules and policies, their evaluation and the PAT network requirement (§5.11, §6.5) |
//! | `pats` | ADD/ROTATE/MODIFY/REMOVE and SHOW USER PATS (§5.12, §6.1–§6.5, §6.7, §6.8) |
//! | `objects` | databases, schemas, secrets, integrations and the admin/runtime objects (§5.13–§5.15, §5.20, §5.21) |
//! | `show` | SHOW USERS/ROLES/GRANTS/... (§5.17) |
//! | `select` | the SELECT subset, including `SNOWFLAKE.ACCOUNT_USAGE.CREDENTIALS` (§5.18) |
//! | `auth` | credential verification: PATs (§6.6), key-pair JWTs (protocols §3), passwords |
//! | `oauth` | security integrations (§5.14), External OAuth JWTs and Snowflake OAuth codes, grants, tokens (protocols §5, §6) |
//! | `errors` | the error catalogue (§9), each text written once |
//!
//! # Rules worth knowing
//!
//! * Ownership of a created object goes to the session's primary role (§2). CREATE checks use the
//!   primary role's closure; every other check uses primary + secondary roles + PUBLIC (§4.2).
//! * A failed check answers `002003` when the caller holds nothing on the object (it cannot see
//!   it) and `003001` when it can; users, roles and the account are always visible (§4.2).
//! * PAT secrets are generated with `OsRng`, at least 40 URL-safe characters without `.`; only their
//!   SHA-256 digests are stored and compared in constant time (§6.8).
//! * PAT status is computed on read: EXPIRED (now ≥ expires_at) before DISABLED (§6.1); expired
//!   tokens are purged 7 days after expiry.
//! * [`ResultSet::changed`] is true exactly when the statement changed the account (what the
//!   statement touched is compared with its old value; failed statements are rolled back and
//!   change nothing), and
//!   [`ResultSet::carries_secret`] for ADD and ROTATE rows that carry a secret.
//! * `--pat-session-rules` ([`PatSessionRules`]) selects the §6.7 session rules S2–S5.
//! * The SQL API's "USE only in multi-statement requests" (391911) is the server's business; the
//!   engine executes USE normally.
//!
//! # Authentication (§6.6, protocols §1.3, §3.2)
//!
//! * Bearer tokens without a type header: a JWT-looking token (three base64url segments, JSON
//!   payload) whose `iss` is `<ACCOUNT>.<USER>.SHA256:<fp>` is a key-pair JWT, one whose `iss` is
//!   an enabled EXTERNAL_OAUTH integration's issuer is External OAuth, any other JWT is
//!   `390144`; an access token issued at `/oauth/token-request` is OAuth; anything else is a PAT.
//!   With a header the token is validated only as that type.
//! * OAuth (module `oauth`, protocols §5–§6): External OAuth JWTs in the order of §5.4 (`390303`,
//!   expired `390318`, then `390202`/`099918`); Snowflake OAuth access tokens by digest (`390303`
//!   revoked or rotated away, `390318` expired on the account clock). [`AuthMethod::OAuth`]
//!   sessions get the §6.7 S4/S5 rules, no secondary roles, and `USE ROLE` only as
//!   ANY_ROLE_MODE allows ([`Session::oauth_integration`]).
//! * PATs: the eleven checks of §6.6 in order (`394400`, `390432`, `099918`, `390202`, `390186`,
//!   `099926`); a PAT in the driver's password field takes the same path.
//! * Key-pair JWTs: RS256 only, `iss`/`sub` for this account, fingerprint of `RSA_PUBLIC_KEY` or
//!   `RSA_PUBLIC_KEY_2`, PKCS#1 v1.5 SHA-256 signature, `iat`/`exp` against real time (one-hour
//!   rule, 60 s skew on `iat`), then network and authentication policy; failures `390144`, a
//!   disabled user `099921`.
//! * Passwords (driver): `390100`; five failures lock the user for 15 minutes (its PATs stay
//!   usable).
//!
//! # Not modelled
//!
//! JWKS URLs and ES256/384/512 keys of External OAuth integrations, client key-pair auth at the
//! token endpoint (protocols §6.6), CLIENT_TYPES/MFA enforcement,
//! ES256 key-pair JWTs, named secondary-role lists, `KEYPAIR` rows in `ACCOUNT_USAGE.CREDENTIALS`.
//!
//! # Start-up account (§3.2)
//!
//! System roles ACCOUNTADMIN, SECURITYADMIN, USERADMIN, SYSADMIN, PUBLIC with their default
//! privileges and hierarchy; database `SNOWFLAKE` with database roles CORTEX_USER (granted to
//! PUBLIC), CORTEX_AGENT_USER, AI_FUNCTIONS_USER, COPILOT_USER, CORTEX_REST_API_USER and schema
//! `SNOWFLAKE.EMULATOR` holding the loopback network rules `LOOPBACK_V4`/`LOOPBACK_V6` and ADMIN's
//! authentication policy `EMULATOR_ADMIN_AUTH`; network policy `EMULATOR_ADMIN_LOOPBACK` on user
//! ADMIN and, unless disabled, the account-level network policy `EMULATOR_LOOPBACK`.
//! The server adds ADMIN's PAT and RSA key by executing `ALTER USER ADMIN ADD PAT ...` and
//! `ALTER USER ADMIN SET RSA_PUBLIC_KEY = '...'` in [`Account::internal_session`].

mod auth;
mod catalog;
mod error;
mod errors;
mod mcp;
mod network;
mod oauth;
mod objects;
mod pats;
mod policies;
mod privileges;
mod props;
mod result;
mod roles_grants;
mod select;
mod session;
mod show;
mod users;

#[cfg(test)]
mod tests;

pub use error::{AuthError, SqlError};
pub use mcp::McpAccessError;
pub use oauth::{
    jwt_kid, parse_jwks, percent_decode, percent_encode, AuthorizeRequest, Jwk, JwksError,
    JwksKeys, OAuthError, TokenRequest, ACCESS_TOKEN_LIFETIME_SECS, CODE_LIFETIME_SECS,
};
pub use result::{Cell, Column, ColumnType, ResultSet};
pub use session::{AuthContext, AuthMethod, Channel, Credential, Now, Session, TokenType};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use snowpat_sql::ast::{Statement, UseTarget};

use catalog::{
    Body, Catalog, Grantee, Kind, NetworkPolicy, NetworkRule, Object, PrivGrant, Role, RoleGrant,
    Target, User,
};

/// Start-up options of the account (`interfaces.md`, `snowpat-emulator` flags).
#[derive(Clone, Debug)]
pub struct AccountConfig {
    /// Account name (`--account`, default `EMULATOR`), upper case.
    pub name: String,
    /// Create the account-level loopback network policy (`--no-default-network-policy` clears it).
    pub default_network_policy: bool,
    /// `--pat-session-rules`.
    pub pat_session_rules: PatSessionRules,
}

/// `--pat-session-rules observed|documented` (§6.7).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub enum PatSessionRules {
    #[default]
    Observed,
    Documented,
}

/// All state of one account.
#[derive(Debug, Deserialize, Serialize)]
pub struct Account {
    name: String,
    #[serde(default)]
    pat_session_rules: PatSessionRules,
    catalog: Catalog,
    /// Snowflake OAuth client secrets, codes, grants and tokens (protocols §6).
    #[serde(default)]
    oauth: oauth::OAuthState,
}

/// Default privileges of the system roles on the account (§3.1).
const SYSTEM_PRIVILEGES: &[(&str, &[&str])] = &[
    (
        "ACCOUNTADMIN",
        &[
            "CREATE INTEGRATION",
            "CREATE COMPUTE POOL",
            "BIND SERVICE ENDPOINT",
            "ATTACH POLICY",
            "CREATE ACCOUNT",
            "CREATE SHARE",
            "EXECUTE TASK",
            "IMPORT SHARE",
            "MONITOR USAGE",
            "MONITOR EXECUTION",
            "MONITOR SECURITY",
            "AUDIT",
        ],
    ),
    (
        "SECURITYADMIN",
        &[
            "MANAGE GRANTS",
            "CREATE NETWORK POLICY",
            "APPLY AUTHENTICATION POLICY",
            "ATTACH POLICY",
        ],
    ),
    ("USERADMIN", &["CREATE USER", "CREATE ROLE"]),
    ("SYSADMIN", &["CREATE DATABASE", "CREATE WAREHOUSE"]),
    ("PUBLIC", &["USE AI FUNCTIONS"]),
];

const SYSTEM_ROLE_COMMENTS: &[(&str, &str)] = &[
    (
        "ACCOUNTADMIN",
        "Account administrator can manage all aspects of the account.",
    ),
    (
        "SECURITYADMIN",
        "Security administrator can manage security aspects of the account.",
    ),
    (
        "USERADMIN",
        "User administrator can create and manage users and roles",
    ),
    (
        "SYSADMIN",
        "System administrator can create and manage databases and warehouses.",
    ),
    (
        "PUBLIC",
        "Public role is automatically available to every user in the account.",
    ),
];

/// Database roles of `SNOWFLAKE` (§3.3).
const SNOWFLAKE_DATABASE_ROLES: &[&str] = &[
    "CORTEX_USER",
    "CORTEX_AGENT_USER",
    "AI_FUNCTIONS_USER",
    "COPILOT_USER",
    "CORTEX_REST_API_USER",
];

impl Account {
    /// The start-up account (§3.2).
    pub fn new(config: &AccountConfig, now: Now) -> Self {
        let t = now.account;
        let mut c = Catalog::default();
        let mut role_ids = std::collections::BTreeMap::new();
        for (name, comment) in SYSTEM_ROLE_COMMENTS {
            let id = c.new_id();
            c.roles.insert(
                id,
                Role {
                    id,
                    name: (*name).to_owned(),
                    database: None,
                    comment: Some((*comment).to_owned()),
                    owner: None,
                    created_on: t,
                    system: true,
                },
            );
            role_ids.insert(*name, id);
        }
        let rid = |n: &str| role_ids.get(n).copied().unwrap_or_default();
        let accountadmin = rid("ACCOUNTADMIN");
        // Hierarchy: SECURITYADMIN and SYSADMIN under ACCOUNTADMIN, USERADMIN under SECURITYADMIN.
        for (child, parent) in [
            ("SECURITYADMIN", "ACCOUNTADMIN"),
            ("SYSADMIN", "ACCOUNTADMIN"),
            ("USERADMIN", "SECURITYADMIN"),
        ] {
            c.role_grants.push(RoleGrant {
                role: rid(child),
                to: Grantee::Role(rid(parent)),
                grant_option: false,
                granted_by: None,
                created_on: t,
                system: true,
            });
        }
        // Role ownership as Snowflake shows it: custom-looking owners for the lower system roles.
        for (role, owner) in [
            ("SECURITYADMIN", "ACCOUNTADMIN"),
            ("SYSADMIN", "ACCOUNTADMIN"),
            ("USERADMIN", "SECURITYADMIN"),
        ] {
            c.set_owner(Target::Role(rid(role)), rid(owner));
        }
        for (role, privileges) in SYSTEM_PRIVILEGES {
            for p in *privileges {
                c.priv_grants.push(PrivGrant {
                    privilege: (*p).to_owned(),
                    target: Target::Account,
                    role: rid(role),
                    grant_option: false,
                    granted_by: None,
                    created_on: t,
                    system: true,
                });
            }
        }
        // Database SNOWFLAKE, its roles, schema EMULATOR.
        let db = c.new_id();
        c.objects.insert(
            db,
            Object {
                id: db,
                kind: Kind::Database,
                path: vec!["SNOWFLAKE".into()],
                owner: None,
                created_on: t,
                comment: None,
                body: Body::None,
            },
        );
        let public = rid("PUBLIC");
        c.priv_grants.push(PrivGrant {
            privilege: "USAGE".into(),
            target: Target::Object(db),
            role: public,
            grant_option: false,
            granted_by: None,
            created_on: t,
            system: true,
        });
        for name in SNOWFLAKE_DATABASE_ROLES {
            let id = c.new_id();
            c.roles.insert(
                id,
                Role {
                    id,
                    name: (*name).to_owned(),
                    database: Some("SNOWFLAKE".into()),
                    comment: None,
                    owner: None,
                    created_on: t,
                    system: true,
                },
            );
            if *name == "CORTEX_USER" {
                c.role_grants.push(RoleGrant {
                    role: id,
                    to: Grantee::Role(public),
                    grant_option: false,
                    granted_by: None,
                    created_on: t,
                    system: false,
                });
            }
        }
        let schema = c.new_id();
        c.objects.insert(
            schema,
            Object {
                id: schema,
                kind: Kind::Schema,
                path: vec!["SNOWFLAKE".into(), "EMULATOR".into()],
                owner: None,
                created_on: t,
                comment: None,
                body: Body::None,
            },
        );
        let rule = |c: &mut Catalog, name: &str, ty: &str, value: &str| {
            let id = c.new_id();
            c.objects.insert(
                id,
                Object {
                    id,
                    kind: Kind::NetworkRule,
                    path: vec!["SNOWFLAKE".into(), "EMULATOR".into(), name.into()],
                    owner: Some(accountadmin),
                    created_on: t,
                    comment: None,
                    body: Body::NetworkRule(NetworkRule {
                        rule_type: ty.into(),
                        mode: "INGRESS".into(),
                        values: vec![value.into()],
                    }),
                },
            );
            id
        };
        let v4 = rule(&mut c, "LOOPBACK_V4", "IPV4", "127.0.0.0/8");
        let v6 = rule(&mut c, "LOOPBACK_V6", "IPV6", "::1");
        let policy = |c: &mut Catalog, name: &str| {
            let id = c.new_id();
            c.objects.insert(
                id,
                Object {
                    id,
                    kind: Kind::NetworkPolicy,
                    path: vec![name.into()],
                    owner: Some(accountadmin),
                    created_on: t,
                    comment: None,
                    body: Body::NetworkPolicy(NetworkPolicy {
                        allowed_rules: vec![v4, v6],
                        ..NetworkPolicy::default()
                    }),
                },
            );
            id
        };
        let admin_np = policy(&mut c, "EMULATOR_ADMIN_LOOPBACK");
        if config.default_network_policy {
            let np = policy(&mut c, "EMULATOR_LOOPBACK");
            c.account_network_policy = Some(np);
        }
        let auth = c.new_id();
        c.objects.insert(
            auth,
            Object {
                id: auth,
                kind: Kind::AuthenticationPolicy,
                path: vec![
                    "SNOWFLAKE".into(),
                    "EMULATOR".into(),
                    "EMULATOR_ADMIN_AUTH".into(),
                ],
                owner: Some(accountadmin),
                created_on: t,
                comment: None,
                body: Body::AuthPolicy(Box::default()),
            },
        );
        let admin = c.new_id();
        c.users.insert(
            admin,
            User {
                id: admin,
                name: "ADMIN".into(),
                login_name: "ADMIN".into(),
                display_name: Some("ADMIN".into()),
                default_role: Some("ACCOUNTADMIN".into()),
                user_type: Some("PERSON".into()),
                network_policy: Some(admin_np),
                auth_policy: Some(auth),
                owner: Some(accountadmin),
                created_on: t,
                ..User::default()
            },
        );
        c.role_grants.push(RoleGrant {
            role: accountadmin,
            to: Grantee::User(admin),
            grant_option: false,
            granted_by: None,
            created_on: t,
            system: false,
        });
        Self {
            name: config.name.to_uppercase(),
            pat_session_rules: config.pat_session_rules,
            catalog: c,
            oauth: oauth::OAuthState::default(),
        }
    }

    /// The account name, upper case.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `--pat-session-rules` mode in force.
    pub fn pat_session_rules(&self) -> PatSessionRules {
        self.pat_session_rules
    }

    /// Applies the start-up flags that are not account state to an account restored from
    /// `--state` (today: `--pat-session-rules`; the network-policy flag only shapes a new account).
    pub fn apply_config(&mut self, config: &AccountConfig) {
        self.pat_session_rules = config.pat_session_rules;
    }

    /// A session as `user` with its default role, for the server's own use (the control API
    /// rotates ADMIN's PAT through it). Never reachable by a client credential.
    pub fn internal_session(&self, user: &str) -> Option<Session> {
        let u = self.catalog.user_by_name(user)?;
        Some(self.open_session(u.id, AuthMethod::Internal, None))
    }

    /// Whether the session's role in effect may call Cortex: it holds `SNOWFLAKE.CORTEX_USER` or
    /// `SNOWFLAKE.CORTEX_REST_API_USER` (protocols §7.1).
    pub fn cortex_allowed(&self, session: &Session) -> bool {
        let roles = self.effective_roles(session);
        ["CORTEX_USER", "CORTEX_REST_API_USER"].iter().any(|r| {
            self.catalog
                .database_role_id("SNOWFLAKE", r)
                .is_some_and(|id| roles.contains(&id))
        })
    }

    /// Runs one statement in a session. All or nothing: a statement that fails leaves the
    /// account exactly as it was.
    pub fn execute(
        &mut self,
        session: &mut Session,
        statement: &Statement,
        now: Now,
    ) -> Result<ResultSet, SqlError> {
        let result = self.execute_uncommitted(session, statement, now);
        self.catalog.end();
        result
    }

    /// Runs one statement like [`Account::execute`], but a successful statement's changes stay
    /// revocable: the caller must follow with [`Account::commit_statement`] (keep them) or
    /// [`Account::rollback_statement`] (undo them, e.g. when they could not be made durable).
    /// A failed statement is already undone.
    ///
    /// Cost: the catalog's tables record what a statement touches (catalog.rs, "Cost per
    /// statement"); `changed` compares only that with its old value, so a read-only statement
    /// copies nothing and a write costs what it touches, whatever the size of the account.
    pub fn execute_uncommitted(
        &mut self,
        session: &mut Session,
        statement: &Statement,
        now: Now,
    ) -> Result<ResultSet, SqlError> {
        let t = now.account;
        // Housekeeping, not part of the statement (nor of its `changed`).
        self.catalog.end();
        self.purge_expired_pats(t);
        // A session whose user was dropped can do nothing.
        if !self.catalog.users.contains_key(&session.user_id) {
            return Err(errors::not_found(Kind::User, &session.user_name));
        }
        self.catalog.begin();
        match self.dispatch(session, statement, t) {
            Ok(mut result) => {
                // True exactly when the statement changed the account (the request log's
                // `executed`), whatever the handler claimed.
                result.changed = self.catalog.changed();
                Ok(result)
            }
            Err(error) => {
                self.catalog.rollback();
                Err(error)
            }
        }
    }

    /// Keeps the changes of the last [`Account::execute_uncommitted`].
    pub fn commit_statement(&mut self) {
        self.catalog.end();
    }

    /// Undoes the changes of the last [`Account::execute_uncommitted`] (nothing if it was
    /// already committed or failed).
    pub fn rollback_statement(&mut self) {
        self.catalog.rollback();
        self.catalog.end();
    }

    fn dispatch(
        &mut self,
        s: &mut Session,
        st: &Statement,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        use Statement as S;
        match st {
            S::CreateUser {
                or_replace,
                if_not_exists,
                name,
                properties,
            } => self.create_user(s, *or_replace, *if_not_exists, name.as_str(), properties, t),
            S::AlterUser {
                if_exists,
                user,
                action,
            } => self.alter_user(s, *if_exists, user.as_ref(), action, t),
            S::DropUser { if_exists, name } => self.drop_user(s, *if_exists, name.as_str()),
            S::DescribeUser { name } => self.describe_user(s, name.as_str()),
            S::CreateRole {
                or_replace,
                if_not_exists,
                name,
                comment,
            } => self.create_role(s, *or_replace, *if_not_exists, name.as_str(), comment, t),
            S::DropRole { if_exists, name } => self.drop_role(s, *if_exists, name.as_str()),
            S::GrantRole {
                role,
                to,
                with_grant_option,
            } => self.grant_role(s, role.as_str(), to, *with_grant_option, t),
            S::RevokeRole {
                grant_option_for,
                role,
                from,
                ..
            } => self.revoke_role(s, *grant_option_for, role.as_str(), from),
            S::GrantDatabaseRole { role, to } => self.grant_database_role(s, role, to, t),
            S::RevokeDatabaseRole { role, from } => self.revoke_database_role(s, role, from),
            S::GrantOwnership {
                on,
                to_role,
                current_grants,
            } => self.grant_ownership(s, on, to_role.as_str(), *current_grants, t),
            S::GrantPrivileges {
                privileges,
                on,
                to_role,
                with_grant_option,
            } => self.grant_privileges(s, privileges, on, to_role.as_str(), *with_grant_option, t),
            S::RevokePrivileges {
                grant_option_for,
                privileges,
                on,
                from_role,
                behavior,
            } => self.revoke_privileges(
                s,
                *grant_option_for,
                privileges,
                on,
                from_role.as_str(),
                *behavior,
            ),
            S::CreateDatabase {
                or_replace,
                if_not_exists,
                name,
                comment,
            } => self.create_database(s, *or_replace, *if_not_exists, name.as_str(), comment, t),
            S::DropDatabase { if_exists, name } => self.drop_database(s, *if_exists, name.as_str()),
            S::CreateSchema {
                or_replace,
                if_not_exists,
                name,
                comment,
            } => self.create_schema(s, *or_replace, *if_not_exists, name, comment, t),
            S::DropSchema { if_exists, name } => self.drop_schema(s, *if_exists, name),
            S::CreateAuthenticationPolicy {
                create,
                if_not_exists,
                name,
                properties,
            } => self.create_auth_policy(s, *create, *if_not_exists, name, properties, t),
            S::AlterAuthenticationPolicy {
                if_exists,
                name,
                action,
            } => self.alter_auth_policy(s, *if_exists, name, action),
            S::DropAuthenticationPolicy { if_exists, name } => {
                self.drop_auth_policy(s, *if_exists, name)
            }
            S::DescribeAuthenticationPolicy { name } => self.describe_auth_policy(s, name),
            S::ShowAuthenticationPolicies { filter, scope, on } => {
                self.show_auth_policies(s, filter, scope.as_ref(), on.as_ref())
            }
            S::AlterAccount(action) => self.alter_account(s, action),
            S::CreateNetworkRule {
                or_replace,
                if_not_exists,
                name,
                properties,
            } => self.create_network_rule(s, *or_replace, *if_not_exists, name, properties, t),
            S::DropNetworkRule { if_exists, name } => {
                self.drop_schema_object(s, Kind::NetworkRule, *if_exists, name)
            }
            S::CreateNetworkPolicy {
                or_replace,
                if_not_exists,
                name,
                properties,
            } => self.create_network_policy(
                s,
                *or_replace,
                *if_not_exists,
                name.as_str(),
                properties,
                t,
            ),
            S::AlterNetworkPolicy {
                if_exists,
                name,
                properties,
            } => self.alter_network_policy(s, *if_exists, name.as_str(), properties),
            S::DropNetworkPolicy { if_exists, name } => {
                self.drop_network_policy(s, *if_exists, name.as_str())
            }
            S::ShowUserPats { for_user } => self.show_user_pats(s, for_user.as_ref(), t),
            S::CreateSecret {
                or_replace,
                if_not_exists,
                name,
                properties,
            } => self.create_secret(s, *or_replace, *if_not_exists, name, properties, t),
            S::AlterSecret {
                if_exists,
                name,
                properties,
            } => self.alter_secret(s, *if_exists, name, properties),
            S::DropSecret { if_exists, name } => {
                self.drop_schema_object(s, Kind::Secret, *if_exists, name)
            }
            S::DescribeSecret { name } => self.describe_secret(s, name),
            S::CreateSecurityIntegration {
                or_replace,
                if_not_exists,
                name,
                properties,
            } => self.create_integration(
                s,
                *or_replace,
                *if_not_exists,
                name.as_str(),
                properties,
                t,
            ),
            S::AlterIntegration {
                if_exists,
                name,
                properties,
            } => self.alter_integration(s, *if_exists, name.as_str(), properties),
            S::DropIntegration { if_exists, name } => {
                self.drop_integration(s, *if_exists, name.as_str())
            }
            S::CreateObject {
                kind,
                or_replace,
                if_not_exists,
                name,
                in_compute_pool,
                specification,
                properties,
            } => self.create_object(
                s,
                objects::CreateObject {
                    kind: *kind,
                    or_replace: *or_replace,
                    if_not_exists: *if_not_exists,
                    name,
                    in_compute_pool: in_compute_pool.as_ref(),
                    specification: specification.as_deref(),
                    properties,
                },
                t,
            ),
            S::DropObject {
                kind,
                if_exists,
                name,
            } => self.drop_object(s, *kind, *if_exists, name),
            S::Use(target) => self.use_target(s, target),
            S::AlterSessionSet(props) => {
                for p in props {
                    let v = props::value_text(&p.value);
                    s.parameters.retain(|(k, _)| k != p.name.as_str());
                    s.parameters.push((p.name.as_str().to_owned(), v));
                }
                Ok(unchanged(ResultSet::status(
                    "Statement executed successfully.",
                )))
            }
            S::AlterSessionUnset(names) => {
                for n in names {
                    s.parameters.retain(|(k, _)| k != n.as_str());
                }
                Ok(unchanged(ResultSet::status(
                    "Statement executed successfully.",
                )))
            }
            S::ShowUsers { terse, filter } => self.show_users(s, *terse, filter),
            S::ShowRoles { terse, filter } => self.show_roles(s, *terse, filter),
            S::ShowGrants(target) => self.show_grants(s, target),
            S::ShowObjects {
                kind,
                filter,
                scope,
            } => self.show_objects(s, *kind, filter, scope.as_ref()),
            S::Select(select) => self.select(s, select, t),
            S::Begin | S::Commit | S::Rollback => Ok(unchanged(ResultSet::status(
                "Statement executed successfully.",
            ))),
        }
    }

    /// USE ROLE / SECONDARY ROLES / DATABASE / SCHEMA / WAREHOUSE (§5.16, §6.7 S7/S8).
    fn use_target(&mut self, s: &mut Session, target: &UseTarget) -> Result<ResultSet, SqlError> {
        let restricted = matches!(
            &s.auth,
            AuthMethod::Pat {
                role_restriction: Some(_),
                ..
            }
        );
        match target {
            UseTarget::Role(role) => {
                let role = role.as_str();
                if restricted {
                    if role == s.primary_role {
                        return Ok(unchanged(ResultSet::status(
                            "Statement executed successfully.",
                        )));
                    }
                    return Err(errors::session_role_fixed());
                }
                if s.auth == AuthMethod::OAuth {
                    self.oauth_use_role(s, role)?;
                }
                if !self.catalog.user_has_role(s.user_id, role) {
                    return Err(errors::role_not_assigned(role));
                }
                s.primary_role = role.to_owned();
            }
            UseTarget::SecondaryRoles(sr) => match sr {
                snowpat_sql::ast::SecondaryRoles::All => {
                    // OAuth sessions have no secondary roles (§4.1, protocols §6.4).
                    if restricted || s.auth == AuthMethod::OAuth {
                        return Err(errors::secondary_roles_unavailable());
                    }
                    s.secondary_roles_all = true;
                }
                snowpat_sql::ast::SecondaryRoles::None => s.secondary_roles_all = false,
            },
            UseTarget::Database(db) => {
                let db = db.as_str();
                let id = self.catalog.object_id(Kind::Database, &[db.to_owned()]);
                let roles = self.effective_roles(s);
                // §5.16: an existing database without USAGE answers 003001.
                match id {
                    Some(id) if self.catalog.holds(&roles, "USAGE", Target::Object(id)) => {}
                    Some(_) => return Err(errors::insufficient(Kind::Database, db)),
                    None => return Err(errors::not_found(Kind::Database, db)),
                }
                s.database = Some(db.to_owned());
                let public = vec![db.to_owned(), "PUBLIC".to_owned()];
                s.schema = self
                    .catalog
                    .object_id(Kind::Schema, &public)
                    .map(|_| "PUBLIC".to_owned());
            }
            UseTarget::Schema(name) => {
                let path = self.schema_path(s, name, "USE SCHEMA")?;
                let roles = self.effective_roles(s);
                let db_id = self.catalog.object_id(Kind::Database, &path[..1]);
                let schema_id = self.catalog.object_id(Kind::Schema, &path);
                match (db_id, schema_id) {
                    (Some(d), Some(sc))
                        if self.catalog.holds(&roles, "USAGE", Target::Object(d))
                            && self.catalog.holds(&roles, "USAGE", Target::Object(sc)) => {}
                    (Some(_), Some(_)) => {
                        return Err(errors::insufficient(Kind::Schema, &path.join(".")))
                    }
                    _ => return Err(errors::not_found(Kind::Schema, &path.join("."))),
                }
                s.database = Some(path[0].clone());
                s.schema = Some(path[1].clone());
            }
            UseTarget::Warehouse(w) => s.warehouse = Some(w.as_str().to_owned()),
        }
        Ok(unchanged(ResultSet::status(
            "Statement executed successfully.",
        )))
    }
}

/// Marks a result as not having changed the account.
pub(crate) fn unchanged(mut r: ResultSet) -> ResultSet {
    r.changed = false;
    r
}
