//! `snowpat verify` (`interfaces.md`): the connections.toml entry `cli-config` writes for a
//! tenant is proven from the server's side (user, role, CURRENT_AVAILABLE_ROLES, role
//! restriction, expiry, a real Cortex call); once the tenant is revoked the same entry fails with
//! exit 1 and `394400` explained from the client's code table.

mod common;

use common::{sqlite_store, stderr, stdout, write_snowpat_toml, Emulator, MULTI_TENANT_NO_CIDRS};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(stdout(out).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// `snowpat verify --connection CONNECTION --output json`, asserting it exits `code`: the
/// output and its report.
fn verify_json(
    emu: &Emulator,
    cwd: &std::path::Path,
    connection: &str,
    code: i32,
) -> (std::process::Output, Value) {
    let out = emu.snowpat(
        cwd,
        &["verify", "--connection", connection, "--output", "json"],
    );
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(code), "{said}");
    let v = json(&out);
    (out, v)
}

#[test]
fn a_tenant_entry_is_proven_and_fails_with_394400_explained_once_revoked() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    let store = sqlite_store(cwd.path());
    // Provisioned as ADMIN: the seed-exact network setting (see cli_config_entries.rs).
    emu.provision_acme(cwd.path(), MULTI_TENANT_NO_CIDRS, &store);
    // The entry goes to the default place, $HOME/.snowflake/connections.toml.
    std::fs::create_dir_all(cwd.path().join(".snowflake")).unwrap();
    emu.tenant_cli_config(cwd.path(), &store, "acme", "acme", &[]);
    assert!(cwd.path().join(".snowflake/connections.toml").is_file());

    let mark = emu.last_seq();
    let (out, v) = verify_json(&emu, cwd.path(), "acme", 0);
    assert_eq!(v["ok"], true);
    assert_eq!(v["connection"], "connection acme");
    assert_eq!(v["credential"], "programmatic access token");
    assert_eq!(v["user"], "DEPLOYMENT_ACME");
    assert_eq!(v["role"], "CORTEX_REST_API_ROLE");
    // §4.1: a role-restricted PAT session has only its role's closure.
    assert_eq!(
        v["available_roles"],
        serde_json::json!(["CORTEX_REST_API_ROLE", "PUBLIC"])
    );
    assert_eq!(v["restricted"], true);
    assert_eq!(v["role_restriction"], "CORTEX_REST_API_ROLE");
    // A SERVICE user may not list its own tokens; the configured connection (ADMIN) can.
    assert_eq!(v["token"]["name"], "DEPLOYMENT_ACME_PAT");
    assert_eq!(v["token"]["source"], "the configured connection");
    let days = v["token"]["days_left"].as_i64().unwrap();
    assert!((89..=90).contains(&days), "{days}");
    assert_eq!(v["cortex"]["reachable"], true);
    assert_eq!(v["cortex"]["status"], 200);
    // Every request it made as the tenant changed nothing; Cortex was really called.
    let log = emu.log(mark);
    assert!(log.iter().all(|l| l["executed"] == false), "{log:?}");
    assert!(log
        .iter()
        .any(|l| l["endpoint"].as_str().unwrap_or("").contains("cortex")
            && l["user"] == "DEPLOYMENT_ACME"));

    let text = emu.snowpat(cwd.path(), &["verify", "--connection", "acme"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let t = stdout(&text);
    for line in [
        "user: DEPLOYMENT_ACME",
        "role: CORTEX_REST_API_ROLE",
        "available roles: CORTEX_REST_API_ROLE, PUBLIC",
        "role restriction: restricted to CORTEX_REST_API_ROLE (a request for role PUBLIC was refused with 390186)",
        "token: DEPLOYMENT_ACME_PAT ACTIVE, expires ",
        "cortex: reachable (200)",
        "result: verified",
    ] {
        assert!(t.contains(line), "missing {line:?} in\n{t}");
    }
    let secret = std::fs::read_to_string(cwd.path().join("ACME.token")).unwrap();
    for o in [&out, &text] {
        assert!(!stdout(o).contains(secret.trim()) && !stderr(o).contains(secret.trim()));
    }

    // The Cortex Code CLI form of the same tenant (seed 001: the PAT as `password`).
    emu.tenant_cli_config(
        cwd.path(),
        &store,
        "acme_cortex",
        "acme",
        &["--client", "cortex", "--inline-secret"],
    );
    let (out, v) = verify_json(&emu, cwd.path(), "acme_cortex", 0);
    assert_eq!(v["user"], "DEPLOYMENT_ACME");
    assert_eq!(v["role_restriction"], "CORTEX_REST_API_ROLE");
    assert_eq!(v["cortex"]["reachable"], true);
    assert!(!stdout(&out).contains(secret.trim()));

    // Revoked: the same entries fail, exit 1, 394400 explained.
    let out = emu.snowpat(cwd.path(), &["--store", &store, "tenant", "revoke", "acme"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, v) = verify_json(&emu, cwd.path(), "acme", 1);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["status"], 401);
    assert_eq!(v["error"]["code"], "394400");
    assert_eq!(v["error"]["title"], "Programmatic access token is invalid");
    assert!(v["error"]["cause"].as_str().unwrap().contains("removed"));
    let text = emu.snowpat(cwd.path(), &["verify", "--connection", "acme"]);
    assert_eq!(text.status.code(), Some(1));
    let t = stdout(&text);
    assert!(
        t.contains("394400: Programmatic access token is invalid"),
        "{t}"
    );
    assert!(t.contains("fix: ") && t.contains("result: FAILED"), "{t}");
    let out = emu.snowpat(cwd.path(), &["verify", "--connection", "acme_cortex"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("394400"), "{}", stdout(&out));
}

#[test]
fn the_configured_connection_is_proven_and_an_unknown_entry_is_usage() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    // ADMIN's token from the environment: unrestricted, a PERSON user who may list its own.
    let out = emu.snowpat(cwd.path(), &["verify", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["connection"], "configured connection");
    assert_eq!(v["user"], "ADMIN");
    assert_eq!(v["role"], "ACCOUNTADMIN");
    let roles = v["available_roles"].as_array().unwrap();
    assert!(roles.len() > 2 && roles.contains(&Value::from("SECURITYADMIN")));
    assert_eq!(v["restricted"], false);
    assert_eq!(v["role_restriction"], Value::Null);
    assert_eq!(v["token"]["name"], "EMULATOR_ADMIN");
    assert_eq!(v["token"]["source"], "the user itself");
    assert_eq!(v["cortex"]["reachable"], true);

    let out = emu.snowpat(cwd.path(), &["verify", "--connection", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// The automation identity the blueprint created, by key pair: no PAT (so no restriction or
/// expiry to report), its role and Cortex through a freshly signed JWT.
#[test]
fn a_key_pair_identity_is_proven_without_token_questions() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    write_snowpat_toml(cwd.path(), MULTI_TENANT_NO_CIDRS);
    let key = cwd.path().join("automation.p8");
    emu.bootstrap_multi_tenant(cwd.path(), &key);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snowpat"))
        .args([
            "--url",
            &emu.url,
            "--user",
            "AUTOMATION_USER",
            "--role",
            "AUTOMATION_ROLE",
            "--private-key-file",
            key.to_str().unwrap(),
            "verify",
            "--require-cortex",
            "--output",
            "json",
        ])
        .current_dir(cwd.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let v = json(&out);
    assert_eq!(v["credential"], "key-pair JWT");
    assert_eq!(v["user"], "AUTOMATION_USER");
    assert_eq!(v["role"], "AUTOMATION_ROLE");
    assert_eq!(v["restricted"], Value::Null);
    assert_eq!(v["token"]["note"], "not a programmatic access token");
    assert_eq!(v["cortex"]["reachable"], true);
}
