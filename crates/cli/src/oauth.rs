//! `snowpat oauth login | refresh [--keep] | status` (`interfaces.md`; protocol in
//! `snowpat_core::oauth`, `protocols.md` §6): Snowflake OAuth with PKCE for a person at a terminal.
//!
//! * `login`: binds 127.0.0.1 at the registered redirect port, prints the authorization URL on
//!   stderr, accepts exactly one redirect (its `state` checked), exchanges the code (PKCE S256,
//!   single-use refresh tokens) and writes the tokens to the 0600 cache.
//! * `refresh`: one refresh, the rotated refresh token written to the cache at once; `--keep`
//!   refreshes `--margin` before each expiry until Ctrl-C. A spent or revoked refresh token is
//!   refused with the cause and the fix (`snowpat oauth login` again).
//! * `status`: who, which scope, until when. Never a token.
//!
//! The client secret of a CONFIDENTIAL integration comes from `--client-secret-file` or
//! `SNOWPAT_OAUTH_CLIENT_SECRET`, never from argv. Tokens are never printed or logged;
//! `--access-token-file` also writes the current access token alone (0600) for tools that read a
//! token file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::json;
use snowpat_core::oauth::{new_state, OAuthClient, OAuthError, Pkce, RedirectListener, TokenCache};

use crate::context::{load_config, GlobalArgs, OutputFormat};
use crate::CliError;

#[derive(Debug, clap::Args)]
pub(crate) struct OauthArgs {
    #[command(subcommand)]
    command: OauthCommand,
}

#[derive(Debug, clap::Subcommand)]
enum OauthCommand {
    /// Authorization code with PKCE through a one-shot listener on 127.0.0.1; tokens to the cache.
    Login(LoginArgs),
    /// Refresh the cached grant (rotating the refresh token); --keep refreshes until Ctrl-C.
    Refresh(RefreshArgs),
    /// The cached grant: user, scope, expiry times (never a token).
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
struct CacheArgs {
    /// The token cache (default <data dir>/snowpat/oauth.json), created 0600.
    #[arg(long, env = "SNOWPAT_OAUTH_CACHE")]
    cache: Option<PathBuf>,
    /// Also write the current access token alone to this file (0600), for tools reading a token file.
    #[arg(long)]
    access_token_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ClientArgs {
    /// OAUTH_CLIENT_ID of the integration (SYSTEM$SHOW_OAUTH_CLIENT_SECRETS); it may start
    /// with `-`.
    #[arg(long, env = "SNOWPAT_OAUTH_CLIENT_ID", allow_hyphen_values = true)]
    client_id: Option<String>,
    /// A file holding OAUTH_CLIENT_SECRET (CONFIDENTIAL clients; SNOWPAT_OAUTH_CLIENT_SECRET may
    /// hold the secret itself). Omit both for a PUBLIC client.
    #[arg(long, env = "SNOWPAT_OAUTH_CLIENT_SECRET_FILE")]
    client_secret_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct LoginArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// The integration's registered loopback redirect (OAUTH_REDIRECT_URI); snowpat listens on
    /// 127.0.0.1 at its port.
    #[arg(
        long,
        env = "SNOWPAT_OAUTH_REDIRECT_URI",
        default_value = "http://127.0.0.1:8651/callback"
    )]
    redirect_uri: String,
    /// Scopes to ask for (space-separated). Default: `refresh_token`, plus `session:role:ROLE`
    /// with --role.
    #[arg(long)]
    scope: Option<String>,
    /// How long to wait for the browser's redirect (`90s`, `5m`).
    #[arg(long, default_value = "5m")]
    timeout: String,
}

#[derive(Debug, clap::Args)]
struct RefreshArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Keep refreshing before each expiry until stopped (Ctrl-C).
    #[arg(long)]
    keep: bool,
    /// With --keep: refresh this long before the access token expires (`60s`, `2m`).
    #[arg(long, default_value = "60s")]
    margin: String,
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// The token cache (default <data dir>/snowpat/oauth.json).
    #[arg(long, env = "SNOWPAT_OAUTH_CACHE")]
    cache: Option<PathBuf>,
}

fn default_cache() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("snowpat")
        .join("oauth.json")
}

fn duration_arg(flag: &str, text: &str) -> Result<Duration, CliError> {
    snowpat_core::tenants::parse_duration(text).ok_or_else(|| {
        CliError::Usage(format!(
            "{flag} {text:?}: expected a duration like 90s, 5m, 1h"
        ))
    })
}

fn oauth_error(e: OAuthError) -> CliError {
    match e {
        OAuthError::Config(m) => CliError::Usage(m),
        other => CliError::Failed(anyhow::Error::new(other)),
    }
}

/// The client secret from `--client-secret-file`, else `SNOWPAT_OAUTH_CLIENT_SECRET`, else none.
fn client_secret(args: &ClientArgs) -> Result<Option<SecretString>, CliError> {
    if let Some(path) = &args.client_secret_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::Usage(format!("--client-secret-file {}: {e}", path.display()))
        })?;
        let secret = text.trim();
        if secret.is_empty() {
            return Err(CliError::Usage(format!(
                "--client-secret-file {}: the file is empty",
                path.display()
            )));
        }
        return Ok(Some(SecretString::from(secret.to_string())));
    }
    Ok(std::env::var("SNOWPAT_OAUTH_CLIENT_SECRET")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .map(SecretString::from))
}

/// The account URL: --url, --account, then [connection] of snowpat.toml.
fn account_url(global: &GlobalArgs) -> Result<String, CliError> {
    let config = load_config(global)?;
    let file = config.connection.unwrap_or_default();
    let base = match (
        global.url.clone().or(file.url),
        global.account.clone().or(file.account),
    ) {
        (Some(url), _) => snowpat_client::BaseUrl::parse(&url),
        (None, Some(account)) => snowpat_client::BaseUrl::from_account(&account),
        (None, None) => {
            return Err(CliError::Usage(
                "no account: give --url or --account (or SNOWPAT_URL / SNOWFLAKE_ACCOUNT, or \
                 [connection] in snowpat.toml)"
                    .into(),
            ))
        }
    }
    .map_err(|e| CliError::Usage(format!("connection: {e}")))?;
    Ok(base.to_string())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One summary of the cache on stdout (no token).
fn print_summary(event: &str, cache: &TokenCache, path: &Path, output: OutputFormat) {
    let mut out = std::io::stdout().lock();
    match output {
        OutputFormat::Json => {
            let line = json!({
                "event": event,
                "user": cache.user,
                "scope": cache.scope,
                "url": cache.url,
                "client_id": cache.client_id,
                "access_expires_at": rfc3339(cache.access_expires_at),
                "refresh_token": cache.refresh_token.is_some(),
                "refresh_expires_at": cache.refresh_expires_at.map(rfc3339),
                "refreshes": cache.refreshes,
                "updated_at": rfc3339(cache.updated_at),
                "cache": path.display().to_string(),
            });
            let _ = writeln!(out, "{line}");
        }
        OutputFormat::Text => {
            let refresh = match (&cache.refresh_token, cache.refresh_expires_at) {
                (None, _) => "no refresh token".to_string(),
                (Some(_), Some(at)) => format!("refresh token until {}", rfc3339(at)),
                (Some(_), None) => "refresh token".to_string(),
            };
            let _ = writeln!(
                out,
                "{event}: user {} (scope: {}); access token until {}; {refresh}; cache {}",
                cache.user.as_deref().unwrap_or("?"),
                cache.scope.as_deref().unwrap_or("?"),
                rfc3339(cache.access_expires_at),
                path.display()
            );
        }
    }
    let _ = out.flush();
}

fn save(cache: &TokenCache, args: &CacheArgs, path: &Path) -> Result<(), CliError> {
    cache.save(path).map_err(oauth_error)?;
    if let Some(file) = &args.access_token_file {
        cache.write_access_token(file).map_err(oauth_error)?;
    }
    Ok(())
}

pub(crate) fn run(
    args: OauthArgs,
    global: &GlobalArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<ExitCode, CliError> {
    match args.command {
        OauthCommand::Login(a) => runtime.block_on(login(a, global)),
        OauthCommand::Refresh(a) => runtime.block_on(refresh(a, global)),
        OauthCommand::Status(a) => status(a, global),
    }
}

async fn login(args: LoginArgs, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let url = account_url(global)?;
    let client_id = args.client.client_id.clone().ok_or_else(|| {
        CliError::Usage(
            "--client-id is required (OAUTH_CLIENT_ID from SYSTEM$SHOW_OAUTH_CLIENT_SECRETS, or SNOWPAT_OAUTH_CLIENT_ID)"
                .into(),
        )
    })?;
    let timeout = duration_arg("--timeout", &args.timeout)?;
    let secret = client_secret(&args.client)?;
    let client =
        OAuthClient::new(&url, &client_id, secret, &args.redirect_uri).map_err(oauth_error)?;
    let scope = args.scope.clone().unwrap_or_else(|| match &global.role {
        Some(role) => format!("refresh_token session:role:{role}"),
        None => "refresh_token".into(),
    });
    let path = args.cache.cache.clone().unwrap_or_else(default_cache);
    // Listen before the browser is sent anywhere.
    let listener = RedirectListener::bind(&args.redirect_uri)
        .await
        .map_err(oauth_error)?;
    let state = new_state();
    let pkce = Pkce::new();
    let authorize = client.authorize_url(&state, &pkce, &scope);
    {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "Open this URL in a browser and sign in to Snowflake:\n\n    {authorize}\n\nWaiting for the redirect to {} (one request, for {}s)...",
            args.redirect_uri,
            timeout.as_secs()
        );
        let _ = err.flush();
    }
    let code = listener
        .wait_for_code(&state, timeout)
        .await
        .map_err(oauth_error)?;
    let tokens = client
        .exchange_code(&code, &pkce)
        .await
        .map_err(oauth_error)?;
    drop(code);
    let cache = TokenCache::from_login(&client, tokens, Utc::now());
    save(&cache, &args.cache, &path)?;
    print_summary("signed in", &cache, &path, global.output);
    Ok(ExitCode::SUCCESS)
}

async fn refresh(args: RefreshArgs, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    use tokio::signal::unix::{signal, SignalKind};
    let path = args.cache.cache.clone().unwrap_or_else(default_cache);
    let margin = duration_arg("--margin", &args.margin)?;
    let mut cache = TokenCache::load(&path).map_err(oauth_error)?;
    let client_id = args
        .client
        .client_id
        .clone()
        .unwrap_or_else(|| cache.client_id.clone());
    let secret = client_secret(&args.client)?;
    let client = OAuthClient::new(&cache.url, &client_id, secret, &cache.redirect_uri)
        .map_err(oauth_error)?;
    // Ctrl-C / SIGTERM are caught from here on, so a stop can never fall between a rotation at
    // Snowflake and the cache write that keeps the new refresh token; they end the loop between
    // refreshes.
    let signals =
        signal(SignalKind::interrupt()).and_then(|i| Ok((i, signal(SignalKind::terminate())?)));
    let (mut interrupt, mut terminate) =
        signals.map_err(|e| CliError::Failed(anyhow::anyhow!("cannot handle signals: {e}")))?;
    refresh_once(&mut cache, &client, &args.cache, &path).await?;
    print_summary("refreshed", &cache, &path, global.output);
    if !args.keep {
        return Ok(ExitCode::SUCCESS);
    }
    let lifetime = cache.access_expires_at - cache.updated_at;
    if chrono::Duration::from_std(margin).is_ok_and(|m| m >= lifetime) {
        tracing::warn!(
            "--margin is as long as the access token's life ({}s): refreshing every 2 s",
            lifetime.num_seconds()
        );
    }
    loop {
        let now = Utc::now();
        let wait = (cache.next_refresh(margin, now) - now)
            .to_std()
            .unwrap_or(Duration::from_secs(1));
        tracing::debug!(seconds = wait.as_secs(), "next OAuth refresh");
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            () = tokio::time::sleep(wait) => {}
        }
        match refresh_once(&mut cache, &client, &args.cache, &path).await {
            Ok(()) => print_summary("refreshed", &cache, &path, global.output),
            // Transient trouble: try again while the access token still lives.
            Err(CliError::Failed(e))
                if e.downcast_ref::<OAuthError>().is_some_and(|o| {
                    matches!(
                        o,
                        OAuthError::Http { .. }
                            | OAuthError::Token {
                                status: 500..=599,
                                ..
                            }
                    )
                }) && cache.access_expires_at > Utc::now() =>
            {
                tracing::warn!("refresh failed, retrying: {e:#}");
                tokio::select! {
                    _ = interrupt.recv() => break,
                    _ = terminate.recv() => break,
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
            Err(e) => return Err(e),
        }
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "stopped; the cache holds the latest tokens");
    Ok(ExitCode::SUCCESS)
}

async fn refresh_once(
    cache: &mut TokenCache,
    client: &OAuthClient,
    args: &CacheArgs,
    path: &Path,
) -> Result<(), CliError> {
    cache
        .refresh(client, path, Utc::now)
        .await
        .map_err(oauth_error)?;
    if let Some(file) = &args.access_token_file {
        cache.write_access_token(file).map_err(oauth_error)?;
    }
    Ok(())
}

fn status(args: StatusArgs, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    let path = args.cache.unwrap_or_else(default_cache);
    let cache = TokenCache::load(&path).map_err(oauth_error)?;
    let now = Utc::now();
    let event = if cache.access_expires_at > now {
        "valid"
    } else if cache.refresh_token.is_some() && cache.refresh_expires_at.is_none_or(|at| at > now) {
        "access token expired (run `snowpat oauth refresh`)"
    } else {
        "expired (run `snowpat oauth login`)"
    };
    print_summary(event, &cache, &path, global.output);
    Ok(ExitCode::SUCCESS)
}
