//! `snowpat exchange --subject-token-file PATH --role ROLE --sink SINK`: one exchange without the
//! HTTP server (`interfaces.md`; issue 6): the IdP JWT is verified against `[exchange]`'s trust
//! policies, a PAT restricted to ROLE is minted (as-user or delegated, as `serve` would), and the
//! secret goes to exactly one sink (`{id}` expands to the token name). The output line carries
//! the SHA-256 of the secret, and the secret itself only for the `stdout` sink.
//!
//! Each run is a new process with an empty reuse cache, so a token minted less than the grace
//! ago is not rotated again: when the sink is a file that already holds the current secret
//! (its SHA-256 equals the store's), the run reports `unchanged`; otherwise it fails with
//! `rotation_too_soon` and the time to wait.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use snowpat_client::Credential;
use snowpat_core::exchange::parse_scope;
use snowpat_core::sinks::{Sink, SinkSpec};
use snowpat_core::store::Store;
use snowpat_core::tenants::secret_sha256;
use snowpat_server::audit::{AuditLog, Event};
use snowpat_server::http::identity;
use snowpat_server::mint::{MintError, MintRequest};
use snowpat_server::Options;
use zeroize::Zeroize;

use crate::context::{GlobalArgs, OutputFormat};
use crate::CliError;

/// `snowpat exchange`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExchangeArgs {
    /// A file holding the identity provider's JWT (`-` for stdin).
    #[arg(long, value_name = "PATH")]
    pub subject_token_file: PathBuf,
    /// The role the PAT is restricted to (the subject token's scope must hold session:role:ROLE).
    #[arg(long)]
    pub role: String,
    /// Where the secret goes: file:PATH, dotenv:PATH:VAR, exec:COMMAND,
    /// snowflake-secret:DB.SCHEMA.NAME or stdout.
    #[arg(long)]
    pub sink: String,
    /// Accept http:// JWKS URLs on loopback addresses (tests and local IdPs only).
    #[arg(long)]
    pub danger_allow_http_jwks: bool,
    /// Audit event (JSON line) to this file (created 0600, appended); default stderr.
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
}

fn read_token(path: &PathBuf) -> Result<SecretString, CliError> {
    let mut text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| CliError::Usage(format!("--subject-token-file -: {e}")))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("--subject-token-file {}: {e}", path.display())))?
    };
    let trimmed = text.trim();
    let token = (!trimmed.is_empty()).then(|| SecretString::from(trimmed.to_owned()));
    text.zeroize();
    token.ok_or_else(|| {
        CliError::Usage(format!(
            "--subject-token-file {}: the file is empty",
            path.display()
        ))
    })
}

/// One exchange.
pub(crate) async fn run(args: ExchangeArgs, global: &GlobalArgs) -> Result<ExitCode, CliError> {
    // Everything checkable is checked before anything is sent (exit 2).
    let spec = SinkSpec::parse(&args.sink).map_err(|e| CliError::Usage(e.to_string()))?;
    let role = parse_scope(&format!("session:role:{}", args.role))
        .map_err(|e| CliError::Usage(format!("--role {}: {e}", args.role)))?;
    let token = read_token(&args.subject_token_file)?;
    let audit = Arc::new(match &args.audit_log {
        Some(p) => AuditLog::file(p)
            .map_err(|e| CliError::Usage(format!("--audit-log {}: {e}", p.display())))?,
        None => AuditLog::stderr(),
    });
    let setup = crate::serve::setup(
        global,
        args.danger_allow_http_jwks,
        Options::default(),
        Arc::clone(&audit),
    )
    .await?;
    let state = &setup.state;
    let token_name = state.minter.settings().token_name(&role);
    let sink = spec.for_tenant(&token_name);
    sink.preflight()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut event = Event {
        event: "exchange-once",
        role: Some(role.clone()),
        mode: Some(state.minter.settings().mode.as_str().to_owned()),
        ..Event::default()
    };
    let grant = match state
        .verifier
        .verify(&token, &role, SystemTime::now())
        .await
    {
        Ok(g) => g,
        Err(e) => {
            event.decision = "refused";
            event.reason = e.reason().to_owned();
            audit.emit(event);
            return Err(CliError::Failed(anyhow::anyhow!(
                "{}: {e}",
                e.oauth_error()
            )));
        }
    };
    event.policy = Some(grant.policy.clone());
    event.issuer = Some(grant.issuer.clone());
    event.subject = Some(grant.subject.clone());
    event.user = Some(grant.user.clone());
    let request = MintRequest {
        identity: identity(&grant),
        max_lifetime: grant.max_lifetime,
    };
    let issued = match state.minter.exchange(&request, &token).await {
        Ok(issued) => issued,
        Err(MintError::TooSoon {
            token: name,
            retry_after,
        }) => {
            // The file sink may already hold the current secret.
            if let Some(line) = unchanged(&setup, &grant.user, &name, &sink).await {
                event.decision = "issued";
                event.reason = "unchanged".into();
                event.token_name = Some(name);
                audit.emit(event);
                print(global.output, &line);
                return Ok(ExitCode::SUCCESS);
            }
            event.decision = "refused";
            event.reason = "rotation_too_soon".into();
            audit.emit(event);
            return Err(CliError::Failed(anyhow::anyhow!(
                "temporarily_unavailable: {name} was minted less than the grace period ago and \
                 this run does not hold its secret; retry in {} s",
                retry_after.as_secs()
            )));
        }
        Err(e) => {
            event.decision = "refused";
            event.reason = e.reason().to_owned();
            audit.emit(event);
            return Err(CliError::Failed(anyhow::anyhow!(
                "{}: {e}",
                e.oauth_error()
            )));
        }
    };
    // The client a snowflake-secret sink writes with: the service's, else the subject's own
    // External OAuth session.
    let client = match &setup.service {
        Some(c) => c.clone(),
        None => snowpat_client::Client::builder(
            snowpat_client::BaseUrl::parse(&base_of(global, &setup)?)
                .map_err(|e| CliError::Usage(e.to_string()))?,
            Credential::oauth(token.clone()),
        )
        .build()
        .map_err(|e| CliError::Usage(e.to_string()))?,
    };
    sink.deliver(&issued.secret, &client)
        .await
        .map_err(|e| CliError::Failed(e.into()))?;
    let sha = secret_sha256(&issued.secret);
    event.decision = "issued";
    event.reason = issued.action.as_str().to_owned();
    event.token_name = Some(issued.token_name.clone());
    event.token_sha256 = Some(sha.clone());
    event.expires_in = Some(issued.expires_in.as_secs());
    audit.emit(event);
    let mut line = json!({
        "user": grant.user,
        "role": role,
        "token_name": issued.token_name,
        "expires_in": issued.expires_in.as_secs(),
        "sink": sink.to_string(),
        "secret_sha256": sha,
        "action": issued.action.as_str(),
    });
    if matches!(sink, Sink::Stdout) {
        line["secret"] = json!(issued.secret.expose_secret());
    }
    print(global.output, &line);
    Ok(ExitCode::SUCCESS)
}

fn base_of(global: &GlobalArgs, setup: &crate::serve::Setup) -> Result<String, CliError> {
    let file = setup.config.connection.clone().unwrap_or_default();
    if let Some(url) = global.url.clone().or(file.url) {
        return Ok(url);
    }
    let account = global
        .account
        .clone()
        .or(file.account)
        .ok_or_else(|| CliError::Usage("no connection: give --url or --account".into()))?;
    snowpat_client::BaseUrl::from_account(&account)
        .map(|b| b.to_string())
        .map_err(|e| CliError::Usage(e.to_string()))
}

/// The `unchanged` line when a file sink already holds the store's current secret.
async fn unchanged(
    setup: &crate::serve::Setup,
    user: &str,
    token_name: &str,
    sink: &Sink,
) -> Option<serde_json::Value> {
    let Sink::File(path) = sink else {
        return None;
    };
    let stored = setup
        .store
        .exchange_tokens()
        .await
        .ok()?
        .into_iter()
        .find(|t| t.token_name == token_name && t.user.eq_ignore_ascii_case(user));
    let stored = match stored {
        Some(s) => s,
        None => setup
            .store
            .exchange_tokens()
            .await
            .ok()?
            .into_iter()
            .find(|t| t.token_name == token_name)?,
    };
    let mut text = std::fs::read_to_string(path).ok()?;
    let held = SecretString::from(text.trim_end_matches('\n').to_owned());
    text.zeroize();
    (secret_sha256(&held) == stored.secret_sha256).then(|| {
        json!({
            "user": stored.user,
            "role": stored.role,
            "token_name": stored.token_name,
            "sink": sink.to_string(),
            "secret_sha256": stored.secret_sha256,
            "action": "unchanged",
        })
    })
}

fn print(output: OutputFormat, line: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    match output {
        OutputFormat::Json => {
            let _ = writeln!(out, "{line}");
        }
        OutputFormat::Text => {
            let get = |k: &str| {
                line[k]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| line[k].to_string())
            };
            let _ = writeln!(
                out,
                "{} {} for {} restricted to {} -> {} (sha256 {})",
                get("action"),
                get("token_name"),
                get("user"),
                get("role"),
                get("sink"),
                get("secret_sha256")
            );
            if let Some(secret) = line.get("secret").and_then(|s| s.as_str()) {
                let _ = writeln!(out, "{secret}");
            }
        }
    }
}
