//! `snowpat audit [--fail-on SEVERITY] [--output text|json|sarif]`: coverage first, then the
//! findings of `snowpat_core::audit`, most severe first; exit 4 when a finding at or above
//! `--fail-on` exists (`interfaces.md` exit codes).
//!
//! `--output sarif` is accepted for this command only: the global `--output` knows text and json,
//! so [`sarif_argv`] turns `audit ... --output sarif` into `audit ... --sarif` before parsing.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use snowpat_core::audit::{self, Report, Rule, Severity};

use crate::context::{Context, GlobalArgs, OutputFormat};
use crate::CliError;

#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    /// Exit 4 when a finding at or above this severity exists: critical, high, medium, low, info.
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Report tokens expiring within this many days (server time).
    #[arg(long, default_value_t = 14)]
    pub expiry_days: i64,
    /// SARIF 2.1.0 output (also spelled `--output sarif`).
    #[arg(long)]
    pub sarif: bool,
    /// An automation role whose minting reach is checked against the store's tenants
    /// (repeatable; default: the multi-tenant blueprint's automation_role from snowpat.toml).
    #[arg(long = "automation-role", value_name = "ROLE")]
    pub automation_roles: Vec<String>,
    /// Person users must not be able to use PATs (seed 001's pairing). Without it, the bar is
    /// inferred from the account-level policy that governs person users.
    #[arg(long)]
    pub person_pats_barred: bool,
}

/// The users of the store's tenants; an absent store file is an empty store (nothing created).
fn tenant_users(
    store_url: &str,
    runtime: &tokio::runtime::Runtime,
) -> Result<(BTreeSet<String>, bool), CliError> {
    use snowpat_core::store::Store;
    if let Some(path) = store_url.strip_prefix("sqlite:") {
        if !std::path::Path::new(path).exists() {
            return Ok((BTreeSet::new(), false));
        }
    }
    runtime.block_on(async {
        let store = crate::context::open_store(store_url)
            .await
            .map_err(|e| CliError::Failed(anyhow::Error::new(e)))?;
        let tenants = store
            .tenants()
            .await
            .map_err(|e| CliError::Failed(anyhow::Error::new(e)))?;
        Ok((
            tenants
                .into_iter()
                .filter(|t| t.status != "dropped")
                .map(|t| t.user)
                .collect(),
            true,
        ))
    })
}

/// `automation_auth = "pat"`: the automation PAT cannot rotate itself (a session authenticated
/// by a PAT may not rotate its own user's tokens, `snowflake-behaviour.md` §6.7 S1), so
/// `rotate-due` warns this many days (server time) before it expires.
pub(crate) const AUTOMATION_PAT_WARNING_DAYS: i64 = 14;

/// The warning `rotate-due` prints for the automation PAT, if any: it expires within
/// [`AUTOMATION_PAT_WARNING_DAYS`], or is gone. `None` in key-pair mode, when it has longer, or
/// when the running identity may not read it (logged instead: a SERVICE user may not list its
/// own tokens without OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on itself, §4.3).
pub(crate) async fn automation_pat_warning(ctx: &Context) -> Option<String> {
    use snowpat_core::blueprints::multi_tenant::AUTOMATION_PAT;
    use snowpat_core::config::AutomationAuth;
    use snowpat_sql::ast::{Expr, Ident, Select, SelectItem, Statement};
    let blueprint = ctx.config.multi_tenant();
    if blueprint.auth().ok()? != AutomationAuth::Pat {
        return None;
    }
    let user = blueprint.automation_user;
    let now = Statement::Select(Select {
        items: vec![SelectItem {
            expr: Expr::Function {
                name: "CURRENT_TIMESTAMP".into(),
                args: vec![],
            },
            alias: Some(Ident::new("NOW")),
        }],
        from: None,
        filter: vec![],
    });
    let now = ctx
        .client
        .execute(&snowpat_client::Statement::new(now.to_string()))
        .await
        .ok()?
        .first()?
        .get::<snowpat_client::ServerTime>("NOW")
        .ok()?
        .as_datetime();
    let show = Statement::ShowUserPats {
        for_user: Some(Ident::new(user.clone())),
    };
    let rs = match ctx
        .client
        .execute(&snowpat_client::Statement::new(show.to_string()))
        .await
    {
        Ok(rs) => rs,
        Err(e) => {
            tracing::warn!(
                "automation_auth = \"pat\": cannot read the expiry of {user}.{AUTOMATION_PAT} ({}); it cannot rotate itself, so check it as an administrator",
                e.api().and_then(|a| a.code.clone()).unwrap_or_else(|| e.to_string())
            );
            return None;
        }
    };
    let expires = rs.rows().iter().find_map(|r| {
        let name = r.get::<String>("name").ok()?;
        let status = r.get::<Option<String>>("status").ok().flatten()?;
        (name == AUTOMATION_PAT && status != "EXPIRED")
            .then(|| r.get::<snowpat_client::ServerTime>("expires_at").ok())
            .flatten()
    });
    let Some(expires) = expires else {
        return Some(format!(
            "automation_auth = \"pat\" but {user} holds no live {AUTOMATION_PAT}: tenant commands will fail with 394400; mint a new one as an administrator (snowpat bootstrap multi-tenant --apply)"
        ));
    };
    let left = expires.as_datetime() - now;
    (left <= chrono::Duration::days(AUTOMATION_PAT_WARNING_DAYS)).then(|| {
        format!(
            "the automation PAT {user}.{AUTOMATION_PAT} expires at {} (server time, {} days left) and cannot rotate itself (§6.7): rotate it as an administrator (ALTER USER {user} ROTATE PROGRAMMATIC ACCESS TOKEN {AUTOMATION_PAT}) and deliver the new secret to the automation's token file",
            expires.as_datetime().to_rfc3339(),
            // Whole days, rounded.
            (left.num_seconds() + 43_200).div_euclid(86_400)
        )
    })
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    Severity::parse(text)
        .ok_or_else(|| format!("{text}: expected critical, high, medium, low or info"))
}

/// `snowpat [...] audit [...] --output sarif` → `... --sarif` (also `--output=sarif`); other
/// arguments unchanged.
pub(crate) fn sarif_argv(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let args: Vec<OsString> = args.into_iter().collect();
    if !args.iter().any(|a| a == "audit") {
        return args;
    }
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--output" && args.get(i + 1).is_some_and(|v| v == "sarif") {
            out.push(OsString::from("--sarif"));
            i += 2;
            continue;
        }
        if a == "--output=sarif" {
            out.push(OsString::from("--sarif"));
        } else {
            out.push(a.clone());
        }
        i += 1;
    }
    out
}

/// SARIF 2.1.0: one run, the rules, one result per finding.
pub(crate) fn sarif(report: &Report) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = Rule::ALL
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id(),
                "shortDescription": {"text": r.description()},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            let level = match f.severity {
                Severity::Critical | Severity::High => "error",
                Severity::Medium => "warning",
                Severity::Low | Severity::Info => "note",
            };
            serde_json::json!({
                "ruleId": f.rule.id(),
                "ruleIndex": Rule::ALL.iter().position(|r| *r == f.rule),
                "level": level,
                "message": {"text": format!("{}: {}", f.object, f.why)},
                "locations": [{"logicalLocations": [{"fullyQualifiedName": f.object}]}],
                "properties": {"severity": f.severity.as_str(), "fix": f.fix},
            })
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "snowpat",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/snowpat/snowpat",
                "rules": rules,
            }},
            "results": results,
            "properties": {"coverage": report.coverage},
        }],
    })
}

fn text(report: &Report) -> String {
    let c = &report.coverage;
    let mut s = format!(
        "coverage: {} users seen, {} inspected, {} tokens read, {} unreadable (source {}, server time {})\n",
        c.users_seen,
        c.users_inspected,
        c.tokens_read,
        c.unreadable.len(),
        c.source,
        c.server_time
    );
    for u in &c.unreadable {
        s.push_str(&format!("  unreadable: {u}\n"));
    }
    if report.findings.is_empty() {
        s.push_str("findings: none\n");
    }
    for f in &report.findings {
        s.push_str(&format!(
            "[{}] {} {}\n  why: {}\n",
            f.severity.as_str(),
            f.rule.id(),
            f.object,
            f.why
        ));
        for sql in &f.fix {
            s.push_str(&format!("  fix: {sql}\n"));
        }
    }
    s
}

pub(crate) fn run(
    args: &AuditArgs,
    global: &GlobalArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<ExitCode, CliError> {
    if args.expiry_days < 0 {
        return Err(CliError::Usage("--expiry-days must be 0 or more".into()));
    }
    let ctx = Context::build(global)?;
    let blueprint = ctx.config.multi_tenant();
    let roles = if args.automation_roles.is_empty() {
        vec![blueprint.automation_role.clone()]
    } else {
        args.automation_roles.clone()
    };
    let (users, found) = tenant_users(&ctx.store_url, runtime)?;
    if !found {
        tracing::warn!(
            "no store at {}: every user the automation role can mint for counts as outside the tenants",
            ctx.store_url
        );
    }
    let options = audit::Options {
        expiry_window: chrono::Duration::days(args.expiry_days),
        person_pats_barred: args.person_pats_barred.then_some(true),
        automation: Some(audit::Automation {
            roles,
            tenant_users: users,
            also_allowed: BTreeSet::from([blueprint.automation_user.clone()]),
        }),
        ..audit::Options::default()
    };
    let report = runtime
        .block_on(audit::run(&ctx.client, &options))
        .map_err(|e| CliError::Failed(anyhow::Error::new(e)))?;
    let mut out = std::io::stdout().lock();
    if args.sarif {
        let _ = writeln!(out, "{}", sarif(&report));
    } else if ctx.output == OutputFormat::Json {
        let v = serde_json::to_value(&report).unwrap_or(serde_json::Value::Null);
        let _ = writeln!(out, "{v}");
    } else {
        let _ = write!(out, "{}", text(&report));
    }
    let _ = out.flush();
    match args.fail_on {
        Some(threshold) if report.fails(threshold) => Ok(ExitCode::from(4)),
        _ => Ok(ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        sarif_argv(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn output_sarif_becomes_the_sarif_flag_for_audit_only() {
        assert_eq!(
            argv(&["snowpat", "audit", "--output", "sarif", "--fail-on", "high"]),
            ["snowpat", "audit", "--sarif", "--fail-on", "high"]
        );
        assert_eq!(
            argv(&["snowpat", "--output=sarif", "audit"]),
            ["snowpat", "--sarif", "audit"]
        );
        assert_eq!(
            argv(&["snowpat", "audit", "--output", "json"]),
            ["snowpat", "audit", "--output", "json"]
        );
        assert_eq!(
            argv(&["snowpat", "tenant", "list", "--output", "sarif"]),
            ["snowpat", "tenant", "list", "--output", "sarif"]
        );
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert_eq!(parse_severity("HIGH"), Ok(Severity::High));
        assert!(parse_severity("severe").is_err());
        let report = Report {
            findings: vec![audit::Finding {
                rule: Rule::TokenExpiringSoon,
                severity: Severity::Medium,
                object: "PAT U.T".into(),
                why: "w".into(),
                fix: vec![],
            }],
            ..Report::default()
        };
        assert!(report.fails(Severity::Medium) && report.fails(Severity::Low));
        assert!(!report.fails(Severity::High));
        let s = sarif(&report);
        assert_eq!(s["runs"][0]["results"][0]["level"], "warning");
    }
}
