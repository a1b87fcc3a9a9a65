//! `snowpat oauth login | refresh [--keep] | status` against the real emulator's Snowflake OAuth
//! (protocols.md §6, issue 6). The test plays the browser: it reads the authorization URL the
//! command prints on stderr, authenticates the end user at `/oauth/authorize` as the emulator
//! accepts it (HTTP Basic, §6.1 [E]), and follows the 302 to the command's loopback listener.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{stderr, stdout, Emulator};
use serde_json::{json, Value};

const PASSWORD: &str = "Correct-Horse-9";

struct Setup {
    emu: Emulator,
    client_id: String,
    client_secret: String,
    secret_file: PathBuf,
    redirect: String,
    home: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        Self::with_client_type("CONFIDENTIAL")
    }

    fn with_client_type(client_type: &str) -> Self {
        let emu = Emulator::start();
        let port = free_port();
        let redirect = format!("http://127.0.0.1:{port}/callback");
        emu.admin_sql(&format!(
            "CREATE SECURITY INTEGRATION app TYPE = OAUTH OAUTH_CLIENT = CUSTOM \
             OAUTH_CLIENT_TYPE = '{client_type}' OAUTH_REDIRECT_URI = '{redirect}' \
             OAUTH_ALLOW_NON_TLS_REDIRECT_URI = TRUE ENABLED = TRUE"
        ));
        let body = emu.admin_sql("SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('APP')");
        let secrets: Value = serde_json::from_str(body["data"][0][0].as_str().unwrap()).unwrap();
        for statement in [
            &format!("CREATE USER alice PASSWORD = '{PASSWORD}' TYPE = PERSON") as &str,
            "CREATE ROLE analyst",
            "GRANT ROLE analyst TO USER alice",
        ] {
            emu.admin_sql(statement);
        }
        let home = tempfile::tempdir().unwrap();
        let secret_file = home.path().join("client.secret");
        let client_secret = secrets["OAUTH_CLIENT_SECRET"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        std::fs::write(&secret_file, format!("{client_secret}\n")).unwrap();
        Self {
            emu,
            client_id: secrets["OAUTH_CLIENT_ID"].as_str().unwrap().to_string(),
            client_secret,
            secret_file,
            redirect,
            home,
        }
    }

    fn cache(&self) -> PathBuf {
        self.home.path().join("state").join("oauth.json")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_snowpat"));
        c.args(args)
            .current_dir(self.home.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("SNOWPAT_URL", &self.emu.url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `snowpat oauth refresh --cache CACHE --client-secret-file SECRET`, once.
    fn refresh(&self, cache: &Path) -> Output {
        self.run(&[
            "oauth",
            "refresh",
            "--cache",
            cache.to_str().unwrap(),
            "--client-secret-file",
            self.secret_file.to_str().unwrap(),
        ])
    }

    /// `snowpat -vv oauth login ...`, the test acting as the browser. `tamper` rewrites the
    /// redirect before following it. Returns the command's output, the browser's status at the
    /// listener and the authorization code Snowflake issued.
    fn login(&self, tamper: impl FnOnce(String) -> String) -> (Output, u16, String) {
        self.login_with(true, tamper)
    }

    fn login_with(
        &self,
        with_secret: bool,
        tamper: impl FnOnce(String) -> String,
    ) -> (Output, u16, String) {
        let cache = self.cache();
        let mut args = vec![
            "-vv",
            "--role",
            "ANALYST",
            "oauth",
            "login",
            "--client-id",
            &self.client_id,
            "--redirect-uri",
            &self.redirect,
            "--cache",
            cache.to_str().unwrap(),
            "--timeout",
            "60s",
        ];
        if with_secret {
            args.extend(["--client-secret-file", self.secret_file.to_str().unwrap()]);
        }
        let mut child = self.command(&args).spawn().unwrap();
        let (url, rest) = authorize_url_from(&mut child);
        let (status, code) = self.emu.runtime.block_on(async {
            let browser = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let r = browser
                .get(&url)
                .basic_auth("alice", Some(PASSWORD))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 302, "{}", r.text().await.unwrap());
            let location = r.headers()["location"].to_str().unwrap().to_string();
            assert!(location.starts_with(&self.redirect), "{location}");
            let code = query_param(&location, "code");
            let status = browser
                .get(tamper(location))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (status, code)
        });
        let mut out = child.wait_with_output().unwrap();
        let mut err = rest.join().unwrap();
        err.extend_from_slice(&out.stderr);
        out.stderr = err;
        (out, status, code)
    }
}

/// A free port outside the kernel's ephemeral range (32768–60999), so no `bind(0)` elsewhere in
/// the test process (emulators, clients) can take it between now and the command's bind.
fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    loop {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let port = 20_000 + (random % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Reads the child's stderr until the authorization URL appears; the rest keeps being collected.
fn authorize_url_from(child: &mut Child) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut sent = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            all.extend_from_slice(line.as_bytes());
            all.push(b'\n');
            if !sent && line.contains("/oauth/authorize?") {
                let _ = tx.send(line.trim().to_string());
                sent = true;
            }
        }
        all
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => (url, reader),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            let text = reader.join().unwrap_or_default();
            panic!(
                "no authorization URL on stderr ({e}): {}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}

fn query_param(url: &str, name: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn read_cache(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn tokens(cache: &Value) -> (String, String) {
    (
        cache["access_token"].as_str().unwrap().to_string(),
        cache["refresh_token"].as_str().unwrap().to_string(),
    )
}

/// SQL API with an OAuth access token → (status, body).
fn sql(emu: &Emulator, access: &str, statement: &str) -> (u16, Value) {
    emu.runtime.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v2/statements", emu.url))
            .bearer_auth(access)
            .header("X-Snowflake-Authorization-Token-Type", "OAUTH")
            .json(&json!({ "statement": statement }))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    })
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn login_sql_refresh_rotation_spent_token_and_no_secret_in_output() {
    let s = Setup::new();
    let mut transcript = String::new();
    let mut record = |o: &Output| {
        transcript.push_str(&stdout(o));
        transcript.push_str(&stderr(o));
    };

    // Login: PKCE code flow through the loopback listener.
    let (out, browser_status, code) = s.login(|l| l);
    record(&out);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(browser_status, 200);
    assert!(!code.is_empty());
    assert!(
        stdout(&out).contains("signed in: user ALICE"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("session:role:ANALYST"),
        "{}",
        stdout(&out)
    );
    let cache = s.cache();
    assert_eq!(mode(&cache), 0o600);
    let c0 = read_cache(&cache);
    let (access0, refresh0) = tokens(&c0);
    assert_eq!(c0["user"], "ALICE");

    // The access token works over the SQL API, as ALICE with the requested role.
    let (status, body) = sql(&s.emu, &access0, "SELECT CURRENT_USER(), CURRENT_ROLE()");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["ALICE", "ANALYST"]]));

    // The code was single-use: replaying it at the token endpoint fails.
    let log = s.emu.log(0);
    let exchanges = log
        .iter()
        .filter(|l| l["endpoint"] == "POST /oauth/token-request")
        .count();
    assert_eq!(exchanges, 1, "one code exchange");

    // Refresh rotates the refresh token; the old access token dies with it (§6.4).
    let spent = s.home.path().join("spent.json");
    std::fs::copy(&cache, &spent).unwrap();
    let out = s.run(&[
        "-vv",
        "oauth",
        "refresh",
        "--cache",
        cache.to_str().unwrap(),
        "--client-secret-file",
        s.secret_file.to_str().unwrap(),
        "--access-token-file",
        s.home.path().join("access.token").to_str().unwrap(),
    ]);
    record(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("refreshed: user ALICE"),
        "{}",
        stdout(&out)
    );
    let c1 = read_cache(&cache);
    let (access1, refresh1) = tokens(&c1);
    assert_ne!(refresh1, refresh0);
    assert_ne!(access1, access0);
    assert_eq!(c1["refreshes"], 1);
    assert_eq!(mode(&cache), 0o600);
    let token_file = s.home.path().join("access.token");
    assert_eq!(mode(&token_file), 0o600);
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim(),
        access1
    );
    let (status, body) = sql(&s.emu, &access1, "SELECT CURRENT_ROLE()");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["ANALYST"]]));
    let (status, body) = sql(&s.emu, &access0, "SELECT 1");
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("390303")),
        "{body}"
    );

    // Status: who and until when, no token.
    let out = s.run(&[
        "--output",
        "json",
        "oauth",
        "status",
        "--cache",
        cache.to_str().unwrap(),
    ]);
    record(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let status_line: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(status_line["event"], "valid");
    assert_eq!(status_line["user"], "ALICE");
    assert_eq!(status_line["refreshes"], 1);
    assert_eq!(status_line["refresh_token"], true);

    // The spent refresh token (an old copy of the cache) is refused with the cause and the fix.
    let out = s.refresh(&spent);
    record(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the refresh token was refused (invalid_grant"),
        "{err}"
    );
    assert!(err.contains("already used"), "{err}");
    assert!(err.contains("run `snowpat oauth login` again"), "{err}");
    // Replaying the spent token killed the whole grant (§6.4): the current tokens are dead too.
    let (status, _) = sql(&s.emu, &access1, "SELECT 1");
    assert_eq!(status, 401);
    let out = s.refresh(&cache);
    record(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("run `snowpat oauth login` again"));

    // No secret in any stdout or stderr (logs at -vv included).
    assert!(
        transcript.contains("/oauth/authorize?"),
        "stderr was captured"
    );
    for (name, secret) in [
        ("access0", &access0),
        ("refresh0", &refresh0),
        ("access1", &access1),
        ("refresh1", &refresh1),
        ("code", &code),
        ("client secret", &s.client_secret),
    ] {
        assert!(secret.len() >= 8, "{name} looks real");
        assert!(
            !transcript.contains(secret.as_str()),
            "{name} leaked to the output"
        );
    }
}

#[test]
fn a_redirect_with_the_wrong_state_is_refused_and_nothing_is_exchanged() {
    let s = Setup::new();
    let before = s.emu.last_seq();
    let (out, browser_status, code) = s.login(|location| {
        let state = query_param(&location, "state");
        assert!(state.len() >= 32, "a random state of 32 bytes: {state}");
        location.replace(&format!("state={state}"), "state=forged-by-an-attacker")
    });
    assert_eq!(browser_status, 400);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("state does not match"), "{err}");
    assert!(err.contains("run `snowpat oauth login` again"), "{err}");
    assert!(!err.contains(&code) && !stdout(&out).contains(&code));
    assert!(!s.cache().exists());
    // The code was never presented at the token endpoint.
    let lines = s.emu.log(before);
    assert!(lines
        .iter()
        .any(|l| l["endpoint"] == "GET /oauth/authorize"));
    assert!(
        !lines
            .iter()
            .any(|l| l["endpoint"] == "POST /oauth/token-request"),
        "{lines:?}"
    );
}

#[test]
fn keep_refreshes_before_expiry_until_interrupted() {
    let s = Setup::new();
    let (out, _, _) = s.login(|l| l);
    assert!(out.status.success(), "{}", stderr(&out));
    let cache = s.cache();
    let (access0, _) = tokens(&read_cache(&cache));
    // Access tokens live 600 s; a 597 s margin refreshes every ~3 s.
    let mut child = s
        .command(&[
            "oauth",
            "refresh",
            "--keep",
            "--margin",
            "597s",
            "--cache",
            cache.to_str().unwrap(),
            "--client-secret-file",
            s.secret_file.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while read_cache(&cache)["refreshes"].as_u64().unwrap_or(0) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "not refreshed 3 times in 30 s"
        );
        assert!(child.try_wait().unwrap().is_none(), "--keep exited early");
        std::thread::sleep(Duration::from_millis(200));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("stopped"), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("refreshed:"))
            .count()
            >= 3
    );
    let (access, refresh) = tokens(&read_cache(&cache));
    let (status, body) = sql(&s.emu, &access, "SELECT CURRENT_USER()");
    assert_eq!(status, 200, "{body}");
    let (status, _) = sql(&s.emu, &access0, "SELECT 1");
    assert_eq!(status, 401, "rotated away");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains(&access) && !all.contains(&refresh));
}

#[test]
fn public_client_without_a_secret_and_usage_errors() {
    let s = Setup::with_client_type("PUBLIC");
    let cache = s.cache();
    // Nothing cached yet: status and refresh say how to start.
    let out = s.run(&["oauth", "status", "--cache", cache.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("run `snowpat oauth login`"),
        "{}",
        stderr(&out)
    );
    // No client id: usage error, nothing sent.
    let before = s.emu.last_seq();
    let out = s.run(&["oauth", "login", "--redirect-uri", &s.redirect]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--client-id"), "{}", stderr(&out));
    // A non-loopback redirect is refused before listening.
    let out = s.run(&[
        "oauth",
        "login",
        "--client-id",
        &s.client_id,
        "--redirect-uri",
        "https://app.example/callback",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("127.0.0.1"), "{}", stderr(&out));
    // Client ids may start with '-' (they are random base64url).
    let out = s.run(&[
        "oauth",
        "login",
        "--client-id",
        "-gAbC_dEf",
        "--redirect-uri",
        "https://app.example/callback",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--redirect-uri"), "{}", stderr(&out));
    assert_eq!(s.emu.last_seq(), before, "nothing was sent");

    // A PUBLIC client sends its client_id in the body and no secret.
    let (out, status, _) = s.login_with(false, |l| l);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status, 200);
    let (access, _) = tokens(&read_cache(&cache));
    let (status, body) = sql(&s.emu, &access, "SELECT CURRENT_USER(), CURRENT_ROLE()");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["ALICE", "ANALYST"]]));
    let out = s.run(&["oauth", "refresh", "--cache", cache.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (access2, _) = tokens(&read_cache(&cache));
    let (status, _) = sql(&s.emu, &access2, "SELECT 1");
    assert_eq!(status, 200);
}
