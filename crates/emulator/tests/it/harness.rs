//! An emulator per test, in-process on 127.0.0.1:0, with temporary admin and control token
//! files, and a reqwest client with helpers for the SQL API and the control API.

#![allow(dead_code)] // Each test module uses a different subset of the helpers.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use snowpat_emulator::server::{self, Config, Running};
use tempfile::TempDir;

pub struct Emulator {
    running: Option<Running>,
    pub dir: TempDir,
    pub url: String,
    pub client: reqwest::Client,
    pub config: Config,
}

/// What a request got back.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

impl Emulator {
    /// Admin token and control token files, no state, no faults.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Control token only: no admin PAT (tests of input handling that never authenticate).
    pub async fn bare() -> Self {
        Self::start_with(|c| c.admin_token_file = None).await
    }

    /// Like [`Emulator::start`], with the config adjusted by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            admin_token_file: Some(dir.path().join("admin.token")),
            control_token_file: Some(dir.path().join("control.token")),
            ..Config::default()
        };
        tweak(&mut config);
        Self::spawn_in(dir, config).await
    }

    pub async fn spawn_in(dir: TempDir, config: Config) -> Self {
        let running = server::spawn(config.clone())
            .await
            .expect("emulator starts");
        let url = running.url();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Self {
            running: Some(running),
            dir,
            url,
            client,
            config,
        }
    }

    /// An emulator with `--admin-key-file` writing ADMIN's PKCS#8 private key to `admin.p8`;
    /// returns it and the PEM.
    pub async fn start_with_admin_key() -> (Self, String) {
        let emu = Self::start_with(|c| {
            c.admin_key_file = c
                .admin_token_file
                .as_ref()
                .map(|p| p.with_file_name("admin.p8"));
        })
        .await;
        let pem = std::fs::read_to_string(emu.path("admin.p8")).expect("admin key file");
        (emu, pem)
    }

    /// Stops the server and starts a new one on the same directory and config (same state file).
    pub async fn restart(mut self) -> Self {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        Self::spawn_in(dir, self.config.clone()).await
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// ADMIN's PAT, as written to the admin token file.
    pub fn admin(&self) -> String {
        std::fs::read_to_string(
            self.config
                .admin_token_file
                .as_ref()
                .expect("admin token file"),
        )
        .expect("admin token file readable")
    }

    pub fn control_token(&self) -> String {
        std::fs::read_to_string(
            self.config
                .control_token_file
                .as_ref()
                .expect("control file"),
        )
        .expect("control token file readable")
    }

    /// POST /api/v2/statements with a JSON body and a query string.
    pub async fn post_statement(&self, token: &str, body: &Value, query: &str) -> Answer {
        let response = self
            .client
            .post(format!("{}/api/v2/statements{query}", self.url))
            .bearer_auth(token)
            .header(
                "X-Snowflake-Authorization-Token-Type",
                "PROGRAMMATIC_ACCESS_TOKEN",
            )
            .json(body)
            .send()
            .await
            .expect("request sent");
        answer(response).await
    }

    /// One statement → (status, body).
    pub async fn sql(&self, token: &str, statement: &str) -> (u16, Value) {
        let a = self
            .post_statement(token, &json!({ "statement": statement }), "")
            .await;
        (a.status, a.json)
    }

    /// One statement in a key-pair session (bearer `jwt`, token type KEYPAIR_JWT).
    pub async fn sql_keypair(&self, jwt: &str, statement: &str) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/api/v2/statements", self.url))
            .bearer_auth(jwt)
            .header("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
            .json(&json!({ "statement": statement }))
            .send()
            .await
            .expect("request sent");
        let a = answer(response).await;
        (a.status, a.json)
    }

    /// One statement with a role → (status, body).
    pub async fn sql_as(&self, token: &str, role: &str, statement: &str) -> (u16, Value) {
        let a = self
            .post_statement(token, &json!({ "statement": statement, "role": role }), "")
            .await;
        (a.status, a.json)
    }

    /// A multi-statement request with MULTI_STATEMENT_COUNT = count.
    pub async fn sql_multi(&self, token: &str, statement: &str, count: u32) -> (u16, Value) {
        let body = json!({
            "statement": statement,
            "parameters": { "MULTI_STATEMENT_COUNT": count.to_string() },
        });
        let a = self.post_statement(token, &body, "").await;
        (a.status, a.json)
    }

    /// Runs a statement as ADMIN and insists on 200.
    pub async fn admin_ok(&self, statement: &str) -> Value {
        let (status, body) = self.sql(&self.admin(), statement).await;
        assert_eq!(status, 200, "{statement}: {body}");
        body
    }

    /// GET /api/v2/statements/{handle}{query}.
    pub async fn get_statement(&self, token: &str, handle: &str, query: &str) -> Answer {
        let response = self
            .client
            .get(format!("{}/api/v2/statements/{handle}{query}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        answer(response).await
    }

    pub async fn cancel(&self, token: &str, handle: &str) -> Answer {
        let response = self
            .client
            .post(format!("{}/api/v2/statements/{handle}/cancel", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        answer(response).await
    }

    /// GET /emulator/v1/log?since=SEQ, parsed.
    pub async fn control_log(&self, since: u64) -> Vec<Value> {
        let text = self
            .client
            .get(format!("{}/emulator/v1/log?since={since}", self.url))
            .bearer_auth(self.control_token())
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

    /// The last sequence number in the log (0 when empty).
    pub async fn log_mark(&self) -> u64 {
        self.control_log(0)
            .await
            .last()
            .and_then(|l| l["seq"].as_u64())
            .unwrap_or(0)
    }

    pub async fn advance_clock(&self, seconds: i64) -> Value {
        self.control_post("/emulator/v1/clock", &json!({ "advance_seconds": seconds }))
            .await
            .json
    }

    pub async fn add_fault(&self, statement_kind: &str, code: &str, times: u32) {
        let a = self
            .control_post(
                "/emulator/v1/faults",
                &json!({ "statement_kind": statement_kind, "code": code, "times": times }),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.json);
    }

    pub async fn control_post(&self, path: &str, body: &Value) -> Answer {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(self.control_token())
            .json(body)
            .send()
            .await
            .expect("control request");
        answer(response).await
    }

    /// The HTTP status of `GET /emulator/v1/healthz` (no token).
    pub async fn healthz_status(&self) -> u16 {
        self.client
            .get(format!("{}/emulator/v1/healthz", self.url))
            .send()
            .await
            .expect("healthz request sent")
            .status()
            .as_u16()
    }

    /// Grants `role` (created when missing) to `user`, as ADMIN.
    pub async fn grant_role_creating(&self, role: &str, user: &str) {
        self.admin_ok(&format!("CREATE ROLE IF NOT EXISTS {role}"))
            .await;
        self.admin_ok(&format!("GRANT ROLE {role} TO USER {user}"))
            .await;
    }

    /// A SERVICE user `name`, granted `role` (created when missing) if given.
    pub async fn service_user(&self, name: &str, role: Option<&str>) {
        self.admin_ok(&format!("CREATE USER {name} TYPE = SERVICE"))
            .await;
        if let Some(role) = role {
            self.grant_role_creating(role, name).await;
        }
    }

    /// Creates a PERSON user with a PAT (no role restriction, or restricted to `role`) and
    /// returns the secret.
    pub async fn user_with_pat(&self, user: &str, role: Option<&str>) -> String {
        self.admin_ok(&format!("CREATE USER {user} TYPE = PERSON"))
            .await;
        if let Some(role) = role {
            self.grant_role_creating(role, user).await;
            self.admin_ok(&format!("ALTER USER {user} SET DEFAULT_ROLE = {role}"))
                .await;
        }
        let restriction = role
            .map(|r| format!(" ROLE_RESTRICTION = '{r}'"))
            .unwrap_or_default();
        let body = self
            .admin_ok(&format!(
                "ALTER USER {user} ADD PAT {user}_PAT{restriction} DAYS_TO_EXPIRY = 30"
            ))
            .await;
        secret_of(&body)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Running's own Drop signals shutdown.
        self.running.take();
    }
}

/// `POST /api/v2/statements` with a bearer token and an optional
/// `X-Snowflake-Authorization-Token-Type` header (None: no header).
pub async fn sql_bearer(
    emu: &Emulator,
    token: &str,
    token_type: Option<&str>,
    statement: &str,
) -> (u16, Value) {
    let mut request = emu
        .client
        .post(format!("{}/api/v2/statements", emu.url))
        .bearer_auth(token)
        .json(&json!({ "statement": statement }));
    if let Some(t) = token_type {
        request = request.header("X-Snowflake-Authorization-Token-Type", t);
    }
    let a = answer(request.send().await.expect("request sent")).await;
    (a.status, a.json)
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
    }
}

/// The `token_secret` of an ADD/ROTATE result.
pub fn secret_of(body: &Value) -> String {
    let columns = body["resultSetMetaData"]["rowType"]
        .as_array()
        .expect("rowType");
    let index = columns
        .iter()
        .position(|c| c["name"].as_str() == Some("token_secret"))
        .expect("token_secret column");
    body["data"][0][index]
        .as_str()
        .expect("secret cell")
        .to_owned()
}

/// Column `name` of every row.
pub fn column(body: &Value, name: &str) -> Vec<Value> {
    let columns = body["resultSetMetaData"]["rowType"]
        .as_array()
        .expect("rowType");
    let index = columns
        .iter()
        .position(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .unwrap_or_else(|| panic!("column {name} in {body}"));
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|row| row[index].clone())
        .collect()
}

/// Lines of a log slice that ran a statement of `kind`.
pub fn lines_of_kind<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["statement_kind"].as_str() == Some(kind))
        .collect()
}

/// base64 of the DER SubjectPublicKeyInfo of the PKCS#8 key in `pem` (the RSA_PUBLIC_KEY form,
/// snowflake-behaviour §5.1).
pub fn public_key_b64(pem: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("PKCS#8 PEM");
    let der = key.to_public_key().to_public_key_der().expect("DER");
    STANDARD.encode(der.as_bytes())
}

/// A key-pair JWT (protocols §3.1) for `account`.`user`, RS256-signed with the PKCS#8 key in
/// `pem`, issued now and valid for 3000 seconds.
pub fn keypair_jwt(pem: &str, account: &str, user: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    keypair_jwt_at(pem, account, user, now, now + 3000)
}

/// A key-pair JWT with chosen `iat` and `exp` (seconds since the epoch, real time).
pub fn keypair_jwt_at(pem: &str, account: &str, user: &str, iat: i64, exp: i64) -> String {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine as _;
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
    use rsa::signature::{SignatureEncoding, Signer};
    use sha2::Digest;

    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("PKCS#8 PEM");
    let der = key.to_public_key().to_public_key_der().expect("DER");
    let fp = STANDARD.encode(sha2::Sha256::digest(der.as_bytes()));
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = json!({"iss": format!("{account}.{user}.SHA256:{fp}"),
                        "sub": format!("{account}.{user}"), "iat": iat, "exp": exp});
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
    let signature = signer.sign(signing_input.as_bytes()).to_vec();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}
