//! The minting engine: a verified identity in, a role-restricted PAT out (issue 6).
//!
//! * **as-user** (seed 003): a Snowflake session is opened with the subject token itself as an
//!   External OAuth bearer (protocols §5.1); `SELECT CURRENT_USER()` must name the policy-mapped
//!   user (else `user_mismatch`); then `ALTER USER ADD PAT SNOWPAT_{R} ROLE_RESTRICTION = R` (an
//!   OAuth session requires a restriction equal to its role, snowflake-behaviour §6.7 S4/S5), or
//!   `ROTATE` if it exists.
//! * **delegated**: the service's own connection (the automation identity holding MODIFY
//!   PROGRAMMATIC AUTHENTICATION METHODS on service users) runs
//!   `ALTER USER <user> ADD PAT SNOWPAT_{R} ROLE_RESTRICTION = R` (or ROTATE).
//!
//! Never break a running agent: one mint in flight per identity ([`crate::flight`]) and per
//! Snowflake object across processes (a store lease), a fresh token reused from the encrypted
//! cache ([`crate::cache`]), rotation with `EXPIRE_ROTATED_TOKEN_AFTER_HOURS` = the grace and
//! never more often than the grace (snowflake-behaviour §6.2: at most 15 token objects per user),
//! expired `_ROTATED_` objects removed, and a policy lifetime under Snowflake's one-day minimum
//! honoured by a journalled removal at its deadline.
//!
//! All SQL is built as `snowpat_sql::ast` values and rendered by `snowpat-sql`; secrets stay
//! `SecretString`; token times are server time (snowflake-behaviour §6.9).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::SecretString;
use snowpat_client::{BaseUrl, Client, Credential, ErrorKind, ServerTime};
use snowpat_core::store::{ExchangeTokenRecord, JournalState, RemovalRecord, Store};
use snowpat_core::tenants::secret_sha256;
use snowpat_sql::ast::{AddPat, AlterUserAction, Expr, Ident, Select, SelectItem, Statement};
use uuid::Uuid;

use crate::cache::{cache_key, CacheKey, Identity, TokenCache};
use crate::flight::{Flights, Turn};
use crate::metrics::Metrics;

/// `[exchange].mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    AsUser,
    Delegated,
}

impl Mode {
    /// `"as-user"` or `"delegated"`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "as-user" => Some(Self::AsUser),
            "delegated" => Some(Self::Delegated),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AsUser => "as-user",
            Self::Delegated => "delegated",
        }
    }
}

/// The minting settings (`[exchange]`).
#[derive(Clone, Debug)]
pub struct MintSettings {
    pub mode: Mode,
    /// `SNOWPAT_{role}`.
    pub token_name: String,
    pub days: u32,
    pub grace_hours: u32,
    pub reuse_while: Duration,
    /// How long to wait for another process's mint of the same object.
    pub lock_wait: Duration,
}

impl MintSettings {
    /// The token name for `role`, folded to upper case.
    #[must_use]
    pub fn token_name(&self, role: &str) -> String {
        self.token_name.replace("{role}", role).to_ascii_uppercase()
    }
}

/// What the caller asks for: a verified identity and the policy's longest lifetime.
#[derive(Clone, Debug)]
pub struct MintRequest {
    pub identity: Identity,
    pub max_lifetime: Duration,
}

/// How a token was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// ADD PAT.
    Created,
    /// ROTATE PAT.
    Rotated,
    /// From the reuse cache.
    Reused,
    /// From a concurrent request's mint.
    Shared,
}

impl Action {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Rotated => "rotated",
            Self::Reused => "reused",
            Self::Shared => "shared",
        }
    }
}

/// A token handed out.
pub struct Issued {
    pub secret: SecretString,
    pub token_name: String,
    /// The token's remaining lifetime (server time).
    pub expires_in: Duration,
    pub action: Action,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("token_name", &self.token_name)
            .field("expires_in", &self.expires_in)
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

/// Why no token was handed out. Clone (shared by the waiters of a flight); no secret inside.
#[derive(Clone, Debug, thiserror::Error)]
pub enum MintError {
    /// as-user: the session's user is not the one the policy maps. RFC 6749 `invalid_grant`
    /// (400): the subject token is not a grant for the mapped user.
    #[error("user_mismatch: the subject token signs in to Snowflake as {actual}, but the policy maps it to {expected}")]
    UserMismatch { expected: String, actual: String },
    /// Snowflake refused the subject token as an External OAuth bearer (as-user).
    #[error("Snowflake refused the subject token: {0}")]
    SnowflakeAuth(String),
    /// Snowflake refused a statement (privileges, role, limits).
    #[error("Snowflake refused: {0}")]
    SnowflakeRefused(String),
    /// Snowflake unreachable or overloaded past retries.
    #[error("Snowflake unavailable: {0}")]
    SnowflakeUnavailable(String),
    /// A rotation is due but the last one was less than the grace ago, and this process does not
    /// hold the current secret (another process or a restart minted it).
    #[error("the token {token} was minted less than the grace period ago by another process; retry after {retry_after:?}")]
    TooSoon {
        token: String,
        retry_after: Duration,
    },
    /// Another process holds the object's mint lock for too long.
    #[error("another process is minting {0}; retry shortly")]
    Busy(String),
    /// The token exists but is disabled: an administrator's decision, not overridden here.
    #[error("the token {0} is disabled; an administrator must enable it")]
    Disabled(String),
    /// Store or internal failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl MintError {
    /// RFC 6749 error code.
    #[must_use]
    pub fn oauth_error(&self) -> &'static str {
        match self {
            Self::UserMismatch { .. } | Self::SnowflakeAuth(_) => "invalid_grant",
            Self::SnowflakeRefused(_) | Self::Disabled(_) => "unauthorized_client",
            Self::SnowflakeUnavailable(_) | Self::TooSoon { .. } | Self::Busy(_) => {
                "temporarily_unavailable"
            }
            Self::Internal(_) => "server_error",
        }
    }

    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            Self::UserMismatch { .. } | Self::SnowflakeAuth(_) => 400,
            Self::SnowflakeRefused(_) | Self::Disabled(_) => 403,
            Self::SnowflakeUnavailable(_) | Self::TooSoon { .. } | Self::Busy(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    /// Stable reason for audit events and metrics.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UserMismatch { .. } => "user_mismatch",
            Self::SnowflakeAuth(_) => "snowflake_rejected_subject_token",
            Self::SnowflakeRefused(_) => "snowflake_refused",
            Self::SnowflakeUnavailable(_) => "snowflake_unavailable",
            Self::TooSoon { .. } => "rotation_too_soon",
            Self::Busy(_) => "mint_lock_busy",
            Self::Disabled(_) => "token_disabled",
            Self::Internal(_) => "internal",
        }
    }

    /// `Retry-After` for 503s.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::TooSoon { retry_after, .. } => Some(*retry_after),
            Self::Busy(_) | Self::SnowflakeUnavailable(_) => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    fn from_client(e: &snowpat_client::Error, auth_phase: bool) -> Self {
        let text = e.to_string();
        match e.kind() {
            ErrorKind::Api(api) if api.status == 401 || api.status == 403 => {
                if auth_phase {
                    Self::SnowflakeAuth(text)
                } else {
                    Self::SnowflakeRefused(text)
                }
            }
            ErrorKind::Api(api) if (400..500).contains(&api.status) && api.status != 429 => {
                Self::SnowflakeRefused(text)
            }
            _ => Self::SnowflakeUnavailable(text),
        }
    }
}

impl From<snowpat_core::store::StoreError> for MintError {
    fn from(e: snowpat_core::store::StoreError) -> Self {
        Self::Internal(format!("store: {e}"))
    }
}

fn local_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// How long one mint may hold an object's store lease.
const LEASE_MS: i64 = 120_000;

/// A live token as `SHOW USER PATS` lists it.
struct Live {
    name: String,
    status: String,
    expires_at: Option<i64>,
}

/// The engine. Cheap to share behind an `Arc`.
pub struct Minter<S: Store> {
    settings: MintSettings,
    /// Template for as-user sessions (its credential is replaced per request).
    base: Client,
    /// The service's own connection (delegated mode; removals and the scheduler in both modes).
    service: Option<Client>,
    store: Arc<S>,
    cache: TokenCache,
    fingerprint: [u8; 32],
    flights: Flights<MintError>,
    /// Server time minus local time (ms), last measured.
    offset_ms: std::sync::atomic::AtomicI64,
    holder: String,
    metrics: Arc<Metrics>,
}

impl<S: Store> Minter<S> {
    /// `base` is where Snowflake is (its credential is never used in as-user mode); `service`
    /// is required in delegated mode.
    pub fn new(
        settings: MintSettings,
        base: &BaseUrl,
        service: Option<Client>,
        store: Arc<S>,
        fingerprint: [u8; 32],
        metrics: Arc<Metrics>,
    ) -> Result<Self, MintError> {
        if settings.mode == Mode::Delegated && service.is_none() {
            return Err(MintError::Internal(
                "delegated mode needs the service's own connection ([connection])".into(),
            ));
        }
        let base = Client::builder(
            base.clone(),
            Credential::oauth(SecretString::from(String::new())),
        )
        .build()
        .map_err(|e| MintError::Internal(e.to_string()))?;
        Ok(Self {
            settings,
            base,
            service,
            store,
            cache: TokenCache::new(fingerprint).map_err(|e| MintError::Internal(e.to_string()))?,
            fingerprint,
            flights: Flights::default(),
            offset_ms: std::sync::atomic::AtomicI64::new(0),
            holder: Uuid::new_v4().to_string(),
            metrics,
        })
    }

    #[must_use]
    pub fn settings(&self) -> &MintSettings {
        &self.settings
    }

    #[must_use]
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    #[must_use]
    pub fn service(&self) -> Option<&Client> {
        self.service.as_ref()
    }

    /// Server time now, estimated from the last measured offset.
    fn server_estimate(&self) -> i64 {
        local_ms() + self.offset_ms.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn issued_from_cache(&self, key: &CacheKey, action: Action) -> Option<Issued> {
        let now = self.server_estimate();
        let reuse = i64::try_from(self.settings.reuse_while.as_millis()).unwrap_or(i64::MAX);
        let hit = self.cache.fresh(key, now, reuse)?;
        Some(Issued {
            secret: hit.secret,
            token_name: hit.token_name,
            expires_in: Duration::from_millis(
                u64::try_from(hit.deadline_ms.saturating_sub(now)).unwrap_or(0),
            ),
            action,
        })
    }

    /// A PAT for `request`: reused, shared with a concurrent request, or minted.
    /// `subject_token` is the verified IdP JWT (used as the Snowflake credential in as-user mode).
    pub async fn exchange(
        &self,
        request: &MintRequest,
        subject_token: &SecretString,
    ) -> Result<Issued, MintError> {
        let key = cache_key(&self.fingerprint, &request.identity);
        if let Some(issued) = self.issued_from_cache(&key, Action::Reused) {
            return Ok(issued);
        }
        let lead = match self.flights.join(key).await {
            Turn::Shared(e) => return Err(e),
            Turn::Mint(lead) => lead,
        };
        let action = if lead.followed_success {
            Action::Shared
        } else {
            Action::Reused
        };
        if let Some(issued) = self.issued_from_cache(&key, action) {
            lead.finish(None);
            return Ok(issued);
        }
        let result = self.mint_locked(request, subject_token, key).await;
        lead.finish(result.as_ref().err().cloned());
        self.metrics.cache_entries.store(
            u64::try_from(self.cache.len()).unwrap_or(0),
            std::sync::atomic::Ordering::Relaxed,
        );
        result
    }

    /// Holds the object's store lease around the mint.
    async fn mint_locked(
        &self,
        request: &MintRequest,
        subject_token: &SecretString,
        key: CacheKey,
    ) -> Result<Issued, MintError> {
        let id = &request.identity;
        let token = self.settings.token_name(&id.role);
        // The session: the subject's own (as-user) or the service's (delegated).
        // as-user reads the session user and server time in one statement.
        let (client, user, mut now) = match self.settings.mode {
            Mode::AsUser => {
                let client = self
                    .base
                    .with_credential(Credential::oauth(subject_token.clone()));
                let (user, now) = self.check_user(&client, &id.user).await?;
                (client, user, Some(now))
            }
            Mode::Delegated => {
                let client = self
                    .service
                    .clone()
                    .ok_or_else(|| MintError::Internal("no service connection".into()))?;
                (client, id.user.to_ascii_uppercase(), None)
            }
        };
        let lock_key = format!("{user}\u{1f}{token}");
        let started = std::time::Instant::now();
        loop {
            let local = local_ms();
            if self
                .store
                .exchange_try_lock(&lock_key, &self.holder, local, local + LEASE_MS)
                .await?
            {
                break;
            }
            if started.elapsed() > self.settings.lock_wait {
                return Err(MintError::Busy(token));
            }
            // Another process was minting: read server time afresh once we hold the lease.
            now = None;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let now = match now {
            Some(now) => now,
            None => server_now(&client)
                .await
                .map_err(|e| MintError::from_client(&e, false))?,
        };
        let result = self.mint(&client, request, &user, &token, key, now).await;
        if let Err(e) = self.store.exchange_unlock(&lock_key, &self.holder).await {
            tracing::warn!("cannot release the mint lock: {e}");
        }
        result
    }

    /// as-user: `SELECT CURRENT_USER()` must be the mapped user (by NAME, or by LOGIN_NAME
    /// through `DESCRIBE USER`). Returns the user's NAME and server time (unix ms).
    async fn check_user(&self, client: &Client, mapped: &str) -> Result<(String, i64), MintError> {
        let rs = run(client, &select_fns(&["CURRENT_USER", "CURRENT_TIMESTAMP"]))
            .await
            .map_err(|e| MintError::from_client(&e, true))?;
        let row = rs
            .first()
            .ok_or_else(|| MintError::Internal("SELECT CURRENT_USER() returned no row".into()))?;
        let actual: String = row
            .get_at::<Option<String>>(0)
            .ok()
            .flatten()
            .ok_or_else(|| MintError::Internal("CURRENT_USER() is NULL".into()))?;
        let now = row
            .get_at::<ServerTime>(1)
            .map_err(|e| MintError::Internal(e.to_string()))?
            .epoch_millis();
        if actual.eq_ignore_ascii_case(mapped) {
            return Ok((actual, now));
        }
        let described = run(
            client,
            &Statement::DescribeUser {
                name: Ident::new(actual.clone()),
            },
        )
        .await;
        if let Ok(rs) = described {
            for row in rs.rows() {
                let property: Option<String> = row.get("property").ok().flatten();
                if property.as_deref() == Some("LOGIN_NAME") {
                    let login: Option<String> = row.get("value").ok().flatten();
                    if login.is_some_and(|l| l.eq_ignore_ascii_case(mapped)) {
                        return Ok((actual, now));
                    }
                }
            }
        }
        Err(MintError::UserMismatch {
            expected: mapped.to_owned(),
            actual,
        })
    }

    fn target(&self, user: &str) -> Option<Ident> {
        match self.settings.mode {
            // The seed's form: the session user (snowflake-behaviour §5.12 username omitted).
            Mode::AsUser => None,
            Mode::Delegated => Some(Ident::new(user)),
        }
    }

    async fn live(&self, client: &Client, user: &str) -> Result<Vec<Live>, MintError> {
        let rs = run(
            client,
            &Statement::ShowUserPats {
                for_user: self.target(user),
            },
        )
        .await
        .map_err(|e| MintError::from_client(&e, false))?;
        let mut out = Vec::new();
        for row in rs.rows() {
            let name: String = row
                .get("name")
                .map_err(|e| MintError::Internal(e.to_string()))?;
            let status: String = row
                .get("status")
                .map_err(|e| MintError::Internal(e.to_string()))?;
            let expires_at = row
                .get::<Option<ServerTime>>("expires_at")
                .map_err(|e| MintError::Internal(e.to_string()))?
                .map(|t| t.epoch_millis());
            out.push(Live {
                name,
                status,
                expires_at,
            });
        }
        Ok(out)
    }

    async fn remove(&self, client: &Client, user: &str, name: &str) -> Result<(), MintError> {
        run(
            client,
            &Statement::AlterUser {
                if_exists: false,
                user: self.target(user),
                action: AlterUserAction::RemovePat {
                    if_exists: true,
                    name: Ident::new(name),
                },
            },
        )
        .await
        .map_err(|e| MintError::from_client(&e, false))?;
        self.metrics.mint("remove");
        Ok(())
    }

    /// The mint itself, under the lease.
    async fn mint(
        &self,
        client: &Client,
        request: &MintRequest,
        user: &str,
        token: &str,
        key: CacheKey,
        now: i64,
    ) -> Result<Issued, MintError> {
        let id = &request.identity;
        self.offset_ms
            .store(now - local_ms(), std::sync::atomic::Ordering::Relaxed);
        // Removals due for this user (as-user mode has no other session to run them in).
        for due in self.store.due_removals(now).await? {
            if due.user == user && due.mode == self.settings.mode.as_str() {
                self.remove(client, user, &due.object_name).await?;
                self.store.finish_removal(user, &due.object_name).await?;
                self.metrics.removal();
                self.cache.drop_object(&(user.to_owned(), due.object_name));
            }
        }
        let live = self.live(client, user).await?;
        // Expired rotated objects go (they count nowhere, but they clutter SHOW for 7 days).
        let rotated_prefix = format!("{token}_ROTATED_");
        for t in &live {
            if t.name.starts_with(&rotated_prefix) && t.status == "EXPIRED" {
                self.remove(client, user, &t.name).await?;
            }
        }
        let current = live.iter().find(|t| t.name == token);
        let object = (user.to_owned(), token.to_owned());
        let days_ms = i64::from(self.settings.days) * DAY_MS;
        let journal_key = format!("exchange:{user}:{token}");
        let (statement, action) = match current {
            Some(t) if t.status == "DISABLED" => return Err(MintError::Disabled(token.to_owned())),
            Some(t) if t.status == "ACTIVE" => {
                let record = self.store.exchange_token(user, token).await?;
                // Never more often than the grace (or, for a policy lifetime shorter than a
                // day, than half of it: its rotated objects are removed at their deadlines).
                let max_ms = i64::try_from(request.max_lifetime.as_millis()).unwrap_or(i64::MAX);
                let spacing = (i64::from(self.settings.grace_hours) * HOUR_MS).min(max_ms / 2);
                if let Some(r) = record.filter(|r| now - r.minted_at < spacing) {
                    let wait = (r.minted_at + spacing - now).max(1000);
                    return Err(MintError::TooSoon {
                        token: token.to_owned(),
                        retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1000)),
                    });
                }
                // Grace: min(H, whole hours the current secret has left) (§6.2).
                let left = t
                    .expires_at
                    .map(|e| (e - now).div_euclid(HOUR_MS))
                    .unwrap_or(0)
                    .max(0);
                let grace = i64::from(self.settings.grace_hours).min(left);
                (
                    Statement::AlterUser {
                        if_exists: false,
                        user: self.target(user),
                        action: AlterUserAction::RotatePat {
                            if_exists: false,
                            name: Ident::new(token),
                            expire_rotated_token_after_hours: Some(grace),
                        },
                    },
                    Action::Rotated,
                )
            }
            other => {
                if other.is_some() {
                    // EXPIRED: its name is still taken until it is purged.
                    self.remove(client, user, token).await?;
                }
                (
                    Statement::AlterUser {
                        if_exists: false,
                        user: self.target(user),
                        action: AlterUserAction::AddPat(AddPat {
                            if_not_exists: false,
                            name: Ident::new(token),
                            role_restriction: Some(Ident::new(id.role.clone())),
                            days_to_expiry: Some(i64::from(self.settings.days)),
                            mins_to_bypass_network_policy_requirement: None,
                            comment: Some(format!(
                                "snowpat exchange ({}) policy {}",
                                self.settings.mode.as_str(),
                                id.policy
                            )),
                        }),
                    },
                    Action::Created,
                )
            }
        };
        // Journalled before it is sent (the text carries no secret), so a crash leaves a trace.
        let request_id = Uuid::new_v4();
        let text = statement.to_string();
        let seq = self
            .store
            .journal_begin(&journal_key, statement.kind(), request_id, Some(&text))
            .await?;
        let sent = client
            .execute(&snowpat_client::Statement::new(text).request_id(request_id))
            .await;
        let rs = match sent {
            Ok(rs) => {
                self.store.journal_finish(seq, JournalState::Done).await?;
                rs
            }
            Err(e) => {
                if matches!(e.kind(), ErrorKind::Api(_)) && !e.retries_exhausted() {
                    self.store.journal_finish(seq, JournalState::Failed).await?;
                }
                return Err(MintError::from_client(&e, false));
            }
        };
        self.metrics.mint(match action {
            Action::Rotated => "rotate",
            _ => "add",
        });
        let row = rs
            .first()
            .ok_or_else(|| MintError::Internal("the PAT statement returned no row".into()))?;
        let secret = row
            .secret("token_secret")
            .map_err(|e| MintError::Internal(e.to_string()))?;
        if action == Action::Rotated {
            let rotated: Option<String> = row.get("rotated_token_name").ok().flatten();
            if let Some(rotated) = rotated {
                // The old secret's pending removal follows it; other subjects' cached copies of
                // it now live at most the grace.
                self.store.rename_removal(user, token, &rotated).await?;
            }
            let left = current
                .and_then(|t| t.expires_at)
                .map(|e| (e - now).div_euclid(HOUR_MS))
                .unwrap_or(0)
                .max(0);
            let grace = i64::from(self.settings.grace_hours).min(left);
            self.cache.cap_object(&object, now + grace * HOUR_MS, &key);
        }
        let expires_at = now + days_ms;
        let max_ms = i64::try_from(request.max_lifetime.as_millis()).unwrap_or(i64::MAX);
        let deadline = if max_ms < days_ms {
            let deadline = now + max_ms;
            self.store
                .schedule_removal(&RemovalRecord {
                    user: user.to_owned(),
                    object_name: token.to_owned(),
                    deadline,
                    mode: self.settings.mode.as_str().to_owned(),
                })
                .await?;
            deadline
        } else {
            expires_at
        };
        self.store
            .put_exchange_token(&ExchangeTokenRecord {
                user: user.to_owned(),
                token_name: token.to_owned(),
                role: id.role.clone(),
                policy: id.policy.clone(),
                mode: self.settings.mode.as_str().to_owned(),
                minted_at: now,
                expires_at: Some(expires_at),
                secret_sha256: secret_sha256(&secret),
                updated_at: chrono::Utc::now().to_rfc3339(),
            })
            .await?;
        self.cache
            .put(key, &secret, deadline, deadline - now, object)
            .map_err(|e| MintError::Internal(e.to_string()))?;
        Ok(Issued {
            secret,
            token_name: token.to_owned(),
            expires_in: Duration::from_millis(u64::try_from(deadline - now).unwrap_or(0)),
            action,
        })
    }

    /// Removes every token whose journalled deadline has passed (server time), with the
    /// service's connection. Returns how many were removed. as-user tokens need a service
    /// connection with OWNERSHIP or MPAM on their users; without one they are removed at the
    /// user's next exchange.
    pub async fn run_due_removals(&self) -> Result<usize, MintError> {
        let Some(client) = self.service.clone() else {
            return Ok(0);
        };
        let now = server_now(&client)
            .await
            .map_err(|e| MintError::from_client(&e, false))?;
        let mut removed = 0;
        for due in self.store.due_removals(now).await? {
            let statement = Statement::AlterUser {
                if_exists: true,
                user: Some(Ident::new(due.user.clone())),
                action: AlterUserAction::RemovePat {
                    if_exists: true,
                    name: Ident::new(due.object_name.clone()),
                },
            };
            match run(&client, &statement).await {
                Ok(_) => {
                    self.store
                        .finish_removal(&due.user, &due.object_name)
                        .await?;
                    self.cache
                        .drop_object(&(due.user.clone(), due.object_name.clone()));
                    self.metrics.mint("remove");
                    self.metrics.removal();
                    removed += 1;
                }
                Err(e) => {
                    tracing::warn!(
                        user = %due.user,
                        token = %due.object_name,
                        "cannot remove a token at its policy deadline: {e}"
                    );
                }
            }
        }
        Ok(removed)
    }

    /// Removes expired `_ROTATED_` objects of the delegated tokens this service minted.
    pub async fn clean_rotated(&self) -> Result<usize, MintError> {
        let Some(client) = self.service.clone() else {
            return Ok(0);
        };
        let mut removed = 0;
        for record in self.store.exchange_tokens().await? {
            if record.mode != Mode::Delegated.as_str() {
                continue;
            }
            let rs = run(
                &client,
                &Statement::ShowUserPats {
                    for_user: Some(Ident::new(record.user.clone())),
                },
            )
            .await
            .map_err(|e| MintError::from_client(&e, false))?;
            let prefix = format!("{}_ROTATED_", record.token_name);
            for row in rs.rows() {
                let name: String = row.get("name").unwrap_or_default();
                let status: String = row.get("status").unwrap_or_default();
                if name.starts_with(&prefix) && status == "EXPIRED" {
                    let statement = Statement::AlterUser {
                        if_exists: true,
                        user: Some(Ident::new(record.user.clone())),
                        action: AlterUserAction::RemovePat {
                            if_exists: true,
                            name: Ident::new(name),
                        },
                    };
                    run(&client, &statement)
                        .await
                        .map_err(|e| MintError::from_client(&e, false))?;
                    self.metrics.mint("remove");
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

fn select_fn(name: &str) -> Statement {
    select_fns(&[name])
}

fn select_fns(names: &[&str]) -> Statement {
    Statement::Select(Select {
        items: names
            .iter()
            .map(|name| SelectItem {
                expr: Expr::Function {
                    name: (*name).into(),
                    args: vec![],
                },
                alias: None,
            })
            .collect(),
        from: None,
        filter: vec![],
    })
}

async fn run(
    client: &Client,
    statement: &Statement,
) -> Result<snowpat_client::ResultSet, snowpat_client::Error> {
    client
        .execute(&snowpat_client::Statement::new(statement.to_string()))
        .await
}

/// Server time (`SELECT CURRENT_TIMESTAMP()`), unix ms.
pub async fn server_now(client: &Client) -> Result<i64, snowpat_client::Error> {
    let rs = run(client, &select_fn("CURRENT_TIMESTAMP")).await?;
    Ok(rs
        .first()
        .and_then(|r| r.get_at::<ServerTime>(0).ok())
        .map_or_else(local_ms, |t| t.epoch_millis()))
}
