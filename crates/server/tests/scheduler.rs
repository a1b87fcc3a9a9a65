//! The rotation scheduler inside `serve` (`[scheduler] margin`): tenant PATs expiring within the
//! margin (server time) are rotated with grace and delivered to their sinks; others are left alone.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use snowpat_client::{BaseUrl, Client, Credential};
use snowpat_core::config::{MultiTenantConfig, TenantsConfig};
use snowpat_core::sinks::SinkSpec;
use snowpat_core::store::SqliteStore;
use snowpat_core::tenants::{Settings, TenantId, Tenants};
use snowpat_server::audit::AuditLog;
use snowpat_server::scheduler::Scheduler;

use common::{retry, Captured, Env};

#[tokio::test]
async fn scheduler_rotates_tenant_pats_expiring_within_the_margin_with_grace() {
    let env = Env::start().await;
    // Seed 000, steps 1-4, as crates/core/tests/tenants.rs sets it up.
    for sql in [
        "CREATE ROLE IF NOT EXISTS CORTEX_REST_API_ROLE",
        "CREATE ROLE IF NOT EXISTS AUTOMATION_ROLE",
        "GRANT CREATE USER ON ACCOUNT TO ROLE AUTOMATION_ROLE",
        "GRANT OWNERSHIP ON ROLE CORTEX_REST_API_ROLE TO ROLE AUTOMATION_ROLE COPY CURRENT GRANTS",
        "CREATE DATABASE IF NOT EXISTS SNOWPAT",
        "CREATE SCHEMA IF NOT EXISTS SNOWPAT.POLICIES",
        "GRANT USAGE ON DATABASE SNOWPAT TO ROLE AUTOMATION_ROLE",
        "GRANT USAGE ON SCHEMA SNOWPAT.POLICIES TO ROLE AUTOMATION_ROLE",
        "CREATE AUTHENTICATION POLICY IF NOT EXISTS SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY PAT_POLICY = (NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED, MAX_EXPIRY_IN_DAYS = 365, DEFAULT_EXPIRY_IN_DAYS = 90, REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = TRUE)",
        "CREATE AUTHENTICATION POLICY IF NOT EXISTS SNOWPAT.POLICIES.AUTOMATION_AUTH_POLICY PAT_POLICY = (NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED, MAX_EXPIRY_IN_DAYS = 365, DEFAULT_EXPIRY_IN_DAYS = 90, REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)",
        "GRANT OWNERSHIP ON AUTHENTICATION POLICY SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY TO ROLE AUTOMATION_ROLE",
        "CREATE USER IF NOT EXISTS AUTOMATION_USER TYPE = SERVICE DEFAULT_ROLE = AUTOMATION_ROLE",
        "GRANT ROLE AUTOMATION_ROLE TO USER AUTOMATION_USER",
        "ALTER USER AUTOMATION_USER SET AUTHENTICATION POLICY SNOWPAT.POLICIES.AUTOMATION_AUTH_POLICY",
    ] {
        env.admin_sql(sql).await;
    }
    let rs = env
        .admin_sql("ALTER USER AUTOMATION_USER ADD PAT AUTOMATION_PAT DAYS_TO_EXPIRY = 90")
        .await;
    let automation_pat: SecretString = rs.first().unwrap().secret("token_secret").unwrap();
    let automation = Client::builder(
        BaseUrl::parse(&env.url).unwrap(),
        Credential::pat(automation_pat),
    )
    .retry(retry())
    .role("AUTOMATION_ROLE")
    .build()
    .unwrap();
    let store = Arc::new(
        SqliteStore::open_path(&env.dir.path().join("state/snowpat.db"))
            .await
            .unwrap(),
    );
    let tenants = Tenants::new(
        automation.clone(),
        Arc::clone(&store),
        Settings {
            tenants: TenantsConfig::default(),
            blueprint: MultiTenantConfig {
                allowed_cidrs: vec!["none".into()],
                ..MultiTenantConfig::default()
            },
        },
    );
    let secrets = env.dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
    let spec = SinkSpec::parse(&format!("file:{}/{{id}}.token", secrets.display())).unwrap();
    let acme = TenantId::parse("acme").unwrap();
    tenants
        .provision(&acme, &spec, 10)
        .await
        .expect("provision");
    let first = std::fs::read_to_string(secrets.join("ACME.token")).unwrap();

    let service = env.serve(&env.exchange_config("as-user")).await;
    let audit = Captured::default();
    let scheduler = |margin_days: u64| Scheduler {
        minter: Arc::clone(&service.state.minter),
        tenants: Some(tenants.clone()),
        margin: Duration::from_secs(margin_days * 86_400),
        interval: Duration::from_secs(300),
        audit: Arc::new(AuditLog::writer(Box::new(audit.clone()))),
        metrics: Arc::clone(&service.state.metrics),
    };
    // Ten days left, margin seven: nothing to do.
    let mark = env.log_mark().await;
    let pass = scheduler(7).pass().await;
    assert_eq!(pass.tenants_rotated, 0, "{pass:?}");
    assert_eq!(env.mints_since(mark).await, 0);
    // Four days later (server time) six are left: rotated once, with grace.
    env.advance_clock(4 * 86_400).await;
    let mark = env.log_mark().await;
    let pass = scheduler(7).pass().await;
    assert_eq!(pass.tenants_rotated, 1, "{pass:?}");
    assert_eq!(pass.failures, 0, "{pass:?}");
    let lines = env.log(mark).await;
    let rotate = lines
        .iter()
        .find(|l| l["statement_kind"] == "ALTER USER ROTATE PAT" && l["executed"] == true)
        .expect("a ROTATE");
    assert_eq!(rotate["user"], "AUTOMATION_USER");
    let second = std::fs::read_to_string(secrets.join("ACME.token")).unwrap();
    assert_ne!(first, second, "the sink holds the new secret");
    let events = audit.lines();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "rotation");
    assert_eq!(events[0]["decision"], "rotated");
    assert!(!audit.text().contains(second.trim()));
    // Both secrets work: the old one for the grace.
    for secret in [first.trim(), second.trim()] {
        let (status, body) = {
            let r = env
                .http
                .post(format!("{}/api/v2/statements", env.url))
                .bearer_auth(secret)
                .header(
                    "X-Snowflake-Authorization-Token-Type",
                    "PROGRAMMATIC_ACCESS_TOKEN",
                )
                .json(&serde_json::json!({"statement": "SELECT CURRENT_ROLE()"}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        };
        assert_eq!(status, 200, "{body}");
    }
}
