//! The real `snowpat-emulator` binary: the ready line, flags, and `kill -9` durability.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::harness::column;

struct Process {
    child: Child,
    url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// SIGKILL, no graceful shutdown; waits for the process to end.
    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// `--state <dir>/state.json --admin-token-file <dir>/admin.token`, and those two paths.
fn durable_args(dir: &Path) -> (PathBuf, PathBuf, [PathBuf; 4]) {
    let state = dir.join("state.json");
    let admin = dir.join("admin.token");
    let args = [
        PathBuf::from("--state"),
        state.clone(),
        PathBuf::from("--admin-token-file"),
        admin.clone(),
    ];
    (state, admin, args)
}

/// Starts the binary and reads its one stdout line.
fn start<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_snowpat-emulator"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let url = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Process { child, url }
}

#[tokio::test]
async fn interfaces_binary_prints_one_listening_line_with_the_real_port() {
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("control.token");
    let process = start(&["--control-token-file", control.to_str().unwrap()]);
    assert!(process.url.starts_with("http://127.0.0.1:"));
    let port: u16 = process.url.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
    let response = reqwest::get(format!("{}/emulator/v1/healthz", process.url))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[test]
fn interfaces_binary_rejects_bad_flags() {
    for args in [
        vec!["--fault-rate", "2"],
        vec!["--pat-session-rules", "lenient"],
        vec!["--listen", "not-an-address"],
    ] {
        let status = Command::new(env!("CARGO_BIN_EXE_snowpat-emulator"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}");
    }
}

async fn sql(url: &str, token: &str, statement: &str) -> (u16, serde_json::Value) {
    post(url, token, &json!({ "statement": statement }), "").await
}

async fn post(
    url: &str,
    token: &str,
    body: &serde_json::Value,
    query: &str,
) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v2/statements{query}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// A second administrator with its own 30-day PAT, so that the checks after a restart do not
/// depend on the rotated admin token.
async fn second_admin(url: &str, admin: &str) -> String {
    for statement in [
        "CREATE USER KILL_ADMIN TYPE = PERSON DEFAULT_ROLE = ACCOUNTADMIN",
        "GRANT ROLE ACCOUNTADMIN TO USER KILL_ADMIN",
    ] {
        let (status, body) = sql(url, admin, statement).await;
        assert_eq!(status, 200, "{statement}: {body}");
    }
    let (status, body) = sql(
        url,
        admin,
        "ALTER USER KILL_ADMIN ADD PAT KILL_PAT DAYS_TO_EXPIRY = 30",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    crate::harness::secret_of(&body)
}

#[tokio::test]
async fn interfaces_state_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (state, admin, args) = durable_args(dir.path());
    let mut first = start(&args);
    let old_token = read(&admin);
    let second = second_admin(&first.url, &old_token).await;
    for i in 0..5 {
        let (status, body) = sql(&first.url, &old_token, &format!("CREATE ROLE KILLED_{i}")).await;
        assert_eq!(status, 200, "{body}");
    }
    let rid = "5c4e2a10-7b3d-4f6e-9a8b-1d2c3e4f5a6b";
    let add = json!({"statement": "ALTER USER ADMIN ADD PAT KILL_SURVIVOR DAYS_TO_EXPIRY = 5"});
    let stored = post(&first.url, &second, &add, &format!("?requestId={rid}")).await;
    assert_eq!(stored.0, 200, "{}", stored.1);
    // No graceful shutdown: SIGKILL right after the last 200.
    first.kill_9();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "state file is 0600");
    }

    let restarted = start(&args);
    assert_ne!(
        read(&admin),
        old_token,
        "the admin token file is rewritten on restart"
    );
    let (status, _) = sql(&restarted.url, &old_token, "SELECT CURRENT_USER()").await;
    assert_eq!(
        status, 401,
        "the rotated-away secret expired at once (grace 0)"
    );
    let (status, body) = sql(&restarted.url, &second, "SHOW ROLES LIKE 'KILLED_%'").await;
    assert_eq!(status, 200, "{body}");
    let mut names: Vec<String> = column(&body, "name")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        (0..5).map(|i| format!("KILLED_{i}")).collect::<Vec<_>>()
    );
    // The answer carrying the new secret survived with the change it reports.
    let replay = post(
        &restarted.url,
        &second,
        &add,
        &format!("?requestId={rid}&retry=true"),
    )
    .await;
    assert_eq!(replay, stored);
}

#[tokio::test]
async fn interfaces_rotated_admin_token_works_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (_state, admin, args) = durable_args(dir.path());
    let mut first = start(&args);
    first.kill_9();
    let restarted = start(&args);
    let (status, body) = sql(&restarted.url, &read(&admin), "SELECT CURRENT_USER()").await;
    assert_eq!(status, 200, "{body}");
}
