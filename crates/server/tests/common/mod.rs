//! The exchange service against an in-process emulator and the test IdP: the emulator trusts the
//! IdP through an External OAuth integration (EXTERNAL_OAUTH_RSA_PUBLIC_KEY = the IdP's key), user
//! ALICE (LOGIN_NAME alice@example.com) holds ANALYST_ROLE, which has USAGE on an MCP server.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::SecretString;
use serde_json::{json, Value};
use snowpat_client::{BaseUrl, Client, Credential, RetryPolicy};
use snowpat_core::config::{ExchangeConfig, ExchangePolicyConfig};
use snowpat_core::store::SqliteStore;
use snowpat_emulator::server::{self, Config, Running};
use snowpat_server::audit::AuditLog;
use snowpat_server::http::{router, AppState};
use snowpat_server::{build_state, Options};
use snowpat_testkit::TestIdp;
use tempfile::TempDir;

pub const ROLE: &str = "ANALYST_ROLE";
pub const MCP_PATH: &str = "/api/v2/databases/MCPDB/schemas/TOOLS/mcp-servers/ASSISTANT";
pub const AUDIENCE: &str = "snowpat";

const MCP_SPEC: &str = r#"tools:
  - name: "sql"
    type: "SYSTEM_EXECUTE_SQL"
    description: "Runs SQL in the caller's session"
"#;

/// A writer shared with the test (audit lines).
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }
}

pub struct Env {
    pub _running: Running,
    pub dir: TempDir,
    pub url: String,
    pub control: String,
    pub http: reqwest::Client,
    pub admin: Client,
    pub idp: TestIdp,
    /// The automation identity's PAT (delegated mode).
    pub automation: Option<Client>,
}

pub fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 20,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Env {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let config = Config {
            admin_token_file: Some(dir.path().join("admin.token")),
            control_token_file: Some(dir.path().join("control.token")),
            ..Config::default()
        };
        let running = server::spawn(config).await.expect("emulator starts");
        let url = running.url();
        let admin_pat =
            std::fs::read_to_string(dir.path().join("admin.token")).expect("admin token");
        let control = std::fs::read_to_string(dir.path().join("control.token")).expect("control");
        let admin = Client::builder(
            BaseUrl::parse(&url).expect("url"),
            Credential::pat(SecretString::from(admin_pat.trim().to_owned())),
        )
        .retry(retry())
        .build()
        .expect("admin client");
        let idp = TestIdp::start().await;
        let env = Self {
            _running: running,
            dir,
            url,
            control: control.trim().to_owned(),
            http: reqwest::Client::new(),
            admin,
            idp,
            automation: None,
        };
        let issuer = env.idp.issuer();
        let key = env.idp.public_key_der_b64();
        for sql in [
            format!(
                "CREATE SECURITY INTEGRATION idp TYPE = EXTERNAL_OAUTH ENABLED = TRUE \
                 EXTERNAL_OAUTH_TYPE = CUSTOM EXTERNAL_OAUTH_ISSUER = '{issuer}' \
                 EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '{key}' \
                 EXTERNAL_OAUTH_AUDIENCE_LIST = ('{AUDIENCE}') \
                 EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM = 'preferred_username' \
                 EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE = 'LOGIN_NAME'"
            ),
            "CREATE USER alice LOGIN_NAME = 'alice@example.com' TYPE = PERSON".into(),
            "CREATE USER mallory LOGIN_NAME = 'mallory@example.com' TYPE = PERSON".into(),
            format!("CREATE ROLE {ROLE}"),
            "CREATE ROLE OTHER_ROLE".into(),
            format!("GRANT ROLE {ROLE} TO USER alice"),
            format!("GRANT ROLE {ROLE} TO USER mallory"),
            "GRANT ROLE OTHER_ROLE TO USER alice".into(),
            "CREATE DATABASE MCPDB".into(),
            "CREATE SCHEMA MCPDB.TOOLS".into(),
            format!("CREATE MCP SERVER MCPDB.TOOLS.ASSISTANT FROM SPECIFICATION $${MCP_SPEC}$$"),
            format!("GRANT USAGE ON MCP SERVER MCPDB.TOOLS.ASSISTANT TO ROLE {ROLE}"),
        ] {
            env.admin_sql(&sql).await;
        }
        env
    }

    pub async fn admin_sql(&self, sql: &str) -> snowpat_client::ResultSet {
        self.admin
            .execute(&snowpat_client::Statement::new(sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Seed 000's automation identity: AUTOMATION_ROLE owning service user SVC_AGENT (which holds
    /// ANALYST_ROLE), with MODIFY PROGRAMMATIC AUTHENTICATION METHODS on it, and an unrestricted
    /// PAT for AUTOMATION_USER.
    pub async fn with_automation(mut self) -> Self {
        for sql in [
            "CREATE ROLE AUTOMATION_ROLE".to_owned(),
            "CREATE USER SVC_AGENT LOGIN_NAME = 'svc_agent' TYPE = SERVICE".into(),
            format!("GRANT ROLE {ROLE} TO USER SVC_AGENT"),
            "GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER SVC_AGENT TO ROLE AUTOMATION_ROLE".into(),
            "CREATE USER AUTOMATION_USER TYPE = SERVICE DEFAULT_ROLE = AUTOMATION_ROLE".into(),
            "GRANT ROLE AUTOMATION_ROLE TO USER AUTOMATION_USER".into(),
            // Seed 000: the automation user's unrestricted PAT needs a policy that does not
            // require a restriction for it.
            "CREATE DATABASE SNOWPAT".into(),
            "CREATE SCHEMA SNOWPAT.POLICIES".into(),
            "CREATE AUTHENTICATION POLICY SNOWPAT.POLICIES.AUTOMATION_AUTH_POLICY PAT_POLICY = (NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED, MAX_EXPIRY_IN_DAYS = 365, DEFAULT_EXPIRY_IN_DAYS = 90, REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)".into(),
            "ALTER USER AUTOMATION_USER SET AUTHENTICATION POLICY SNOWPAT.POLICIES.AUTOMATION_AUTH_POLICY".into(),
        ] {
            self.admin_sql(&sql).await;
        }
        let rs = self
            .admin_sql("ALTER USER AUTOMATION_USER ADD PAT AUTOMATION_PAT DAYS_TO_EXPIRY = 30")
            .await;
        let secret = rs
            .first()
            .expect("row")
            .secret("token_secret")
            .expect("secret");
        self.automation = Some(
            Client::builder(
                BaseUrl::parse(&self.url).expect("url"),
                Credential::pat(secret),
            )
            .retry(retry())
            .role("AUTOMATION_ROLE")
            .build()
            .expect("automation client"),
        );
        self
    }

    pub fn policy(&self) -> ExchangePolicyConfig {
        ExchangePolicyConfig {
            name: "agents".into(),
            issuer: self.idp.issuer(),
            jwks_url: self.idp.jwks_url(),
            audience: AUDIENCE.into(),
            subject: "[a-z_]+@example\\.com|svc_agent".into(),
            claims: BTreeMap::from([("groups".into(), "data-agents".into())]),
            user_claim: "preferred_username".into(),
            roles: vec![ROLE.into()],
            max_lifetime: "1d".into(),
        }
    }

    pub fn exchange_config(&self, mode: &str) -> ExchangeConfig {
        ExchangeConfig {
            mode: mode.into(),
            policy: vec![self.policy()],
            ..ExchangeConfig::default()
        }
    }

    /// The claims of a good subject token for `user` (its sub and preferred_username).
    pub fn claims(&self, user: &str) -> Value {
        let now = now_secs();
        json!({
            "iss": self.idp.issuer(),
            "sub": user,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 600,
            "preferred_username": user,
            "groups": ["data-agents"],
            "scp": [format!("session:role:{ROLE}")],
        })
    }

    pub fn token_for(&self, user: &str) -> String {
        self.idp.mint(self.claims(user))
    }

    /// Starts the service; returns its base URL and the audit capture.
    pub async fn serve(&self, cfg: &ExchangeConfig) -> Service {
        self.serve_with(cfg, Options::default()).await
    }

    pub async fn serve_with(&self, cfg: &ExchangeConfig, mut options: Options) -> Service {
        options.jwks.allow_http_loopback = true;
        let store = SqliteStore::open_path(&self.dir.path().join("state/snowpat.db"))
            .await
            .expect("store");
        let audit = Captured::default();
        let state = build_state(
            cfg,
            &options,
            &BaseUrl::parse(&self.url).expect("url"),
            self.automation.clone(),
            Arc::new(store),
            Arc::new(AuditLog::writer(Box::new(audit.clone()))),
        )
        .expect("service builds");
        let listener = snowpat_server::listen::bind("127.0.0.1:0".parse().unwrap())
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = router(Arc::clone(&state));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(snowpat_server::listen::serve(listener, app, None, async {
            let _ = stopped.await;
        }));
        Service {
            url: format!("http://{addr}"),
            audit,
            state,
            _stop: stop,
        }
    }

    /// GET /emulator/v1/log?since=SEQ.
    pub async fn log(&self, since: u64) -> Vec<Value> {
        let text = self
            .http
            .get(format!("{}/emulator/v1/log?since={since}", self.url))
            .bearer_auth(&self.control)
            .send()
            .await
            .expect("log request")
            .text()
            .await
            .expect("log body");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("log line is JSON"))
            .collect()
    }

    pub async fn log_mark(&self) -> u64 {
        self.log(0)
            .await
            .last()
            .and_then(|l| l["seq"].as_u64())
            .unwrap_or(0)
    }

    /// Executed ADD and ROTATE statements since `since`.
    pub async fn mints_since(&self, since: u64) -> usize {
        self.log(since)
            .await
            .iter()
            .filter(|l| {
                matches!(
                    l["statement_kind"].as_str(),
                    Some("ALTER USER ADD PAT" | "ALTER USER ROTATE PAT")
                ) && l["executed"] == true
            })
            .count()
    }

    /// `tools/call` of the MCP server's SQL tool with a PAT; the rows.
    pub async fn mcp_sql(&self, pat: &str, sql: &str) -> Value {
        let response = self
            .http
            .post(format!("{}{MCP_PATH}", self.url))
            .bearer_auth(pat)
            .header(
                "X-Snowflake-Authorization-Token-Type",
                "PROGRAMMATIC_ACCESS_TOKEN",
            )
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "sql", "arguments": {"sql": sql}}}))
            .send()
            .await
            .expect("mcp request");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("mcp json");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["isError"], false, "{body}");
        let text = body["result"]["content"][0]["text"]
            .as_str()
            .expect("text content");
        serde_json::from_str(text).expect("rows as JSON")
    }

    pub async fn advance_clock(&self, seconds: i64) {
        let response = self
            .http
            .post(format!("{}/emulator/v1/clock", self.url))
            .bearer_auth(&self.control)
            .json(&json!({ "advance_seconds": seconds }))
            .send()
            .await
            .expect("clock");
        assert!(response.status().is_success());
    }
}

pub struct Service {
    pub url: String,
    pub audit: Captured,
    pub state: Arc<AppState<SqliteStore>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// One answer.
pub struct Answer {
    pub status: u16,
    pub json: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Service {
    /// POSTs the RFC 8693 form.
    pub async fn exchange(&self, http: &reqwest::Client, token: &str, role: &str) -> Answer {
        self.post_form(
            http,
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", token),
                ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
                ("scope", &format!("session:role:{role}")),
            ],
        )
        .await
    }

    pub async fn post_form(&self, http: &reqwest::Client, form: &[(&str, &str)]) -> Answer {
        let response = http
            .post(format!("{}/v1/token", self.url))
            .form(form)
            .send()
            .await
            .expect("token request");
        answer(response).await
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        json,
        headers,
    }
}
