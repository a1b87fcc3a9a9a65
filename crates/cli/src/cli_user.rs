//! `snowpat cli-user add | rotate | remove PERSON [--sink SINK] [--grace-hours H] [--file PATH]`:
//! seed 001's pairing of one developer with a `<PERSON>_CLI` service user, its role, a
//! role-restricted PAT delivered to a sink, and a connections.toml entry
//! (`snowpat_core::blueprints::cli_single_role::CliUsers`, `snowpat_core::cli_config`).
//!
//! With `--client snow` (default) the entry is a Snowflake CLI entry
//! (`authenticator = "PROGRAMMATIC_ACCESS_TOKEN"`, `token_file_path`) pointing at the `file:` sink,
//! so the secret lives in exactly one file; with any other sink no entry is written (the secret is
//! not where an entry could point). With `--client cortex` the entry is seed 001's Cortex Code CLI
//! form (the PAT as `password`, no `authenticator`): the connections.toml (0600) is then the one
//! place the secret goes, and `--sink` is refused.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use snowpat_core::blueprints::cli_single_role::{remove_connection, CliUserOutcome, CliUsers};
use snowpat_core::cli_config::{self, ClientKind, Entry, TokenRef};
use snowpat_core::sinks::{Sink, SinkSpec};
use snowpat_sql::ast::{Expr, Ident, Select, SelectItem, Statement};

use crate::cli_config::ClientArg;
use crate::context::{Context, GlobalArgs, OutputFormat};
use crate::CliError;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Action {
    /// Create the pairing and its PAT (left alone when the token exists).
    Add,
    /// Rotate the PAT; the old secret keeps working for the grace.
    Rotate,
    /// Remove the tokens, the service user, the role and the connection entry.
    Remove,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CliUserArgs {
    pub action: Action,
    /// The developer's (person) user name; the service user is `<PERSON>_CLI`.
    pub person: String,
    /// Where the PAT goes (default `[blueprint.cli-single-role] sink`; `{id}` = the person).
    #[arg(long)]
    pub sink: Option<String>,
    /// `rotate`: hours the old secret keeps working (capped by its remaining life).
    #[arg(long)]
    pub grace_hours: Option<u32>,
    /// The connections.toml to edit (default $SNOWFLAKE_HOME/connections.toml, else
    /// ~/.snowflake/connections.toml).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Which client reads the entry: snow (token file) or cortex (the PAT inline as `password`,
    /// seed 001's Cortex Code CLI form; the entry is then the sink).
    #[arg(long, value_enum, default_value_t = ClientArg::Snow)]
    pub client: ClientArg,
}

fn connections_file(args: &CliUserArgs) -> Result<PathBuf, CliError> {
    if let Some(f) = &args.file {
        return Ok(f.clone());
    }
    cli_config::default_path(
        std::env::var("SNOWFLAKE_HOME").ok().as_deref(),
        std::env::var("HOME").ok().as_deref(),
    )
    .ok_or_else(|| CliError::Usage("no HOME: give --file PATH for connections.toml".into()))
}

/// Validates everything before anything is sent, then runs the action.
pub(crate) fn run(
    args: CliUserArgs,
    global: &GlobalArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<ExitCode, CliError> {
    let ctx = Context::build(global)?;
    let config = ctx.config.cli_single_role();
    let users = CliUsers {
        client: ctx.client.clone(),
        config: config.clone(),
    };
    let pairing = users.pairing(&args.person)?;
    let entry_name = format!("{}_cli", pairing.person.to_ascii_lowercase());
    let file = connections_file(&args)?;
    let cortex = args.client == ClientArg::Cortex;
    if cortex && args.sink.is_some() {
        return Err(CliError::Usage(
            "--client cortex writes the PAT into the connection entry (seed 001's form); it \
             takes no --sink"
                .into(),
        ));
    }
    let sink = match args.action {
        Action::Remove => None,
        Action::Add | Action::Rotate if cortex => Some(Sink::Stdout),
        Action::Add | Action::Rotate => {
            let spec = args.sink.clone().or(config.sink.clone()).ok_or_else(|| {
                CliError::Usage(
                    "no sink: give --sink SINK or [blueprint.cli-single-role] sink".into(),
                )
            })?;
            let spec = SinkSpec::parse(&spec).map_err(|e| CliError::Usage(e.to_string()))?;
            let sink = spec.for_tenant(&pairing.person);
            sink.preflight()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            Some(sink)
        }
    };
    let mut outcome = runtime.block_on(async {
        match (&args.action, &sink) {
            (Action::Add, Some(sink)) => users.add(&args.person, sink).await,
            (Action::Rotate, Some(sink)) => {
                users
                    .rotate(
                        &args.person,
                        sink,
                        args.grace_hours.unwrap_or(config.grace_hours),
                    )
                    .await
            }
            _ => users.remove(&args.person).await,
        }
    })?;
    let mut entry_written = false;
    match (&args.action, &sink) {
        (Action::Remove, _) => {
            entry_written = remove_connection(&file, &entry_name)
                .map_err(|e| CliError::Failed(anyhow::Error::new(e)))?;
        }
        (_, Some(Sink::Stdout)) if cortex && outcome.action != "unchanged" => {
            let secret = outcome.secret.take().ok_or_else(|| {
                CliError::Failed(anyhow::anyhow!("the minted PAT was not returned"))
            })?;
            let account = runtime.block_on(server_account(&ctx));
            let entry = Entry {
                name: entry_name.clone(),
                client: ClientKind::Cortex,
                endpoint: crate::cli_config::endpoint(&ctx.url, global.account.as_deref(), account),
                user: outcome.pairing.user.clone(),
                role: outcome.pairing.role.clone(),
                token: TokenRef::Inline(secret),
            };
            cli_config::apply(&file, &entry).map_err(|e| CliError::Failed(e.into()))?;
            entry_written = true;
        }
        (_, Some(Sink::File(path))) if outcome.action != "unchanged" => {
            let account = runtime.block_on(server_account(&ctx));
            let entry = Entry {
                name: entry_name.clone(),
                client: ClientKind::Snow,
                endpoint: crate::cli_config::endpoint(&ctx.url, global.account.as_deref(), account),
                user: outcome.pairing.user.clone(),
                role: outcome.pairing.role.clone(),
                token: TokenRef::File(absolute(path)),
            };
            cli_config::apply(&file, &entry).map_err(|e| CliError::Failed(e.into()))?;
            entry_written = true;
        }
        _ => {}
    }
    print(&ctx, &outcome, &entry_name, &file, entry_written);
    Ok(ExitCode::SUCCESS)
}

fn absolute(path: &std::path::Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

async fn server_account(ctx: &Context) -> Option<String> {
    let q = Statement::Select(Select {
        items: vec![SelectItem {
            expr: Expr::Function {
                name: "CURRENT_ACCOUNT".into(),
                args: vec![],
            },
            alias: Some(Ident::new("ACCOUNT")),
        }],
        from: None,
        filter: vec![],
    });
    ctx.client
        .execute(&snowpat_client::Statement::new(q.to_string()))
        .await
        .ok()
        .and_then(|rs| rs.first().and_then(|r| r.get::<String>("ACCOUNT").ok()))
}

fn print(
    ctx: &Context,
    o: &CliUserOutcome,
    entry: &str,
    file: &std::path::Path,
    entry_written: bool,
) {
    let mut out = std::io::stdout().lock();
    let p = &o.pairing;
    match ctx.output {
        OutputFormat::Json => {
            let mut line = serde_json::json!({
                "person": p.person,
                "user": p.user,
                "role": p.role,
                "token_name": p.token,
                "action": o.action,
                "expires_at": o.expires_at,
                "secret_sha256": o.secret_sha256,
                "connection": entry_written.then_some(entry),
            });
            if let Some(secret) = &o.secret {
                use secrecy::ExposeSecret as _;
                line["secret"] = serde_json::Value::String(secret.expose_secret().to_string());
            }
            let _ = writeln!(out, "{line}");
        }
        OutputFormat::Text => {
            let _ = writeln!(
                out,
                "{}: {} (user {}, role {}, token {}{})",
                p.person,
                o.action,
                p.user,
                p.role,
                p.token,
                o.expires_at
                    .as_deref()
                    .map(|e| format!(", expires {e}"))
                    .unwrap_or_default()
            );
            if let Some(secret) = &o.secret {
                use secrecy::ExposeSecret as _;
                let _ = writeln!(out, "{}", secret.expose_secret());
            }
            if entry_written {
                let verb = if o.action == "removed" {
                    "removed from"
                } else {
                    "written to"
                };
                let _ = writeln!(out, "connection [{entry}] {verb} {}", file.display());
            }
        }
    }
}
