//! Everything the server keeps: the account behind one lock, the account clock offset, the
//! idempotency table (protocols §2.8), statement handles, the request log, fault state, and the
//! `--state` file that makes the durable parts survive `kill -9`.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use snowpat_sql::ast::Statement;

use super::faults::FaultState;
use super::files::write_private_file;
use super::log::{LogLine, RequestLog};
use super::{bootstrap, Config, ServerError};
use crate::engine::{Account, AccountConfig, Now, ResultSet, Session, SqlError};

/// How long a stored response that carries a secret is kept (protocols §2.8: 24 h, account clock).
pub(crate) const SECRET_RETENTION_MS: i64 = 24 * 3600 * 1000;
/// How long other stored responses and statement handles are kept [E] (Snowflake keeps query
/// history 14 days).
pub(crate) const RETENTION_MS: i64 = 14 * 24 * 3600 * 1000;
/// Statement handles kept in memory at most; the oldest are forgotten first.
const MAX_HANDLES: usize = 100_000;

/// Locks a mutex, recovering the data if a previous holder panicked (the data is still
/// consistent: every mutation under these locks is a single assignment or insertion).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// State shared by every request.
pub(crate) struct Shared {
    pub config: Config,
    pub core: Mutex<Core>,
    pub log: Mutex<RequestLog>,
    pub faults: Mutex<FaultState>,
    pub control_token: Option<SecretString>,
    admin_token: Mutex<Option<SecretString>>,
    /// JWKS key sets of External OAuth integrations (loopback URLs only, protocols §5.4).
    pub jwks: super::jwks::JwksCache,
}

/// A stored answer (status, JSON body, `Link` header).
#[derive(Clone, Deserialize, Serialize)]
pub(crate) struct StoredReply {
    pub status: u16,
    pub body: serde_json::Value,
    pub link: Option<String>,
}

/// What became of an idempotent request.
#[derive(Clone, Deserialize, Serialize)]
pub(crate) enum IdemOutcome {
    Running,
    Succeeded(StoredReply),
    Failed,
}

/// One row of the idempotency table: `(user, requestId) → {digest, handle, outcome}`.
#[derive(Clone, Deserialize, Serialize)]
pub(crate) struct IdemEntry {
    pub user_id: u64,
    pub request_id: String,
    /// Hex SHA-256 of the statement text.
    pub digest: String,
    pub handle: String,
    pub created_on_ms: i64,
    pub carries_secret: bool,
    pub outcome: IdemOutcome,
}

/// A finished statement's result, cells already encoded for the wire.
pub(crate) struct StoredResult {
    pub row_type: Vec<serde_json::Value>,
    pub rows: Vec<serde_json::Value>,
    /// Children of a multi-statement request.
    pub statement_handles: Option<Vec<String>>,
}

pub(crate) enum HandleState {
    Running,
    Done(Arc<StoredResult>),
    /// The 422 body.
    Failed(serde_json::Value),
    Cancelled,
}

pub(crate) struct HandleEntry {
    pub user_id: u64,
    pub request_id: String,
    pub created_on_ms: i64,
    pub carries_secret: bool,
    pub state: HandleState,
}

/// The account and everything that must change with it under one lock.
pub(crate) struct Core {
    pub account: Account,
    pub clock_offset_ms: i64,
    pub idempotency: HashMap<(u64, String), IdemEntry>,
    pub handles: HashMap<String, HandleEntry>,
    handle_order: VecDeque<String>,
    state_path: Option<PathBuf>,
    last_purge_ms: i64,
}

#[derive(Serialize)]
struct StateOut<'a> {
    version: u32,
    account: &'a Account,
    clock_offset_ms: i64,
    idempotency: Vec<&'a IdemEntry>,
}

#[derive(Deserialize)]
struct StateIn {
    account: Account,
    #[serde(default)]
    clock_offset_ms: i64,
    #[serde(default)]
    idempotency: Vec<IdemEntry>,
}

/// A change applied in memory, not yet written (see [`Core::execute_pending`]). The account
/// keeps the statement's undo record until [`Core::commit`].
pub(crate) struct Pending {
    changed: bool,
}

/// Why a statement could not be committed.
pub(crate) enum CommitError {
    Sql(SqlError),
    /// The state file could not be written; the change was rolled back.
    Durability(std::io::Error),
}

impl Core {
    /// The two clocks of §6.9.
    pub(crate) fn now(&self) -> Now {
        let real = Utc::now();
        Now {
            account: real + Duration::milliseconds(self.clock_offset_ms),
            real,
        }
    }

    pub(crate) fn has_state_file(&self) -> bool {
        self.state_path.is_some()
    }

    /// Writes the durable state (`--state`), if configured.
    pub(crate) fn persist(&self) -> std::io::Result<()> {
        let Some(path) = &self.state_path else {
            return Ok(());
        };
        let out = StateOut {
            version: 1,
            account: &self.account,
            clock_offset_ms: self.clock_offset_ms,
            idempotency: self
                .idempotency
                .values()
                .filter(|e| !matches!(e.outcome, IdemOutcome::Running))
                .collect(),
        };
        let bytes = serde_json::to_vec(&out).map_err(std::io::Error::other)?;
        write_private_file(path, &bytes)
    }

    /// Runs one statement so that it either fully applies (and, with `--state`, is durable) or
    /// leaves the account as it was: the engine undoes a failed statement itself, and a change
    /// that cannot be written is undone from the engine's undo record (no copy of the account).
    pub(crate) fn execute_committed(
        &mut self,
        session: &mut Session,
        statement: &Statement,
        now: Now,
    ) -> Result<ResultSet, CommitError> {
        let (result, pending) = self.execute_pending(session, statement, now)?;
        self.commit(pending).map_err(CommitError::Durability)?;
        Ok(result)
    }

    /// Runs one statement; a failure is already rolled back. A change is applied in memory but
    /// not yet durable: the caller adds what must be written with it (the idempotency entry) and
    /// then calls [`Core::commit`], so that both reach the state file in one write.
    pub(crate) fn execute_pending(
        &mut self,
        session: &mut Session,
        statement: &Statement,
        now: Now,
    ) -> Result<(ResultSet, Pending), CommitError> {
        match self.account.execute_uncommitted(session, statement, now) {
            Ok(result) => {
                let pending = Pending {
                    changed: result.changed,
                };
                Ok((result, pending))
            }
            Err(error) => Err(CommitError::Sql(error)),
        }
    }

    /// Makes a pending change durable; if the state file cannot be written, the change is
    /// rolled back and the error returned.
    pub(crate) fn commit(&mut self, pending: Pending) -> std::io::Result<()> {
        if pending.changed {
            if let Err(error) = self.persist() {
                self.account.rollback_statement();
                return Err(error);
            }
        }
        self.account.commit_statement();
        Ok(())
    }

    /// Drops expired stored responses and handles (at most once per second of account clock).
    pub(crate) fn purge(&mut self, now_ms: i64) {
        if now_ms - self.last_purge_ms < 1000 {
            return;
        }
        self.last_purge_ms = now_ms;
        let expired = |created: i64, secret: bool| {
            let keep = if secret {
                SECRET_RETENTION_MS
            } else {
                RETENTION_MS
            };
            now_ms - created >= keep
        };
        self.idempotency
            .retain(|_, e| !expired(e.created_on_ms, e.carries_secret));
        self.handles
            .retain(|_, h| !expired(h.created_on_ms, h.carries_secret));
        let handles = &self.handles;
        self.handle_order.retain(|h| handles.contains_key(h));
    }

    pub(crate) fn insert_handle(&mut self, handle: String, entry: HandleEntry) {
        if self.handles.insert(handle.clone(), entry).is_none() {
            self.handle_order.push_back(handle);
        }
        while self.handle_order.len() > MAX_HANDLES {
            if let Some(old) = self.handle_order.pop_front() {
                self.handles.remove(&old);
            }
        }
    }
}

impl Shared {
    /// Loads or creates the account and runs the start-up bootstrap (blocking: file I/O, RSA
    /// key generation).
    pub(crate) fn start(config: Config) -> Result<Self, ServerError> {
        let real = Utc::now();
        let (account, clock_offset_ms, idempotency, existed) = match &config.state {
            Some(path) if state_exists(path)? => {
                let bytes = std::fs::read(path).map_err(|source| ServerError::File {
                    path: path.clone(),
                    source,
                })?;
                let state: StateIn =
                    serde_json::from_slice(&bytes).map_err(|source| ServerError::State {
                        path: path.clone(),
                        source,
                    })?;
                let table = state
                    .idempotency
                    .into_iter()
                    .filter(|e| !matches!(e.outcome, IdemOutcome::Running))
                    .map(|e| ((e.user_id, e.request_id.clone()), e))
                    .collect();
                (state.account, state.clock_offset_ms, table, true)
            }
            _ => {
                let account_config = AccountConfig {
                    name: config.account.to_uppercase(),
                    default_network_policy: !config.no_default_network_policy,
                    pat_session_rules: config.pat_session_rules,
                };
                let now = Now {
                    account: real,
                    real,
                };
                (Account::new(&account_config, now), 0, HashMap::new(), false)
            }
        };
        let mut core = Core {
            account,
            clock_offset_ms,
            idempotency,
            handles: HashMap::new(),
            handle_order: VecDeque::new(),
            state_path: config.state.clone(),
            last_purge_ms: 0,
        };

        let control_token = match &config.control_token_file {
            Some(path) => {
                let token = bootstrap::random_token();
                write_private_file(path, token.as_bytes()).map_err(|source| ServerError::File {
                    path: path.clone(),
                    source,
                })?;
                Some(SecretString::from(token))
            }
            None => None,
        };

        let admin_token = match &config.admin_token_file {
            Some(path) => {
                let secret = bootstrap::admin_pat(&mut core, existed)?;
                write_secret(path, &secret)?;
                Some(secret)
            }
            None => None,
        };
        if let Some(path) = &config.admin_key_file {
            bootstrap::admin_key(&mut core, path)?;
        }
        core.persist().map_err(|source| ServerError::File {
            path: config.state.clone().unwrap_or_default(),
            source,
        })?;

        let faults = FaultState::new(config.seed);
        let jwks = super::jwks::JwksCache::new(config.jwks);
        Ok(Self {
            config,
            core: Mutex::new(core),
            log: Mutex::new(RequestLog::default()),
            faults: Mutex::new(faults),
            control_token,
            admin_token: Mutex::new(admin_token),
            jwks,
        })
    }

    pub(crate) fn account_name(&self) -> String {
        lock(&self.core).account.name().to_owned()
    }

    pub(crate) fn admin_token(&self) -> Option<SecretString> {
        lock(&self.admin_token).clone()
    }

    pub(crate) fn set_admin_token(&self, secret: SecretString) {
        *lock(&self.admin_token) = Some(secret);
    }

    pub(crate) fn log(&self, line: LogLine) {
        lock(&self.log).push(line);
    }

    /// The account clock now, RFC 3339 (for log lines).
    pub(crate) fn account_now(&self) -> DateTime<Utc> {
        lock(&self.core).now().account
    }
}

fn state_exists(path: &Path) -> Result<bool, ServerError> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(meta.len() > 0),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(ServerError::File {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes a secret to its 0600 file.
pub(crate) fn write_secret(path: &Path, secret: &SecretString) -> Result<(), ServerError> {
    use secrecy::ExposeSecret;
    write_private_file(path, secret.expose_secret().as_bytes()).map_err(|source| {
        ServerError::File {
            path: path.to_path_buf(),
            source,
        }
    })
}
