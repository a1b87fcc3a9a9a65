//! `snowpat quickstart` (`interfaces.md` "The two README commands"): an in-process emulator on a
//! free loopback port, the multi-tenant blueprint applied as ADMIN, three tenants provisioned by
//! the automation identity the blueprint created (its generated key pair), then a fixed table of
//! expected vs observed results. Exit 0 only if every row matches. No secret is printed.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use snowpat_client::{BaseUrl, Client, Credential, KeyPair};
use snowpat_core::blueprints::multi_tenant::{MultiTenant, Options};
use snowpat_core::blueprints::{bootstrap_multi_tenant, FileSink};
use snowpat_core::config::MultiTenantConfig;
use snowpat_core::plan::{Plan, Step};
use snowpat_emulator::server;
use snowpat_sql::ast::{
    AddPat, AlterUserAction, GrantTarget, Grantee, Ident, ObjectKind, ObjectName, Privileges,
    Property, Statement, Value as SqlValue,
};

use crate::CliError;

#[derive(Debug, clap::Args)]
pub(crate) struct QuickstartArgs {
    /// Rotation grace G in hours (the old secret is checked at G-1h and G+1h).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(2..=168))]
    pub grace_hours: u32,
}

/// The tenants the quickstart provisions.
const TENANTS: [&str; 3] = ["T0001", "T0002", "T0003"];

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

fn user_of(id: &str) -> Ident {
    Ident::new(format!("DEPLOYMENT_{id}"))
}

fn token_of(id: &str) -> Ident {
    Ident::new(format!("DEPLOYMENT_{id}_PAT"))
}

/// Seed 000's per-deployment statements, run by the automation role.
fn provision_plan(blueprint: &MultiTenant, id: &str) -> Plan {
    let c = &blueprint.config;
    let role = c.automation_role.as_str();
    let user = user_of(id);
    let runtime = Ident::new(c.runtime_role.clone());
    let steps = vec![
        Step::change(
            role,
            "deployment user",
            Statement::CreateUser {
                or_replace: false,
                if_not_exists: true,
                name: user.clone(),
                properties: vec![
                    Property::new("TYPE", SqlValue::Name(ObjectName::simple("SERVICE"))),
                    Property::new(
                        "DEFAULT_ROLE",
                        SqlValue::Name(ObjectName(vec![runtime.clone()])),
                    ),
                ],
            },
        ),
        Step::change(
            role,
            "runtime role",
            Statement::GrantRole {
                role: runtime.clone(),
                to: Grantee::User(user.clone()),
                with_grant_option: false,
            },
        ),
        Step::change(
            role,
            "strict policy",
            Statement::AlterUser {
                if_exists: false,
                user: Some(user.clone()),
                action: AlterUserAction::SetAuthenticationPolicy {
                    policy: blueprint.deployment_policy(),
                    force: false,
                },
            },
        ),
        Step::change(
            role,
            "PAT management",
            Statement::GrantPrivileges {
                privileges: Privileges::List(vec![
                    "MODIFY PROGRAMMATIC AUTHENTICATION METHODS".into()
                ]),
                on: GrantTarget::Object {
                    kind: ObjectKind::User,
                    name: ObjectName(vec![user.clone()]),
                },
                to_role: Ident::new(c.automation_role.clone()),
                with_grant_option: false,
            },
        ),
        Step::change(
            role,
            "role-restricted PAT",
            Statement::AlterUser {
                if_exists: false,
                user: Some(user),
                action: AlterUserAction::AddPat(AddPat {
                    if_not_exists: false,
                    name: token_of(id),
                    role_restriction: Some(runtime),
                    days_to_expiry: Some(90),
                    mins_to_bypass_network_policy_requirement: None,
                    comment: Some(format!("Deployment {id}")),
                }),
            },
        ),
    ];
    Plan { steps }
}

fn alter(role: &str, id: &str, action: AlterUserAction) -> Plan {
    Plan {
        steps: vec![Step::change(
            role,
            "lifecycle",
            Statement::AlterUser {
                if_exists: false,
                user: Some(user_of(id)),
                action,
            },
        )],
    }
}

/// The secret in the last answer of a plan that ends with ADD or ROTATE.
async fn mint(client: &Client, plan: &Plan) -> Result<SecretString, CliError> {
    let results = plan
        .apply(client)
        .await
        .map_err(|e| CliError::Snowflake(e.source))?;
    results
        .last()
        .and_then(|rs| rs.first())
        .and_then(|row| row.secret("token_secret").ok())
        .ok_or_else(|| failed(anyhow::anyhow!("no token_secret in the answer")))
}

pub(crate) async fn run(args: QuickstartArgs) -> Result<ExitCode, CliError> {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir()
        .context("temporary directory")
        .map_err(failed)?;
    let config = server::Config {
        listen: ([127, 0, 0, 1], 0).into(),
        admin_token_file: Some(dir.path().join("admin.token")),
        control_token_file: Some(dir.path().join("control.token")),
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
    let admin_secret = SecretString::from(read("admin.token")?);
    let control = read("control.token")?;
    let base = BaseUrl::parse(&url).map_err(failed)?;
    let admin = Client::builder(base, Credential::pat(admin_secret))
        .build()
        .map_err(failed)?;

    // 1. The blueprint, as ADMIN; the automation key goes to a temporary sink.
    let mt = MultiTenantConfig {
        allowed_cidrs: vec!["127.0.0.0/8".into()],
        ..MultiTenantConfig::default()
    };
    let blueprint = MultiTenant::new(mt, Options::default())?;
    let key_file = dir.path().join("sinks").join("automation.p8");
    let sink = FileSink(key_file.clone());
    let outcome = bootstrap_multi_tenant(&admin, &blueprint, true, Some(&sink)).await?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "emulator on a free loopback port; multi-tenant blueprint applied ({} statements)",
        outcome.plan.changes().count()
    );

    // 2. Three tenants, provisioned by the automation identity (key-pair JWT).
    let keypair = KeyPair::from_file(&account, &blueprint.config.automation_user, &key_file)
        .map_err(failed)?;
    let automation = admin.with_credential(Credential::KeyPair(keypair));
    let mut secrets = Vec::new();
    for id in TENANTS {
        secrets.push(mint(&automation, &provision_plan(&blueprint, id)).await?);
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
    let role = blueprint.config.automation_role.as_str();
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
    alter(
        role,
        TENANTS[1],
        AlterUserAction::RemovePat {
            if_exists: false,
            name: token_of(TENANTS[1]),
        },
    )
    .apply(&automation)
    .await
    .map_err(|e| CliError::Snowflake(e.source))?;
    check(
        format!("{}: revoked token -> Cortex", TENANTS[1]),
        "401 394400",
        probe.cortex(&secrets[1]).await,
    );
    alter(
        role,
        TENANTS[2],
        AlterUserAction::Set(vec![Property::new("DISABLED", SqlValue::Bool(true))]),
    )
    .apply(&automation)
    .await
    .map_err(|e| CliError::Snowflake(e.source))?;
    check(
        format!("{}: disabled user's token -> Cortex", TENANTS[2]),
        "401 394400",
        probe.cortex(&secrets[2]).await,
    );
    let new_secret = mint(
        &automation,
        &alter(
            role,
            TENANTS[0],
            AlterUserAction::RotatePat {
                if_exists: false,
                name: token_of(TENANTS[0]),
                expire_rotated_token_after_hours: Some(i64::from(g)),
            },
        ),
    )
    .await?;
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
