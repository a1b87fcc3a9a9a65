//! `snowpat bootstrap BLUEPRINT --plan | --apply [--sink SINK] [--seed-compat]` (`interfaces.md`).

use std::io::Write;
use std::process::ExitCode;

use snowpat_core::blueprints::admin_runtime::{bootstrap_admin_runtime, AdminRuntime};
use snowpat_core::blueprints::cli_single_role::{bootstrap_cli_single_role, CliSingleRole};
use snowpat_core::blueprints::multi_tenant::{MultiTenant, Options};
use snowpat_core::blueprints::token_exchange::{bootstrap_token_exchange, TokenExchange};
use snowpat_core::blueprints::{bootstrap_multi_tenant, AuthMethod, FileSink, Outcome};

use crate::context::{Context, GlobalArgs, OutputFormat};
use crate::CliError;

#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("mode")
        .required(true)
        .args(["plan", "apply", "rotate_automation_key"])
))]
pub(crate) struct BootstrapArgs {
    /// multi-tenant (seed 000), cli-single-role (seed 001), admin-runtime (seed 002),
    /// token-exchange (seed 003).
    pub blueprint: String,
    /// Check privileges and print the SQL that --apply would send (secrets as '***').
    #[arg(long)]
    pub plan: bool,
    /// Send what is missing or drifted; a second --apply sends nothing.
    #[arg(long)]
    pub apply: bool,
    /// Where the minted automation credential goes: file:PATH.
    #[arg(long)]
    pub sink: Option<String>,
    /// Reproduce seed 000 exactly: GRANT OWNERSHIP of the deployment policy to the automation role.
    #[arg(long)]
    pub seed_compat: bool,
    /// multi-tenant: a new automation key pair (set RSA_PUBLIC_KEY_2 or _1, deliver the private
    /// key to --sink, verify it, then unset the old key). Safe to rerun after a crash.
    #[arg(long)]
    pub rotate_automation_key: bool,
}

/// The blueprints `bootstrap` knows (`interfaces.md`).
const KNOWN: [&str; 4] = [
    "multi-tenant",
    "cli-single-role",
    "admin-runtime",
    "token-exchange",
];

/// Checks every input before anything is sent.
pub(crate) fn run(
    args: BootstrapArgs,
    global: &GlobalArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<ExitCode, CliError> {
    if args.rotate_automation_key && args.blueprint != "multi-tenant" {
        return Err(CliError::Usage(
            "--rotate-automation-key applies to multi-tenant only".into(),
        ));
    }
    match args.blueprint.as_str() {
        "multi-tenant" if args.rotate_automation_key => rotate_key(args, global, runtime),
        "multi-tenant" => run_multi_tenant(args, global, runtime),
        "cli-single-role" => {
            if args.sink.is_some() || args.seed_compat {
                return Err(CliError::Usage(
                    "cli-single-role mints nothing: --sink and --seed-compat do not apply".into(),
                ));
            }
            let ctx = Context::build(global)?;
            let blueprint = CliSingleRole::new(ctx.config.cli_single_role())?;
            let method = AuthMethod::from_token_type(ctx.token_type);
            let outcome = runtime.block_on(bootstrap_cli_single_role(
                &ctx.client,
                &blueprint,
                args.apply,
                method,
            ))?;
            print_outcome(&ctx, &outcome, args.apply);
            Ok(ExitCode::SUCCESS)
        }
        "admin-runtime" => {
            if args.seed_compat {
                return Err(CliError::Usage(
                    "--seed-compat applies to multi-tenant only".into(),
                ));
            }
            let ctx = Context::build(global)?;
            let blueprint = AdminRuntime::new(ctx.config.admin_runtime(), args.sink.as_deref())?;
            let outcome =
                runtime.block_on(bootstrap_admin_runtime(&ctx.client, &blueprint, args.apply))?;
            if print_outcome(&ctx, &outcome, args.apply) && args.apply {
                let n = &blueprint.names.secret;
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "-- the runtime PAT ({}) is stored in SECRET {}.{}.{}",
                    blueprint.token,
                    n[0],
                    n[1],
                    n[2]
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        "token-exchange" => {
            if args.sink.is_some() || args.seed_compat {
                return Err(CliError::Usage(
                    "token-exchange mints nothing: --sink and --seed-compat do not apply".into(),
                ));
            }
            let ctx = Context::build(global)?;
            let blueprint = TokenExchange::new(ctx.config.token_exchange())?;
            let outcome = runtime.block_on(bootstrap_token_exchange(
                &ctx.client,
                &blueprint,
                args.apply,
            ))?;
            print_outcome(&ctx, &outcome, args.apply);
            Ok(ExitCode::SUCCESS)
        }
        other => Err(CliError::Usage(format!(
            "unknown blueprint {other:?}; known: {}",
            KNOWN.join(", ")
        ))),
    }
}

/// The plan (or "no changes") on stdout: text, or one JSON object per change and a summary.
/// Returns true when the text form was printed.
fn print_outcome(ctx: &Context, outcome: &Outcome, apply: bool) -> bool {
    for warning in &outcome.warnings {
        let _ = writeln!(std::io::stderr().lock(), "warning: {warning}");
    }
    let mut out = std::io::stdout().lock();
    let changes = outcome.plan.changes().count();
    if ctx.output == OutputFormat::Json {
        for step in outcome.plan.changes() {
            let line = serde_json::json!({
                "role": step.role,
                "reason": step.reason,
                "sql": step.redacted().to_string(),
                "applied": outcome.applied,
            });
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(
            out,
            "{}",
            serde_json::json!({"changes": changes, "applied": outcome.applied})
        );
        return false;
    }
    let _ = writeln!(
        out,
        "-- preflight: the applying identity holds what the plan needs"
    );
    if changes == 0 {
        let _ = writeln!(out, "no changes");
    } else {
        let _ = write!(out, "{}", outcome.plan);
        if outcome.applied && apply {
            let _ = writeln!(out, "-- applied {changes} statement(s)");
        }
    }
    true
}

fn rotate_key(
    args: BootstrapArgs,
    global: &GlobalArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<ExitCode, CliError> {
    let sink = args
        .sink
        .as_deref()
        .map(FileSink::parse)
        .transpose()?
        .ok_or_else(|| {
            CliError::Usage(
                "--rotate-automation-key needs --sink file:PATH (where the automation key lives)"
                    .into(),
            )
        })?;
    let ctx = Context::build(global)?;
    let blueprint = MultiTenant::new(
        ctx.config.multi_tenant(),
        Options {
            seed_compat: args.seed_compat,
        },
    )?;
    let done = runtime.block_on(blueprint.rotate_automation_key(&ctx.client, &sink))?;
    let mut out = std::io::stdout().lock();
    if ctx.output == OutputFormat::Json {
        let line = serde_json::json!({
            "action": done.action,
            "slot": done.slot,
            "fingerprint": done.fingerprint,
            "unset": done.unset,
            "sink": sink.0.display().to_string(),
        });
        let _ = writeln!(out, "{line}");
    } else {
        let _ = writeln!(
            out,
            "automation key {}: {} now holds {} (private key in {}, verified by a key-pair session){}",
            done.action,
            done.slot,
            done.fingerprint,
            sink.0.display(),
            done.unset
                .map(|s| format!("; {s} unset"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_multi_tenant(
    args: BootstrapArgs,
    global: &GlobalArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<ExitCode, CliError> {
    let sink = args.sink.as_deref().map(FileSink::parse).transpose()?;
    let ctx = Context::build(global)?;
    let blueprint = MultiTenant::new(
        ctx.config.multi_tenant(),
        Options {
            seed_compat: args.seed_compat,
        },
    )?;
    let outcome = runtime.block_on(bootstrap_multi_tenant(
        &ctx.client,
        &blueprint,
        args.apply,
        sink.as_ref(),
    ))?;
    if !print_outcome(&ctx, &outcome, args.apply) {
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    if args.apply {
        let file = outcome
            .delivered
            .as_ref()
            .map(|p| p.display().to_string())
            .or_else(|| sink.as_ref().map(|s| s.0.display().to_string()))
            .unwrap_or_else(|| "<the --sink file of the first apply>".into());
        if let Some(path) = &outcome.delivered {
            let _ = writeln!(
                out,
                "-- automation credential written to {}",
                path.display()
            );
        }
        let _ = writeln!(out);
        let _ = write!(out, "{}", blueprint.connection_snippet(&ctx.url, &file));
    }
    Ok(ExitCode::SUCCESS)
}
