//! The tenant lifecycle against an in-process emulator bootstrapped like seed 000: ADMIN creates
//! the runtime and automation roles, the policies and the automation user with an unrestricted
//! PAT; every tenant command then runs as that automation identity.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use snowpat_client::{BaseUrl, Client, Credential, RetryPolicy};
use snowpat_core::config::{MultiTenantConfig, TenantsConfig};
use snowpat_core::sinks::{Sink, SinkSpec};
use snowpat_core::store::{JournalState, SqliteStore, Store};
use snowpat_core::tenants::{secret_sha256, Settings, TenantError, TenantId, Tenants};
use snowpat_emulator::server::{self, Config, Running};
use tempfile::TempDir;

const RUNTIME: &str = "CORTEX_REST_API_ROLE";

struct Env {
    _running: Running,
    dir: TempDir,
    url: String,
    control: String,
    http: reqwest::Client,
    automation: Client,
    tenants: Tenants<SqliteStore>,
}

fn secret_of(result: &snowpat_client::ResultSet) -> SecretString {
    result
        .first()
        .expect("a row")
        .secret("token_secret")
        .expect("token_secret")
}

async fn start() -> Env {
    start_with(|_| {}).await
}

async fn start_with(tweak: impl FnOnce(&mut Config)) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let mut config = Config {
        admin_token_file: Some(dir.path().join("admin.token")),
        control_token_file: Some(dir.path().join("control.token")),
        ..Config::default()
    };
    tweak(&mut config);
    let running = server::spawn(config).await.expect("emulator starts");
    let url = running.url();
    let admin_pat = std::fs::read_to_string(dir.path().join("admin.token")).expect("admin token");
    let control = std::fs::read_to_string(dir.path().join("control.token")).expect("control");
    let retry = RetryPolicy {
        max_attempts: 20,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
    };
    let admin = Client::builder(
        BaseUrl::parse(&url).expect("url"),
        Credential::pat(SecretString::from(admin_pat.trim().to_owned())),
    )
    .retry(retry.clone())
    .build()
    .expect("admin client");
    // Seed 000, steps 1-4 (database SNOWPAT.POLICIES for the policies).
    for sql in [
        "CREATE ROLE IF NOT EXISTS CORTEX_REST_API_ROLE COMMENT = 'Runtime role for Cortex REST API access only'",
        "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_REST_API_USER TO ROLE CORTEX_REST_API_ROLE",
        "CREATE ROLE IF NOT EXISTS AUTOMATION_ROLE",
        "GRANT CREATE USER ON ACCOUNT TO ROLE AUTOMATION_ROLE",
        "GRANT OWNERSHIP ON ROLE CORTEX_REST_API_ROLE TO ROLE AUTOMATION_ROLE COPY CURRENT GRANTS",
        "CREATE DATABASE IF NOT EXISTS SNOWPAT",
        "CREATE SCHEMA IF NOT EXISTS SNOWPAT.POLICIES",
        "GRANT USAGE ON DATABASE SNOWPAT TO ROLE AUTOMATION_ROLE",
        "GRANT USAGE ON SCHEMA SNOWPAT.POLICIES TO ROLE AUTOMATION_ROLE",
        "GRANT CREATE SECRET ON SCHEMA SNOWPAT.POLICIES TO ROLE AUTOMATION_ROLE",
        "CREATE AUTHENTICATION POLICY IF NOT EXISTS SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY PAT_POLICY = (NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED, MAX_EXPIRY_IN_DAYS = 365, DEFAULT_EXPIRY_IN_DAYS = 90, REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = TRUE, BLOCKED_ROLES_LIST = ('ACCOUNTADMIN', 'SYSADMIN', 'SECURITYADMIN'))",
        "CREATE AUTHENTICATION POLICY IF NOT EXISTS SNOWPAT.POLICIES.AUTOMATION_AUTH_POLICY PAT_POLICY = (NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED, MAX_EXPIRY_IN_DAYS = 365, DEFAULT_EXPIRY_IN_DAYS = 90, REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE, BLOCKED_ROLES_LIST = ('ACCOUNTADMIN', 'SYSADMIN', 'SECURITYADMIN'))",
        "GRANT OWNERSHIP ON AUTHENTICATION POLICY SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY TO ROLE AUTOMATION_ROLE",
        "CREATE USER IF NOT EXISTS AUTOMATION_USER TYPE = SERVICE DEFAULT_ROLE = AUTOMATION_ROLE",
        "GRANT ROLE AUTOMATION_ROLE TO USER AUTOMATION_USER",
        "ALTER USER AUTOMATION_USER SET AUTHENTICATION POLICY SNOWPAT.POLICIES.AUTOMATION_AUTH_POLICY",
    ] {
        admin
            .execute(&snowpat_client::Statement::new(sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let automation_pat = secret_of(
        &admin
            .execute(&snowpat_client::Statement::new(
                "ALTER USER AUTOMATION_USER ADD PROGRAMMATIC ACCESS TOKEN AUTOMATION_PAT DAYS_TO_EXPIRY = 90 COMMENT = 'Control plane PAT - no role restriction'",
            ))
            .await
            .expect("automation PAT"),
    );
    let automation = Client::builder(
        BaseUrl::parse(&url).expect("url"),
        Credential::pat(automation_pat),
    )
    .retry(retry)
    .role("AUTOMATION_ROLE")
    .build()
    .expect("automation client");
    let store = SqliteStore::open(&format!(
        "sqlite:{}",
        dir.path().join("state/snowpat.db").display()
    ))
    .await
    .expect("store");
    let tenants = Tenants::new(
        automation.clone(),
        Arc::new(store),
        Settings {
            tenants: TenantsConfig::default(),
            // This account is seed-exact (ENFORCED_NOT_REQUIRED, no network policy).
            blueprint: MultiTenantConfig {
                allowed_cidrs: vec!["none".into()],
                ..MultiTenantConfig::default()
            },
        },
    );
    std::fs::create_dir(dir.path().join("secrets")).expect("secrets dir");
    std::fs::set_permissions(
        dir.path().join("secrets"),
        std::fs::Permissions::from_mode(0o700),
    )
    .expect("chmod");
    Env {
        _running: running,
        dir,
        url,
        control: control.trim().to_owned(),
        http: reqwest::Client::new(),
        automation,
        tenants,
    }
}

impl Env {
    fn sink(&self) -> SinkSpec {
        SinkSpec::parse(&format!(
            "file:{}/secrets/{{id}}.token",
            self.dir.path().display()
        ))
        .expect("sink")
    }

    fn secret_file(&self, id: &str) -> PathBuf {
        self.dir.path().join(format!("secrets/{id}.token"))
    }

    fn read_secret(&self, id: &str) -> SecretString {
        read_secret(&self.secret_file(id))
    }

    async fn log(&self, since: u64) -> Vec<Value> {
        let text = self
            .http
            .get(format!("{}/emulator/v1/log?since={since}", self.url))
            .bearer_auth(&self.control)
            .send()
            .await
            .expect("log")
            .text()
            .await
            .expect("log body");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }

    async fn log_mark(&self) -> u64 {
        self.log(0)
            .await
            .last()
            .and_then(|l| l["seq"].as_u64())
            .unwrap_or(0)
    }

    async fn advance_clock(&self, seconds: i64) {
        let status = self
            .http
            .post(format!("{}/emulator/v1/clock", self.url))
            .bearer_auth(&self.control)
            .json(&json!({ "advance_seconds": seconds }))
            .send()
            .await
            .expect("clock")
            .status();
        assert_eq!(status, 200);
    }

    /// `SELECT CURRENT_ROLE()` with `secret`: Ok(role) or Err((status, code)).
    async fn authenticate(&self, secret: &SecretString) -> Result<String, (u16, String)> {
        let client = Client::builder(
            BaseUrl::parse(&self.url).expect("url"),
            Credential::pat(secret.clone()),
        )
        .build()
        .expect("client");
        match client
            .execute(&snowpat_client::Statement::new("SELECT CURRENT_ROLE()"))
            .await
        {
            Ok(result) => Ok(result
                .first()
                .expect("row")
                .get_at::<String>(0)
                .expect("role")),
            Err(e) => {
                let api = e.api().expect("an API error");
                Err((api.status, api.code.clone().unwrap_or_default()))
            }
        }
    }

    async fn assert_dead(&self, secret: &SecretString) {
        assert_eq!(
            self.authenticate(secret).await,
            Err((401, "394400".to_owned()))
        );
    }

    /// Live (not expired) tokens of a user.
    async fn live(&self, id: &str) -> Vec<String> {
        let user = format!("DEPLOYMENT_{id}");
        self.tenants
            .live_tokens(&user)
            .await
            .expect("show pats")
            .into_iter()
            .filter(|t| t.status == "ACTIVE")
            .map(|t| t.name)
            .collect()
    }
}

fn read_secret(path: &Path) -> SecretString {
    let text = std::fs::read_to_string(path).expect("secret file");
    SecretString::from(text.trim_end().to_owned())
}

fn id(text: &str) -> TenantId {
    TenantId::parse(text).expect("tenant id")
}

#[tokio::test]
async fn provision_delivers_a_working_runtime_secret_to_a_0600_file_and_converges_on_rerun() {
    let env = start().await;
    let acme = id("acme");
    let outcome = env
        .tenants
        .provision(&acme, &env.sink(), 90)
        .await
        .expect("provision");
    assert_eq!(outcome.action, "created");
    assert_eq!(outcome.user, "DEPLOYMENT_ACME");
    assert_eq!(outcome.token_name, "DEPLOYMENT_ACME_PAT");
    let path = env.secret_file("ACME");
    let mode = std::fs::metadata(&path).expect("file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let secret = env.read_secret("ACME");
    assert_eq!(
        outcome.secret_sha256.as_deref(),
        Some(secret_sha256(&secret).as_str())
    );
    assert!(outcome.expires_at.is_some());
    let line = outcome.to_json();
    for key in [
        "tenant",
        "user",
        "token_name",
        "role",
        "expires_at",
        "sink",
        "secret_sha256",
    ] {
        assert!(line.get(key).is_some(), "{key} in {line}");
    }
    assert!(line.get("secret").is_none());
    assert!(!line.to_string().contains(secret.expose_secret()));
    assert_eq!(env.authenticate(&secret).await, Ok(RUNTIME.to_owned()));

    // A second provision converges: no new token, same secret still works.
    let mark = env.log_mark().await;
    let again = env
        .tenants
        .provision(&acme, &env.sink(), 90)
        .await
        .expect("rerun");
    assert_eq!(again.action, "unchanged");
    let minted: Vec<Value> = env
        .log(mark)
        .await
        .into_iter()
        .filter(|l| {
            let kind = l["statement_kind"].as_str().unwrap_or_default();
            kind.contains("ADD PAT") || kind.contains("ROTATE PAT")
        })
        .collect();
    assert!(minted.is_empty(), "{minted:?}");
    assert_eq!(env.live("ACME").await, vec!["DEPLOYMENT_ACME_PAT"]);
    assert_eq!(env.authenticate(&secret).await, Ok(RUNTIME.to_owned()));

    // The sink lost the secret: the rerun replaces the token (grace 0) and delivers the new one.
    std::fs::remove_file(&path).expect("rm");
    let reminted = env
        .tenants
        .provision(&acme, &env.sink(), 90)
        .await
        .expect("remint");
    assert_eq!(reminted.action, "reminted");
    let fresh = env.read_secret("ACME");
    assert_eq!(env.authenticate(&fresh).await, Ok(RUNTIME.to_owned()));
    env.assert_dead(&secret).await;
    assert_eq!(env.live("ACME").await, vec!["DEPLOYMENT_ACME_PAT"]);
}

#[tokio::test]
async fn rotate_keeps_the_old_secret_for_the_grace_then_revoke_kills_every_secret() {
    let env = start().await;
    let t = id("globex");
    env.tenants
        .provision(&t, &env.sink(), 90)
        .await
        .expect("provision");
    let first = env.read_secret("GLOBEX");
    let rotated = env.tenants.rotate(&t, Some(2)).await.expect("rotate");
    assert_eq!(rotated.action, "rotated");
    let second = env.read_secret("GLOBEX");
    assert_ne!(first.expose_secret(), second.expose_secret());
    assert_eq!(env.authenticate(&first).await, Ok(RUNTIME.to_owned()));
    assert_eq!(env.authenticate(&second).await, Ok(RUNTIME.to_owned()));
    env.advance_clock(3600).await; // G - 1h
    assert_eq!(env.authenticate(&first).await, Ok(RUNTIME.to_owned()));
    env.advance_clock(2 * 3600).await; // G + 1h
    env.assert_dead(&first).await;
    assert_eq!(env.authenticate(&second).await, Ok(RUNTIME.to_owned()));

    // Grace is capped by the hours the current secret has left (server time).
    let third_outcome = env.tenants.rotate(&t, Some(48)).await.expect("rotate");
    let third = env.read_secret("GLOBEX");
    assert_eq!(third_outcome.action, "rotated");
    assert_eq!(env.authenticate(&second).await, Ok(RUNTIME.to_owned()));

    env.tenants.revoke(&t).await.expect("revoke");
    for secret in [&first, &second, &third] {
        env.assert_dead(secret).await;
    }
    assert!(env.live("GLOBEX").await.is_empty());
}

#[tokio::test]
async fn rotate_grace_is_capped_by_the_remaining_lifetime() {
    let env = start().await;
    let t = id("short");
    env.tenants
        .provision(&t, &env.sink(), 1)
        .await
        .expect("provision");
    let first = env.read_secret("SHORT");
    env.advance_clock(20 * 3600).await; // 4h left on a 1-day token
    env.tenants.rotate(&t, Some(24)).await.expect("rotate");
    let second = env.read_secret("SHORT");
    // Just under 4h were left, so the grace sent is min(24, 3) = 3 whole hours: alive at 2.5h,
    // dead at 3.5h, before the token's own expiry at 4h.
    env.advance_clock(2 * 3600 + 1800).await;
    assert_eq!(env.authenticate(&first).await, Ok(RUNTIME.to_owned()));
    env.advance_clock(3600).await;
    env.assert_dead(&first).await;
    assert_eq!(env.authenticate(&second).await, Ok(RUNTIME.to_owned()));
}

#[tokio::test]
async fn disable_enable_and_drop() {
    let env = start().await;
    let t = id("initech");
    assert_eq!(
        env.tenants.current_role().await.expect("role"),
        "AUTOMATION_ROLE"
    );
    env.tenants
        .provision(&t, &env.sink(), 90)
        .await
        .expect("provision");
    let secret = env.read_secret("INITECH");
    env.tenants.disable(&t).await.expect("disable");
    assert!(env.authenticate(&secret).await.is_err());
    env.tenants.enable(&t).await.expect("enable");
    assert_eq!(env.authenticate(&secret).await, Ok(RUNTIME.to_owned()));
    let listed = env.tenants.list().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].tenant, "INITECH");
    let (shown, live) = env.tenants.show(&t).await.expect("show");
    assert_eq!(shown.user, "DEPLOYMENT_INITECH");
    assert_eq!(live.len(), 1);
    env.tenants.drop_tenant(&t).await.expect("drop");
    env.tenants
        .drop_tenant(&t)
        .await
        .expect("a second drop is a no-op");
    assert!(env.authenticate(&secret).await.is_err());
    assert!(env.tenants.live_tokens("DEPLOYMENT_INITECH").await.is_err());
    let record = env
        .tenants
        .store()
        .tenant("INITECH")
        .await
        .expect("store")
        .expect("record");
    assert_eq!(record.status, "dropped");
    // Every change was journaled before it was sent, and none is left pending.
    let journal = env
        .tenants
        .store()
        .journal("INITECH")
        .await
        .expect("journal");
    let kinds: Vec<&str> = journal.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "CREATE USER",
        "ALTER USER ADD PAT",
        "ALTER USER REMOVE PAT",
        "DROP USER",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(journal.iter().all(|e| e.state == JournalState::Done));
    let logged: std::collections::HashSet<String> = env
        .log(0)
        .await
        .iter()
        .filter_map(|l| l["request_id"].as_str().map(str::to_owned))
        .collect();
    for entry in &journal {
        assert!(
            logged.contains(&entry.request_id.to_string()),
            "{entry:?} was sent with its requestId"
        );
    }
}

#[tokio::test]
async fn bad_ids_and_bad_sinks_send_nothing() {
    let env = start().await;
    let mark = env.log_mark().await;
    let long = "A".repeat(65);
    for bad in [
        vec!["acme", "ACME"],
        vec![""],
        vec![long.as_str()],
        vec!["tenänt"],
        vec!["x; DROP USER y"],
    ] {
        let error = TenantId::parse_all(&bad).expect_err("refused");
        assert!(error.is_usage(), "{error}");
    }
    for bad in [
        "ftp:x",
        "dotenv:/tmp/x",
        "exec:",
        "exec:cmd --id={id}",
        "snowflake-secret:a.b",
    ] {
        let error = env.tenants.sink_spec(Some(bad)).expect_err(bad);
        assert!(error.is_usage(), "{error}");
    }
    // No --sink and no tenants.sink.
    assert!(matches!(
        env.tenants.sink_spec(None),
        Err(TenantError::NoSink)
    ));
    // A missing directory and a world-writable one are refused before anything is sent.
    let missing = SinkSpec::parse(&format!(
        "file:{}/nowhere/{{id}}.token",
        env.dir.path().display()
    ))
    .expect("parses");
    let error = env
        .tenants
        .provision(&id("a1"), &missing, 90)
        .await
        .expect_err("missing dir");
    assert!(error.is_usage(), "{error}");
    let open = env.dir.path().join("open");
    std::fs::create_dir(&open).expect("mkdir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let open_sink = SinkSpec::parse(&format!("file:{}/{{id}}.token", open.display())).expect("p");
    let error = env
        .tenants
        .provision(&id("a2"), &open_sink, 90)
        .await
        .expect_err("world-writable dir");
    assert!(error.is_usage(), "{error}");
    assert_eq!(env.log_mark().await, mark, "nothing was sent");
}

#[tokio::test]
async fn bulk_provisions_100_tenants_with_bounded_concurrency() {
    let env = start().await;
    let names: Vec<String> = (0..100).map(|i| format!("t{i:03}")).collect();
    let ids = TenantId::parse_all(&names).expect("ids");
    let results = env.tenants.provision_many(&ids, &env.sink(), 90, 8).await;
    assert_eq!(results.len(), 100);
    let mut hashes = std::collections::HashSet::new();
    for (tenant, result) in &results {
        let outcome = result.as_ref().unwrap_or_else(|e| panic!("{tenant}: {e}"));
        assert_eq!(outcome.action, "created");
        let secret = env.read_secret(tenant.as_str());
        assert_eq!(
            outcome.secret_sha256.as_deref(),
            Some(secret_sha256(&secret).as_str())
        );
        hashes.insert(secret_sha256(&secret));
    }
    assert_eq!(hashes.len(), 100);
    for tenant in ["T000", "T057", "T099"] {
        assert_eq!(
            env.authenticate(&env.read_secret(tenant)).await,
            Ok(RUNTIME.to_owned())
        );
    }
    let adds = env
        .log(0)
        .await
        .into_iter()
        .filter(|l| l["statement_kind"] == "ALTER USER ADD PAT" && l["executed"] == true)
        .count();
    assert_eq!(adds, 101, "100 tenant PATs and the automation PAT");
}

#[tokio::test]
async fn bulk_under_dropped_responses_ends_with_exactly_one_live_pat_per_tenant() {
    let env = start_with(|c| {
        c.drop_rate = 0.2;
        c.seed = 7;
    })
    .await;
    let names: Vec<String> = (0..20).map(|i| format!("d{i:02}")).collect();
    let ids = TenantId::parse_all(&names).expect("ids");
    let results = env.tenants.provision_many(&ids, &env.sink(), 90, 4).await;
    for (tenant, result) in &results {
        assert!(result.is_ok(), "{tenant}: {:?}", result.as_ref().err());
        assert_eq!(
            env.live(tenant.as_str()).await,
            vec![format!("DEPLOYMENT_{tenant}_PAT")]
        );
        assert_eq!(
            env.authenticate(&env.read_secret(tenant.as_str())).await,
            Ok(RUNTIME.to_owned())
        );
    }
}

fn add_statement(tenant: &str) -> snowpat_sql::ast::Statement {
    use snowpat_sql::ast::{AddPat, AlterUserAction, Ident, Statement};
    Statement::AlterUser {
        if_exists: false,
        user: Some(Ident::new(format!("DEPLOYMENT_{tenant}"))),
        action: AlterUserAction::AddPat(AddPat {
            if_not_exists: false,
            name: Ident::new(format!("DEPLOYMENT_{tenant}_PAT")),
            role_restriction: Some(Ident::new(RUNTIME)),
            days_to_expiry: Some(90),
            mins_to_bypass_network_policy_requirement: None,
            comment: Some(format!("snowpat tenant {tenant}")),
        }),
    }
}

/// Creates the tenant's user (seed steps 1-4) by provisioning a throwaway sink, then removes the
/// token, so the test can play a crashed ADD.
async fn user_without_token(env: &Env, tenant: &TenantId) {
    env.tenants
        .provision(tenant, &env.sink(), 90)
        .await
        .expect("provision");
    let old = env.read_secret(tenant.as_str());
    env.tenants.revoke(tenant).await.expect("revoke");
    env.assert_dead(&old).await;
    std::fs::remove_file(env.secret_file(tenant.as_str())).expect("rm");
}

#[tokio::test]
async fn crash_after_add_is_recovered_by_resubmitting_the_journaled_request_id() {
    let env = start().await;
    let t = id("crash1");
    user_without_token(&env, &t).await;
    // The crashed run: journaled, sent, executed, the answer lost.
    let text = add_statement("CRASH1").to_string();
    let request_id = uuid::Uuid::new_v4();
    env.tenants
        .store()
        .journal_begin("CRASH1", "ALTER USER ADD PAT", request_id, Some(&text))
        .await
        .expect("journal");
    let lost = env
        .automation
        .execute(&snowpat_client::Statement::new(text).request_id(request_id))
        .await
        .expect("the ADD ran");
    let lost_secret = secret_of(&lost);
    drop(lost);

    let outcome = env
        .tenants
        .provision(&t, &env.sink(), 90)
        .await
        .expect("rerun");
    assert_eq!(outcome.action, "recovered");
    let secret = env.read_secret("CRASH1");
    assert_eq!(secret.expose_secret(), lost_secret.expose_secret());
    assert_eq!(env.authenticate(&secret).await, Ok(RUNTIME.to_owned()));
    assert_eq!(env.live("CRASH1").await, vec!["DEPLOYMENT_CRASH1_PAT"]);
    let journal = env.tenants.store().journal("CRASH1").await.expect("j");
    assert!(journal.iter().all(|e| e.state != JournalState::Pending));
    // The resubmission reused the journaled requestId with retry=true.
    let resubmitted = env
        .log(0)
        .await
        .into_iter()
        .filter(|l| l["request_id"] == request_id.to_string())
        .count();
    assert_eq!(resubmitted, 2);
}

#[tokio::test]
async fn crash_whose_request_cannot_be_recovered_is_reminted_with_grace_zero() {
    let env = start().await;
    let t = id("crash2");
    user_without_token(&env, &t).await;
    // Journaled under one requestId, but what ran on the server is unknown to it.
    let text = add_statement("CRASH2").to_string();
    env.tenants
        .store()
        .journal_begin(
            "CRASH2",
            "ALTER USER ADD PAT",
            uuid::Uuid::new_v4(),
            Some(&text),
        )
        .await
        .expect("journal");
    let lost = secret_of(
        &env.automation
            .execute(&snowpat_client::Statement::new(text))
            .await
            .expect("the ADD ran"),
    );
    let outcome = env
        .tenants
        .provision(&t, &env.sink(), 90)
        .await
        .expect("rerun");
    assert_eq!(outcome.action, "reminted");
    env.assert_dead(&lost).await;
    let secret = env.read_secret("CRASH2");
    assert_eq!(env.authenticate(&secret).await, Ok(RUNTIME.to_owned()));
    assert_eq!(env.live("CRASH2").await, vec!["DEPLOYMENT_CRASH2_PAT"]);
}

#[tokio::test]
async fn stdout_sink_returns_the_secret_only_in_its_own_json_line() {
    let env = start().await;
    let t = id("out");
    let outcome = env
        .tenants
        .provision(&t, &SinkSpec::parse("stdout").expect("stdout"), 90)
        .await
        .expect("provision");
    let line = outcome.to_json();
    let secret = SecretString::from(line["secret"].as_str().expect("secret").to_owned());
    assert_eq!(env.authenticate(&secret).await, Ok(RUNTIME.to_owned()));
    assert_eq!(
        line["secret_sha256"].as_str(),
        Some(secret_sha256(&secret).as_str())
    );
}

#[tokio::test]
async fn snowflake_secret_sink_stores_a_generic_string_secret() {
    let env = start().await;
    let t = id("vaulted");
    let spec = SinkSpec::parse("snowflake-secret:SNOWPAT.POLICIES.TOKEN_{id}").expect("spec");
    assert_eq!(
        spec.for_tenant("VAULTED"),
        Sink::SnowflakeSecret(snowpat_sql::ast::ObjectName(vec![
            "SNOWPAT".into(),
            "POLICIES".into(),
            "TOKEN_VAULTED".into()
        ]))
    );
    let result = env.tenants.provision(&t, &spec, 90).await;
    let outcome = result.expect("provision to a Snowflake secret");
    assert_eq!(
        outcome.sink.as_deref(),
        Some("snowflake-secret:SNOWPAT.POLICIES.TOKEN_VAULTED")
    );
    let logged = env.log(0).await;
    let created = logged
        .iter()
        .filter(|l| l["statement_kind"] == "CREATE SECRET" && l["executed"] == true)
        .count();
    assert_eq!(created, 1);
    // A rotation goes to the same sink (read back from the store).
    let rotated = env.tenants.rotate(&t, Some(0)).await.expect("rotate");
    assert_eq!(rotated.sink, outcome.sink);
    assert_ne!(rotated.secret_sha256, outcome.secret_sha256);
}

// ---- sinks ------------------------------------------------------------------------------------

fn private_dir() -> TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    dir
}

async fn deliver(sink: &Sink, secret: &str) -> Result<(), snowpat_core::sinks::SinkError> {
    // A client that is never used by the local sinks.
    let client = Client::builder(
        BaseUrl::parse("http://127.0.0.1:9").expect("url"),
        Credential::pat(SecretString::from("unused".to_owned())),
    )
    .build()
    .expect("client");
    sink.deliver(&SecretString::from(secret.to_owned()), &client)
        .await
}

#[tokio::test]
async fn file_sink_writes_0600_and_refuses_symlinks_and_open_directories() {
    let dir = private_dir();
    let path = dir.path().join("t.token");
    deliver(&Sink::File(path.clone()), "s3cr3t")
        .await
        .expect("written");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "s3cr3t\n");
    assert_eq!(
        std::fs::metadata(&path).expect("m").permissions().mode() & 0o777,
        0o600
    );
    // Replaced atomically on a second delivery; no temp file left behind.
    deliver(&Sink::File(path.clone()), "again")
        .await
        .expect("again");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "again\n");
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);

    let link = dir.path().join("link.token");
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).expect("symlink");
    assert!(deliver(&Sink::File(link), "x").await.is_err());
    assert!(!dir.path().join("elsewhere").exists());

    let open = dir.path().join("open");
    std::fs::create_dir(&open).expect("mkdir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    assert!(deliver(&Sink::File(open.join("t.token")), "x")
        .await
        .is_err());
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o720)).expect("chmod");
    assert!(deliver(&Sink::File(open.join("t.token")), "x")
        .await
        .is_err());
    assert!(
        deliver(&Sink::File(dir.path().join("missing/t.token")), "x")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn dotenv_sink_keeps_other_lines_and_replaces_its_variable() {
    let dir = private_dir();
    let path = dir.path().join(".env");
    std::fs::write(&path, "A=1\nSNOW_PAT=old\n# comment\nB=2\n").expect("seed");
    let spec = SinkSpec::parse(&format!("dotenv:{}:SNOW_PAT", path.display())).expect("spec");
    deliver(&spec.for_tenant("X"), "new")
        .await
        .expect("written");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "A=1\nSNOW_PAT=new\n# comment\nB=2\n"
    );
    assert_eq!(
        std::fs::metadata(&path).expect("m").permissions().mode() & 0o777,
        0o600
    );
    let other = SinkSpec::parse(&format!("dotenv:{}:OTHER", path.display())).expect("spec");
    deliver(&other.for_tenant("X"), "v")
        .await
        .expect("appended");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "A=1\nSNOW_PAT=new\n# comment\nB=2\nOTHER=v\n"
    );
}

#[tokio::test]
async fn exec_sink_gets_the_secret_on_stdin_and_fails_on_nonzero_exit() {
    let dir = private_dir();
    let out = dir.path().join("captured");
    let spec =
        SinkSpec::parse(&format!("exec:sh -c 'cat > \"$0\"' {}", out.display())).expect("spec");
    deliver(&spec.for_tenant("T"), "piped")
        .await
        .expect("delivered");
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "piped\n");
    // {id} as a whole argument.
    let spec = SinkSpec::parse(&format!(
        "exec:sh -c 'cat > \"$0\".\"$1\"' {} {{id}}",
        out.display()
    ))
    .expect("spec");
    deliver(&spec.for_tenant("TEN"), "withid")
        .await
        .expect("delivered");
    assert_eq!(
        std::fs::read_to_string(format!("{}.TEN", out.display())).expect("read"),
        "withid\n"
    );
    let failing = SinkSpec::parse("exec:false").expect("spec");
    assert!(deliver(&failing.for_tenant("T"), "x").await.is_err());
    let missing = SinkSpec::parse("exec:/nonexistent/snowpat-sink").expect("spec");
    assert!(deliver(&missing.for_tenant("T"), "x").await.is_err());
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn partial_bulk_failure_reports_per_tenant_and_a_rerun_converges() {
    let env = start().await;
    let status = env
        .http
        .post(format!("{}/emulator/v1/faults", env.url))
        .bearer_auth(&env.control)
        .json(&json!({ "statement_kind": "ALTER USER ADD PAT", "code": "003001", "times": 1 }))
        .send()
        .await
        .expect("fault")
        .status();
    assert_eq!(status, 200);
    let ids = TenantId::parse_all(&["p1", "p2", "p3"]).expect("ids");
    let results = env.tenants.provision_many(&ids, &env.sink(), 90, 1).await;
    let failed: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
    assert_eq!(failed.len(), 1, "exactly one tenant hit the fault");
    let message = failed[0].1.as_ref().expect_err("error").to_string();
    assert!(message.contains("003001"), "{message}");
    let again = env.tenants.provision_many(&ids, &env.sink(), 90, 3).await;
    for (tenant, result) in &again {
        result.as_ref().unwrap_or_else(|e| panic!("{tenant}: {e}"));
        assert_eq!(
            env.live(tenant.as_str()).await,
            vec![format!("DEPLOYMENT_{tenant}_PAT")]
        );
        assert_eq!(
            env.authenticate(&env.read_secret(tenant.as_str())).await,
            Ok(RUNTIME.to_owned())
        );
    }
}

#[tokio::test]
async fn no_minted_secret_appears_in_the_request_log_or_the_store() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    // Global: every test of this binary logs into the buffer from here on (the tests run on
    // several threads; a thread-local subscriber would miss callsites cached by the others).
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    let env = start().await;
    let ids = TenantId::parse_all(&["s1", "s2", "s3"]).expect("ids");
    for r in env.tenants.provision_many(&ids, &env.sink(), 90, 2).await {
        r.1.expect("provision");
    }
    env.tenants.rotate(&ids[0], Some(1)).await.expect("rotate");
    let mut secrets: Vec<SecretString> = ids.iter().map(|t| env.read_secret(t.as_str())).collect();
    let stdout_outcome = env
        .tenants
        .provision(&id("s4"), &SinkSpec::parse("stdout").expect("stdout"), 90)
        .await
        .expect("stdout sink");
    // The Debug form of an outcome that carries a secret shows none.
    let debug = format!("{stdout_outcome:?}");
    let stdout_secret = stdout_outcome.secret.expect("stdout secret");
    secrets.push(stdout_secret);
    let log = serde_json::to_string(&env.log(0).await).expect("json");
    let db = std::fs::read(env.dir.path().join("state/snowpat.db")).expect("db");
    let mut wal = std::fs::read(env.dir.path().join("state/snowpat.db-wal")).unwrap_or_default();
    let mut everything = db;
    everything.append(&mut wal);
    let listed: Vec<String> = env
        .tenants
        .list()
        .await
        .expect("list")
        .iter()
        .map(|o| o.to_json().to_string())
        .collect();
    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
    assert!(
        logs.contains("request_id"),
        "trace logs were captured: {} bytes: {}",
        logs.len(),
        logs.chars().take(600).collect::<String>()
    );
    for secret in &secrets {
        let s = secret.expose_secret();
        assert!(!s.is_empty());
        assert!(!logs.contains(s), "secret in the trace logs");
        assert!(!debug.contains(s));
        assert!(!log.contains(s), "secret in the request log");
        assert!(
            !everything.windows(s.len()).any(|w| w == s.as_bytes()),
            "secret in the store"
        );
        assert!(
            !listed.iter().any(|l| l.contains(s)),
            "secret in list output"
        );
    }
    let mode = std::fs::metadata(env.dir.path().join("state/snowpat.db"))
        .expect("db")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test]
async fn rotate_due_rotates_only_tokens_expiring_within_the_window_and_cleans_expired_rotated_objects(
) {
    let env = start().await;
    let soon = id("soon");
    let later = id("later");
    env.tenants
        .provision(&soon, &env.sink(), 1)
        .await
        .expect("soon");
    env.tenants
        .provision(&later, &env.sink(), 90)
        .await
        .expect("later");
    let later_secret = env.read_secret("LATER");
    let soon_secret = env.read_secret("SOON");
    let due = env
        .tenants
        .rotate_due(snowpat_core::tenants::parse_duration("36h").expect("36h"))
        .await
        .expect("rotate-due");
    let rotated: Vec<&str> = due.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(rotated, vec!["SOON"]);
    assert!(due[0].1.is_ok());
    assert_ne!(
        env.read_secret("SOON").expose_secret(),
        soon_secret.expose_secret()
    );
    assert_eq!(
        env.read_secret("LATER").expose_secret(),
        later_secret.expose_secret()
    );
    // Once the rotated object has expired, the next run removes it.
    env.advance_clock(2 * 86_400).await;
    let user = "DEPLOYMENT_SOON";
    let before = env.tenants.live_tokens(user).await.expect("show");
    assert!(before.iter().any(|t| t.name.contains("_ROTATED_")));
    env.tenants
        .rotate_due(Duration::from_secs(3600))
        .await
        .expect("rotate-due");
    let after = env.tenants.live_tokens(user).await.expect("show");
    assert!(
        !after.iter().any(|t| t.name.contains("_ROTATED_")),
        "{after:?}"
    );
}

/// §6.5 on an account without the emulator's loopback account policy: the blueprint's network
/// policy is what lets deployment PATs be generated and used. With `allowed_cidrs` covering the
/// client the PAT authenticates; with `10.0.0.0/8` it is refused from 127.0.0.1 (401 099918).
#[tokio::test]
async fn deployment_users_are_subject_to_the_blueprints_network_policy() {
    use snowpat_client::KeyPair;
    use snowpat_core::blueprints::multi_tenant::{MultiTenant, Options};
    use snowpat_core::blueprints::{bootstrap_multi_tenant, FileSink};

    for (cidr, expected) in [("127.0.0.1/32", None), ("10.0.0.0/8", Some("099918"))] {
        let env = start_with(|c| c.no_default_network_policy = true).await;
        let admin_pat = std::fs::read_to_string(env.dir.path().join("admin.token")).expect("pat");
        let admin = Client::builder(
            BaseUrl::parse(&env.url).expect("url"),
            Credential::pat(SecretString::from(admin_pat.trim().to_owned())),
        )
        .build()
        .expect("admin");
        // A fresh blueprint database (the seed-style setup of `start` used SNOWPAT).
        let config = MultiTenantConfig {
            allowed_cidrs: vec![cidr.into()],
            database: "SNOWPAT_NP".into(),
            automation_user: "NP_AUTOMATION_USER".into(),
            automation_role: "NP_AUTOMATION_ROLE".into(),
            runtime_role: "NP_RUNTIME_ROLE".into(),
            ..MultiTenantConfig::default()
        };
        let bp = MultiTenant::new(config.clone(), Options::default()).expect("blueprint");
        let key = env.dir.path().join("np.p8");
        bootstrap_multi_tenant(&admin, &bp, true, Some(&FileSink(key.clone())))
            .await
            .unwrap_or_else(|e| panic!("{cidr}: bootstrap: {e}"));
        let describe = admin
            .execute(&snowpat_client::Statement::new(
                "DESCRIBE USER NP_AUTOMATION_USER",
            ))
            .await
            .expect("describe");
        let np = describe
            .rows()
            .iter()
            .find(|r| r.get::<String>("property").ok().as_deref() == Some("NETWORK_POLICY"))
            .and_then(|r| r.get::<String>("value").ok());
        assert_eq!(np.as_deref(), Some("SNOWPAT_DEPLOYMENT_NETWORK_POLICY"));
        // The automation identity itself is behind the policy; from 127.0.0.1 it can only work
        // when the CIDR allows it. With 10.0.0.0/8, provision with the same role from ADMIN.
        let credential = if expected.is_none() {
            Credential::KeyPair(
                KeyPair::from_file("EMULATOR", "NP_AUTOMATION_USER", &key).expect("key"),
            )
        } else {
            admin
                .execute(&snowpat_client::Statement::new(
                    "GRANT ROLE NP_AUTOMATION_ROLE TO USER ADMIN",
                ))
                .await
                .expect("grant");
            Credential::pat(SecretString::from(admin_pat.trim().to_owned()))
        };
        let provisioner = Client::builder(BaseUrl::parse(&env.url).expect("url"), credential)
            .role("NP_AUTOMATION_ROLE")
            .build()
            .expect("provisioner");
        let tenants = Tenants::new(
            provisioner.clone(),
            Arc::new(
                SqliteStore::open_path(&env.dir.path().join("np.db"))
                    .await
                    .expect("store"),
            ),
            Settings {
                tenants: TenantsConfig {
                    user: "NP_DEPLOYMENT_{id}".into(),
                    ..TenantsConfig::default()
                },
                blueprint: config,
            },
        );
        let t = id("N1");
        tenants
            .provision(&t, &env.sink(), 30)
            .await
            .unwrap_or_else(|e| panic!("{cidr}: provision: {e}"));
        // A user without the policy (created before it was attached, or detached since): the
        // rerun sees it in DESCRIBE USER and attaches it again.
        provisioner
            .execute(&snowpat_client::Statement::new(
                "ALTER USER NP_DEPLOYMENT_N1 UNSET NETWORK_POLICY",
            ))
            .await
            .expect("unset");
        tenants
            .provision(&t, &env.sink(), 30)
            .await
            .unwrap_or_else(|e| panic!("{cidr}: rerun: {e}"));
        let describe = admin
            .execute(&snowpat_client::Statement::new(
                "DESCRIBE USER NP_DEPLOYMENT_N1",
            ))
            .await
            .expect("describe");
        let np = describe
            .rows()
            .iter()
            .find(|r| r.get::<String>("property").ok().as_deref() == Some("NETWORK_POLICY"))
            .and_then(|r| r.get::<String>("value").ok());
        assert_eq!(
            np.as_deref(),
            Some("SNOWPAT_DEPLOYMENT_NETWORK_POLICY"),
            "{cidr}"
        );
        let secret = env.read_secret("N1");
        let result = env.authenticate(&secret).await;
        match expected {
            None => assert_eq!(result, Ok("NP_RUNTIME_ROLE".to_owned()), "{cidr}"),
            Some(code) => assert_eq!(result, Err((401, code.to_owned())), "{cidr}"),
        }
    }
}

fn rotate_statement(tenant: &str) -> snowpat_sql::ast::Statement {
    use snowpat_sql::ast::{AlterUserAction, Ident, Statement};
    Statement::AlterUser {
        if_exists: false,
        user: Some(Ident::new(format!("DEPLOYMENT_{tenant}"))),
        action: AlterUserAction::RotatePat {
            if_exists: false,
            name: Ident::new(format!("DEPLOYMENT_{tenant}_PAT")),
            expire_rotated_token_after_hours: Some(0),
        },
    }
}

/// Journals `kind` as pending, as a run that crashed after `journal_begin` leaves it; with
/// `sent`, the statement also reached Snowflake under that requestId (and ran).
async fn crashed(env: &Env, tenant: &str, sql: &str, kind: &str, text: bool, sent: bool) -> i64 {
    let request_id = uuid::Uuid::new_v4();
    let seq = env
        .tenants
        .store()
        .journal_begin(tenant, kind, request_id, text.then_some(sql))
        .await
        .expect("journal");
    if sent {
        env.automation
            .execute(&snowpat_client::Statement::new(sql).request_id(request_id))
            .await
            .expect("the crashed statement ran");
    }
    seq
}

async fn state_of(env: &Env, tenant: &str, seq: i64) -> JournalState {
    env.tenants
        .store()
        .journal(tenant)
        .await
        .expect("journal")
        .into_iter()
        .find(|e| e.seq == seq)
        .expect("the entry")
        .state
}

async fn assert_nothing_pending(env: &Env, tenant: &str) {
    let journal = env.tenants.store().journal(tenant).await.expect("journal");
    assert!(
        journal.iter().all(|e| e.state != JournalState::Pending),
        "{journal:?}"
    );
}

/// interfaces.md "Lifecycle semantics": a rerun of a crashed `disable`, `enable`, `revoke` or
/// `drop` resolves the statements the crashed run left pending (superseded, as `provision` does
/// for its setup), whether or not they had reached Snowflake.
#[tokio::test]
async fn rerun_of_crashed_disable_enable_revoke_and_drop_resolves_their_pending_statements() {
    let env = start().await;
    let t = id("crash5");
    env.tenants
        .provision(&t, &env.sink(), 90)
        .await
        .expect("provision");
    let secret = env.read_secret("CRASH5");

    // disable: sent and executed, the answer lost.
    let seq = crashed(
        &env,
        "CRASH5",
        "ALTER USER DEPLOYMENT_CRASH5 SET DISABLED = TRUE",
        "ALTER USER",
        false,
        true,
    )
    .await;
    assert!(env.authenticate(&secret).await.is_err());
    env.tenants.disable(&t).await.expect("rerun of disable");
    assert_eq!(
        state_of(&env, "CRASH5", seq).await,
        JournalState::Superseded
    );
    assert_nothing_pending(&env, "CRASH5").await;

    // enable: journaled, never sent; the rerun enables.
    let seq = crashed(
        &env,
        "CRASH5",
        "ALTER USER DEPLOYMENT_CRASH5 SET DISABLED = FALSE",
        "ALTER USER",
        false,
        false,
    )
    .await;
    env.tenants.enable(&t).await.expect("rerun of enable");
    assert_eq!(
        state_of(&env, "CRASH5", seq).await,
        JournalState::Superseded
    );
    assert_eq!(env.authenticate(&secret).await, Ok(RUNTIME.to_owned()));
    assert_nothing_pending(&env, "CRASH5").await;

    // revoke: the REMOVE PAT journaled, never sent.
    let seq = crashed(
        &env,
        "CRASH5",
        "ALTER USER DEPLOYMENT_CRASH5 REMOVE PAT IF EXISTS DEPLOYMENT_CRASH5_PAT",
        "ALTER USER REMOVE PAT",
        false,
        false,
    )
    .await;
    env.tenants.revoke(&t).await.expect("rerun of revoke");
    assert_eq!(
        state_of(&env, "CRASH5", seq).await,
        JournalState::Superseded
    );
    env.assert_dead(&secret).await;
    assert_nothing_pending(&env, "CRASH5").await;

    // drop: a crashed rotation (sent, its secret lost during the delivery) and the drop's own
    // DROP USER (never sent) are both pending; the drop supersedes both, the lost secret is dead
    // and the delivery's temporary file is removed.
    env.tenants
        .provision(&t, &env.sink(), 90)
        .await
        .expect("provision again");
    let rotate = rotate_statement("CRASH5");
    let text = rotate.to_string();
    let request_id = uuid::Uuid::new_v4();
    let add_seq = env
        .tenants
        .store()
        .journal_begin("CRASH5", rotate.kind(), request_id, Some(&text))
        .await
        .expect("journal");
    let lost = env
        .automation
        .execute(&snowpat_client::Statement::new(text).request_id(request_id))
        .await
        .expect("the ROTATE ran");
    let lost_secret = secret_of(&lost);
    let drop_seq = crashed(
        &env,
        "CRASH5",
        "DROP USER IF EXISTS DEPLOYMENT_CRASH5",
        "DROP USER",
        false,
        false,
    )
    .await;
    // The crashed delivery's temporary file (the sink writes `.<name>.<uuid>.tmp`, then renames).
    let target = env.secret_file("CRASH5");
    let temporary = target.with_file_name(format!(
        ".{}.{}.tmp",
        target.file_name().unwrap().to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&temporary, lost_secret.expose_secret()).expect("temporary");
    env.tenants.drop_tenant(&t).await.expect("rerun of drop");
    assert!(
        !temporary.exists(),
        "the crashed delivery's temporary file is left"
    );
    for seq in [add_seq, drop_seq] {
        assert_eq!(
            state_of(&env, "CRASH5", seq).await,
            JournalState::Superseded
        );
    }
    env.assert_dead(&lost_secret).await;
    assert_nothing_pending(&env, "CRASH5").await;
}

/// A rotation a crashed run left pending is recovered by the next `disable` (resubmitted with its
/// requestId and retry=true, protocols §2.8) so the sink holds the live secret; after `enable` it
/// authenticates.
#[tokio::test]
async fn disable_after_a_crashed_rotation_recovers_its_secret_by_resubmission() {
    let env = start().await;
    let t = id("crash6");
    env.tenants
        .provision(&t, &env.sink(), 90)
        .await
        .expect("provision");
    let old = env.read_secret("CRASH6");
    let rotate = rotate_statement("CRASH6");
    let text = rotate.to_string();
    let request_id = uuid::Uuid::new_v4();
    let seq = env
        .tenants
        .store()
        .journal_begin("CRASH6", rotate.kind(), request_id, Some(&text))
        .await
        .expect("journal");
    let lost = env
        .automation
        .execute(&snowpat_client::Statement::new(text).request_id(request_id))
        .await
        .expect("the ROTATE ran");
    let lost_secret = secret_of(&lost);
    drop(lost);

    env.tenants.disable(&t).await.expect("disable");
    assert_eq!(state_of(&env, "CRASH6", seq).await, JournalState::Done);
    assert_eq!(
        env.read_secret("CRASH6").expose_secret(),
        lost_secret.expose_secret()
    );
    env.tenants.enable(&t).await.expect("enable");
    assert_eq!(env.authenticate(&lost_secret).await, Ok(RUNTIME.to_owned()));
    env.assert_dead(&old).await;
    assert_nothing_pending(&env, "CRASH6").await;
    let resubmitted: Vec<Value> = env
        .log(0)
        .await
        .into_iter()
        .filter(|l| l["request_id"] == request_id.to_string())
        .collect();
    assert_eq!(resubmitted.len(), 2, "{resubmitted:?}");
    assert_eq!(resubmitted[1]["retry"], json!(true));
}
