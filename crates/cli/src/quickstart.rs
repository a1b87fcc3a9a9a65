//! `snowpat quickstart` (`interfaces.md` "The two README commands"): an in-process emulator on a
//! free loopback port, the multi-tenant blueprint applied as ADMIN, three tenants provisioned by
//! the automation identity the blueprint created (its generated key pair), then a fixed table of
//! expected vs observed results. Exit 0 only if every row matches. No secret is printed.
//!
//! The last rows are the audit of the account the run leaves, one row per finding kind with the
//! count the blueprint and the lifecycle are expected to leave ([`EXPECTED_FINDINGS`]). ADMIN
//! signs in with a key pair (`--admin-key-file`), so it holds no PAT and every finding is the
//! blueprint's.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use snowpat_client::{BaseUrl, Client, Credential, KeyPair};
use snowpat_core::audit::{self, Automation, Rule};
use snowpat_core::blueprints::multi_tenant::{MultiTenant, Options};
use snowpat_core::blueprints::{bootstrap_multi_tenant, FileSink};
use snowpat_core::config::MultiTenantConfig;
use snowpat_core::config::TenantsConfig;
use snowpat_core::sinks::SinkSpec;
use snowpat_core::store::{SqliteStore, Store};
use snowpat_core::tenants::{Settings, TenantError, TenantId, Tenants};
use snowpat_emulator::server;

use crate::CliError;

#[derive(Debug, clap::Args)]
pub(crate) struct QuickstartArgs {
    /// Rotation grace G in hours (the old secret is checked at G-1h and G+1h).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(2..=168))]
    pub grace_hours: u32,
}

/// The tenants the quickstart provisions.
const TENANTS: [&str; 3] = ["T0001", "T0002", "T0003"];

/// The findings the run is expected to leave, per kind; every other kind is expected at 0.
/// - `token-expired-listed`: T0001's rotated-away secret, expired at G and still listed (§6.1
///   keeps expired tokens 7 days; `rotate-due` removes it).
/// - `policy-owned-by-applying-role` (low): the automation role owns the blueprint's network
///   policy and attaches it to the deployment users it owns, the blueprint's documented
///   trade-off (no narrower privilege can attach a user-level network policy, §4.3).
const EXPECTED_FINDINGS: [(Rule, usize); 2] = [
    (Rule::TokenExpiredListed, 1),
    (Rule::PolicyOwnedByApplyingRole, 1),
];

/// One row of the table.
struct Check {
    what: String,
    expected: String,
    observed: String,
}

fn failed(e: impl Into<anyhow::Error>) -> CliError {
    CliError::Failed(e.into())
}

/// `status` or `status code` of one request.
async fn outcome(response: Result<reqwest::Response, reqwest::Error>) -> String {
    match response {
        Err(e) => format!("transport error: {}", e.without_url()),
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            match (status, body.get("code").and_then(Value::as_str)) {
                (200, _) | (_, None) => status.to_string(),
                (_, Some(code)) => format!("{status} {code}"),
            }
        }
    }
}

struct Probe {
    http: reqwest::Client,
    url: String,
}

impl Probe {
    /// Cortex `inference:complete` with a PAT.
    async fn cortex(&self, secret: &SecretString) -> String {
        let response = self
            .http
            .post(format!("{}/api/v2/cortex/inference:complete", self.url))
            .bearer_auth(secret.expose_secret())
            .header(
                "X-Snowflake-Authorization-Token-Type",
                "PROGRAMMATIC_ACCESS_TOKEN",
            )
            .json(&json!({
                "model": "claude-sonnet-4-5",
                "messages": [{"role": "user", "content": "Hello from snowpat quickstart"}]
            }))
            .send()
            .await;
        outcome(response).await
    }

    /// SQL API `SELECT 1` with a PAT, asking for `role`.
    async fn sql_as_role(&self, secret: &SecretString, role: &str) -> String {
        let response = self
            .http
            .post(format!("{}/api/v2/statements", self.url))
            .bearer_auth(secret.expose_secret())
            .header(
                "X-Snowflake-Authorization-Token-Type",
                "PROGRAMMATIC_ACCESS_TOKEN",
            )
            .json(&json!({"statement": "SELECT 1", "role": role}))
            .send()
            .await;
        outcome(response).await
    }

    /// Moves the emulator's clock through the control API.
    async fn advance(&self, control: &str, seconds: u64) -> Result<(), CliError> {
        let response = self
            .http
            .post(format!("{}/emulator/v1/clock", self.url))
            .bearer_auth(control)
            .json(&json!({ "advance_seconds": seconds }))
            .send()
            .await
            .map_err(|e| failed(e.without_url()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(failed(anyhow::anyhow!(
                "the emulator refused to move its clock: {}",
                response.status()
            )))
        }
    }
}

/// The secret a file sink received.
fn read_secret(path: &std::path::Path) -> Result<SecretString, CliError> {
    std::fs::read_to_string(path)
        .map(|s| SecretString::from(s.trim().to_string()))
        .with_context(|| format!("reading the sink {}", path.display()))
        .map_err(failed)
}

fn tenant_error(e: TenantError) -> CliError {
    CliError::Failed(anyhow::Error::new(e))
}

pub(crate) async fn run(args: QuickstartArgs) -> Result<ExitCode, CliError> {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir()
        .context("temporary directory")
        .map_err(failed)?;
    let config = server::Config {
        listen: ([127, 0, 0, 1], 0).into(),
        admin_key_file: Some(dir.path().join("admin.p8")),
        control_token_file: Some(dir.path().join("control.token")),
        // The real setup: no account-level loopback policy; the blueprint's network policy,
        // attached to the automation and deployment users, is what satisfies
        // ENFORCED_REQUIRED (`snowflake-behaviour.md` §6.5).
        no_default_network_policy: true,
        ..server::Config::default()
    };
    let account = config.account.clone();
    let running = server::spawn(config).await.map_err(failed)?;
    let url = running.url();
    let read = |name: &str| -> Result<String, CliError> {
        std::fs::read_to_string(dir.path().join(name))
            .map(|s| s.trim().to_string())
            .with_context(|| format!("reading the emulator's {name}"))
            .map_err(failed)
    };
    let control = read("control.token")?;
    let base = BaseUrl::parse(&url).map_err(failed)?;
    let admin_key =
        KeyPair::from_file(&account, "ADMIN", &dir.path().join("admin.p8")).map_err(failed)?;
    let admin = Client::builder(base, Credential::KeyPair(admin_key))
        .build()
        .map_err(failed)?;

    // 1. The blueprint, as ADMIN; the automation key goes to a temporary sink.
    let mt = MultiTenantConfig {
        allowed_cidrs: vec!["127.0.0.1/32".into()],
        ..MultiTenantConfig::default()
    };
    let blueprint = MultiTenant::new(mt, Options::default())?;
    // Sinks must live in an existing directory that only we can write (interfaces.md).
    std::fs::create_dir(dir.path().join("sinks")).map_err(failed)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("sinks"),
            std::fs::Permissions::from_mode(0o700),
        )
        .map_err(failed)?;
    }
    let key_file = dir.path().join("sinks").join("automation.p8");
    let sink = FileSink(key_file.clone());
    let outcome = bootstrap_multi_tenant(&admin, &blueprint, true, Some(&sink)).await?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "emulator on a free loopback port; multi-tenant blueprint applied ({} statements)",
        outcome.plan.changes().count()
    );

    // 2. Three tenants, provisioned by the tenant engine as the automation identity (key-pair
    //    JWT), their secrets delivered to temporary file sinks.
    let automation = Client::builder(
        BaseUrl::parse(&url).map_err(failed)?,
        Credential::KeyPair(
            KeyPair::from_file(&account, &blueprint.config.automation_user, &key_file)
                .map_err(failed)?,
        ),
    )
    .role(blueprint.config.automation_role.clone())
    .build()
    .map_err(failed)?;
    let store = SqliteStore::open_path(&dir.path().join("state.db"))
        .await
        .map_err(|e| failed(anyhow::Error::new(e)))?;
    let settings = Settings {
        tenants: TenantsConfig::default(),
        blueprint: blueprint.config.clone(),
    };
    let store = Arc::new(store);
    let tenants = Tenants::new(automation, store.clone(), settings);
    let sinks = dir.path().join("sinks");
    let sink = SinkSpec::parse(&format!("file:{}/{{id}}.token", sinks.display()))
        .map_err(|e| failed(anyhow::Error::new(e)))?;
    let ids = TenantId::parse_all(&TENANTS).map_err(tenant_error)?;
    let mut secrets = Vec::new();
    for id in &ids {
        tenants
            .provision(id, &sink, 90)
            .await
            .map_err(tenant_error)?;
        secrets.push(read_secret(&sinks.join(format!("{id}.token")))?);
    }
    let _ = writeln!(out, "tenants provisioned: {}", TENANTS.join(", "));
    let _ = writeln!(out);

    // 3. Expected vs observed.
    let probe = Probe {
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(failed)?,
        url: url.clone(),
    };
    let g = args.grace_hours;
    let mut checks = Vec::new();
    let mut check = |what: String, expected: &str, observed: String| {
        checks.push(Check {
            what,
            expected: expected.to_string(),
            observed,
        })
    };
    check(
        format!("{}: new token -> Cortex", TENANTS[0]),
        "200",
        probe.cortex(&secrets[0]).await,
    );
    check(
        format!("{}: token asks for ACCOUNTADMIN (SQL API)", TENANTS[0]),
        "400 390186",
        probe.sql_as_role(&secrets[0], "ACCOUNTADMIN").await,
    );
    tenants.revoke(&ids[1]).await.map_err(tenant_error)?;
    check(
        format!("{}: revoked token -> Cortex", TENANTS[1]),
        "401 394400",
        probe.cortex(&secrets[1]).await,
    );
    tenants.disable(&ids[2]).await.map_err(tenant_error)?;
    check(
        format!("{}: disabled user's token -> Cortex", TENANTS[2]),
        "401 394400",
        probe.cortex(&secrets[2]).await,
    );
    tenants
        .rotate(&ids[0], Some(g))
        .await
        .map_err(tenant_error)?;
    let new_secret = read_secret(&sinks.join(format!("{}.token", ids[0])))?;
    check(
        format!("{}: rotated, new token -> Cortex", TENANTS[0]),
        "200",
        probe.cortex(&new_secret).await,
    );
    probe.advance(&control, u64::from(g - 1) * 3600).await?;
    check(
        format!("{}: old token at G-1h (G={g}h) -> Cortex", TENANTS[0]),
        "200",
        probe.cortex(&secrets[0]).await,
    );
    probe.advance(&control, 2 * 3600).await?;
    check(
        format!("{}: old token at G+1h (G={g}h) -> Cortex", TENANTS[0]),
        "401 394400",
        probe.cortex(&secrets[0]).await,
    );
    check(
        format!("{}: new token at G+1h -> Cortex", TENANTS[0]),
        "200",
        probe.cortex(&new_secret).await,
    );

    // 4. The audit of what the run left, as ADMIN, against the store's tenants.
    let tenant_users = store
        .tenants()
        .await
        .map_err(|e| failed(anyhow::Error::new(e)))?
        .into_iter()
        .map(|t| t.user)
        .collect();
    let options = audit::Options {
        automation: Some(Automation {
            roles: vec![blueprint.config.automation_role.clone()],
            tenant_users,
            also_allowed: [blueprint.config.automation_user.clone()].into(),
        }),
        ..audit::Options::default()
    };
    let report = audit::run(&admin, &options)
        .await
        .map_err(|e| failed(anyhow::Error::new(e)))?;
    for rule in Rule::ALL {
        let expected = EXPECTED_FINDINGS
            .iter()
            .find(|(r, _)| *r == rule)
            .map_or(0, |(_, n)| *n);
        let observed = report.findings.iter().filter(|f| f.rule == rule).count();
        check(
            format!("audit: {}", rule.id()),
            &expected.to_string(),
            observed.to_string(),
        );
    }
    running.shutdown().await;

    let width = checks
        .iter()
        .map(|c| c.what.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "{:<width$}  {:<10}  {:<10}  result",
        "check", "expected", "observed"
    );
    let mut all = true;
    for c in &checks {
        let ok = c.expected == c.observed;
        all &= ok;
        let _ = writeln!(
            out,
            "{:<width$}  {:<10}  {:<10}  {}",
            c.what,
            c.expected,
            c.observed,
            if ok { "ok" } else { "MISMATCH" }
        );
    }
    let _ = writeln!(out);
    let passed = checks.iter().filter(|c| c.expected == c.observed).count();
    let _ = writeln!(
        out,
        "{passed}/{} checks as expected (in {:.1}s)",
        checks.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
