//! `snowpat exchange` and `snowpat serve` as binaries (interfaces.md; issue 6): one exchange to a
//! file sink, `unchanged` on a rerun, the served endpoint, and the refusals that exit 2 before
//! anything is served: a config file others can write, a plaintext non-loopback bind.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use snowpat_testkit::TestIdp;

use common::{stderr, stdout, Emulator};

const ROLE: &str = "ANALYST_ROLE";

fn setup(em: &Emulator, idp: &TestIdp) {
    for sql in [
        format!(
            "CREATE SECURITY INTEGRATION idp TYPE = EXTERNAL_OAUTH ENABLED = TRUE \
             EXTERNAL_OAUTH_TYPE = CUSTOM EXTERNAL_OAUTH_ISSUER = '{}' \
             EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '{}' EXTERNAL_OAUTH_AUDIENCE_LIST = ('snowpat') \
             EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM = 'preferred_username' \
             EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE = 'LOGIN_NAME'",
            idp.issuer(),
            idp.public_key_der_b64()
        ),
        "CREATE USER alice LOGIN_NAME = 'alice@example.com' TYPE = PERSON".into(),
        format!("CREATE ROLE {ROLE}"),
        format!("GRANT ROLE {ROLE} TO USER alice"),
    ] {
        em.admin_sql(&sql);
    }
}

fn write_config(dir: &Path, idp: &TestIdp, extra: &str) -> std::path::PathBuf {
    let path = dir.join("snowpat.toml");
    std::fs::write(
        &path,
        format!(
            "[exchange]\nmode = \"as-user\"\n{extra}\n[[exchange.policy]]\nname = \"agents\"\n\
             issuer = \"{}\"\njwks_url = \"{}\"\naudience = \"snowpat\"\n\
             subject = \"[a-z]+@example\\\\.com\"\nuser_claim = \"preferred_username\"\n\
             roles = [\"{ROLE}\"]\nmax_lifetime = \"1d\"\n",
            idp.issuer(),
            idp.jwks_url()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn subject_token(idp: &TestIdp) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    idp.mint(json!({
        "iss": idp.issuer(), "sub": "alice@example.com", "aud": "snowpat",
        "iat": now, "exp": now + 600, "preferred_username": "alice@example.com",
        "scp": [format!("session:role:{ROLE}")],
    }))
}

#[test]
fn exchange_once_delivers_to_a_file_sink_and_a_rerun_is_unchanged() {
    let em = Emulator::start();
    let idp = em.runtime.block_on(TestIdp::start());
    setup(&em, &idp);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    write_config(dir.path(), &idp, "");
    let token = subject_token(&idp);
    let token_file = dir.path().join("idp.jwt");
    std::fs::write(&token_file, &token).unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    std::fs::set_permissions(
        dir.path().join("secrets"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let args = [
        "--output",
        "json",
        "exchange",
        "--subject-token-file",
        token_file.to_str().unwrap(),
        "--role",
        "analyst_role",
        "--sink",
        "file:secrets/{id}.token",
        "--danger-allow-http-jwks",
        "--audit-log",
        "audit.jsonl",
    ];
    let out = em.snowpat(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let line: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON line");
    assert_eq!(line["action"], "created");
    assert_eq!(line["token_name"], "SNOWPAT_ANALYST_ROLE");
    assert_eq!(line["role"], ROLE);
    assert!(line.get("secret").is_none());
    let sink = dir.path().join("secrets/SNOWPAT_ANALYST_ROLE.token");
    let mode = std::fs::metadata(&sink).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let secret = std::fs::read_to_string(&sink).unwrap().trim().to_owned();
    // The secret works with its role restriction.
    let (status, body) = em.runtime.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v2/statements", em.url))
            .bearer_auth(&secret)
            .header(
                "X-Snowflake-Authorization-Token-Type",
                "PROGRAMMATIC_ACCESS_TOKEN",
            )
            .json(&json!({"statement": "SELECT CURRENT_ROLE()"}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([[ROLE]]));
    // A rerun within the grace: the file already holds the current secret.
    let mark = em.last_seq();
    let out = em.snowpat(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let line: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON line");
    assert_eq!(line["action"], "unchanged", "{line}");
    assert!(em
        .log(mark)
        .iter()
        .all(|l| l["statement_kind"] != "ALTER USER ROTATE PAT"));
    // No secret in any output or the audit log.
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    for text in [stdout(&out), stderr(&out), audit.clone()] {
        assert!(!text.contains(&secret));
        assert!(!text.contains(&token));
    }
    assert_eq!(audit.lines().count(), 2, "{audit}");
}

#[test]
fn serve_refuses_a_writable_config_and_a_plaintext_public_bind_then_serves_on_loopback() {
    let em = Emulator::start();
    let idp = em.runtime.block_on(TestIdp::start());
    setup(&em, &idp);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &idp, "");
    // Group-writable: exit 2, nothing served.
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o664)).unwrap();
    let out = em.snowpat(dir.path(), &["serve", "--danger-allow-http-jwks"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("chmod"), "{}", stderr(&out));
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A non-loopback plaintext bind: exit 2.
    let out = em.snowpat(
        dir.path(),
        &["serve", "--danger-allow-http-jwks", "--listen", "0.0.0.0:0"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--danger-plaintext"),
        "{}",
        stderr(&out)
    );
    // An unknown key in [exchange]: exit 2 naming it.
    write_config(dir.path(), &idp, "reload_url = \"x\"");
    let out = em.snowpat(dir.path(), &["serve", "--danger-allow-http-jwks"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("reload_url"), "{}", stderr(&out));
    write_config(dir.path(), &idp, "");

    // Loopback: serves until killed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_snowpat"))
        .args([
            "serve",
            "--danger-allow-http-jwks",
            "--listen",
            "127.0.0.1:0",
            "--no-scheduler",
        ])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("SNOWPAT_URL", &em.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let token = subject_token(&idp);
    let (status, body) = em.runtime.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{url}/v1/token"))
            .form(&[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", token.as_str()),
                ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
                ("scope", "session:role:ANALYST_ROLE"),
            ])
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    assert_eq!(status, 200, "{body}");
    let pat = body["access_token"].as_str().unwrap();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    // The audit line went to stderr, with the SHA-256 and never the secret or the subject token.
    assert!(log.contains("\"decision\":\"issued\""), "{log}");
    assert!(!log.contains(pat));
    assert!(!log.contains(&token));
}
