//! `snowpat serve`: the exchange service, the rotation scheduler, `/metrics`, `/healthz`
//! (`interfaces.md`; issue 6). Binds 127.0.0.1 by default; a non-loopback address needs
//! `--tls-cert`/`--tls-key` or `--danger-plaintext`. Refuses (exit 2) a snowpat.toml not owned by
//! the service's user or writable by its group or others, and any bad `[exchange]` setting.
//! Nothing reloads the configuration while it runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use snowpat_client::{BaseUrl, Client};
use snowpat_core::config::{Config, ExchangeConfig};
use snowpat_core::exchange::{check_config_file_permissions, JwksOptions};
use snowpat_core::store::AnyStore;
use snowpat_core::tenants::{parse_duration, Settings, Tenants};
use snowpat_server::audit::AuditLog;
use snowpat_server::http::{router, AppState};
use snowpat_server::listen::{self, TlsFiles};
use snowpat_server::mint::Mode;
use snowpat_server::ratelimit::RateLimit;
use snowpat_server::scheduler::Scheduler;
use snowpat_server::{build_state, Options};

use crate::context::{Context, GlobalArgs};
use crate::CliError;

/// `snowpat serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Bind address (default: [exchange] listen, 127.0.0.1:8650).
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<String>,
    /// PEM certificate chain for TLS.
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plaintext HTTP on a non-loopback address (behind a TLS-terminating proxy only).
    #[arg(long)]
    pub danger_plaintext: bool,
    /// Accept http:// JWKS URLs on loopback addresses (tests and local IdPs only).
    #[arg(long)]
    pub danger_allow_http_jwks: bool,
    /// Audit events (JSON lines) go to this file (created 0600, appended); default stderr.
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// Token requests per second per subject (sustained).
    #[arg(long, default_value_t = 10.0)]
    pub rate_per_second: f64,
    /// Token requests per subject in a burst.
    #[arg(long, default_value_t = 200)]
    pub rate_burst: u32,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = snowpat_server::http::DEFAULT_MAX_BODY)]
    pub max_body_bytes: usize,
    /// Do not run the rotation scheduler.
    #[arg(long)]
    pub no_scheduler: bool,
}

/// What `serve` and `exchange` both need: the checked config, the service connection (if any),
/// the store and the shared state.
pub(crate) struct Setup {
    pub config: Config,
    pub exchange: ExchangeConfig,
    pub service: Option<Client>,
    pub store: Arc<AnyStore>,
    pub state: Arc<AppState<AnyStore>>,
}

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

/// The config file `serve` and `exchange` read: `--config`, else `./snowpat.toml`.
fn config_path(global: &GlobalArgs) -> Result<PathBuf, CliError> {
    let path = global
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("snowpat.toml"));
    if !path.is_file() {
        return Err(CliError::Usage(format!(
            "{}: no such file; the exchange needs its [exchange] trust policies (pass --config PATH)",
            path.display()
        )));
    }
    Ok(path)
}

/// The default store: `sqlite:<data dir>/snowpat/state.db` (as every command uses).
fn store_url(global: &GlobalArgs) -> String {
    global.store.clone().unwrap_or_else(|| {
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        format!("sqlite:{}", base.join("snowpat").join("state.db").display())
    })
}

/// Where Snowflake is, without a credential (as-user mode needs none of its own).
fn base_url(global: &GlobalArgs, config: &Config) -> Result<BaseUrl, CliError> {
    let file = config.connection.clone().unwrap_or_default();
    match (
        global.url.clone().or(file.url),
        global.account.clone().or(file.account),
    ) {
        (Some(url), _) => BaseUrl::parse(&url).map_err(usage),
        (None, Some(account)) => BaseUrl::from_account(&account).map_err(usage),
        (None, None) => Err(CliError::Usage(
            "no connection: give --url or --account (or [connection] in snowpat.toml)".into(),
        )),
    }
}

/// Checks the file, loads `[exchange]`, opens the store and builds the verifier and minter.
pub(crate) async fn setup(
    global: &GlobalArgs,
    allow_http_jwks: bool,
    options: Options,
    audit: Arc<AuditLog>,
) -> Result<Setup, CliError> {
    let path = config_path(global)?;
    check_config_file_permissions(&path).map_err(usage)?;
    let config = Config::load(&path).map_err(usage)?;
    let exchange = config.exchange.clone().ok_or_else(|| {
        CliError::Usage(format!(
            "{}: no [exchange] section; add one with at least one [[exchange.policy]]",
            path.display()
        ))
    })?;
    let mode = Mode::parse(&exchange.mode).ok_or_else(|| {
        CliError::Usage(format!(
            "{}: [exchange] mode {:?}: use \"as-user\" or \"delegated\"",
            path.display(),
            exchange.mode
        ))
    })?;
    // The service's own connection: required when delegated; in as-user mode it is optional
    // (removals at policy deadlines and the scheduler use it when present).
    let (service, base) = match Context::build(global) {
        Ok(ctx) => {
            let base = BaseUrl::parse(&ctx.url).map_err(usage)?;
            (Some(ctx.client), base)
        }
        Err(e) if mode == Mode::Delegated => return Err(e),
        Err(e) => {
            tracing::info!("no service connection (as-user mode runs without one): {e:?}");
            (None, base_url(global, &config)?)
        }
    };
    let url = store_url(global);
    crate::context::check_store_url(&url)?;
    let store = Arc::new(
        crate::context::open_store(&url)
            .await
            .map_err(|e| CliError::Failed(e.into()))?,
    );
    let mut options = options;
    options.jwks = JwksOptions {
        allow_http_loopback: allow_http_jwks,
        ..options.jwks
    };
    let state = build_state(
        &exchange,
        &options,
        &base,
        service.clone(),
        Arc::clone(&store),
        audit,
    )
    .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    Ok(Setup {
        config,
        exchange,
        service,
        store,
        state,
    })
}

fn audit_log(path: Option<&Path>) -> Result<Arc<AuditLog>, CliError> {
    Ok(Arc::new(match path {
        Some(p) => AuditLog::file(p)
            .map_err(|e| CliError::Usage(format!("--audit-log {}: {e}", p.display())))?,
        None => AuditLog::stderr(),
    }))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs the service until SIGINT/SIGTERM.
pub(crate) async fn run(args: ServeArgs, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let audit = audit_log(args.audit_log.as_deref())?;
    if !args.rate_per_second.is_finite() || args.rate_per_second <= 0.0 || args.rate_burst == 0 {
        return Err(CliError::Usage(
            "--rate-per-second and --rate-burst must be positive".into(),
        ));
    }
    let options = Options {
        rate_limit: RateLimit {
            per_second: args.rate_per_second,
            burst: f64::from(args.rate_burst),
        },
        max_body: args.max_body_bytes,
        ..Options::default()
    };
    let setup = setup(
        global,
        args.danger_allow_http_jwks,
        options,
        Arc::clone(&audit),
    )
    .await?;
    let listen_at = args
        .listen
        .clone()
        .unwrap_or_else(|| setup.exchange.listen.clone());
    let tls_files = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    let addr = listen::check_bind(&listen_at, tls_files.is_some(), args.danger_plaintext)
        .map_err(usage)?;
    let tls = tls_files
        .as_ref()
        .map(listen::tls_config)
        .transpose()
        .map_err(usage)?;
    let listener = listen::bind(addr).await.map_err(usage)?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::Failed(e.into()))?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if !args.no_scheduler {
        let scheduler_cfg = setup.config.scheduler.clone().unwrap_or_default();
        let margin = parse_duration(&scheduler_cfg.margin).ok_or_else(|| {
            CliError::Usage(format!(
                "[scheduler] margin {:?}: write a duration like 7d, 36h",
                scheduler_cfg.margin
            ))
        })?;
        let interval = parse_duration(&scheduler_cfg.interval)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "[scheduler] interval {:?}: write a positive duration like 5m",
                    scheduler_cfg.interval
                ))
            })?;
        let tenants = setup.service.clone().map(|client| {
            Tenants::new(
                client,
                Arc::clone(&setup.store),
                Settings {
                    tenants: setup.config.tenants.clone().unwrap_or_default(),
                    blueprint: setup
                        .config
                        .blueprint
                        .clone()
                        .and_then(|b| b.multi_tenant)
                        .unwrap_or_default(),
                },
            )
        });
        let scheduler = Scheduler {
            minter: Arc::clone(&setup.state.minter),
            tenants,
            margin,
            interval: interval.max(Duration::from_secs(1)),
            audit: Arc::clone(&audit),
            metrics: Arc::clone(&setup.state.metrics),
        };
        tokio::spawn(scheduler.run(stop_rx));
    }

    let scheme = if tls.is_some() { "https" } else { "http" };
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on {scheme}://{local}");
        let _ = stdout.flush();
    }
    let app = router(Arc::clone(&setup.state));
    let served = listen::serve(listener, app, tls, shutdown_signal()).await;
    let _ = stop_tx.send(true);
    served.map_err(|e| CliError::Failed(e.into()))?;
    Ok(ExitCode::SUCCESS)
}
