//! `snowpat-server`: the token exchange service behind `snowpat serve` and `snowpat exchange`
//! (issue 6; `interfaces.md` "snowpat.toml" `[exchange]`, `POST /v1/token`).
//!
//! * [`mint`]: the minting engine, as-user (seed 003, External OAuth) or delegated.
//! * [`cache`]: the encrypted in-memory reuse cache; [`flight`]: in-process single flight.
//! * [`http`]: the routes; [`listen`]: loopback by default, TLS or `--danger-plaintext` elsewhere.
//! * [`ratelimit`], [`audit`], [`metrics`]: per-subject limits, JSON-line audit events,
//!   Prometheus text.
//! * [`scheduler`]: deadline removals, rotated-object cleanup, tenant rotation within the margin.

pub mod audit;
pub mod cache;
pub mod flight;
pub mod http;
pub mod listen;
pub mod metrics;
pub mod mint;
pub mod ratelimit;
pub mod scheduler;

use std::sync::Arc;
use std::time::Duration;

use snowpat_client::{BaseUrl, Client};
use snowpat_core::config::ExchangeConfig;
use snowpat_core::exchange::{JwksOptions, PolicyError, TrustPolicies, Verifier};
use snowpat_core::store::Store;
use snowpat_core::tenants::parse_duration;

use crate::audit::AuditLog;
use crate::http::AppState;
use crate::metrics::Metrics;
use crate::mint::{MintError, MintSettings, Minter, Mode};
use crate::ratelimit::{Limiter, RateLimit};

/// Knobs that are flags rather than `snowpat.toml` keys.
#[derive(Clone, Debug)]
pub struct Options {
    pub jwks: JwksOptions,
    pub rate_limit: RateLimit,
    pub max_body: usize,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// How long a request waits for another process's mint of the same token.
    pub lock_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            jwks: JwksOptions::default(),
            rate_limit: RateLimit::default(),
            max_body: http::DEFAULT_MAX_BODY,
            body_timeout: http::DEFAULT_BODY_TIMEOUT,
            lock_wait: Duration::from_secs(30),
        }
    }
}

/// Why the service could not be built (all bad configuration: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("[exchange] {key}: {message}")]
    Config { key: &'static str, message: String },
    #[error(transparent)]
    Mint(#[from] MintError),
}

/// The minting settings from `[exchange]`.
pub fn mint_settings(
    cfg: &ExchangeConfig,
    lock_wait: Duration,
) -> Result<MintSettings, BuildError> {
    let mode = Mode::parse(&cfg.mode).ok_or_else(|| BuildError::Config {
        key: "mode",
        message: format!("{:?}: use \"as-user\" or \"delegated\"", cfg.mode),
    })?;
    let reuse_while = parse_duration(&cfg.reuse_while).ok_or_else(|| BuildError::Config {
        key: "reuse_while",
        message: format!("{:?}: write a duration like 6h, 90m, 1d", cfg.reuse_while),
    })?;
    if !cfg.token_name.contains("{role}") {
        return Err(BuildError::Config {
            key: "token_name",
            message: "must contain {role}: one token per user and role (a role restriction cannot change)".into(),
        });
    }
    if cfg.days == 0 {
        return Err(BuildError::Config {
            key: "days",
            message: "must be at least 1 (Snowflake's minimum DAYS_TO_EXPIRY)".into(),
        });
    }
    Ok(MintSettings {
        mode,
        token_name: cfg.token_name.clone(),
        days: cfg.days,
        grace_hours: cfg.grace_hours,
        reuse_while,
        lock_wait,
    })
}

/// Builds the verifier and the minting engine, and the routes' shared state.
pub fn build_state<S: Store>(
    cfg: &ExchangeConfig,
    options: &Options,
    base: &BaseUrl,
    service: Option<Client>,
    store: Arc<S>,
    audit: Arc<AuditLog>,
) -> Result<Arc<AppState<S>>, BuildError> {
    let settings = mint_settings(cfg, options.lock_wait)?;
    let policies = TrustPolicies::from_config(cfg, &options.jwks)?;
    let fingerprint = policies.fingerprint();
    let verifier = Verifier::new(policies, options.jwks.clone());
    let metrics = Arc::new(Metrics::default());
    let minter = Minter::new(
        settings,
        base,
        service,
        store,
        fingerprint,
        Arc::clone(&metrics),
    )?;
    Ok(Arc::new(AppState {
        verifier,
        minter: Arc::new(minter),
        limiter: Limiter::new(options.rate_limit),
        audit,
        metrics,
        max_body: options.max_body,
        body_timeout: options.body_timeout,
    }))
}
