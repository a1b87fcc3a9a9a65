//! The state store (architecture: "the store never holds a secret"): tenants, token metadata
//! (name, role, server-time expiry, SHA-256 of the secret, sink) and the journal of statements,
//! each `requestId` recorded *before* the statement is sent so a rerun after a crash can resubmit
//! it (protocols §2.8).
//!
//! [`Store`] is backend-neutral, with two implementations: [`SqliteStore`] (`sqlite:PATH`) and
//! [`PgStore`] (`postgres://...` / `postgresql://...`). [`AnyStore::open`] picks one by the URL's
//! scheme; both pass the same test suite (`tests/store.rs`).

#[cfg(test)]
mod exchange_tests;
mod postgres;
mod sqlite;

use std::future::Future;

pub use postgres::{is_postgres_url, redact_url, PgStore};
pub use sqlite::SqliteStore;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported store URL {0:?}: use sqlite:PATH or postgres://USER@HOST/DATABASE")]
    Url(String),
    #[error("cannot prepare the store at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("store database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// One tenant as the store knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: String,
    pub user: String,
    pub token_name: String,
    pub role: String,
    /// `active`, `disabled`, `revoked`, `dropped`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A token's metadata; never its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub tenant: String,
    pub name: String,
    pub role: String,
    /// Server time (`SHOW USER PATS` `expires_at`), RFC 3339.
    pub expires_at: Option<String>,
    pub secret_sha256: String,
    /// The sink spec the secret went to (with `{id}` expanded).
    pub sink: String,
    pub updated_at: String,
}

/// Journal states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalState {
    Pending,
    Done,
    Failed,
    /// The process died before the outcome was known, and a later request repeated the
    /// (idempotent) statement.
    Superseded,
}

impl JournalState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Superseded => "superseded",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "done" => Self::Done,
            "failed" => Self::Failed,
            "superseded" => Self::Superseded,
            _ => Self::Pending,
        }
    }
}

/// One statement snowpat sent (or was about to send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    pub seq: i64,
    pub tenant: String,
    /// The statement kind (`ALTER USER ADD PAT`, ...).
    pub kind: String,
    pub request_id: uuid::Uuid,
    /// The statement text, kept only for statements that carry no secret (ADD/ROTATE PAT) so a
    /// rerun can resubmit the very same request.
    pub statement: Option<String>,
    pub state: JournalState,
}

/// A PAT object minted by the exchange service (`snowpat serve` / `snowpat exchange`); never its
/// secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeTokenRecord {
    /// The Snowflake user NAME the token belongs to.
    pub user: String,
    /// `SNOWPAT_{role}` (the `[exchange] token_name` template).
    pub token_name: String,
    pub role: String,
    /// The trust policy that granted the last mint.
    pub policy: String,
    /// `as-user` or `delegated`.
    pub mode: String,
    /// Server time (unix ms) of the last ADD or ROTATE.
    pub minted_at: i64,
    /// Server time (unix ms) at which Snowflake expires the current secret.
    pub expires_at: Option<i64>,
    pub secret_sha256: String,
    pub updated_at: String,
}

/// A journalled removal: the PAT object must be removed at `deadline` (server time, unix ms), a
/// policy `max_lifetime` shorter than Snowflake's one-day minimum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovalRecord {
    pub user: String,
    pub object_name: String,
    pub deadline: i64,
    /// `as-user` or `delegated` (who can remove it).
    pub mode: String,
}

/// The backend-neutral store interface.
pub trait Store: Send + Sync + 'static {
    /// Inserts or updates a tenant (status and `updated_at`; the `created_at` of a known tenant
    /// is kept).
    fn upsert_tenant(
        &self,
        tenant: &TenantRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn tenant(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<TenantRecord>, StoreError>> + Send;
    fn tenants(&self) -> impl Future<Output = Result<Vec<TenantRecord>, StoreError>> + Send;
    fn set_tenant_status(
        &self,
        id: &str,
        status: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Inserts or replaces the metadata of one token.
    fn put_token(&self, token: &TokenRecord)
        -> impl Future<Output = Result<(), StoreError>> + Send;
    fn tokens(
        &self,
        tenant: &str,
    ) -> impl Future<Output = Result<Vec<TokenRecord>, StoreError>> + Send;
    fn delete_tokens(&self, tenant: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Takes (or renews) the lease on `key` for `holder` until `lease_until_ms` (local unix ms).
    /// True when `holder` now holds it: the row was free, already `holder`'s, or its lease ran
    /// out (a crashed holder). One atomic statement, so two processes never both hold it.
    fn exchange_try_lock(
        &self,
        key: &str,
        holder: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Releases `key` if `holder` holds it.
    fn exchange_unlock(
        &self,
        key: &str,
        holder: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Inserts or replaces an exchange token's metadata.
    fn put_exchange_token(
        &self,
        token: &ExchangeTokenRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn exchange_token(
        &self,
        user: &str,
        token_name: &str,
    ) -> impl Future<Output = Result<Option<ExchangeTokenRecord>, StoreError>> + Send;
    fn exchange_tokens(
        &self,
    ) -> impl Future<Output = Result<Vec<ExchangeTokenRecord>, StoreError>> + Send;
    fn delete_exchange_token(
        &self,
        user: &str,
        token_name: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Journals a removal (replacing any pending one for the same object).
    fn schedule_removal(
        &self,
        removal: &RemovalRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// A ROTATE moved the old secret to `to`: its pending removal follows it.
    fn rename_removal(
        &self,
        user: &str,
        from: &str,
        to: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Pending removals whose deadline is at or before `now_ms` (server time), oldest first.
    fn due_removals(
        &self,
        now_ms: i64,
    ) -> impl Future<Output = Result<Vec<RemovalRecord>, StoreError>> + Send;
    /// All pending removals, oldest deadline first.
    fn pending_removals(
        &self,
    ) -> impl Future<Output = Result<Vec<RemovalRecord>, StoreError>> + Send;
    /// Marks a removal done.
    fn finish_removal(
        &self,
        user: &str,
        object_name: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records a statement as pending before it is sent; returns its sequence number.
    fn journal_begin(
        &self,
        tenant: &str,
        kind: &str,
        request_id: uuid::Uuid,
        statement: Option<&str>,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    fn journal_finish(
        &self,
        seq: i64,
        state: JournalState,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The tenant's journal, oldest first.
    fn journal(
        &self,
        tenant: &str,
    ) -> impl Future<Output = Result<Vec<JournalEntry>, StoreError>> + Send;
    /// Records the statements of one multi-statement request, all under its `request_id`, as
    /// pending in one transaction before it is sent; returns their sequence numbers in order.
    /// Each entry is `(kind, statement text kept for a resubmission)`.
    fn journal_begin_batch(
        &self,
        tenant: &str,
        request_id: uuid::Uuid,
        entries: &[(&str, Option<&str>)],
    ) -> impl Future<Output = Result<Vec<i64>, StoreError>> + Send;
    /// Marks several entries (one request's) done or failed in one transaction.
    fn journal_finish_batch(
        &self,
        seqs: &[i64],
        state: JournalState,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Now, for store bookkeeping timestamps only (never for token lifetimes, which use server time).
pub(crate) fn stamp() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// The store a `--store` URL names: `sqlite:PATH` or `postgres://...` (`postgresql://...`).
/// Dispatches every [`Store`] method to the backend, so `Tenants<AnyStore>` and the exchange
/// service work unchanged on either.
#[derive(Clone, Debug)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl AnyStore {
    /// Opens (and migrates) the store `url` names. A password in a PostgreSQL URL never appears
    /// in the error.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if is_postgres_url(url) {
            Ok(Self::Postgres(PgStore::open(url).await?))
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(SqliteStore::open(url).await?))
        } else {
            Err(StoreError::Url(redact_url(url)))
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> Self {
        Self::Sqlite(store)
    }
}

impl From<PgStore> for AnyStore {
    fn from(store: PgStore) -> Self {
        Self::Postgres(store)
    }
}

/// `match self { Sqlite(s) => s.$method(..).await, Postgres(s) => ... }`.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            AnyStore::Sqlite(store) => store.$method($($arg),*).await,
            AnyStore::Postgres(store) => store.$method($($arg),*).await,
        }
    };
}

impl Store for AnyStore {
    async fn upsert_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError> {
        dispatch!(self.upsert_tenant(tenant))
    }
    async fn tenant(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        dispatch!(self.tenant(id))
    }
    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        dispatch!(self.tenants())
    }
    async fn set_tenant_status(&self, id: &str, status: &str) -> Result<(), StoreError> {
        dispatch!(self.set_tenant_status(id, status))
    }
    async fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        dispatch!(self.put_token(token))
    }
    async fn tokens(&self, tenant: &str) -> Result<Vec<TokenRecord>, StoreError> {
        dispatch!(self.tokens(tenant))
    }
    async fn delete_tokens(&self, tenant: &str) -> Result<(), StoreError> {
        dispatch!(self.delete_tokens(tenant))
    }
    async fn journal_begin(
        &self,
        tenant: &str,
        kind: &str,
        request_id: uuid::Uuid,
        statement: Option<&str>,
    ) -> Result<i64, StoreError> {
        dispatch!(self.journal_begin(tenant, kind, request_id, statement))
    }
    async fn journal_finish(&self, seq: i64, state: JournalState) -> Result<(), StoreError> {
        dispatch!(self.journal_finish(seq, state))
    }
    async fn journal(&self, tenant: &str) -> Result<Vec<JournalEntry>, StoreError> {
        dispatch!(self.journal(tenant))
    }
    async fn exchange_try_lock(
        &self,
        key: &str,
        holder: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self.exchange_try_lock(key, holder, now_ms, lease_until_ms))
    }
    async fn exchange_unlock(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        dispatch!(self.exchange_unlock(key, holder))
    }
    async fn put_exchange_token(&self, token: &ExchangeTokenRecord) -> Result<(), StoreError> {
        dispatch!(self.put_exchange_token(token))
    }
    async fn exchange_token(
        &self,
        user: &str,
        token_name: &str,
    ) -> Result<Option<ExchangeTokenRecord>, StoreError> {
        dispatch!(self.exchange_token(user, token_name))
    }
    async fn exchange_tokens(&self) -> Result<Vec<ExchangeTokenRecord>, StoreError> {
        dispatch!(self.exchange_tokens())
    }
    async fn delete_exchange_token(&self, user: &str, token_name: &str) -> Result<(), StoreError> {
        dispatch!(self.delete_exchange_token(user, token_name))
    }
    async fn schedule_removal(&self, removal: &RemovalRecord) -> Result<(), StoreError> {
        dispatch!(self.schedule_removal(removal))
    }
    async fn rename_removal(&self, user: &str, from: &str, to: &str) -> Result<(), StoreError> {
        dispatch!(self.rename_removal(user, from, to))
    }
    async fn due_removals(&self, now_ms: i64) -> Result<Vec<RemovalRecord>, StoreError> {
        dispatch!(self.due_removals(now_ms))
    }
    async fn pending_removals(&self) -> Result<Vec<RemovalRecord>, StoreError> {
        dispatch!(self.pending_removals())
    }
    async fn finish_removal(&self, user: &str, object_name: &str) -> Result<(), StoreError> {
        dispatch!(self.finish_removal(user, object_name))
    }
    async fn journal_begin_batch(
        &self,
        tenant: &str,
        request_id: uuid::Uuid,
        entries: &[(&str, Option<&str>)],
    ) -> Result<Vec<i64>, StoreError> {
        dispatch!(self.journal_begin_batch(tenant, request_id, entries))
    }
    async fn journal_finish_batch(
        &self,
        seqs: &[i64],
        state: JournalState,
    ) -> Result<(), StoreError> {
        dispatch!(self.journal_finish_batch(seqs, state))
    }
}
