//! `snowpat bootstrap BLUEPRINT --plan | --apply [--sink SINK] [--seed-compat]` (`interfaces.md`).

use std::io::Write;
use std::process::ExitCode;

use snowpat_core::blueprints::multi_tenant::{MultiTenant, Options};
use snowpat_core::blueprints::{bootstrap_multi_tenant, FileSink};

use crate::context::{Context, GlobalArgs, OutputFormat};
use crate::CliError;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["plan", "apply"])))]
pub(crate) struct BootstrapArgs {
    /// multi-tenant (seed 000).
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
}

/// Checks every input before anything is sent.
pub(crate) fn run(
    args: BootstrapArgs,
    global: &GlobalArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<ExitCode, CliError> {
    if args.blueprint != "multi-tenant" {
        let known = [
            "multi-tenant",
            "cli-single-role",
            "admin-runtime",
            "token-exchange",
        ];
        return Err(CliError::Usage(
            if known.contains(&args.blueprint.as_str()) {
                format!(
                    "blueprint {:?} is not available in this release",
                    args.blueprint
                )
            } else {
                format!(
                    "unknown blueprint {:?}; known: multi-tenant",
                    args.blueprint
                )
            },
        ));
    }
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
        return Ok(ExitCode::SUCCESS);
    }
    let _ = writeln!(
        out,
        "-- preflight: the applying identity holds what the plan needs"
    );
    if changes == 0 {
        let _ = writeln!(out, "no changes");
    } else {
        let _ = write!(out, "{}", outcome.plan);
        if outcome.applied {
            let _ = writeln!(out, "-- applied {changes} statement(s)");
        }
    }
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
