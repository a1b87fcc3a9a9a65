//! `snowpat bootstrap multi-tenant` against an in-process emulator (`interfaces.md` snowpat
//! commands; seed 000), proved with the emulator's request log.

mod common;

use common::{
    assert_only_reads, sqlite_store, stderr, stdout, write_snowpat_toml, Emulator,
    MULTI_TENANT_LOOPBACK, MULTI_TENANT_PAT_AUTH,
};
use snowpat_client::{BaseUrl, Client, Credential, KeyPair, Statement};

#[test]
fn plan_prints_the_sql_and_sends_only_reads() {
    let emu = Emulator::start();
    let work = tempfile::tempdir().unwrap();
    let before = emu.last_seq();
    let out = emu.snowpat(work.path(), &["bootstrap", "multi-tenant", "--plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for sql in [
        "CREATE ROLE IF NOT EXISTS CORTEX_REST_API_ROLE",
        "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_REST_API_USER TO ROLE CORTEX_REST_API_ROLE;",
        "GRANT CREATE USER ON ACCOUNT TO ROLE AUTOMATION_ROLE;",
        "GRANT OWNERSHIP ON ROLE CORTEX_REST_API_ROLE TO ROLE AUTOMATION_ROLE COPY CURRENT GRANTS;",
        "REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = TRUE",
        "REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE",
        "NETWORK_POLICY_EVALUATION = ENFORCED_REQUIRED",
        "VALUE_LIST = ('10.0.0.0/8')",
        "CREATE USER IF NOT EXISTS AUTOMATION_USER TYPE = SERVICE DEFAULT_ROLE = AUTOMATION_ROLE \
         NETWORK_POLICY = SNOWPAT_DEPLOYMENT_NETWORK_POLICY;",
        "GRANT OWNERSHIP ON NETWORK POLICY SNOWPAT_DEPLOYMENT_NETWORK_POLICY TO ROLE AUTOMATION_ROLE;",
        "RSA_PUBLIC_KEY = '***'",
    ] {
        assert!(text.contains(sql), "missing {sql:?} in\n{text}");
    }
    // Without --seed-compat the automation role never owns the deployment policy.
    assert!(
        !text.contains("GRANT OWNERSHIP ON AUTHENTICATION POLICY"),
        "{text}"
    );
    assert_only_reads(&emu.log(before));
}

#[test]
fn second_apply_executes_only_reads_and_says_no_changes() {
    let emu = Emulator::start();
    let work = tempfile::tempdir().unwrap();
    let key = work.path().join("automation.p8");
    let first = emu.bootstrap_multi_tenant(work.path(), &key);
    let text = stdout(&first);
    assert!(text.contains("[connection]"), "{text}");
    assert!(text.contains("user = \"AUTOMATION_USER\""), "{text}");
    assert!(text.contains("private_key_file = "), "{text}");
    assert!(!text.contains("BEGIN"), "key material printed: {text}");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let executed = emu.log(0).iter().filter(|l| l["executed"] == true).count();
    assert!(executed >= 15, "only {executed} statements executed");

    let before = emu.last_seq();
    let fresh_store = format!("sqlite:{}", work.path().join("other.db").display());
    let second = emu.snowpat(
        work.path(),
        &[
            "--store",
            &fresh_store,
            "bootstrap",
            "multi-tenant",
            "--apply",
        ],
    );
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("no changes"),
        "{}",
        stdout(&second)
    );
    assert_only_reads(&emu.log(before));
    // The key was not replaced.
    assert_eq!(std::fs::read_to_string(&key).unwrap(), pem);
}

#[test]
fn drift_made_by_hand_shows_in_plan_and_apply_converges() {
    let emu = Emulator::start();
    let work = tempfile::tempdir().unwrap();
    emu.bootstrap_multi_tenant(work.path(), &work.path().join("k.p8"));
    emu.admin_sql("GRANT APPLY AUTHENTICATION POLICY ON ACCOUNT TO ROLE AUTOMATION_ROLE");
    emu.admin_sql(
        "ALTER AUTHENTICATION POLICY SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY SET PAT_POLICY = \
         (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)",
    );
    emu.admin_sql("REVOKE ROLE AUTOMATION_ROLE FROM USER AUTOMATION_USER");
    let plan = emu.snowpat(work.path(), &["bootstrap", "multi-tenant", "--plan"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let text = stdout(&plan);
    assert!(
        text.contains("REVOKE APPLY AUTHENTICATION POLICY ON ACCOUNT FROM ROLE AUTOMATION_ROLE"),
        "{text}"
    );
    assert!(
        text.contains(
            "ALTER AUTHENTICATION POLICY SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY SET PAT_POLICY"
        ),
        "{text}"
    );
    assert!(
        text.contains("GRANT ROLE AUTOMATION_ROLE TO USER AUTOMATION_USER"),
        "{text}"
    );
    assert!(!text.contains("CREATE ROLE"), "{text}");
    assert!(!text.contains("CREATE USER IF NOT EXISTS"), "{text}");

    let apply = emu.snowpat(work.path(), &["bootstrap", "multi-tenant", "--apply"]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    let before = emu.last_seq();
    let again = emu.snowpat(work.path(), &["bootstrap", "multi-tenant", "--plan"]);
    assert!(
        stdout(&again).contains("no changes"),
        "{}\n{}",
        stdout(&again),
        stderr(&again)
    );
    assert_only_reads(&emu.log(before));
}

#[test]
fn the_automation_key_opens_a_key_pair_session_as_the_automation_user() {
    let emu = Emulator::start();
    let work = tempfile::tempdir().unwrap();
    // The automation user is behind the blueprint's network policy: allow loopback.
    write_snowpat_toml(work.path(), MULTI_TENANT_LOOPBACK);
    let key = work.path().join("automation.p8");
    emu.bootstrap_multi_tenant(work.path(), &key);
    let keypair = KeyPair::from_file("EMULATOR", "AUTOMATION_USER", &key).unwrap();
    let client = Client::builder(
        BaseUrl::parse(&emu.url).unwrap(),
        Credential::KeyPair(keypair),
    )
    .build()
    .unwrap();
    let rs = emu
        .runtime
        .block_on(client.execute(&Statement::new(
            "SELECT CURRENT_USER() AS U, CURRENT_ROLE() AS R",
        )))
        .unwrap();
    let row = rs.first().unwrap();
    assert_eq!(row.get::<String>("U").unwrap(), "AUTOMATION_USER");
    assert_eq!(row.get::<String>("R").unwrap(), "AUTOMATION_ROLE");
}

#[test]
fn pat_mode_delivers_the_seed_pat_to_the_sink() {
    let emu = Emulator::start();
    let work = tempfile::tempdir().unwrap();
    write_snowpat_toml(work.path(), MULTI_TENANT_PAT_AUTH);
    let plan = emu.snowpat(work.path(), &["bootstrap", "multi-tenant", "--plan"]);
    let text = stdout(&plan);
    assert!(
        text.contains("NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED"),
        "{text}"
    );
    assert!(!text.contains("NETWORK RULE"), "{text}");
    assert!(
        text.contains("ADD PROGRAMMATIC ACCESS TOKEN AUTOMATION_PAT"),
        "{text}"
    );
    let token = work.path().join("automation.token");
    let out = emu.bootstrap_multi_tenant(work.path(), &token);
    let secret = std::fs::read_to_string(&token).unwrap();
    assert!(secret.len() > 16);
    assert!(!stdout(&out).contains(secret.trim()), "secret printed");
    assert!(stdout(&out).contains("token_file = "), "{}", stdout(&out));
}

#[test]
fn bad_usage_exits_2_and_sends_nothing() {
    let emu = Emulator::start();
    let work = tempfile::tempdir().unwrap();
    let before = emu.last_seq();

    let unknown = emu.snowpat(work.path(), &["bootstrap", "multi-everything", "--plan"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("error: unknown blueprint"));

    let no_mode = emu.snowpat(work.path(), &["bootstrap", "multi-tenant"]);
    assert_eq!(no_mode.status.code(), Some(2));

    let secret_flag = emu.snowpat(
        work.path(),
        &[
            "--token-file",
            "ver1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdef",
            "bootstrap",
            "multi-tenant",
            "--plan",
        ],
    );
    assert_eq!(secret_flag.status.code(), Some(2));
    assert!(
        stderr(&secret_flag).contains("looks like a secret"),
        "{}",
        stderr(&secret_flag)
    );
    assert!(!stderr(&secret_flag).contains("ver1AbCd"), "secret echoed");

    let token_flag = emu.snowpat(
        work.path(),
        &["--token", "abc", "bootstrap", "multi-tenant", "--plan"],
    );
    assert_eq!(token_flag.status.code(), Some(2));

    std::fs::write(
        work.path().join("snowpat.toml"),
        "[blueprint.multi-tenant]\ndatabase = \"X\"\nallowed_cidr = [\"10.0.0.0/8\"]\n",
    )
    .unwrap();
    let bad_key = emu.snowpat(work.path(), &["bootstrap", "multi-tenant", "--plan"]);
    assert_eq!(bad_key.status.code(), Some(2));
    let err = stderr(&bad_key);
    assert!(err.contains("snowpat.toml:3"), "{err}");
    assert!(err.contains("allowed_cidr"), "{err}");

    let sink_needed = {
        std::fs::remove_file(work.path().join("snowpat.toml")).unwrap();
        emu.snowpat(work.path(), &["bootstrap", "multi-tenant", "--apply"])
    };
    assert_eq!(
        sink_needed.status.code(),
        Some(2),
        "{}",
        stderr(&sink_needed)
    );

    // Only the --apply without a sink reached the account, and only to read.
    let after = emu.log(before);
    assert!(after.iter().all(|l| l["executed"] == false), "{after:?}");
}

/// The `[connection]` snippet `--apply` prints is a working snowpat.toml for the tenant commands:
/// the automation identity (key pair) provisions a tenant whose PAT reaches Cortex.
#[test]
fn the_printed_connection_snippet_runs_tenant_provision() {
    let emu = Emulator::start();
    let work = tempfile::tempdir().unwrap();
    // The automation and deployment users get the blueprint's network policy: allow loopback.
    let blueprint = MULTI_TENANT_LOOPBACK;
    write_snowpat_toml(work.path(), blueprint);
    let out = emu.bootstrap_multi_tenant(work.path(), &work.path().join("automation.p8"));
    let text = stdout(&out);
    let snippet = &text[text.find("[connection]").unwrap()..];
    write_snowpat_toml(work.path(), &format!("{snippet}\n{blueprint}"));
    let store = sqlite_store(work.path());
    let tokens = format!("file:{}/{{id}}.token", work.path().display());
    let before = emu.last_seq();
    // Only snowpat.toml names the connection now.
    let provision = std::process::Command::new(env!("CARGO_BIN_EXE_snowpat"))
        .args([
            "--store",
            &store,
            "tenant",
            "provision",
            "ACME",
            "--sink",
            &tokens,
        ])
        .current_dir(work.path())
        .env_clear()
        .env("HOME", work.path())
        .output()
        .unwrap();
    assert!(provision.status.success(), "{}", stderr(&provision));
    let secret = std::fs::read_to_string(work.path().join("ACME.token")).unwrap();
    assert!(!stdout(&provision).contains(secret.trim()));
    let log = emu.log(before);
    let add = log
        .iter()
        .find(|l| l["statement_kind"].as_str().unwrap_or("").contains("ADD"))
        .expect("an ADD PAT in the log");
    assert_eq!(add["user"], "AUTOMATION_USER", "{add}");
    assert_eq!(add["auth"], "keypair", "{add}");
}

#[test]
fn json_output_is_one_object_per_line() {
    let emu = Emulator::start();
    let work = tempfile::tempdir().unwrap();
    let out = emu.snowpat(
        work.path(),
        &["--output", "json", "bootstrap", "multi-tenant", "--plan"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.last().unwrap();
    assert_eq!(summary["changes"], 20);
    assert_eq!(summary["applied"], false);
    assert_eq!(lines.len(), 21);
    assert!(lines[0]["sql"]
        .as_str()
        .unwrap()
        .starts_with("CREATE ROLE IF NOT EXISTS CORTEX_REST_API_ROLE"));
    assert_eq!(lines[0]["role"], "SECURITYADMIN");
}
