//! The tenant lifecycle of seed 000 ("Per-Deployment Provisioning"): one service user and one
//! role-restricted PAT per tenant, built as typed statements (`snowpat_sql::ast`), journaled
//! before they are sent, the secret delivered to a sink and only its SHA-256 stored.
//!
//! Semantics (`interfaces.md` "Lifecycle semantics"): `rotate` sends grace = min(H, hours the
//! current secret has left) computed from server time; `revoke` removes the token and every
//! `<NAME>_ROTATED_*` object; `disable` disables the user; `enable` enables the user and each
//! token; `drop` removes the tokens, then the user.
//!
//! Provisioning costs two round trips per tenant on the fast path: the setup statements (seed 000
//! steps 1-4, plus the network policy) go as one multi-statement request (protocols §2.6), and the
//! ADD PAT goes alone, so that its secret comes back in the answer and a `retry=true`
//! resubmission replays exactly that answer (§2.8). Both requests are journaled before they are
//! sent. Nothing is read first when the store knows no token for the tenant: the ADD says
//! `IF NOT EXISTS` (`snowflake-behaviour.md` §5.12.1), and only an empty answer (the token
//! exists) costs a `SHOW USER PATS`.
//!
//! Crash safety: [`crash`] names the points where a `test-hooks` build can be made to abort.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use snowpat_client::{Client, ResultSet, ServerTime};
use snowpat_sql::ast::{
    AddPat, AlterUserAction, Expr, GrantTarget, Grantee, Ident, ModifyPat, ObjectKind, ObjectName,
    Privileges, Property, Select, SelectItem, Statement, Value,
};
use uuid::Uuid;

use crate::blueprints::multi_tenant::NETWORK_POLICY;
use crate::config::{MultiTenantConfig, TenantsConfig};
use crate::sinks::{Sink, SinkError, SinkSpec};
use crate::store::{JournalState, Store, StoreError, TenantRecord, TokenRecord};

/// Deterministic crash points for the crash-safety tests.
///
/// Only a debug build with the `test-hooks` feature can crash here (the feature is off by default
/// and only the CLI's test builds turn it on). There, `SNOWPAT_CRASH_AT=POINT:N` (for example
/// `after_response:137`) aborts the process (`std::process::abort`, no unwinding, no cleanup) at
/// the Nth time any task reaches POINT; `N` defaults to 1. Everywhere else the points cost nothing.
///
/// The points, in the order a token-minting statement (ADD or ROTATE PAT) passes them:
/// * `after_send`: the journal holds the requestId as pending and the request is on the wire; the
///   process dies before reading the answer (whether Snowflake executed it is the same race as in
///   a real crash);
/// * `after_response`: the answer, with the secret, was received and nothing was done with it;
/// * `after_sink_write`: the secret is in the sink; the store has no record of it;
/// * `before_journal_commit`: the token metadata is stored; the journal entry is still pending.
///
/// Apart from those, `after_change` is passed by each journaled statement that mints nothing
/// (`revoke`, `disable`, `enable`, `drop`): it ran and answered, and the process dies before the
/// journal marks it done, so the entry stays pending for the rerun to resolve.
pub mod crash {
    use std::io::Write;

    /// The environment variable that arms a crash point.
    pub const ENV: &str = "SNOWPAT_CRASH_AT";

    /// How long `after_send` lets the request travel before the process dies.
    pub const SEND_WINDOW: std::time::Duration = std::time::Duration::from_millis(5);

    /// A place in the minting path where a test build may abort.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum Point {
        AfterSend,
        AfterResponse,
        AfterSinkWrite,
        BeforeJournalCommit,
        /// Not in [`Point::ALL`] (the minting path's points).
        AfterChange,
    }

    impl Point {
        pub const ALL: [Point; 4] = [
            Point::AfterSend,
            Point::AfterResponse,
            Point::AfterSinkWrite,
            Point::BeforeJournalCommit,
        ];

        /// The name used in `SNOWPAT_CRASH_AT`.
        pub fn name(self) -> &'static str {
            match self {
                Point::AfterSend => "after_send",
                Point::AfterResponse => "after_response",
                Point::AfterSinkWrite => "after_sink_write",
                Point::BeforeJournalCommit => "before_journal_commit",
                Point::AfterChange => "after_change",
            }
        }

        pub fn parse(text: &str) -> Option<Self> {
            Self::ALL
                .into_iter()
                .chain([Point::AfterChange])
                .find(|p| p.name() == text)
        }
    }

    /// `POINT` or `POINT:N` (N ≥ 1).
    pub fn parse_target(text: &str) -> Option<(Point, u64)> {
        let (point, n) = match text.split_once(':') {
            Some((point, n)) => (point, n.parse::<u64>().ok().filter(|n| *n >= 1)?),
            None => (text, 1),
        };
        Some((Point::parse(point.trim())?, n))
    }

    /// Whether this build can crash at all (`test-hooks` and debug assertions).
    pub fn available() -> bool {
        cfg!(all(feature = "test-hooks", debug_assertions))
    }

    #[cfg(all(feature = "test-hooks", debug_assertions))]
    mod armed {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::OnceLock;

        use super::{parse_target, Point, ENV};

        use std::io::Write;

        static TARGET: OnceLock<Option<(Point, u64)>> = OnceLock::new();
        static HITS: AtomicU64 = AtomicU64::new(0);

        /// Counts a hit of `point` if it is the armed one; true on the armed hit.
        pub(super) fn fires(point: Point) -> bool {
            let target = TARGET.get_or_init(|| {
                let value = std::env::var(ENV).ok()?;
                let target = parse_target(&value);
                if target.is_none() {
                    let _ = writeln!(
                        std::io::stderr(),
                        "warning: {ENV}={value:?} names no crash point; write POINT or POINT:N"
                    );
                }
                target
            });
            match target {
                Some((armed, n)) if *armed == point => {
                    HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n
                }
                _ => false,
            }
        }
    }

    /// True when this hit of `point` is the one `SNOWPAT_CRASH_AT` names (never without the
    /// feature).
    pub(crate) fn fires(point: Point) -> bool {
        #[cfg(all(feature = "test-hooks", debug_assertions))]
        {
            armed::fires(point)
        }
        #[cfg(not(all(feature = "test-hooks", debug_assertions)))]
        {
            let _ = point;
            false
        }
    }

    /// Aborts the process, saying where on stderr.
    pub(crate) fn die(point: Point) -> ! {
        let _ = writeln!(
            std::io::stderr(),
            "snowpat: test-hooks crash at {}",
            point.name()
        );
        std::process::abort()
    }

    /// Aborts if this hit of `point` is the armed one.
    pub(crate) fn hit(point: Point) {
        if fires(point) {
            die(point);
        }
    }
}

/// Tenant command failures.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("invalid tenant id {0:?}: ids match ^[A-Za-z0-9_]{{1,64}}$ (letters, digits, underscore; 1 to 64 characters)")]
    BadId(String),
    #[error("tenant id {0} given more than once (ids are compared after folding to upper case); list each tenant once")]
    DuplicateId(String),
    #[error("no sink: pass --sink SINK or set tenants.sink in snowpat.toml")]
    NoSink,
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("Snowflake refused or failed: {0}")]
    Client(#[from] snowpat_client::Error),
    #[error("unexpected result shape: {0}")]
    Row(#[from] snowpat_client::RowError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("tenant {tenant}: {problem}")]
    State { tenant: String, problem: String },
    #[error(
        "the connection's role {session} cannot use the automation role {automation} ({reason}), \
         so the tenants it creates would not be owned by {automation} and the automation identity \
         could not manage them; run tenant commands as the automation identity (the [connection] \
         snippet `snowpat bootstrap multi-tenant --apply` printed), or as ACCOUNTADMIN run \
         `GRANT ROLE {automation} TO ROLE SYSADMIN` (the blueprint's --apply does it)"
    )]
    AutomationRole {
        session: String,
        automation: String,
        reason: String,
    },
}

impl TenantError {
    /// Bad usage or bad input, detected before anything was sent (exit 2).
    pub fn is_usage(&self) -> bool {
        match self {
            Self::BadId(_) | Self::DuplicateId(_) | Self::NoSink => true,
            Self::Sink(e) => !matches!(
                e,
                SinkError::Io { .. } | SinkError::NotDelivered { .. } | SinkError::Snowflake { .. }
            ),
            _ => false,
        }
    }
}

/// A validated tenant id, folded to upper case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// `^[A-Za-z0-9_]{1,64}$`, folded to upper case.
    pub fn parse(text: &str) -> Result<Self, TenantError> {
        if text.is_empty()
            || text.len() > 64
            || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(TenantError::BadId(text.to_owned()));
        }
        Ok(Self(text.to_ascii_uppercase()))
    }

    /// Parses many ids and refuses duplicates after folding.
    pub fn parse_all<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Self>, TenantError> {
        let mut seen = std::collections::HashSet::new();
        let mut ids = Vec::with_capacity(texts.len());
        for text in texts {
            let id = Self::parse(text.as_ref())?;
            if !seen.insert(id.clone()) {
                return Err(TenantError::DuplicateId(id.0));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names and policies the lifecycle uses (`[tenants]` and `[blueprint.multi-tenant]`).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub tenants: TenantsConfig,
    pub blueprint: MultiTenantConfig,
}

impl Settings {
    pub fn user(&self, id: &TenantId) -> String {
        self.tenants
            .user
            .replace("{id}", id.as_str())
            .to_ascii_uppercase()
    }

    pub fn token(&self, id: &TenantId) -> String {
        self.tenants
            .token
            .replace("{id}", id.as_str())
            .to_ascii_uppercase()
    }

    fn role(&self) -> Ident {
        Ident::new(self.blueprint.runtime_role.to_ascii_uppercase())
    }

    fn automation_role(&self) -> Ident {
        Ident::new(self.blueprint.automation_role.to_ascii_uppercase())
    }

    /// The blueprint's network policy, attached to every deployment user unless
    /// `allowed_cidrs = ["none"]` (`snowflake-behaviour.md` §6.5: under ENFORCED_REQUIRED a
    /// service user must be subject to a policy with a network rule to generate and use a PAT).
    pub fn network_policy(&self) -> Option<Ident> {
        match self.blueprint.cidrs() {
            Ok(None) => None,
            _ => Some(Ident::new(NETWORK_POLICY)),
        }
    }

    fn policy(&self) -> ObjectName {
        ObjectName(
            [
                &self.blueprint.database,
                &self.blueprint.schema,
                &self.blueprint.deployment_policy,
            ]
            .iter()
            .map(|p| Ident::new(p.to_ascii_uppercase()))
            .collect(),
        )
    }
}

/// What a command did for one tenant: one `--output json` line.
#[derive(Debug)]
pub struct Outcome {
    pub tenant: String,
    pub user: String,
    pub token_name: String,
    pub role: String,
    pub expires_at: Option<String>,
    pub sink: Option<String>,
    pub secret_sha256: Option<String>,
    /// `created`, `rotated`, `recovered`, `reminted`, `unchanged`, `revoked`, `disabled`,
    /// `enabled`, `dropped`.
    pub action: String,
    /// Only when the sink is `stdout`.
    pub secret: Option<SecretString>,
}

impl Outcome {
    /// The JSON line (the secret only for the `stdout` sink).
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = json!({
            "tenant": self.tenant,
            "user": self.user,
            "token_name": self.token_name,
            "role": self.role,
            "expires_at": self.expires_at,
            "sink": self.sink,
            "secret_sha256": self.secret_sha256,
            "action": self.action,
        });
        if let (Some(secret), Some(map)) = (&self.secret, value.as_object_mut()) {
            map.insert("secret".into(), json!(secret.expose_secret()));
        }
        value
    }
}

/// Hex SHA-256 of a secret (for audit correlation; the store keeps only this).
pub fn secret_sha256(secret: &SecretString) -> String {
    hex::encode(Sha256::digest(secret.expose_secret().as_bytes()))
}

/// A live token as `SHOW USER PATS` lists it.
#[derive(Clone, Debug)]
pub struct LiveToken {
    pub name: String,
    pub status: String,
    pub expires_at: Option<ServerTime>,
    pub role_restriction: Option<String>,
}

/// The lifecycle engine.
pub struct Tenants<S: Store> {
    client: Client,
    store: Arc<S>,
    settings: Settings,
    /// The SQL API `role` every request carries (protocols §2.4), set by
    /// [`Tenants::adopt_automation_role`] when the session's own role is not the automation role.
    role: Option<String>,
}

impl<S: Store> Clone for Tenants<S> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            store: Arc::clone(&self.store),
            settings: self.settings.clone(),
            role: self.role.clone(),
        }
    }
}

const ADD: &str = "ALTER USER ADD PAT";

/// How far a recorded expiry may be from the live one and still name the same token.
const EXPIRY_TOLERANCE_MS: i64 = 120_000;
const ROTATE: &str = "ALTER USER ROTATE PAT";

impl<S: Store> Tenants<S> {
    pub fn new(client: Client, store: Arc<S>, settings: Settings) -> Self {
        Self {
            client,
            store,
            settings,
            role: None,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The same engine over another client (e.g. one whose default role is the automation role,
    /// so that what a sink creates, such as a Snowflake SECRET, is owned by that role too).
    #[must_use]
    pub fn with_client(mut self, client: Client) -> Self {
        self.client = client;
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Resolves the sink: `--sink`, else `tenants.sink`, else exit-2 error. Parsed, not touched.
    pub fn sink_spec(&self, flag: Option<&str>) -> Result<SinkSpec, TenantError> {
        let spec = flag
            .map(str::to_owned)
            .or_else(|| self.settings.tenants.sink.clone())
            .ok_or(TenantError::NoSink)?;
        Ok(SinkSpec::parse(&spec)?)
    }

    /// A request carrying the role chosen by [`Tenants::adopt_automation_role`], if any.
    fn request(&self, request: snowpat_client::Statement) -> snowpat_client::Statement {
        match &self.role {
            Some(role) => request.role(role.clone()),
            None => request,
        }
    }

    /// The role tenant statements run as when it is not the session's own (see
    /// [`Tenants::adopt_automation_role`]).
    pub fn statement_role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    /// Makes every tenant statement run as the blueprint's automation role, so that whatever
    /// identity runs a tenant command, the users and grants it creates are owned by that role and
    /// the automation identity can later disable, enable, rotate or drop them
    /// (`snowflake-behaviour.md` §4.1: a role granted to a role the user holds is usable; the
    /// multi-tenant blueprint grants the automation role to SYSADMIN, so ACCOUNTADMIN holds it).
    ///
    /// Returns the session's own role. When it is the automation role nothing changes; otherwise
    /// a probe (`SELECT CURRENT_ROLE()` with the SQL API `role` set) checks that the identity can
    /// use the automation role, and every later request carries that `role`. An identity that
    /// cannot use it gets [`TenantError::AutomationRole`] before anything changes.
    pub async fn adopt_automation_role(&mut self) -> Result<String, TenantError> {
        self.role = None;
        let session = self.current_role().await?;
        let automation = self.settings.automation_role().into_string();
        if session.eq_ignore_ascii_case(&automation) {
            return Ok(session);
        }
        let probe =
            snowpat_client::Statement::new("SELECT CURRENT_ROLE()").role(automation.clone());
        match self.client.execute(&probe).await {
            Ok(_) => {
                self.role = Some(automation);
                Ok(session)
            }
            Err(e) if matches!(e.kind(), snowpat_client::ErrorKind::Api(_)) => {
                Err(TenantError::AutomationRole {
                    session,
                    automation,
                    reason: e.to_string(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn run(&self, statement: &Statement) -> Result<ResultSet, TenantError> {
        let request = self.request(snowpat_client::Statement::new(statement.to_string()));
        Ok(self.client.execute(&request).await?)
    }

    /// Sends a statement that changes the account, journaled: its `requestId` is recorded as
    /// pending before it is sent, then marked done or failed. (Token-minting statements go
    /// through [`Tenants::mint`], which also keeps their text for a resubmission.)
    async fn change(&self, id: &TenantId, statement: &Statement) -> Result<ResultSet, TenantError> {
        let request_id = Uuid::new_v4();
        let seq = self
            .store
            .journal_begin(id.as_str(), statement.kind(), request_id, None)
            .await?;
        let request = self
            .request(snowpat_client::Statement::new(statement.to_string()))
            .request_id(request_id);
        match self.client.execute(&request).await {
            Ok(result) => {
                crash::hit(crash::Point::AfterChange);
                self.store.journal_finish(seq, JournalState::Done).await?;
                Ok(result)
            }
            Err(e) => {
                self.store.journal_finish(seq, JournalState::Failed).await?;
                Err(e.into())
            }
        }
    }

    /// Server time (`SELECT CURRENT_TIMESTAMP()`), never the local clock.
    pub async fn server_now(&self) -> Result<ServerTime, TenantError> {
        let select = Statement::Select(Select {
            items: vec![SelectItem {
                expr: Expr::Function {
                    name: "CURRENT_TIMESTAMP".into(),
                    args: vec![],
                },
                alias: None,
            }],
            from: None,
            filter: vec![],
        });
        let result = self.run(&select).await?;
        let row = result.first().ok_or_else(|| TenantError::State {
            tenant: String::new(),
            problem: "SELECT CURRENT_TIMESTAMP() returned no row".into(),
        })?;
        Ok(row.get_at::<ServerTime>(0)?)
    }

    /// The session's role (`SELECT CURRENT_ROLE()`).
    pub async fn current_role(&self) -> Result<String, TenantError> {
        let select = Statement::Select(Select {
            items: vec![SelectItem {
                expr: Expr::Function {
                    name: "CURRENT_ROLE".into(),
                    args: vec![],
                },
                alias: None,
            }],
            from: None,
            filter: vec![],
        });
        let result = self.run(&select).await?;
        match result.first() {
            Some(row) => Ok(row.get_at::<Option<String>>(0)?.unwrap_or_default()),
            None => Ok(String::new()),
        }
    }

    /// `SHOW USER PATS FOR USER u` (an error if the user is missing).
    pub async fn live_tokens(&self, user: &str) -> Result<Vec<LiveToken>, TenantError> {
        let result = self
            .run(&Statement::ShowUserPats {
                for_user: Some(Ident::new(user)),
            })
            .await?;
        result
            .rows()
            .iter()
            .map(|row| {
                Ok(LiveToken {
                    name: row.get("name")?,
                    status: row.get("status")?,
                    expires_at: row.get::<Option<ServerTime>>("expires_at")?,
                    role_restriction: row.get::<Option<String>>("role_restriction")?,
                })
            })
            .collect()
    }

    fn record(&self, id: &TenantId, status: &str, created_at: Option<String>) -> TenantRecord {
        let now = crate::store::stamp();
        TenantRecord {
            id: id.to_string(),
            user: self.settings.user(id),
            token_name: self.settings.token(id),
            role: self.settings.role().into_string(),
            status: status.into(),
            created_at: created_at.unwrap_or_else(|| now.clone()),
            updated_at: now,
        }
    }

    fn outcome(&self, id: &TenantId, action: &str) -> Outcome {
        Outcome {
            tenant: id.to_string(),
            user: self.settings.user(id),
            token_name: self.settings.token(id),
            role: self.settings.role().into_string(),
            expires_at: None,
            sink: None,
            secret_sha256: None,
            action: action.into(),
            secret: None,
        }
    }

    /// The setup of one tenant (seed 000 steps 1-4, and the blueprint's network policy), every
    /// statement idempotent so that a rerun converges from any partial state.
    fn setup_statements(&self, id: &TenantId) -> Vec<Statement> {
        let user = Ident::new(self.settings.user(id));
        let role = self.settings.role();
        let automation = self.settings.automation_role();
        let network_policy = self.settings.network_policy();
        let mut properties = vec![
            Property::new("TYPE", Value::Name(ObjectName::simple("SERVICE"))),
            Property::new("DEFAULT_ROLE", Value::Name(ObjectName(vec![role.clone()]))),
        ];
        if let Some(np) = &network_policy {
            // §4.3: CREATE USER ... NETWORK_POLICY needs OWNERSHIP of the policy, which the
            // blueprint hands to the automation role.
            properties.push(Property::new(
                "NETWORK_POLICY",
                Value::Name(ObjectName(vec![np.clone()])),
            ));
        }
        let mut statements = vec![Statement::CreateUser {
            or_replace: false,
            if_not_exists: true,
            name: user.clone(),
            properties,
        }];
        if let Some(np) = &network_policy {
            // A user created before the policy was attached (or detached since) gets it back;
            // setting it always costs nothing in the batch and saves a DESCRIBE USER per tenant.
            statements.push(Statement::AlterUser {
                if_exists: false,
                user: Some(user.clone()),
                action: AlterUserAction::Set(vec![Property::new(
                    "NETWORK_POLICY",
                    Value::Name(ObjectName(vec![np.clone()])),
                )]),
            });
        }
        statements.extend([
            Statement::GrantRole {
                role,
                to: Grantee::User(user.clone()),
                with_grant_option: false,
            },
            // §4.3: APPLY AUTHENTICATION POLICY on this user (granted by its owner, the automation
            // role) is what lets the automation role set its policy; nothing account-wide.
            Statement::GrantPrivileges {
                privileges: Privileges::List(vec!["APPLY AUTHENTICATION POLICY".into()]),
                on: GrantTarget::Object {
                    kind: ObjectKind::User,
                    name: ObjectName(vec![user.clone()]),
                },
                to_role: automation.clone(),
                with_grant_option: false,
            },
            Statement::AlterUser {
                if_exists: false,
                user: Some(user.clone()),
                action: AlterUserAction::SetAuthenticationPolicy {
                    policy: self.settings.policy(),
                    // FORCE replaces a policy already attached: a rerun converges.
                    force: true,
                },
            },
            Statement::GrantPrivileges {
                privileges: Privileges::List(vec![
                    "MODIFY PROGRAMMATIC AUTHENTICATION METHODS".into()
                ]),
                on: GrantTarget::Object {
                    kind: ObjectKind::User,
                    name: ObjectName(vec![user]),
                },
                to_role: automation,
                with_grant_option: false,
            },
        ]);
        statements
    }

    /// Sends statements as one multi-statement request (protocols §2.6), journaled: every
    /// statement is recorded as pending under the request's `requestId` (one store transaction)
    /// before it is sent, then all are marked done or failed together. A failure part-way has run
    /// the statements before the failing one; each is idempotent, so a rerun repeats them.
    async fn change_batch(
        &self,
        id: &TenantId,
        statements: &[Statement],
    ) -> Result<Vec<i64>, TenantError> {
        let request_id = Uuid::new_v4();
        let kinds: Vec<(&str, Option<&str>)> =
            statements.iter().map(|s| (s.kind(), None)).collect();
        let seqs = self
            .store
            .journal_begin_batch(id.as_str(), request_id, &kinds)
            .await?;
        let texts: Vec<String> = statements.iter().map(ToString::to_string).collect();
        let request = self
            .request(if texts.len() == 1 {
                snowpat_client::Statement::new(texts.concat())
            } else {
                snowpat_client::Statement::multi(&texts)
            })
            .request_id(request_id);
        match self.client.execute(&request).await {
            Ok(_) => {
                self.store
                    .journal_finish_batch(&seqs, JournalState::Done)
                    .await?;
                Ok(seqs)
            }
            Err(e) => {
                self.store
                    .journal_finish_batch(&seqs, JournalState::Failed)
                    .await?;
                Err(e.into())
            }
        }
    }

    fn add_statement(&self, id: &TenantId, days: u32) -> Statement {
        Statement::AlterUser {
            if_exists: false,
            user: Some(Ident::new(self.settings.user(id))),
            action: AlterUserAction::AddPat(AddPat {
                // snowflake-behaviour.md §5.12.1: on an existing name nothing happens and no
                // secret comes back.
                if_not_exists: true,
                name: Ident::new(self.settings.token(id)),
                role_restriction: Some(self.settings.role()),
                days_to_expiry: Some(i64::from(days)),
                mins_to_bypass_network_policy_requirement: None,
                comment: Some(format!("snowpat tenant {id}")),
            }),
        }
    }

    /// Provisions one tenant (seed 000 steps 1–5), idempotently; recovers a pending ADD/ROTATE
    /// from the journal first.
    pub async fn provision(
        &self,
        id: &TenantId,
        sink: &SinkSpec,
        days: u32,
    ) -> Result<Outcome, TenantError> {
        let target = sink.for_tenant(id.as_str());
        target.preflight()?;
        let token = self.settings.token(id);
        // The upsert keeps `created_at` of a known tenant.
        self.store
            .upsert_tenant(&self.record(id, "active", None))
            .await?;
        let setup = self.change_batch(id, &self.setup_statements(id)).await?;

        // Crash recovery: a pending ADD/ROTATE is resubmitted with its requestId first.
        if let Some(outcome) = self.recover(id, &target, Some(&setup)).await? {
            return Ok(outcome);
        }

        // The store knows no token of this tenant: ADD IF NOT EXISTS without reading first. An
        // empty answer means a token by that name exists (made elsewhere, or the store lost its
        // record): it is then judged below like any live token.
        let recorded = self
            .store
            .tokens(id.as_str())
            .await?
            .into_iter()
            .any(|t| t.name == token);
        if !recorded {
            let (seq, result) = self.send_mint(id, &self.add_statement(id, days)).await?;
            if !result.is_empty() {
                return self
                    .finish(id, seq, &result, &target, "created", Some(days))
                    .await;
            }
            self.store.journal_finish(seq, JournalState::Done).await?;
        }

        let live = self.live_tokens(&self.settings.user(id)).await?;
        match live.iter().find(|t| t.name == token) {
            Some(current) => {
                if self.held(id, &token, &target, current).await? {
                    let mut outcome = self.outcome(id, "unchanged");
                    if let Some(record) = self
                        .store
                        .tokens(id.as_str())
                        .await?
                        .into_iter()
                        .find(|t| t.name == token)
                    {
                        outcome.expires_at = record.expires_at;
                        outcome.sink = Some(record.sink);
                        outcome.secret_sha256 = Some(record.secret_sha256);
                    }
                    Ok(outcome)
                } else {
                    // A live token whose secret we hold in no sink: replace it now (grace 0).
                    self.rotate_with_grace(id, &target, 0, "reminted").await
                }
            }
            None => {
                let (seq, result) = self.send_mint(id, &self.add_statement(id, days)).await?;
                if result.is_empty() {
                    self.store.journal_finish(seq, JournalState::Done).await?;
                    return Err(TenantError::State {
                        tenant: id.to_string(),
                        problem: format!(
                            "{token} appeared while being provisioned; rerun the command"
                        ),
                    });
                }
                self.finish(id, seq, &result, &target, "created", Some(days))
                    .await
            }
        }
    }

    /// Whether the store says we delivered the live token's current secret to `target` (and,
    /// for a file sink, the file still holds it).
    async fn held(
        &self,
        id: &TenantId,
        token: &str,
        target: &Sink,
        live: &LiveToken,
    ) -> Result<bool, TenantError> {
        let records = self.store.tokens(id.as_str()).await?;
        let Some(record) = records.iter().find(|t| t.name == token) else {
            return Ok(false);
        };
        if record.sink != target.to_string() {
            return Ok(false);
        }
        // A token rotated behind our back has a new expiry. The recorded expiry may have been
        // computed from the ADD's server `createdOn` (a few milliseconds before the statement's
        // own clock reading), hence the tolerance.
        let recorded = record
            .expires_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if let (Some(recorded), Some(live)) = (recorded, live.expires_at) {
            let apart = (recorded.timestamp_millis() - live.epoch_millis()).abs();
            if apart > EXPIRY_TOLERANCE_MS {
                return Ok(false);
            }
        }
        if let Sink::File(path) = target {
            let Ok(text) = std::fs::read_to_string(path) else {
                return Ok(false);
            };
            let secret = SecretString::from(text.trim_end_matches('\n').to_owned());
            return Ok(secret_sha256(&secret) == record.secret_sha256);
        }
        Ok(true)
    }

    /// [`Tenants::recover`] for a tenant whose journal holds a pending ADD/ROTATE, to the sink
    /// its token was recorded with; `None` (and no store write) when nothing is pending.
    async fn recover_pending(&self, id: &TenantId) -> Result<Option<Outcome>, TenantError> {
        let pending = self
            .store
            .journal(id.as_str())
            .await?
            .iter()
            .any(|e| e.state == JournalState::Pending && (e.kind == ADD || e.kind == ROTATE));
        if !pending {
            return Ok(None);
        }
        let target = self.sink_of(id, None).await?;
        target.preflight()?;
        self.recover(id, &target, None).await
    }

    /// The sequence numbers of the tenant's pending journal entries a crashed run left: the
    /// statements that mint no secret (REMOVE PAT, SET DISABLED, MODIFY PAT, DROP USER, the
    /// setup), and with `mints` also ADD/ROTATE PAT. Taken before a command sends anything, so
    /// that its own entries are never among them.
    async fn stale_pending(&self, id: &TenantId, mints: bool) -> Result<Vec<i64>, TenantError> {
        Ok(self
            .store
            .journal(id.as_str())
            .await?
            .into_iter()
            .filter(|e| {
                e.state == JournalState::Pending && (mints || (e.kind != ADD && e.kind != ROTATE))
            })
            .map(|e| e.seq)
            .collect())
    }

    /// Marks entries a crashed run left pending as superseded, once the command that repeats or
    /// overrides them has succeeded (as `provision` does after its setup): each of those
    /// statements is idempotent and carries no secret, so this command's own statements decided
    /// the tenant's state, whatever the crashed one did.
    /// Before `revoke` or `drop` supersedes a pending ADD/ROTATE: a crash during its delivery may
    /// have left the (now dead) secret in a file sink's temporary file; remove it.
    async fn remove_crashed_deliveries(&self, id: &TenantId) -> Result<(), TenantError> {
        let minting = self
            .store
            .journal(id.as_str())
            .await?
            .iter()
            .any(|e| e.state == JournalState::Pending && (e.kind == ADD || e.kind == ROTATE));
        if minting {
            if let Ok(Sink::File(path)) = self.sink_of(id, None).await {
                remove_stale_temporaries(&path);
            }
        }
        Ok(())
    }

    async fn supersede(&self, seqs: &[i64]) -> Result<(), TenantError> {
        if !seqs.is_empty() {
            self.store
                .journal_finish_batch(seqs, JournalState::Superseded)
                .await?;
        }
        Ok(())
    }

    /// Resubmits the newest pending ADD/ROTATE of the tenant with its requestId and retry=true.
    /// `None` when there was nothing to recover or the resubmission gave no secret. With
    /// `Some(setup)` (the sequence numbers of the setup this provision just ran), the other
    /// statements a crashed run left pending were repeated by that setup: they are marked
    /// superseded.
    async fn recover(
        &self,
        id: &TenantId,
        target: &Sink,
        setup: Option<&[i64]>,
    ) -> Result<Option<Outcome>, TenantError> {
        let journal = self.store.journal(id.as_str()).await?;
        let (pending, others): (Vec<_>, Vec<_>) = journal
            .into_iter()
            .filter(|e| e.state == JournalState::Pending)
            .partition(|e| e.kind == ADD || e.kind == ROTATE);
        let others: Vec<_> = match setup {
            Some(setup) => others
                .into_iter()
                .filter(|e| !setup.contains(&e.seq))
                .collect(),
            None => Vec::new(),
        };
        if !others.is_empty() {
            let seqs: Vec<i64> = others.iter().map(|e| e.seq).collect();
            self.store
                .journal_finish_batch(&seqs, JournalState::Superseded)
                .await?;
        }
        if let (false, Sink::File(path)) = (pending.is_empty(), target) {
            // A crash during the delivery can have left the secret in a temporary file.
            remove_stale_temporaries(path);
        }
        let mut recovered = None;
        for entry in pending.into_iter().rev() {
            let Some(text) = entry.statement.clone() else {
                self.store
                    .journal_finish(entry.seq, JournalState::Failed)
                    .await?;
                continue;
            };
            if recovered.is_some() {
                self.store
                    .journal_finish(entry.seq, JournalState::Failed)
                    .await?;
                continue;
            }
            let request = self
                .request(snowpat_client::Statement::new(text))
                .request_id(entry.request_id)
                .resubmission();
            match self.client.execute(&request).await {
                Ok(result) if !result.is_empty() => {
                    recovered = Some(
                        self.finish(id, entry.seq, &result, target, "recovered", None)
                            .await?,
                    );
                }
                Ok(_) => {
                    // ADD IF NOT EXISTS found the token: nothing was minted by this request.
                    self.store
                        .journal_finish(entry.seq, JournalState::Done)
                        .await?;
                }
                Err(_) => {
                    tracing::warn!(tenant = %id, request_id = %entry.request_id,
                        "the pending token statement could not be recovered; the token will be replaced");
                    self.store
                        .journal_finish(entry.seq, JournalState::Failed)
                        .await?;
                }
            }
        }
        Ok(recovered)
    }

    /// Journals (with its text, for a resubmission) and sends a token-minting statement; the
    /// journal entry stays pending until [`Tenants::finish`] has delivered and recorded the
    /// secret.
    async fn send_mint(
        &self,
        id: &TenantId,
        statement: &Statement,
    ) -> Result<(i64, ResultSet), TenantError> {
        let request_id = Uuid::new_v4();
        let text = statement.to_string();
        let seq = self
            .store
            .journal_begin(id.as_str(), statement.kind(), request_id, Some(&text))
            .await?;
        let request = self
            .request(snowpat_client::Statement::new(text))
            .request_id(request_id);
        if crash::fires(crash::Point::AfterSend) {
            let client = self.client.clone();
            let in_flight = tokio::spawn(async move { client.execute(&request).await });
            tokio::time::sleep(crash::SEND_WINDOW).await;
            drop(in_flight);
            crash::die(crash::Point::AfterSend);
        }
        match self.client.execute(&request).await {
            Ok(result) => {
                crash::hit(crash::Point::AfterResponse);
                Ok((seq, result))
            }
            Err(e) => {
                // A definitive refusal did not run; anything else may have: stay pending.
                if matches!(e.kind(), snowpat_client::ErrorKind::Api(_)) && !e.retries_exhausted() {
                    self.store.journal_finish(seq, JournalState::Failed).await?;
                }
                Err(e.into())
            }
        }
    }

    /// Journals, sends and completes a token-minting statement.
    async fn mint(
        &self,
        id: &TenantId,
        statement: &Statement,
        target: &Sink,
        action: &str,
    ) -> Result<Outcome, TenantError> {
        let (seq, result) = self.send_mint(id, statement).await?;
        self.finish(id, seq, &result, target, action, None).await
    }

    /// Delivers a secret; file and dotenv sinks write and fsync on a blocking thread so that a
    /// bulk run keeps its requests moving meanwhile.
    async fn deliver(&self, target: &Sink, secret: &SecretString) -> Result<(), SinkError> {
        match target {
            Sink::File(path) | Sink::Dotenv { path, .. } => {
                let (target, secret, client) =
                    (target.clone(), secret.clone(), self.client.clone());
                let handle = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    handle.block_on(async { target.deliver(&secret, &client).await })
                })
                .await
                .unwrap_or_else(|e| {
                    Err(SinkError::Io {
                        path: path.display().to_string(),
                        source: std::io::Error::other(e.to_string()),
                    })
                })
            }
            _ => target.deliver(secret, &self.client).await,
        }
    }

    /// Secret → sink → store metadata → journal done. `days`: the token's lifetime when this was
    /// an ADD (its expiry is then the answer's server `createdOn` plus the days, as Snowflake
    /// sets it); otherwise the expiry is read with `SHOW USER PATS`.
    async fn finish(
        &self,
        id: &TenantId,
        seq: i64,
        result: &ResultSet,
        target: &Sink,
        action: &str,
        days: Option<u32>,
    ) -> Result<Outcome, TenantError> {
        let row = result.first().ok_or_else(|| TenantError::State {
            tenant: id.to_string(),
            problem: "the token statement returned no secret".into(),
        })?;
        let secret = row.secret("token_secret")?;
        if let Err(e) = self.deliver(target, &secret).await {
            // The secret is lost: the next provision replaces the token (grace 0).
            self.store.journal_finish(seq, JournalState::Failed).await?;
            return Err(e.into());
        }
        crash::hit(crash::Point::AfterSinkWrite);
        let sha = secret_sha256(&secret);
        let token = self.settings.token(id);
        let computed = days.zip(result.created_on()).and_then(|(days, created)| {
            created
                .as_datetime()
                .checked_add_signed(chrono::Duration::days(i64::from(days)))
                .map(|t| t.to_rfc3339())
        });
        let expires_at = match computed {
            Some(at) => Some(at),
            None => self
                .live_tokens(&self.settings.user(id))
                .await?
                .into_iter()
                .find(|t| t.name == token)
                .and_then(|t| t.expires_at)
                .map(|t| t.as_datetime().to_rfc3339()),
        };
        self.store
            .put_token(&TokenRecord {
                tenant: id.to_string(),
                name: token.clone(),
                role: self.settings.role().into_string(),
                expires_at: expires_at.clone(),
                secret_sha256: sha.clone(),
                sink: target.to_string(),
                updated_at: crate::store::stamp(),
            })
            .await?;
        crash::hit(crash::Point::BeforeJournalCommit);
        self.store.journal_finish(seq, JournalState::Done).await?;
        let mut outcome = self.outcome(id, action);
        outcome.expires_at = expires_at;
        outcome.sink = Some(target.to_string());
        outcome.secret_sha256 = Some(sha);
        if matches!(target, Sink::Stdout) {
            outcome.secret = Some(secret);
        }
        Ok(outcome)
    }

    /// Provisions many tenants, at most `concurrency` at once; results in the order of `ids`.
    pub async fn provision_many(
        &self,
        ids: &[TenantId],
        sink: &SinkSpec,
        days: u32,
        concurrency: usize,
    ) -> Vec<(TenantId, Result<Outcome, TenantError>)> {
        self.provision_many_observed(ids, sink, days, concurrency, &|_, _| {})
            .await
    }

    /// [`Tenants::provision_many`], calling `progress(done, total)` each time a tenant finishes
    /// (for a progress display; called from the awaiting task, in completion order).
    pub async fn provision_many_observed(
        &self,
        ids: &[TenantId],
        sink: &SinkSpec,
        days: u32,
        concurrency: usize,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Vec<(TenantId, Result<Outcome, TenantError>)> {
        let gate = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, id) in ids.iter().cloned().enumerate() {
            let this = self.clone();
            let gate = Arc::clone(&gate);
            let sink = sink.clone();
            tasks.spawn(async move {
                let _slot = gate.acquire_owned().await;
                let result = this.provision(&id, &sink, days).await;
                (index, result)
            });
        }
        let mut results: Vec<Option<Result<Outcome, TenantError>>> =
            ids.iter().map(|_| None).collect();
        let mut done = 0;
        while let Some(joined) = tasks.join_next().await {
            done += 1;
            progress(done, ids.len());
            if let Ok((index, result)) = joined {
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(result);
                }
            }
        }
        ids.iter()
            .cloned()
            .zip(results)
            .map(|(id, r)| {
                let r = r.unwrap_or_else(|| {
                    Err(TenantError::State {
                        tenant: id.to_string(),
                        problem: "the provisioning task ended abnormally".into(),
                    })
                });
                (id, r)
            })
            .collect()
    }

    /// The sink a tenant's secrets go to: the one recorded with its token, else `flag`, else
    /// `tenants.sink`.
    pub async fn sink_of(&self, id: &TenantId, flag: Option<&str>) -> Result<Sink, TenantError> {
        let token = self.settings.token(id);
        if flag.is_none() {
            if let Some(record) = self
                .store
                .tokens(id.as_str())
                .await?
                .into_iter()
                .find(|t| t.name == token)
            {
                return Ok(SinkSpec::parse(&record.sink)?.for_tenant(id.as_str()));
            }
        }
        Ok(self.sink_spec(flag)?.for_tenant(id.as_str()))
    }

    /// Rotates the tenant's token; the old secret keeps working for min(H, hours it has left).
    pub async fn rotate(
        &self,
        id: &TenantId,
        grace_hours: Option<u32>,
    ) -> Result<Outcome, TenantError> {
        let target = self.sink_of(id, None).await?;
        target.preflight()?;
        // A rotation a crashed run left pending has already replaced the secret: deliver that
        // one (same requestId, retry=true) instead of rotating again, or the sink would keep
        // the old secret until its grace ran out.
        if let Some(outcome) = self.recover(id, &target, None).await? {
            return Ok(outcome);
        }
        let stale = self.stale_pending(id, false).await?;
        let hours = i64::from(grace_hours.unwrap_or(self.settings.tenants.grace_hours));
        let token = self.settings.token(id);
        let live = self.live_tokens(&self.settings.user(id)).await?;
        let current = live
            .iter()
            .find(|t| t.name == token)
            .ok_or_else(|| TenantError::State {
                tenant: id.to_string(),
                problem: format!("no token {token}; run `snowpat tenant provision {id}`"),
            })?;
        let now = self.server_now().await?;
        let left = current
            .expires_at
            .map(|e| (e.epoch_millis() - now.epoch_millis()).div_euclid(3_600_000))
            .unwrap_or(0)
            .max(0);
        let outcome = self
            .rotate_with_grace(id, &target, hours.min(left), "rotated")
            .await?;
        self.supersede(&stale).await?;
        Ok(outcome)
    }

    async fn rotate_with_grace(
        &self,
        id: &TenantId,
        target: &Sink,
        grace: i64,
        action: &str,
    ) -> Result<Outcome, TenantError> {
        let rotate = Statement::AlterUser {
            if_exists: false,
            user: Some(Ident::new(self.settings.user(id))),
            action: AlterUserAction::RotatePat {
                if_exists: false,
                name: Ident::new(self.settings.token(id)),
                expire_rotated_token_after_hours: Some(grace),
            },
        };
        self.mint(id, &rotate, target, action).await
    }

    /// Removes the token and every `<NAME>_ROTATED_*` object: no secret of the tenant works.
    ///
    /// Whatever a crashed run left pending for the tenant, ADD/ROTATE included, is superseded
    /// once this succeeds: every token is gone, so a secret such a statement minted is dead.
    pub async fn revoke(&self, id: &TenantId) -> Result<Outcome, TenantError> {
        self.remove_crashed_deliveries(id).await?;
        let stale = self.stale_pending(id, true).await?;
        let user = self.settings.user(id);
        let token = self.settings.token(id);
        let rotated = format!("{token}_ROTATED_");
        for live in self.live_tokens(&user).await? {
            if live.name == token || live.name.starts_with(&rotated) {
                self.remove_pat(id, &user, &live.name).await?;
            }
        }
        self.store.delete_tokens(id.as_str()).await?;
        self.store.set_tenant_status(id.as_str(), "revoked").await?;
        self.supersede(&stale).await?;
        Ok(self.outcome(id, "revoked"))
    }

    async fn remove_pat(&self, id: &TenantId, user: &str, name: &str) -> Result<(), TenantError> {
        self.change(
            id,
            &Statement::AlterUser {
                if_exists: false,
                user: Some(Ident::new(user)),
                action: AlterUserAction::RemovePat {
                    if_exists: true,
                    name: Ident::new(name),
                },
            },
        )
        .await
        .map(|_| ())
    }

    fn set_disabled(&self, id: &TenantId, disabled: bool) -> Statement {
        Statement::AlterUser {
            if_exists: false,
            user: Some(Ident::new(self.settings.user(id))),
            action: AlterUserAction::Set(vec![Property::new("DISABLED", Value::Bool(disabled))]),
        }
    }

    /// Disables the user (which disables its tokens).
    ///
    /// A pending ADD/ROTATE a crashed run left is first recovered (resubmitted with its
    /// requestId and retry=true, the secret delivered), so the sink holds the token's current
    /// secret when the tenant is enabled again; other pending statements are superseded once the
    /// user is disabled.
    pub async fn disable(&self, id: &TenantId) -> Result<Outcome, TenantError> {
        self.recover_pending(id).await?;
        let stale = self.stale_pending(id, false).await?;
        self.change(id, &self.set_disabled(id, true)).await?;
        self.store
            .set_tenant_status(id.as_str(), "disabled")
            .await?;
        self.supersede(&stale).await?;
        Ok(self.outcome(id, "disabled"))
    }

    /// Enables the user, then each of its tokens; a crashed run's pending statements are
    /// resolved as for [`Tenants::disable`].
    pub async fn enable(&self, id: &TenantId) -> Result<Outcome, TenantError> {
        self.recover_pending(id).await?;
        let stale = self.stale_pending(id, false).await?;
        let user = self.settings.user(id);
        self.change(id, &self.set_disabled(id, false)).await?;
        let token = self.settings.token(id);
        for live in self.live_tokens(&user).await? {
            if live.name != token {
                continue; // rotated-token objects accept no re-enable (§5.12.3)
            }
            self.change(
                id,
                &Statement::AlterUser {
                    if_exists: false,
                    user: Some(Ident::new(user.clone())),
                    action: AlterUserAction::ModifyPat {
                        if_exists: true,
                        name: Ident::new(live.name),
                        change: ModifyPat::Set {
                            disabled: Some(false),
                            mins_to_bypass_network_policy_requirement: None,
                            comment: None,
                        },
                    },
                },
            )
            .await?;
        }
        self.store.set_tenant_status(id.as_str(), "active").await?;
        self.supersede(&stale).await?;
        Ok(self.outcome(id, "enabled"))
    }

    /// Removes every token, then drops the user; everything a crashed run left pending is
    /// superseded once it succeeds (as for [`Tenants::revoke`]).
    pub async fn drop_tenant(&self, id: &TenantId) -> Result<Outcome, TenantError> {
        self.remove_crashed_deliveries(id).await?;
        let stale = self.stale_pending(id, true).await?;
        let user = self.settings.user(id);
        match self.live_tokens(&user).await {
            Ok(tokens) => {
                for live in tokens {
                    self.remove_pat(id, &user, &live.name).await?;
                }
            }
            Err(TenantError::Client(e))
                if e.api().is_some_and(|a| a.code.as_deref() == Some("002003")) => {}
            Err(e) => return Err(e),
        }
        self.change(
            id,
            &Statement::DropUser {
                if_exists: true,
                name: Ident::new(user),
            },
        )
        .await?;
        self.store.delete_tokens(id.as_str()).await?;
        self.store.set_tenant_status(id.as_str(), "dropped").await?;
        self.supersede(&stale).await?;
        Ok(self.outcome(id, "dropped"))
    }

    /// The store's tenants, each with its recorded token.
    pub async fn list(&self) -> Result<Vec<Outcome>, TenantError> {
        let mut out = Vec::new();
        for tenant in self.store.tenants().await? {
            let id = TenantId(tenant.id.clone());
            let mut outcome = self.outcome(&id, &tenant.status);
            outcome.user = tenant.user;
            outcome.token_name = tenant.token_name.clone();
            outcome.role = tenant.role;
            if let Some(t) = self
                .store
                .tokens(&tenant.id)
                .await?
                .into_iter()
                .find(|t| t.name == tenant.token_name)
            {
                outcome.expires_at = t.expires_at;
                outcome.sink = Some(t.sink);
                outcome.secret_sha256 = Some(t.secret_sha256);
            }
            out.push(outcome);
        }
        Ok(out)
    }

    /// One tenant: the store's record and the live tokens from Snowflake.
    pub async fn show(&self, id: &TenantId) -> Result<(Outcome, Vec<LiveToken>), TenantError> {
        let listed = self.list().await?;
        let outcome = listed
            .into_iter()
            .find(|o| o.tenant == id.as_str())
            .ok_or_else(|| TenantError::State {
                tenant: id.to_string(),
                problem: "unknown to the store; run `snowpat tenant provision` first".into(),
            })?;
        let live = self.live_tokens(&outcome.user).await.unwrap_or_default();
        Ok((outcome, live))
    }

    /// Rotates every active tenant whose token expires within `within` (server time) and removes
    /// expired `_ROTATED_` objects.
    pub async fn rotate_due(
        &self,
        within: std::time::Duration,
    ) -> Result<Vec<(TenantId, Result<Outcome, TenantError>)>, TenantError> {
        self.rotate_due_observed(within, &|_, _| {}).await
    }

    /// [`Tenants::rotate_due`], calling `progress(examined, total)` before each tenant of the
    /// store is examined and once at the end (for a progress display).
    pub async fn rotate_due_observed(
        &self,
        within: std::time::Duration,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Vec<(TenantId, Result<Outcome, TenantError>)>, TenantError> {
        let now = self.server_now().await?;
        let horizon =
            now.epoch_millis() + i64::try_from(within.as_millis()).unwrap_or(i64::MAX / 2);
        let mut results = Vec::new();
        let all = self.store.tenants().await?;
        let total = all.len();
        for (index, tenant) in all.into_iter().enumerate() {
            progress(index, total);
            if tenant.status != "active" {
                continue;
            }
            let id = TenantId(tenant.id.clone());
            // Finish what a crashed run left pending first (see `rotate`).
            match self.recover_pending(&id).await {
                Ok(Some(outcome)) => {
                    results.push((id, Ok(outcome)));
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    results.push((id, Err(e)));
                    continue;
                }
            }
            let live = match self.live_tokens(&tenant.user).await {
                Ok(live) => live,
                Err(e) => {
                    results.push((id, Err(e)));
                    continue;
                }
            };
            let rotated = format!("{}_ROTATED_", tenant.token_name);
            for t in &live {
                if t.name.starts_with(&rotated) && t.status == "EXPIRED" {
                    self.remove_pat(&id, &tenant.user, &t.name).await?;
                }
            }
            let due = live.iter().any(|t| {
                t.name == tenant.token_name
                    && t.expires_at.is_some_and(|e| e.epoch_millis() <= horizon)
            });
            if due {
                let r = self.rotate(&id, None).await;
                results.push((id, r));
            }
        }
        progress(total, total);
        Ok(results)
    }
}

/// Removes temporary files a crashed delivery left next to a file sink's target
/// (`.<name>.<uuid>.tmp`, written by the sink before its rename): each may hold a secret that
/// never reached its place. Called only for a tenant with a pending token statement (a crashed
/// run), and only one delivery per tenant runs at a time, so none is in use.
fn remove_stale_temporaries(path: &std::path::Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if let Some(middle) = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
        {
            if middle.len() == 32 && middle.bytes().all(|b| b.is_ascii_hexdigit()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Parses `36h`, `7d`, `90m`, `45s`.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        assert_eq!(TenantId::parse("acme_1").unwrap().as_str(), "ACME_1");
        for bad in ["", "x; DROP USER y", "é", &"a".repeat(65), "a-b", "a b"] {
            assert!(
                matches!(TenantId::parse(bad), Err(TenantError::BadId(_))),
                "{bad}"
            );
        }
        assert!(TenantId::parse(&"a".repeat(64)).is_ok());
        assert!(matches!(
            TenantId::parse_all(&["acme", "ACME"]),
            Err(TenantError::DuplicateId(_))
        ));
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("36h"),
            Some(std::time::Duration::from_secs(36 * 3600))
        );
        assert_eq!(
            parse_duration("7d"),
            Some(std::time::Duration::from_secs(7 * 86_400))
        );
        assert_eq!(parse_duration("7"), None);
        assert_eq!(parse_duration("x"), None);
    }
}
