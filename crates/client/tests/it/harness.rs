//! An emulator per test and the clients that talk to it.

#![allow(dead_code)] // Each test module uses a different subset.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use snowpat_client::{BaseUrl, Client, ClientBuilder, Credential, RetryPolicy};
use snowpat_emulator::server::{self, Config, Running};
use tempfile::TempDir;

pub struct Emu {
    running: Option<Running>,
    pub dir: TempDir,
    pub url: String,
    pub config: Config,
    http: reqwest::Client,
}

/// The attempt cap the issue fixes for tests, with short delays.
pub fn test_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 20,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(100),
    }
}

impl Emu {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Admin token, admin key and control token files; `tweak` adjusts the config.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            admin_token_file: Some(dir.path().join("admin.token")),
            control_token_file: Some(dir.path().join("control.token")),
            ..Config::default()
        };
        tweak(&mut config);
        let running = server::spawn(config.clone())
            .await
            .expect("emulator starts");
        let url = running.url();
        Self {
            running: Some(running),
            dir,
            url,
            config,
            http: reqwest::Client::new(),
        }
    }

    pub fn base(&self) -> BaseUrl {
        BaseUrl::parse(&self.url).expect("emulator URL")
    }

    /// ADMIN's PAT.
    pub fn admin_secret(&self) -> SecretString {
        let path = self
            .config
            .admin_token_file
            .as_ref()
            .expect("admin token file");
        SecretString::from(std::fs::read_to_string(path).expect("admin token").trim())
    }

    /// A client builder authenticated as ADMIN by PAT, with the test retry policy.
    pub fn admin(&self) -> ClientBuilder {
        Client::builder(self.base(), Credential::pat(self.admin_secret())).retry(test_retry())
    }

    pub fn control_token(&self) -> String {
        let path = self
            .config
            .control_token_file
            .as_ref()
            .expect("control file");
        std::fs::read_to_string(path).expect("control token")
    }

    /// `GET /emulator/v1/log?since=SEQ`.
    pub async fn log(&self, since: u64) -> Vec<Value> {
        let text = self
            .http
            .get(format!("{}/emulator/v1/log?since={since}", self.url))
            .bearer_auth(self.control_token().trim())
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

    /// `POST /emulator/v1/clock`: moves the account clock forward.
    pub async fn advance_clock(&self, seconds: i64) {
        let status = self
            .http
            .post(format!("{}/emulator/v1/clock", self.url))
            .bearer_auth(self.control_token().trim())
            .json(&serde_json::json!({ "advance_seconds": seconds }))
            .send()
            .await
            .expect("clock request")
            .status();
        assert_eq!(status.as_u16(), 200);
    }

    /// The last sequence number in the log.
    pub async fn log_mark(&self) -> u64 {
        self.log(0)
            .await
            .last()
            .and_then(|l| l["seq"].as_u64())
            .unwrap_or(0)
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        self.running.take();
    }
}

/// Log lines that submitted statements.
pub fn submissions(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| l["endpoint"] == "POST /api/v2/statements")
        .collect()
}
