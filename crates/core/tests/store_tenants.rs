//! The tenant lifecycle (provision, rerun, rotate with grace, revoke, bulk provision) against an
//! in-process emulator bootstrapped like seed 000, once per store backend: the same
//! `Tenants<AnyStore>` code on SQLite and on PostgreSQL, and the same store contents afterwards.

mod store_support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use snowpat_client::{BaseUrl, Client, Credential, RetryPolicy};
use snowpat_core::config::{MultiTenantConfig, TenantsConfig};
use snowpat_core::sinks::SinkSpec;
use snowpat_core::store::{AnyStore, JournalState, Store};
use snowpat_core::tenants::{secret_sha256, Settings, TenantId, Tenants};
use snowpat_emulator::server::{self, Config, Running};
use tempfile::TempDir;

const RUNTIME: &str = "CORTEX_REST_API_ROLE";

struct Env {
    _running: Running,
    dir: TempDir,
    url: String,
    control: String,
    http: reqwest::Client,
    tenants: Tenants<AnyStore>,
    store: Arc<AnyStore>,
}

fn secret_of(result: &snowpat_client::ResultSet) -> SecretString {
    result
        .first()
        .expect("a row")
        .secret("token_secret")
        .expect("token_secret")
}

async fn start(store: AnyStore) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let config = Config {
        admin_token_file: Some(dir.path().join("admin.token")),
        control_token_file: Some(dir.path().join("control.token")),
        ..Config::default()
    };
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
    // Seed 000, steps 1-4.
    for sql in [
        "CREATE ROLE IF NOT EXISTS CORTEX_REST_API_ROLE",
        "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_REST_API_USER TO ROLE CORTEX_REST_API_ROLE",
        "CREATE ROLE IF NOT EXISTS AUTOMATION_ROLE",
        "GRANT CREATE USER ON ACCOUNT TO ROLE AUTOMATION_ROLE",
        "GRANT OWNERSHIP ON ROLE CORTEX_REST_API_ROLE TO ROLE AUTOMATION_ROLE COPY CURRENT GRANTS",
        "CREATE DATABASE IF NOT EXISTS SNOWPAT",
        "CREATE SCHEMA IF NOT EXISTS SNOWPAT.POLICIES",
        "GRANT USAGE ON DATABASE SNOWPAT TO ROLE AUTOMATION_ROLE",
        "GRANT USAGE ON SCHEMA SNOWPAT.POLICIES TO ROLE AUTOMATION_ROLE",
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
                "ALTER USER AUTOMATION_USER ADD PROGRAMMATIC ACCESS TOKEN AUTOMATION_PAT DAYS_TO_EXPIRY = 90",
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
    let store = Arc::new(store);
    let tenants = Tenants::new(
        automation,
        store.clone(),
        Settings {
            tenants: TenantsConfig::default(),
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
        tenants,
        store,
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
        let text = std::fs::read_to_string(self.secret_file(id)).expect("secret file");
        SecretString::from(text.trim_end().to_owned())
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
}

fn id(text: &str) -> TenantId {
    TenantId::parse(text).expect("tenant id")
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    use super::store_support::Backend;
                    let backend = super::store_support::sqlite();
                    super::$name(backend.open().await.into()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    use super::store_support::Backend;
                    let Some(backend) = super::store_support::postgres().await else {
                        return;
                    };
                    super::$name(backend.open().await.into()).await;
                }
            )*
        }
    };
}

both_backends!(
    provision_rotate_revoke_keep_the_store_in_step_with_the_account,
    bulk_provision_journals_every_tenant_to_done,
);

async fn provision_rotate_revoke_keep_the_store_in_step_with_the_account(store: AnyStore) {
    let env = start(store).await;
    let acme = id("acme");
    let created = env
        .tenants
        .provision(&acme, &env.sink(), 90)
        .await
        .expect("provision");
    assert_eq!(created.action, "created");
    let first = env.read_secret("ACME");
    assert_eq!(env.authenticate(&first).await, Ok(RUNTIME.to_owned()));

    let record = env.store.tenant("ACME").await.unwrap().expect("tenant row");
    assert_eq!(record.user, "DEPLOYMENT_ACME");
    assert_eq!(record.token_name, "DEPLOYMENT_ACME_PAT");
    assert_eq!(record.status, "active");
    let tokens = env.store.tokens("ACME").await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].secret_sha256, secret_sha256(&first));
    // Only the digest: the secret never reaches the store.
    assert_ne!(tokens[0].secret_sha256, first.expose_secret());
    let journal = env.store.journal("ACME").await.unwrap();
    assert!(!journal.is_empty());
    assert!(
        journal.iter().all(|e| e.state == JournalState::Done),
        "{journal:?}"
    );
    for entry in &journal {
        if let Some(statement) = &entry.statement {
            assert!(!statement.contains(first.expose_secret()));
        }
    }

    // The rerun converges from what the store holds.
    let again = env
        .tenants
        .provision(&acme, &env.sink(), 90)
        .await
        .expect("rerun");
    assert_eq!(again.action, "unchanged");

    let rotated = env.tenants.rotate(&acme, Some(2)).await.expect("rotate");
    assert_eq!(rotated.action, "rotated");
    let second = env.read_secret("ACME");
    assert_ne!(first.expose_secret(), second.expose_secret());
    let tokens = env.store.tokens("ACME").await.unwrap();
    assert!(
        tokens
            .iter()
            .any(|t| t.secret_sha256 == secret_sha256(&second)),
        "{tokens:?}"
    );
    assert_eq!(env.authenticate(&first).await, Ok(RUNTIME.to_owned()));
    env.advance_clock(3 * 3600).await;
    assert_eq!(
        env.authenticate(&first).await,
        Err((401, "394400".to_owned()))
    );
    assert_eq!(env.authenticate(&second).await, Ok(RUNTIME.to_owned()));

    env.tenants.revoke(&acme).await.expect("revoke");
    assert_eq!(
        env.authenticate(&second).await,
        Err((401, "394400".to_owned()))
    );
    assert_eq!(
        env.store.tenant("ACME").await.unwrap().unwrap().status,
        "revoked"
    );
    let journal = env.store.journal("ACME").await.unwrap();
    assert!(
        journal.iter().all(|e| e.state != JournalState::Pending),
        "{journal:?}"
    );
}

async fn bulk_provision_journals_every_tenant_to_done(store: AnyStore) {
    let env = start(store).await;
    let ids: Vec<TenantId> = (0..12).map(|i| id(&format!("t{i:02}"))).collect();
    let results = env.tenants.provision_many(&ids, &env.sink(), 90, 8).await;
    assert_eq!(results.len(), 12);
    for (tenant, result) in &results {
        assert!(result.is_ok(), "{tenant:?}: {result:?}");
    }
    let tenants = env.store.tenants().await.unwrap();
    assert_eq!(
        tenants.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        (0..12).map(|i| format!("T{i:02}")).collect::<Vec<_>>()
    );
    for t in &tenants {
        assert_eq!(t.status, "active");
        let secret = env.read_secret(&t.id);
        assert_eq!(env.authenticate(&secret).await, Ok(RUNTIME.to_owned()));
        let tokens = env.store.tokens(&t.id).await.unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].secret_sha256, secret_sha256(&secret));
        let journal = env.store.journal(&t.id).await.unwrap();
        assert!(
            journal.iter().all(|e| e.state == JournalState::Done),
            "{journal:?}"
        );
    }
}
