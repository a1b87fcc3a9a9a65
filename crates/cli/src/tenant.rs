//! `snowpat tenant ...` and `snowpat rotate-due` (`interfaces.md` "snowpat commands", "Lifecycle
//! semantics", "Sinks", exit codes). Input (ids, sinks, --from, durations) is checked before the
//! store is opened or anything is sent: bad input exits 2 naming the problem and the fix.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use secrecy::ExposeSecret;
use snowpat_core::store::AnyStore;
use snowpat_core::tenants::{parse_duration, Outcome, Settings, TenantError, TenantId, Tenants};

use crate::context::{Context, OutputFormat};

/// Tenants provisioned at once by default: with two round trips per tenant, 64 in flight turn a
/// 50 ms round trip into about 600 tenants/s of latency budget, so the bound is the server's
/// throughput rather than the wait (bench/README.md).
const DEFAULT_CONCURRENCY: u16 = 64;

/// `snowpat tenant <command>`.
#[derive(Debug, clap::Args)]
pub(crate) struct TenantArgs {
    #[command(subcommand)]
    pub command: TenantCommand,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum TenantCommand {
    /// One service user and one role-restricted PAT per tenant (seed 000), idempotently.
    Provision {
        /// Tenant ids (^[A-Za-z0-9_]{1,64}$, folded to upper case).
        ids: Vec<String>,
        /// A file of tenant ids, one per line (blank lines and # comments skipped).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// How many tenants are provisioned at once (each needs two requests on the fast path,
        /// so this bounds the requests in flight; 429/503 answers are retried with backoff).
        #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: u16,
        /// Token lifetime in days (default: tenants.days).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=365))]
        days: Option<u32>,
        /// Where each secret goes (default: tenants.sink); `{id}` expands to the tenant id.
        #[arg(long)]
        sink: Option<String>,
    },
    /// Rotate the tenant's PAT; the old secret keeps working min(H, hours it has left).
    Rotate {
        id: String,
        #[arg(long, value_name = "H")]
        grace_hours: Option<u32>,
    },
    /// Remove the PAT and every <NAME>_ROTATED_* object: no secret of the tenant works after.
    Revoke { id: String },
    /// Disable the tenant's user (which disables its tokens).
    Disable { id: String },
    /// Enable the tenant's user, then each of its tokens.
    Enable { id: String },
    /// Remove the tenant's tokens, then drop its user.
    Drop { id: String },
    /// The tenants in the store.
    List,
    /// One tenant: the store's record and its live tokens.
    Show { id: String },
}

/// `snowpat rotate-due --within DURATION`.
#[derive(Debug, clap::Args)]
pub(crate) struct RotateDueArgs {
    /// Rotate every managed PAT expiring within this (`36h`, `7d`).
    #[arg(long, value_name = "DURATION")]
    pub within: String,
}

/// A progress bar on stderr for bulk tenant commands, drawn only when stderr is a terminal and
/// `--output` is text (`interfaces.md`: data on stdout, JSON lines for machines): piped or JSON
/// runs write exactly what they did without it. Redrawn in place with `\r` when the shown
/// figures change; cleared before the results are printed.
struct Progress {
    label: &'static str,
    enabled: bool,
    /// The last line drawn, so that an unchanged one is not written again.
    last: std::sync::Mutex<String>,
}

/// Bar width in cells.
const BAR_WIDTH: usize = 30;

impl Progress {
    fn new(ctx: &Context, label: &'static str) -> Self {
        use std::io::IsTerminal;
        Self {
            label,
            enabled: ctx.output == OutputFormat::Text && std::io::stderr().is_terminal(),
            last: std::sync::Mutex::new(String::new()),
        }
    }

    /// Draws `done` of `total` (no-op unless enabled).
    fn update(&self, done: usize, total: usize) {
        if !self.enabled {
            return;
        }
        let line = render(self.label, done, total, BAR_WIDTH);
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if *last != line {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{line}\x1b[K");
            let _ = err.flush();
            *last = line;
        }
    }

    /// Erases the bar (no-op unless something was drawn).
    fn finish(&self) {
        if !self.enabled {
            return;
        }
        if let Ok(last) = self.last.lock() {
            if !last.is_empty() {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[K");
                let _ = err.flush();
            }
        }
    }
}

/// `LABEL [#########.....] DONE/TOTAL PCT%` (no control characters; `width` cells of bar).
fn render(label: &str, done: usize, total: usize, width: usize) -> String {
    let done = done.min(total);
    // An empty run is complete.
    let filled = done
        .saturating_mul(width)
        .checked_div(total)
        .unwrap_or(width);
    let percent = done.saturating_mul(100).checked_div(total).unwrap_or(100);
    format!(
        "{label} [{}{}] {done}/{total} {percent}%",
        "#".repeat(filled),
        ".".repeat(width - filled)
    )
}

/// Prints `error: ...` and returns exit 2 (nothing was sent).
fn usage(message: impl std::fmt::Display) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
    ExitCode::from(2)
}

fn failed(error: &TenantError) -> ExitCode {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "error: {error}");
    if let TenantError::Client(e) = error {
        if let Some(info) = e.api().and_then(|a| a.info()) {
            let _ = writeln!(err, "hint: {} ({}): {}", info.code, info.title, info.fix);
        }
    }
    if error.is_usage() {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

fn settings(ctx: &Context) -> Settings {
    Settings {
        tenants: ctx.config.tenants.clone().unwrap_or_default(),
        blueprint: ctx.config.multi_tenant(),
    }
}

/// Opens the store and the engine; every tenant statement then runs as the blueprint's
/// automation role (`Tenants::adopt_automation_role`), so the objects it creates stay manageable
/// by the automation identity whoever ran the command. `Err(exit code)` when the connection's
/// identity cannot use that role (the message names the fix).
async fn open(ctx: &Context) -> anyhow::Result<Result<Tenants<AnyStore>, ExitCode>> {
    let store = crate::context::open_store(&ctx.store_url).await?;
    let mut tenants = Tenants::new(ctx.client.clone(), Arc::new(store), settings(ctx));
    let session = match tenants.adopt_automation_role().await {
        Ok(session) => session,
        Err(e) => return Ok(Err(failed(&e))),
    };
    // interfaces.md: running tenant commands as ACCOUNTADMIN works but prints a warning.
    if session.eq_ignore_ascii_case("ACCOUNTADMIN") {
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: running tenant commands as ACCOUNTADMIN; use the automation identity \
             that `snowpat bootstrap multi-tenant` created"
        );
    }
    if let Some(role) = tenants.statement_role().map(str::to_owned) {
        tracing::info!(session = %session, role, "tenant statements run as the automation role");
        // Sinks that create objects (snowflake-secret) send their own statements: give them a
        // client whose default role is the automation role as well.
        match ctx.client_with_role(&role) {
            Ok(client) => tenants = tenants.with_client(client),
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "error: connecting again with role {role}: {e:?}"
                );
                return Ok(Err(ExitCode::from(1)));
            }
        }
    }
    Ok(Ok(tenants))
}

fn print(ctx: &Context, outcome: &Outcome) {
    let mut out = std::io::stdout().lock();
    match ctx.output {
        OutputFormat::Json => {
            let _ = writeln!(out, "{}", outcome.to_json());
        }
        OutputFormat::Text => {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}\texpires {}\t{}\tsha256 {}",
                outcome.tenant,
                outcome.action,
                outcome.user,
                outcome.token_name,
                outcome.expires_at.as_deref().unwrap_or("-"),
                outcome.sink.as_deref().unwrap_or("-"),
                outcome.secret_sha256.as_deref().unwrap_or("-"),
            );
            if let Some(secret) = &outcome.secret {
                let _ = writeln!(out, "{}", secret.expose_secret());
            }
        }
    }
}

fn print_failure(ctx: &Context, tenant: &str, error: &TenantError) {
    match ctx.output {
        OutputFormat::Json => {
            let line = serde_json::json!({ "tenant": tenant, "error": error.to_string() });
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
        OutputFormat::Text => {
            let _ = writeln!(std::io::stderr().lock(), "error: tenant {tenant}: {error}");
        }
    }
}

/// Reads `--from FILE`: one id per line, blank lines and `#` comments skipped.
fn read_ids(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "--from {}: {e}; name a readable file of tenant ids, one per line",
            path.display()
        )
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// Runs `snowpat tenant ...`.
pub(crate) async fn run(args: TenantArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let settings = settings(ctx);
    match args.command {
        TenantCommand::Provision {
            ids,
            from,
            concurrency,
            days,
            sink,
        } => {
            let mut texts = ids;
            if let Some(path) = &from {
                match read_ids(path) {
                    Ok(more) => texts.extend(more),
                    Err(e) => return Ok(usage(e)),
                }
            }
            if texts.is_empty() {
                return Ok(usage(
                    "no tenant ids: pass them as arguments or with --from FILE",
                ));
            }
            let ids = match TenantId::parse_all(&texts) {
                Ok(ids) => ids,
                Err(e) => return Ok(failed(&e)),
            };
            let spec = match sink.or_else(|| settings.tenants.sink.clone()) {
                None => return Ok(failed(&TenantError::NoSink)),
                Some(s) => match snowpat_core::sinks::SinkSpec::parse(&s) {
                    Ok(spec) => spec,
                    Err(e) => return Ok(failed(&e.into())),
                },
            };
            for id in &ids {
                if let Err(e) = spec.for_tenant(id.as_str()).preflight() {
                    return Ok(failed(&e.into()));
                }
            }
            let days = days.unwrap_or(settings.tenants.days);
            let tenants = match open(ctx).await? {
                Ok(t) => t,
                Err(code) => return Ok(code),
            };
            let progress = Progress::new(ctx, "provisioning");
            let results = tenants
                .provision_many_observed(
                    &ids,
                    &spec,
                    days,
                    usize::from(concurrency),
                    &|done, total| progress.update(done, total),
                )
                .await;
            progress.finish();
            summarize(ctx, &results)
        }
        TenantCommand::List => {
            let tenants = match open(ctx).await? {
                Ok(t) => t,
                Err(code) => return Ok(code),
            };
            match tenants.list().await {
                Ok(all) => {
                    for outcome in &all {
                        print(ctx, outcome);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(failed(&e)),
            }
        }
        TenantCommand::Rotate { id, grace_hours } => {
            single(
                ctx,
                &id,
                |t, id| async move { t.rotate(&id, grace_hours).await },
            )
            .await
        }
        TenantCommand::Revoke { id } => {
            single(ctx, &id, |t, id| async move { t.revoke(&id).await }).await
        }
        TenantCommand::Disable { id } => {
            single(ctx, &id, |t, id| async move { t.disable(&id).await }).await
        }
        TenantCommand::Enable { id } => {
            single(ctx, &id, |t, id| async move { t.enable(&id).await }).await
        }
        TenantCommand::Drop { id } => {
            single(ctx, &id, |t, id| async move { t.drop_tenant(&id).await }).await
        }
        TenantCommand::Show { id } => {
            let id = match TenantId::parse(&id) {
                Ok(id) => id,
                Err(e) => return Ok(failed(&e)),
            };
            let tenants = match open(ctx).await? {
                Ok(t) => t,
                Err(code) => return Ok(code),
            };
            match tenants.show(&id).await {
                Ok((outcome, live)) => {
                    print(ctx, &outcome);
                    let mut out = std::io::stdout().lock();
                    for t in live {
                        let expires = t.expires_at.map(|e| e.as_datetime().to_rfc3339());
                        match ctx.output {
                            OutputFormat::Json => {
                                let line = serde_json::json!({
                                    "tenant": outcome.tenant, "token": t.name, "status": t.status,
                                    "expires_at": expires, "role_restriction": t.role_restriction,
                                });
                                let _ = writeln!(out, "{line}");
                            }
                            OutputFormat::Text => {
                                let _ = writeln!(
                                    out,
                                    "  {}\t{}\texpires {}",
                                    t.name,
                                    t.status,
                                    expires.as_deref().unwrap_or("-")
                                );
                            }
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(failed(&e)),
            }
        }
    }
}

async fn single<F, Fut>(ctx: &Context, id: &str, action: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(Tenants<AnyStore>, TenantId) -> Fut,
    Fut: std::future::Future<Output = Result<Outcome, TenantError>>,
{
    let id = match TenantId::parse(id) {
        Ok(id) => id,
        Err(e) => return Ok(failed(&e)),
    };
    let tenants = match open(ctx).await? {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    match action(tenants, id).await {
        Ok(outcome) => {
            print(ctx, &outcome);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(failed(&e)),
    }
}

/// One line per tenant; exit 0 if all succeeded, 3 if some did, 1 if none did.
fn summarize(
    ctx: &Context,
    results: &[(TenantId, Result<Outcome, TenantError>)],
) -> anyhow::Result<ExitCode> {
    let mut ok = 0usize;
    for (id, result) in results {
        match result {
            Ok(outcome) => {
                ok += 1;
                print(ctx, outcome);
            }
            Err(e) => print_failure(ctx, id.as_str(), e),
        }
    }
    Ok(if ok == results.len() {
        ExitCode::SUCCESS
    } else if ok == 0 {
        ExitCode::from(1)
    } else {
        let _ = writeln!(
            std::io::stderr().lock(),
            "error: {} of {} tenants failed; rerun the same command to converge",
            results.len() - ok,
            results.len()
        );
        ExitCode::from(3)
    })
}

/// Runs `snowpat rotate-due --within DURATION`.
pub(crate) async fn run_rotate_due(args: RotateDueArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let Some(within) = parse_duration(&args.within) else {
        return Ok(usage(format!(
            "--within {:?}: write a duration such as 36h or 7d (units s, m, h, d)",
            args.within
        )));
    };
    let tenants = match open(ctx).await? {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    if let Some(warning) = crate::audit::automation_pat_warning(ctx).await {
        let _ = writeln!(std::io::stderr().lock(), "warning: {warning}");
    }
    let progress = Progress::new(ctx, "rotate-due");
    let results = tenants
        .rotate_due_observed(within, &|done, total| progress.update(done, total))
        .await;
    progress.finish();
    match results {
        Ok(results) => summarize(ctx, &results),
        Err(e) => Ok(failed(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn progress_lines_fill_in_proportion_and_hold_no_control_characters() {
        assert_eq!(
            render("provisioning", 0, 200, 10),
            "provisioning [..........] 0/200 0%"
        );
        assert_eq!(
            render("provisioning", 100, 200, 10),
            "provisioning [#####.....] 100/200 50%"
        );
        assert_eq!(
            render("provisioning", 199, 200, 10),
            "provisioning [#########.] 199/200 99%"
        );
        assert_eq!(render("rotate-due", 3, 3, 4), "rotate-due [####] 3/3 100%");
        // Never past full, and an empty run is complete.
        assert_eq!(render("x", 7, 3, 4), "x [####] 3/3 100%");
        assert_eq!(render("x", 0, 0, 4), "x [####] 0/0 100%");
        for (done, total) in [(0, 1), (1, 3), (2, 3), (5, 1000), (1000, 1000)] {
            let line = render("provisioning", done, total, 30);
            assert!(!line.chars().any(char::is_control), "{line:?}");
            assert_eq!(line.matches(['#', '.']).count(), 30, "{line:?}");
        }
    }
}
