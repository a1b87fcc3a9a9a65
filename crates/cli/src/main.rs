//! `snowpat`: scoped Snowflake credentials per tenant, agent and CLI user (`interfaces.md`).
//!
//! Commands: `quickstart`, `emulator`, `bootstrap`, `tenant`, `rotate-due`, `cli-user`, `serve`,
//! `exchange`, `oauth`, `audit`, `explain`, `cli-config`, `verify`. Exit codes live in
//! [`CliError::exit_code`]:
//! 0 success; 1 the operation failed; 2 bad usage or bad input (nothing was sent); 3 partial
//! success in a bulk command. Logs go to stderr, data to stdout.

mod audit;
mod bootstrap;
mod cli_config;
mod cli_user;
mod context;
mod exchange;
mod explain;
mod oauth;
mod quickstart;
mod serve;
mod tenant;
mod verify;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use snowpat_emulator::server;

#[derive(Debug, Parser)]
#[command(
    name = "snowpat",
    version,
    about = "Scoped Snowflake credentials: bootstrap, rotate, revoke, audit"
)]
struct Cli {
    #[command(flatten)]
    global: context::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a blueprint's roles, policies and automation identity (--plan shows, --apply runs).
    Bootstrap(bootstrap::BootstrapArgs),
    /// Per-tenant service users and role-restricted PATs: provision, rotate, revoke, ...
    Tenant(tenant::TenantArgs),
    /// Rotate every managed PAT expiring within DURATION; remove expired rotated tokens.
    #[command(name = "rotate-due")]
    RotateDue(tenant::RotateDueArgs),
    /// The whole job on an embedded emulator: bootstrap, three tenants, expected vs observed.
    Quickstart(quickstart::QuickstartArgs),
    /// Run the local Snowflake emulator (same flags as `snowpat-emulator`).
    Emulator(server::Args),
    /// Audit users, tokens and restricted roles: coverage first, then findings with fix SQL.
    Audit(audit::AuditArgs),
    /// What a Snowflake error code or message means, and the fix.
    Explain(explain::ExplainArgs),
    /// Write or update a connections.toml entry for the Snowflake CLI or Cortex Code CLI.
    CliConfig(cli_config::CliConfigArgs),
    /// The exchange service: IdP JWT in (RFC 8693), role-restricted PAT out; rotation scheduler.
    Serve(serve::ServeArgs),
    /// One exchange without the server: IdP JWT in, PAT to a sink.
    Exchange(exchange::ExchangeArgs),
    /// Seed 001's pairing: a <PERSON>_CLI service user, its role, a restricted PAT, an entry.
    CliUser(cli_user::CliUserArgs),
    /// Prove a credential: who, which role, available roles, restriction, expiry, Cortex.
    Verify(verify::VerifyArgs),
    /// Snowflake OAuth with PKCE: login, refresh [--keep], status (tokens in a 0600 cache).
    Oauth(oauth::OauthArgs),
}

/// Why a command did not succeed; the one place exit codes are decided.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Bad usage or bad input; nothing was sent (exit 2).
    Usage(String),
    /// Snowflake refused, or a fault outlasted retries (exit 1).
    Snowflake(snowpat_client::Error),
    /// Any other failure (exit 1).
    Failed(anyhow::Error),
    /// A bulk command partly succeeded (exit 3).
    #[allow(dead_code)] // Used by the bulk tenant commands.
    Partial(String),
}

impl CliError {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Snowflake(_) | Self::Failed(_) => 1,
            Self::Partial(_) => 3,
        }
    }

    /// `error:` and, for Snowflake codes in the table, `hint:` lines on stderr.
    fn report(&self) {
        let mut err = std::io::stderr().lock();
        match self {
            Self::Usage(m) | Self::Partial(m) => {
                let _ = writeln!(err, "error: {m}");
            }
            Self::Failed(e) => {
                let _ = writeln!(err, "error: {e:#}");
            }
            Self::Snowflake(e) => {
                let _ = writeln!(err, "error: {e}");
                if let Some(info) = e.api().and_then(|a| a.info()) {
                    let _ = writeln!(err, "hint: {} ({}): {}", info.code, info.title, info.fix);
                }
            }
        }
    }
}

impl From<snowpat_core::blueprints::BlueprintError> for CliError {
    fn from(e: snowpat_core::blueprints::BlueprintError) -> Self {
        use snowpat_core::blueprints::BlueprintError as B;
        match e {
            B::Config(m) | B::Lockout(m) => Self::Usage(m),
            B::Client(c) => Self::Snowflake(c),
            B::Step(s) => {
                let statement = s.statement.clone();
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "error: while running: {statement}");
                Self::Snowflake(s.source)
            }
            other => Self::Failed(anyhow::Error::new(other)),
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(CliError::Failed)
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Emulator(args) => {
            server::init_logging();
            runtime()?
                .block_on(server::run_until_signal(args.into(), |url| {
                    let mut stdout = std::io::stdout().lock();
                    let _ = writeln!(stdout, "listening on {url}");
                    let _ = stdout.flush();
                }))
                .map_err(|e| CliError::Failed(e.into()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bootstrap(args) => {
            init_logging(cli.global.verbose);
            bootstrap::run(args, &cli.global, &runtime()?)
        }
        Command::Audit(args) => {
            init_logging(cli.global.verbose);
            audit::run(&args, &cli.global, &runtime()?)
        }
        Command::Explain(args) => explain::run(&args, cli.global.output),
        Command::CliConfig(args) => {
            init_logging(cli.global.verbose);
            cli_config::run(&args, &cli.global, &runtime()?)
        }
        Command::CliUser(args) => {
            init_logging(cli.global.verbose);
            cli_user::run(args, &cli.global, &runtime()?)
        }
        Command::Verify(args) => {
            init_logging(cli.global.verbose);
            verify::run(&args, &cli.global, &runtime()?)
        }
        Command::Tenant(args) => {
            init_logging(cli.global.verbose);
            let ctx = context::Context::build(&cli.global)?;
            runtime()?
                .block_on(tenant::run(args, &ctx))
                .map_err(CliError::Failed)
        }
        Command::RotateDue(args) => {
            init_logging(cli.global.verbose);
            let ctx = context::Context::build(&cli.global)?;
            runtime()?
                .block_on(tenant::run_rotate_due(args, &ctx))
                .map_err(CliError::Failed)
        }
        Command::Serve(args) => {
            init_logging(cli.global.verbose);
            runtime()?.block_on(serve::run(args, &cli.global))
        }
        Command::Exchange(args) => {
            init_logging(cli.global.verbose);
            runtime()?.block_on(exchange::run(args, &cli.global))
        }
        Command::Oauth(args) => {
            init_logging(cli.global.verbose);
            oauth::run(args, &cli.global, &runtime()?)
        }
        Command::Quickstart(args) => {
            init_logging(cli.global.verbose);
            runtime()?.block_on(quickstart::run(args))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(audit::sarif_argv(std::env::args_os()));
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            e.report();
            ExitCode::from(e.exit_code())
        }
    }
}
