//! `snowpat bootstrap cli-single-role | admin-runtime | token-exchange` and `snowpat cli-user`
//! through the real binary: plans on stdout, a second apply that only reads and says
//! "no changes", and bad input refused with exit 2 before anything reaches the account.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use common::{
    assert_only_reads, stderr, stdout, write_snowpat_toml, Emulator, MULTI_TENANT_LOOPBACK,
};

fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// `snowpat bootstrap BLUEPRINT --apply`; panics unless it succeeds.
fn apply_ok(emu: &Emulator, work: &Path, blueprint: &str) -> Output {
    let out = emu.snowpat(work, &["bootstrap", blueprint, "--apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

/// `snowpat bootstrap BLUEPRINT --apply` once more, on an account it already converged: it
/// succeeds, says "no changes" and sends only reads.
fn assert_second_apply_only_reads(emu: &Emulator, work: &Path, blueprint: &str) {
    let mark = emu.last_seq();
    let again = emu.snowpat(work, &["bootstrap", blueprint, "--apply"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("no changes"), "{}", stdout(&again));
    assert_only_reads(&emu.log(mark));
}

#[test]
fn cli_single_role_plan_apply_and_a_second_apply_that_only_reads() {
    let emu = Emulator::start();
    let work = private_dir();
    let plan = emu.snowpat(work.path(), &["bootstrap", "cli-single-role", "--plan"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let text = stdout(&plan);
    assert!(text.contains("-- preflight:"), "{text}");
    assert!(text.contains("FOR ALL PERSON USERS"), "{text}");
    let apply = apply_ok(&emu, work.path(), "cli-single-role");
    assert!(
        stdout(&apply).contains("-- applied 6 statement(s)"),
        "{}",
        stdout(&apply)
    );
    assert_second_apply_only_reads(&emu, work.path(), "cli-single-role");
}

#[test]
fn cli_user_add_writes_a_connection_entry_and_remove_takes_it_away() {
    let emu = Emulator::start();
    let work = private_dir();
    apply_ok(&emu, work.path(), "cli-single-role");
    emu.admin_sql("CREATE USER MIGUEL TYPE = PERSON");
    let connections = work.path().join("connections.toml");
    std::fs::write(&connections, "# mine\n[other]\naccount = \"X\"\n").unwrap();
    let sink = format!("file:{}/{{id}}_cli.token", work.path().display());
    let file = connections.to_str().unwrap();
    let add = emu.snowpat(
        work.path(),
        &["cli-user", "add", "miguel", "--sink", &sink, "--file", file],
    );
    assert!(add.status.success(), "{}", stderr(&add));
    let token_path = work.path().join("MIGUEL_cli.token");
    let secret = std::fs::read_to_string(&token_path).unwrap();
    assert!(!stdout(&add).contains(secret.trim()), "secret printed");
    let doc: toml::Table = std::fs::read_to_string(&connections)
        .unwrap()
        .parse()
        .unwrap();
    let entry = doc["miguel_cli"].as_table().unwrap();
    assert_eq!(entry["user"].as_str(), Some("MIGUEL_CLI"));
    assert_eq!(entry["role"].as_str(), Some("MIGUEL_CLI_ROLE"));
    assert_eq!(
        entry["token_file_path"].as_str(),
        Some(token_path.to_str().unwrap())
    );
    assert!(doc.contains_key("other"));

    let rotate = emu.snowpat(
        work.path(),
        &[
            "cli-user",
            "rotate",
            "miguel",
            "--sink",
            &sink,
            "--file",
            file,
            "--grace-hours",
            "0",
        ],
    );
    assert!(rotate.status.success(), "{}", stderr(&rotate));
    assert_ne!(std::fs::read_to_string(&token_path).unwrap(), secret);

    let remove = emu.snowpat(
        work.path(),
        &["cli-user", "remove", "miguel", "--file", file],
    );
    assert!(remove.status.success(), "{}", stderr(&remove));
    let text = std::fs::read_to_string(&connections).unwrap();
    assert!(!text.contains("miguel_cli"), "{text}");
    assert!(
        text.contains("# mine") && text.contains("[other]"),
        "{text}"
    );
}

#[test]
fn bad_input_exits_2_and_sends_nothing() {
    let emu = Emulator::start();
    let work = private_dir();
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let open_sink = format!("file:{}/t.token", open.path().display());
    let before = emu.last_seq();
    let cases: Vec<Vec<&str>> = vec![
        vec!["bootstrap", "no-such-blueprint", "--plan"],
        vec![
            "bootstrap",
            "cli-single-role",
            "--apply",
            "--sink",
            "file:x",
        ],
        vec!["cli-user", "add", "x; DROP USER y", "--sink", "file:t"],
        vec!["cli-user", "add", "", "--sink", "file:t"],
        vec!["cli-user", "add", "miguel"],
        vec!["cli-user", "add", "miguel", "--sink", &open_sink],
        vec!["cli-user", "add", "miguel", "--sink", "ftp:x"],
    ];
    for args in &cases {
        let out = emu.snowpat(work.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("error:"), "{args:?}");
    }
    write_snowpat_toml(
        work.path(),
        "[blueprint.cli-single-role]\nperson_methods = [\"PROGRAMMATIC_ACCESS_TOKEN\"]\n",
    );
    let out = emu.snowpat(work.path(), &["bootstrap", "cli-single-role", "--plan"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A missing (empty) policy name.
    write_snowpat_toml(
        work.path(),
        "[blueprint.cli-single-role]\nperson_policy = \"\"\n",
    );
    let out = emu.snowpat(work.path(), &["bootstrap", "cli-single-role", "--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("person_policy"), "{}", stderr(&out));
    write_snowpat_toml(
        work.path(),
        "[blueprint.cli-single-role]\nperson_polcy = \"X\"\n",
    );
    let out = emu.snowpat(work.path(), &["bootstrap", "cli-single-role", "--plan"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("person_polcy"), "{}", stderr(&out));
    assert!(emu.log(before).is_empty(), "{:?}", emu.log(before));
}

#[test]
fn admin_runtime_plan_apply_and_a_second_apply_that_only_reads() {
    let emu = Emulator::start();
    let work = private_dir();
    let plan = emu.snowpat(work.path(), &["bootstrap", "admin-runtime", "--plan"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let text = stdout(&plan);
    assert!(text.contains("SECRET_STRING = '***'"), "{text}");
    assert!(text.contains("-- as SNOWCLAW_RUNTIME_ROLE"), "{text}");
    let mark = emu.last_seq();
    let apply = apply_ok(&emu, work.path(), "admin-runtime");
    assert!(
        stdout(&apply).contains("stored in SECRET SNOWCLAW_DB.SNOWCLAW_SCHEMA.SNOWCLAW_SF_TOKEN"),
        "{}",
        stdout(&apply)
    );
    // The PAT's secret crossed the wire only inside the secret statement, never into the log.
    let log = emu.log(mark);
    assert!(log
        .iter()
        .any(|l| l["statement_kind"] == "CREATE SECRET" && l["executed"] == true));
    assert_second_apply_only_reads(&emu, work.path(), "admin-runtime");
    let bad = emu.snowpat(
        work.path(),
        &[
            "bootstrap",
            "admin-runtime",
            "--plan",
            "--sink",
            "file:x.token",
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn token_exchange_plan_apply_and_a_second_apply_that_only_reads() {
    let emu = Emulator::start();
    let work = private_dir();
    let before = emu.last_seq();
    // No issuer and no key: refused before anything is sent.
    let bad = emu.snowpat(work.path(), &["bootstrap", "token-exchange", "--plan"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("issuer"), "{}", stderr(&bad));
    assert!(emu.log(before).is_empty());
    write_snowpat_toml(
        work.path(),
        "[blueprint.token-exchange]\nissuer = \"https://idp.example\"\n\
         jwks_url = \"https://idp.example/jwks.json\"\nroles = [\"ANALYST_ROLE\"]\n\
         any_role_mode = \"ENABLE\"\n",
    );
    let plan = emu.snowpat(work.path(), &["bootstrap", "token-exchange", "--plan"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let text = stdout(&plan);
    assert!(
        text.contains("EXTERNAL_OAUTH_JWS_KEYS_URL = 'https://idp.example/jwks.json'"),
        "{text}"
    );
    assert!(
        text.contains("EXTERNAL_OAUTH_ANY_ROLE_MODE = ENABLE"),
        "{text}"
    );
    apply_ok(&emu, work.path(), "token-exchange");
    assert_second_apply_only_reads(&emu, work.path(), "token-exchange");
}

#[test]
fn a_lost_automation_key_is_reported_and_rotate_automation_key_repairs_it() {
    let emu = Emulator::start();
    let work = private_dir();
    write_snowpat_toml(work.path(), MULTI_TENANT_LOOPBACK);
    let key = work.path().join("automation.p8");
    let sink = format!("file:{}", key.display());
    emu.bootstrap_multi_tenant(work.path(), &key);
    let before = emu.last_seq();
    for args in [
        vec!["bootstrap", "multi-tenant", "--rotate-automation-key"],
        vec![
            "bootstrap",
            "admin-runtime",
            "--rotate-automation-key",
            "--sink",
            &sink,
        ],
        vec![
            "bootstrap",
            "multi-tenant",
            "--rotate-automation-key",
            "--plan",
        ],
    ] {
        let out = emu.snowpat(work.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    assert!(emu.log(before).is_empty());

    std::fs::remove_file(&key).unwrap();
    let plan = emu.snowpat(
        work.path(),
        &["bootstrap", "multi-tenant", "--plan", "--sink", &sink],
    );
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert!(stdout(&plan).contains("no changes"), "{}", stdout(&plan));
    let warning = stderr(&plan);
    assert!(
        warning.contains("warning:") && warning.contains("--rotate-automation-key"),
        "{warning}"
    );
    let rotate = emu.snowpat(
        work.path(),
        &[
            "bootstrap",
            "multi-tenant",
            "--rotate-automation-key",
            "--sink",
            &sink,
        ],
    );
    assert!(rotate.status.success(), "{}", stderr(&rotate));
    assert!(
        stdout(&rotate).contains("automation key rotated: RSA_PUBLIC_KEY_2"),
        "{}",
        stdout(&rotate)
    );
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let plan = emu.snowpat(
        work.path(),
        &["bootstrap", "multi-tenant", "--plan", "--sink", &sink],
    );
    assert!(!stderr(&plan).contains("warning:"), "{}", stderr(&plan));
}

/// interfaces.md: a sink in a world-writable, group-writable or missing directory is bad input
/// (exit 2) and nothing reaches the account, for bootstrap as for cli-user.
#[test]
fn bootstrap_sinks_in_unsafe_directories_exit_2_before_any_request() {
    let emu = Emulator::start();
    let work = private_dir();
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let group = tempfile::tempdir().unwrap();
    std::fs::set_permissions(group.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
    let before = emu.last_seq();
    for dir in [
        open.path().to_path_buf(),
        group.path().to_path_buf(),
        work.path().join("missing"),
    ] {
        let sink = format!("file:{}/automation.p8", dir.display());
        for mode in ["--apply", "--rotate-automation-key"] {
            let out = emu.snowpat(
                work.path(),
                &["bootstrap", "multi-tenant", mode, "--sink", &sink],
            );
            assert_eq!(
                out.status.code(),
                Some(2),
                "{sink} {mode}: {}",
                stderr(&out)
            );
        }
    }
    assert!(emu.log(before).is_empty(), "{:?}", emu.log(before));
}

/// The lockout guard through the binary: a PERSON administrator authenticating with its PAT is
/// refused with exit 2 and only reads logged.
#[test]
fn cli_single_role_refuses_to_lock_out_a_person_admin_on_a_pat() {
    let emu = Emulator::start();
    let work = private_dir();
    emu.admin_sql("CREATE USER OPS TYPE = PERSON DEFAULT_ROLE = ACCOUNTADMIN");
    emu.admin_sql("GRANT ROLE ACCOUNTADMIN TO USER OPS");
    let answer = emu.admin_sql("ALTER USER OPS ADD PAT OPS_PAT DAYS_TO_EXPIRY = 1");
    let secret = answer["data"][0][1].as_str().unwrap().to_string();
    let token = work.path().join("ops.token");
    std::fs::write(&token, &secret).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mark = emu.last_seq();
    let out = emu.snowpat(
        work.path(),
        &[
            "--token-file",
            token.to_str().unwrap(),
            "bootstrap",
            "cli-single-role",
            "--apply",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("lock out OPS"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&secret));
    assert_only_reads(&emu.log(mark));
}

/// `cli-user add --client cortex`: seed 001's Cortex Code CLI entry, the PAT inline as
/// `password` in a 0600 connections.toml (the one place it goes), usable only as the CLI role.
#[test]
fn cli_user_cortex_entry_holds_the_restricted_pat_inline() {
    use snowpat_client::{BaseUrl, Client, Credential, Statement};
    let emu = Emulator::start();
    let work = private_dir();
    apply_ok(&emu, work.path(), "cli-single-role");
    emu.admin_sql("CREATE USER MIGUEL TYPE = PERSON");
    let connections = work.path().join("connections.toml");
    let file = connections.to_str().unwrap();
    let refused = emu.snowpat(
        work.path(),
        &[
            "cli-user", "add", "miguel", "--client", "cortex", "--sink", "stdout", "--file", file,
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let add = emu.snowpat(
        work.path(),
        &[
            "cli-user", "add", "miguel", "--client", "cortex", "--file", file,
        ],
    );
    assert!(add.status.success(), "{}", stderr(&add));
    let mode = std::fs::metadata(&connections)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let doc: toml::Table = std::fs::read_to_string(&connections)
        .unwrap()
        .parse()
        .unwrap();
    let entry = doc["miguel_cli"].as_table().unwrap();
    assert!(!entry.contains_key("authenticator"), "{entry:?}");
    assert_eq!(entry["role"].as_str(), Some("MIGUEL_CLI_ROLE"));
    let secret = entry["password"].as_str().unwrap().to_string();
    assert!(!stdout(&add).contains(&secret), "secret printed");
    let client = Client::builder(
        BaseUrl::parse(&emu.url).unwrap(),
        Credential::pat(secrecy::SecretString::from(secret)),
    )
    .build()
    .unwrap();
    let rs = emu
        .runtime
        .block_on(client.execute(&Statement::new("SELECT CURRENT_ROLE() AS R")))
        .unwrap();
    assert_eq!(
        rs.first().unwrap().get::<String>("R").unwrap(),
        "MIGUEL_CLI_ROLE"
    );
}
