//! The HTTP side of the emulator: Snowflake-facing endpoints, the control API, faults, the request
//! log and durable state. It owns no Snowflake rule: every credential check and every statement
//! goes to [`crate::engine::Account`].
//!
//! # Routes
//!
//! | Path | Auth | Behaviour |
//! |---|---|---|
//! | `POST /api/v2/statements` | bearer (PAT, key-pair JWT, OAuth), per request | protocols §2: one or more statements; `requestId`, `retry`, `async`, `nullable`; 200 ResultSet, 202, 4xx bodies of §2.5 |
//! | `GET /api/v2/statements/{handle}` | bearer, same user as the submitter | status or result; `?partition=N` (N ≥ 1) answers `{"data":[…]}` gzip-compressed |
//! | `POST /api/v2/statements/{handle}/cancel` | bearer, same user | 200 `000604`; unknown (or another user's) handle 422 `000709` |
//! | `POST /api/v2/cortex/inference:complete` | bearer + `X-Snowflake-Role`; role must hold `CORTEX_USER` or `CORTEX_REST_API_USER` | protocols §7.2: deterministic echo, SSE unless `"stream": false` |
//! | `POST /api/v2/cortex/v1/messages` | as above | protocols §7.3: Anthropic Messages shape |
//! | `POST /api/v2/cortex/v1/chat/completions` | as above | protocols §7.4: OpenAI shape, SSE ending `data: [DONE]` with `"stream": true` |
//! | `GET /api/v2/cortex/models` | bearer | the model catalogue |
//! | `GET /oauth/authorize` | end user's Basic password or Bearer PAT/key-pair JWT | protocols §6.1: 302 to `redirect_uri?code=…&state=…` (codes single-use, 600 s) |
//! | `POST /oauth/token-request` | client Basic (or `client_id` for PUBLIC clients) | protocols §6.2–§6.4: code + PKCE exchange, refresh with optional single-use rotation; errors in the §6.2 envelope |
//! | `POST /api/v2/databases/{db}/schemas/{schema}/mcp-servers/{name}` | bearer; USAGE on the MCP server | protocols §8: JSON-RPC `initialize`, `tools/list`, `tools/call` (`SYSTEM_EXECUTE_SQL`); see [`mcp`] |
//! | `POST /session/v1/login-request`, `POST /queries/v1/query-request`, `GET /queries/{qid}/result`, `GET /monitoring/queries/{qid}`, `POST /queries/v1/abort-request`, `POST /session/token-request`, `POST /session/heartbeat`, `POST /session?delete=true`, `POST /telemetry/send` | driver login; then `Snowflake Token="…"` | protocols §4: the connector protocol, gzip bodies, HTTP 200 `success` envelopes; see [`driver`] |
//! | `POST /emulator/v1/clock` | control token, loopback peer | `{"advance_seconds": N}` → `{"now": …}`: moves the account clock |
//! | `POST /emulator/v1/admin-token` | control token, loopback peer | rotates ADMIN's `EMULATOR_ADMIN` PAT (grace 0) → `{"token": …}`, rewrites the admin token file |
//! | `GET /emulator/v1/log?since=SEQ` | control token, loopback peer | request log, JSON lines with `seq > SEQ` |
//! | `POST /emulator/v1/faults` | control token, loopback peer | `{"statement_kind", "code", "times"}`: the next matching statements fail with `code` |
//! | `GET /emulator/v1/healthz` | none | 200 |
//!
//! Without `--control-token-file` every control route except `healthz` answers 404.
//!
//! # Faults
//!
//! `--latency-ms`, `--fault-rate` and `--drop-rate` apply to every Snowflake-facing route and never
//! to `/emulator/v1/*`. Each request draws from one seeded generator (`--seed`) in a fixed order —
//! fault, then 429-or-503, then drop — so a run repeats. Latency is spent *before* anything
//! executes. A faulted request answers 429 (`390505`) or 503 without executing. A dropped request
//! executes and commits, then its connection is closed without a single response byte; drops apply
//! only to requests that ran something (an answer replayed from the idempotency table is never
//! dropped, so `requestId` + `retry=true` always recovers the result, protocols §2.8).
//!
//! # Request log
//!
//! One JSON line per statement a request ran (a multi-statement request logs one line per
//! statement, all with the request's `request_id`), and one line for a request that ran no
//! statement (authentication failure, bad input, fault, GET, cancel, idempotent replay, Cortex).
//! Lines carry `seq, at, peer, endpoint, user, role, auth, request_id, retry, statement_kind,
//! object, executed, code` plus `status` (HTTP status) and `statement_handle`; never a literal or a
//! secret.
//!
//! # Durability
//!
//! With `--state PATH` the account, the clock offset and the idempotency table live in one JSON
//! file (mode 0600) rewritten atomically (temp file, fsync, rename, fsync of the directory) before
//! any answer that follows a change. Statements run one at a time under one lock; a statement that
//! fails, or whose change cannot be written, is rolled back from the engine's undo record
//! ([`crate::engine::Account::execute_uncommitted`]), so nothing answered otherwise is half-applied.

mod bindings;
mod bootstrap;
mod control;
mod cortex;
mod driver;
mod faults;
mod files;
mod jwks;
pub use jwks::JwksTimings;
mod log;
mod mcp;
mod oauth;
mod query;
mod sqlapi;
mod state;
mod wire;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::TokioIo;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::engine::PatSessionRules;

pub use files::write_private_file;

/// Default `--max-body-bytes`: 8 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The emulator's start-up options (`interfaces.md`, `snowpat-emulator`).
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind (`--listen`); port 0 picks a free port.
    pub listen: SocketAddr,
    /// Account name (`--account`).
    pub account: String,
    /// Where ADMIN's `EMULATOR_ADMIN` PAT secret is written (0600).
    pub admin_token_file: Option<PathBuf>,
    /// Where ADMIN's PKCS#8 PEM private key is written (0600).
    pub admin_key_file: Option<PathBuf>,
    /// Where the control token is written (0600); `None` disables the control API.
    pub control_token_file: Option<PathBuf>,
    /// Durable state file.
    pub state: Option<PathBuf>,
    /// Delay before each Snowflake-facing request executes.
    pub latency_ms: u64,
    /// Fraction of Snowflake-facing requests answered 429 or 503 without executing.
    pub fault_rate: f64,
    /// Fraction of executing requests whose connection is closed without an answer.
    pub drop_rate: f64,
    /// Seed of the fault generator.
    pub seed: u64,
    /// Leave out the account-level loopback network policy.
    pub no_default_network_policy: bool,
    /// `--pat-session-rules`.
    pub pat_session_rules: PatSessionRules,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// JWKS fetch timeout and refetch throttle (no flag: the defaults of `jwks.rs`; tests set
    /// them to make throttling observable without racing the wall clock).
    pub jwks: JwksTimings,
}

impl Default for Config {
    /// Loopback, a free port, no files, no faults.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            account: "EMULATOR".into(),
            admin_token_file: None,
            admin_key_file: None,
            control_token_file: None,
            state: None,
            latency_ms: 0,
            fault_rate: 0.0,
            drop_rate: 0.0,
            seed: 0,
            no_default_network_policy: false,
            pat_session_rules: PatSessionRules::Observed,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            jwks: JwksTimings::default(),
        }
    }
}

/// `--pat-session-rules` values.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, clap::ValueEnum)]
pub enum PatSessionRulesArg {
    #[default]
    Observed,
    Documented,
}

/// The command-line flags of `snowpat-emulator`, shared with `snowpat emulator`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (loopback unless told otherwise; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Account name.
    #[arg(long, default_value = "EMULATOR")]
    pub account: String,
    /// Write ADMIN's PAT `EMULATOR_ADMIN` (365 days, no role restriction) to this file (0600).
    #[arg(long, value_name = "PATH")]
    pub admin_token_file: Option<PathBuf>,
    /// Generate an RSA key pair for ADMIN and write the PKCS#8 PEM private key here (0600).
    #[arg(long, value_name = "PATH")]
    pub admin_key_file: Option<PathBuf>,
    /// Write a random control token here (0600); without it the control API is disabled.
    #[arg(long, value_name = "PATH")]
    pub control_token_file: Option<PathBuf>,
    /// Keep the account, clock offset and idempotency table in this file across restarts.
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Delay each Snowflake-facing request by N milliseconds before it executes.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,
    /// Answer this fraction of Snowflake-facing requests 429 or 503 without executing.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_fraction)]
    pub fault_rate: f64,
    /// Execute and commit this fraction of requests, then close the connection without answering.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_fraction)]
    pub drop_rate: f64,
    /// Seed of the fault generator (runs repeat for one seed).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Start without the account-level loopback network policy.
    #[arg(long)]
    pub no_default_network_policy: bool,
    /// Session-type rules for PAT management (snowflake-behaviour.md §6.7).
    #[arg(long, value_enum, default_value_t = PatSessionRulesArg::Observed)]
    pub pat_session_rules: PatSessionRulesArg,
    /// Requests with larger bodies get 413.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{text}` is not between 0 and 1"))
    }
}

impl From<Args> for Config {
    fn from(args: Args) -> Self {
        Self {
            listen: args.listen,
            account: args.account,
            admin_token_file: args.admin_token_file,
            admin_key_file: args.admin_key_file,
            control_token_file: args.control_token_file,
            state: args.state,
            latency_ms: args.latency_ms,
            fault_rate: args.fault_rate,
            drop_rate: args.drop_rate,
            seed: args.seed,
            no_default_network_policy: args.no_default_network_policy,
            pat_session_rules: match args.pat_session_rules {
                PatSessionRulesArg::Observed => PatSessionRules::Observed,
                PatSessionRulesArg::Documented => PatSessionRules::Documented,
            },
            max_body_bytes: args.max_body_bytes,
            jwks: JwksTimings::default(),
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on `{addr}`")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A file (state, token, key) could not be read or written.
    #[error("cannot use `{path}`")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The state file exists but does not hold an emulator state.
    #[error("`{path}` is not an emulator state file")]
    State {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The start-up account refused a bootstrap statement (admin PAT or key).
    #[error("bootstrap failed: {0}")]
    Bootstrap(String),
    /// `--fault-rate` or `--drop-rate` outside 0..=1, or another bad option.
    #[error("invalid option: {0}")]
    Option(String),
}

/// A running emulator.
pub struct Running {
    addr: SocketAddr,
    shared: Arc<state::Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The bound address (the real port when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The current `EMULATOR_ADMIN` secret, when `--admin-token-file` was given.
    pub fn admin_token(&self) -> Option<SecretString> {
        self.shared.admin_token()
    }

    /// The control token, when `--control-token-file` was given.
    pub fn control_token(&self) -> Option<SecretString> {
        self.shared.control_token.clone()
    }

    /// Stops accepting, closes every connection and waits for the accept loop to end. State is
    /// already durable: every change was written before it was answered.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Builds the account (from `--state` if present), runs the start-up bootstrap (admin PAT, key,
/// control token), binds and serves. Returns once the socket is bound.
pub async fn spawn(config: Config) -> Result<Running, ServerError> {
    if !(0.0..=1.0).contains(&config.fault_rate) || !(0.0..=1.0).contains(&config.drop_rate) {
        return Err(ServerError::Option(
            "--fault-rate and --drop-rate must be between 0 and 1".into(),
        ));
    }
    let listen = config.listen;
    let shared = tokio::task::spawn_blocking(move || state::Shared::start(config))
        .await
        .map_err(|e| ServerError::Bootstrap(format!("start-up task failed: {e}")))??;
    let shared = Arc::new(shared);
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: listen,
        source,
    })?;
    let router = app(shared.clone());
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, router, rx));
    tracing::info!(%addr, account = %shared.account_name(), "emulator listening");
    Ok(Running {
        addr,
        shared,
        shutdown: Some(tx),
        task,
    })
}

/// Closes the connection a request came in on without answering (`--drop-rate`).
#[derive(Clone)]
pub(crate) struct ConnectionKiller(Arc<Notify>);

impl ConnectionKiller {
    pub(crate) fn kill(&self) {
        self.0.notify_one();
    }
}

/// Serves HTTP/1.1 connections ourselves (rather than `axum::serve`) so that each connection can
/// be dropped from inside a request without one byte of response: the connection future is raced
/// against its [`ConnectionKiller`] and simply dropped, which closes the socket.
async fn accept_loop(listener: TcpListener, router: Router, mut shutdown: oneshot::Receiver<()>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let kill = Arc::new(Notify::new());
        let killer = ConnectionKiller(kill.clone());
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(killer.clone());
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(axum::body::Body::new)).await?;
                Ok::<_, Infallible>(response)
            }
        });
        connections.spawn(async move {
            // The timer enables hyper's header read timeout (30 s), so an idle half-sent
            // request cannot hold a connection task forever.
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(%error, %peer, "connection ended with an error");
                    }
                }
                () = kill.notified() => {
                    tracing::debug!(%peer, "connection dropped without an answer (--drop-rate)");
                }
            }
        });
    }
    connections.shutdown().await;
}

/// The router: Snowflake-facing routes behind the fault layer, control routes without it.
pub(crate) fn app(shared: Arc<state::Shared>) -> Router {
    let snowflake = Router::new()
        .route("/api/v2/statements", post(sqlapi::submit))
        .route("/api/v2/statements/{handle}", get(sqlapi::status))
        .route("/api/v2/statements/{handle}/cancel", post(sqlapi::cancel))
        .route("/api/v2/cortex/inference:complete", post(cortex::complete))
        .route("/api/v2/cortex/v1/messages", post(cortex::messages))
        .route(
            "/api/v2/cortex/v1/chat/completions",
            post(cortex::chat_completions),
        )
        .route("/api/v2/cortex/models", get(cortex::models))
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/token-request", post(oauth::token_request))
        .route(
            "/api/v2/databases/{db}/schemas/{schema}/mcp-servers/{name}",
            post(mcp::handle),
        )
        .route("/session/v1/login-request", post(driver::login))
        .route("/queries/v1/query-request", post(driver::query_request))
        .route("/queries/v1/abort-request", post(driver::abort))
        .route("/queries/{qid}/result", get(driver::result))
        .route("/monitoring/queries/{qid}", get(driver::monitoring))
        .route("/session/token-request", post(driver::token_request))
        .route("/session/heartbeat", post(driver::heartbeat))
        .route("/session", post(driver::delete))
        .route("/telemetry/send", post(driver::telemetry))
        .layer(axum::Extension(driver::Driver::new()))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            faults::layer,
        ));
    let control = Router::new()
        .route("/emulator/v1/healthz", get(control::healthz))
        .route("/emulator/v1/clock", post(control::clock))
        .route("/emulator/v1/admin-token", post(control::admin_token))
        .route("/emulator/v1/log", get(control::log))
        .route("/emulator/v1/faults", post(control::faults));
    snowflake
        .merge(control)
        .fallback(wire::not_found)
        .with_state(shared)
}

/// Logs to stderr through `tracing`, filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Starts the emulator, calls `ready` with `http://HOST:PORT` once bound, and serves until
/// SIGINT or SIGTERM (the binaries' main loop).
pub async fn run_until_signal(config: Config, ready: impl FnOnce(&str)) -> Result<(), ServerError> {
    let running = spawn(config).await?;
    ready(&running.url());
    wait_for_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    fn router() -> Router {
        let shared = state::Shared::start(Config::default()).expect("start-up");
        app(Arc::new(shared))
    }

    async fn json_of(response: axum::response::Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("JSON body")
    }

    #[tokio::test]
    async fn healthz_answers_without_a_token() {
        let response = router()
            .oneshot(
                Request::get("/emulator/v1/healthz")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn control_api_is_404_without_a_control_token_file() {
        let response = router()
            .oneshot(
                Request::post("/emulator/v1/clock")
                    .body(Body::from(r#"{"advance_seconds":1}"#))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn statements_without_authorization_are_401_099922() {
        let response = router()
            .oneshot(
                Request::post("/api/v2/statements")
                    .header("content-type", "application/json")
                    .body(Body::from(r#"{"statement":"SELECT 1"}"#))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json_of(response).await["code"], "099922");
    }

    #[test]
    fn fractions_are_checked() {
        assert!(parse_fraction("0.5").is_ok());
        assert!(parse_fraction("1").is_ok());
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_fraction("-0.1").is_err());
        assert!(parse_fraction("half").is_err());
    }
}
