//! An in-process emulator for the CLI tests, the real `snowpat` binary, and the request log.

#![allow(dead_code)] // Each test file uses a different subset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use snowpat_emulator::server::{self, Config, Running};

pub struct Emulator {
    pub runtime: tokio::runtime::Runtime,
    running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub url: String,
    http: reqwest::Client,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            self.runtime.block_on(r.shutdown());
        }
    }
}

impl Emulator {
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            listen: ([127, 0, 0, 1], 0).into(),
            admin_token_file: Some(dir.path().join("admin.token")),
            control_token_file: Some(dir.path().join("control.token")),
            ..Config::default()
        };
        let running = runtime.block_on(server::spawn(config)).unwrap();
        let url = running.url();
        Self {
            runtime,
            running: Some(running),
            dir,
            url,
            http: reqwest::Client::new(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn admin_token_file(&self) -> PathBuf {
        self.path("admin.token")
    }

    fn control(&self) -> String {
        std::fs::read_to_string(self.path("control.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// The request log since `seq` (exclusive of nothing: every line with seq > since).
    pub fn log(&self, since: u64) -> Vec<Value> {
        let text = self.runtime.block_on(async {
            self.http
                .get(format!("{}/emulator/v1/log?since={since}", self.url))
                .bearer_auth(self.control())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|v: &Value| v["seq"].as_u64().unwrap_or(0) > since)
            .collect()
    }

    /// The highest sequence number in the log so far.
    pub fn last_seq(&self) -> u64 {
        self.log(0)
            .iter()
            .filter_map(|v| v["seq"].as_u64())
            .max()
            .unwrap_or(0)
    }

    /// One statement as ADMIN; panics unless it is answered 200.
    pub fn admin_sql(&self, statement: &str) -> Value {
        let token = std::fs::read_to_string(self.admin_token_file()).unwrap();
        self.runtime.block_on(async {
            let r = self
                .http
                .post(format!("{}/api/v2/statements", self.url))
                .bearer_auth(token.trim())
                .header(
                    "X-Snowflake-Authorization-Token-Type",
                    "PROGRAMMATIC_ACCESS_TOKEN",
                )
                .json(&json!({"statement": statement, "role": "ACCOUNTADMIN"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{statement}");
            r.json().await.unwrap()
        })
    }

    /// `snowpat ARGS` with the connection in the environment (ADMIN's PAT file) and a
    /// temporary HOME, in `cwd`.
    pub fn snowpat(&self, cwd: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_snowpat"))
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", cwd)
            .env("SNOWPAT_URL", &self.url)
            .env("SNOWPAT_TOKEN_FILE", self.admin_token_file())
            .output()
            .unwrap()
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every logged request is a read that changed nothing.
pub fn assert_only_reads(lines: &[Value]) {
    assert!(!lines.is_empty(), "expected some reads");
    for l in lines {
        let kind = l["statement_kind"].as_str().unwrap_or("");
        assert!(
            kind.starts_with("SELECT") || kind.starts_with("SHOW") || kind.starts_with("DESC"),
            "not a read: {l}"
        );
        assert_eq!(l["executed"], json!(false), "{l}");
    }
}

/// `snowpat.toml` for the multi-tenant blueprint with the seed-exact network setting
/// (`allowed_cidrs = ["none"]`, see cli_config_entries.rs).
pub const MULTI_TENANT_NO_CIDRS: &str = "[blueprint.multi-tenant]\nallowed_cidrs = [\"none\"]\n";

/// `snowpat.toml` for the multi-tenant blueprint whose network policy allows loopback, so the
/// automation and deployment users can sign in from the tests.
pub const MULTI_TENANT_LOOPBACK: &str =
    "[blueprint.multi-tenant]\nallowed_cidrs = [\"127.0.0.1/32\"]\n";

/// `snowpat.toml` for the multi-tenant blueprint with an automation PAT instead of a key pair.
pub const MULTI_TENANT_PAT_AUTH: &str =
    "[blueprint.multi-tenant]\nautomation_auth = \"pat\"\nallowed_cidrs = [\"none\"]\n";

/// A SQLite store URL for `state.db` in `cwd`.
pub fn sqlite_store(cwd: &Path) -> String {
    format!("sqlite:{}", cwd.join("state.db").display())
}

/// Writes `text` as `snowpat.toml` in `cwd`.
pub fn write_snowpat_toml(cwd: &Path, text: &str) {
    std::fs::write(cwd.join("snowpat.toml"), text).unwrap();
}

impl Emulator {
    /// `snowpat bootstrap multi-tenant --apply --sink file:SINK` (as ADMIN, with whatever
    /// `snowpat.toml` is in `cwd`); panics unless it succeeds. `sink` receives the automation
    /// key, or its PAT in `automation_auth = "pat"` mode. Returns its output.
    pub fn bootstrap_multi_tenant(&self, cwd: &Path, sink: &Path) -> Output {
        let boot = self.snowpat(
            cwd,
            &[
                "bootstrap",
                "multi-tenant",
                "--apply",
                "--sink",
                &format!("file:{}", sink.display()),
            ],
        );
        assert!(boot.status.success(), "{}", stderr(&boot));
        boot
    }

    /// `snowpat --store STORE tenant provision ID --sink file:CWD/{id}.token` (as ADMIN);
    /// panics unless it succeeds. Returns its output.
    pub fn provision_tenant(&self, cwd: &Path, store: &str, id: &str) -> Output {
        let sink = format!("file:{}/{{id}}.token", cwd.display());
        let out = self.snowpat(
            cwd,
            &["--store", store, "tenant", "provision", id, "--sink", &sink],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        out
    }

    /// The multi-tenant blueprint applied under `config` (written as `snowpat.toml`), its
    /// automation key in `automation.p8`, and tenant `acme` provisioned into `store` with its
    /// token in `ACME.token`. Returns the provision output.
    pub fn provision_acme(&self, cwd: &Path, config: &str, store: &str) -> Output {
        write_snowpat_toml(cwd, config);
        self.bootstrap_multi_tenant(cwd, &cwd.join("automation.p8"));
        self.provision_tenant(cwd, store, "acme")
    }

    /// `snowpat --store STORE cli-config --connection CONNECTION --tenant TENANT EXTRA...`;
    /// panics unless it exits 0. Returns its output.
    pub fn tenant_cli_config(
        &self,
        cwd: &Path,
        store: &str,
        connection: &str,
        tenant: &str,
        extra: &[&str],
    ) -> Output {
        let mut args = vec![
            "--store",
            store,
            "cli-config",
            "--connection",
            connection,
            "--tenant",
            tenant,
        ];
        args.extend_from_slice(extra);
        let out = self.snowpat(cwd, &args);
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        out
    }
}
