//! `snowpat cli-config`: the entry is written next to the file's other entries and comments,
//! 0600, atomically; a user holding an unrestricted token is refused; the Cortex Code CLI form of
//! seed 001 (PAT in `password`, no authenticator) is checked against an inline snapshot.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{sqlite_store, stderr, stdout, Emulator, MULTI_TENANT_LOOPBACK};

const EXISTING: &str = "# my connections\n[other]\naccount = \"X\" # keep me\nuser = \"ME\"\n";

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A SERVICE user CLI_U with APP_ROLE and a token restricted to it; its secret in a 0600 file.
fn setup(emu: &Emulator, cwd: &Path) -> std::path::PathBuf {
    setup_typed(emu, cwd, "SERVICE")
}

fn setup_typed(emu: &Emulator, cwd: &Path, user_type: &str) -> std::path::PathBuf {
    emu.admin_sql("CREATE ROLE APP_ROLE");
    emu.admin_sql(&format!("CREATE USER CLI_U TYPE = {user_type}"));
    emu.admin_sql("GRANT ROLE APP_ROLE TO USER CLI_U");
    let v = emu.admin_sql(
        "ALTER USER CLI_U ADD PAT CLI ROLE_RESTRICTION = 'APP_ROLE' DAYS_TO_EXPIRY = 30",
    );
    let cols: Vec<String> = v["resultSetMetaData"]["rowType"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    let i = cols.iter().position(|c| c == "token_secret").unwrap();
    let secret = v["data"][0][i].as_str().unwrap().to_owned();
    let token = cwd.join("cli.token");
    write_private(&token, &secret);
    token
}

#[test]
fn writes_a_snow_entry_keeping_other_entries_and_comments_at_0600() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    let token = setup(&emu, cwd.path());
    let file = cwd.path().join("conn").join("connections.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, EXISTING).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = emu.snowpat(
        cwd.path(),
        &[
            "cli-config",
            "--connection",
            "cli",
            "--user",
            "cli_u",
            "--role",
            "app_role",
            "--token-file",
            token.to_str().unwrap(),
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with(EXISTING), "{text}");
    let doc: toml::Table = text.parse().unwrap();
    let e = doc["cli"].as_table().unwrap();
    assert_eq!(e["user"].as_str(), Some("CLI_U"));
    assert_eq!(e["role"].as_str(), Some("APP_ROLE"));
    assert_eq!(
        e["authenticator"].as_str(),
        Some("PROGRAMMATIC_ACCESS_TOKEN")
    );
    assert_eq!(
        e["token_file_path"].as_str(),
        Some(std::fs::canonicalize(&token).unwrap().to_str().unwrap())
    );
    assert_eq!(e["protocol"].as_str(), Some("http"));
    assert_eq!(e["host"].as_str(), Some("127.0.0.1"));
    assert!(e["port"].as_integer().is_some());
    assert!(!text.contains("password"));
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Running again updates in place: still one [cli], comments still there.
    let again = emu.snowpat(
        cwd.path(),
        &[
            "cli-config",
            "--connection",
            "cli",
            "--user",
            "CLI_U",
            "--role",
            "APP_ROLE",
            "--token-file",
            token.to_str().unwrap(),
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let text2 = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text2.matches("[cli]").count(), 1);
    assert!(text2.contains("# keep me"));
}

#[test]
fn refuses_a_user_holding_an_unrestricted_token_unless_allowed() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    // A PERSON user may add a token without ROLE_RESTRICTION (seed 001; §6.3).
    let token = setup_typed(&emu, cwd.path(), "PERSON");
    emu.admin_sql("ALTER USER CLI_U ADD PAT WIDE DAYS_TO_EXPIRY = 30");
    let file = cwd.path().join("connections.toml");
    write_private(&file, EXISTING);
    let args = [
        "cli-config",
        "--connection",
        "cli",
        "--user",
        "CLI_U",
        "--role",
        "APP_ROLE",
        "--token-file",
        token.to_str().unwrap(),
        "--file",
        file.to_str().unwrap(),
    ];
    let out = emu.snowpat(cwd.path(), &args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ROLE_RESTRICTION"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), EXISTING);

    let mut allowed = args.to_vec();
    allowed.push("--allow-unrestricted");
    let out = emu.snowpat(cwd.path(), &allowed);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&file).unwrap().contains("[cli]"));
}

#[test]
fn a_token_file_readable_by_others_is_fixed_with_a_warning() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    let token = setup(&emu, cwd.path());
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let file = cwd.path().join("connections.toml");
    let out = emu.snowpat(
        cwd.path(),
        &[
            "cli-config",
            "--connection",
            "cli",
            "--user",
            "CLI_U",
            "--role",
            "APP_ROLE",
            "--token-file",
            token.to_str().unwrap(),
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning"), "{}", stderr(&out));
    let mode = std::fs::metadata(&token).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn cortex_code_entry_matches_the_seed_001_form() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    let token = setup(&emu, cwd.path());
    let secret = std::fs::read_to_string(&token).unwrap();
    let file = cwd.path().join("connections.toml");
    let base = [
        "cli-config",
        "--connection",
        "miguel_cli",
        "--user",
        "CLI_U",
        "--role",
        "APP_ROLE",
        "--token-file",
        token.to_str().unwrap(),
        "--file",
        file.to_str().unwrap(),
        "--client",
        "cortex",
    ];
    // Without --inline-secret nothing is written.
    let out = emu.snowpat(cwd.path(), &base);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!file.exists());

    let mut inline = base.to_vec();
    inline.push("--inline-secret");
    let out = emu.snowpat(cwd.path(), &inline);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning"));
    assert!(!stdout(&out).contains(secret.trim()) && !stderr(&out).contains(secret.trim()));
    let port = emu.url.rsplit(':').next().unwrap().trim_end_matches('/');
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace(secret.trim(), "<SECRET>")
        .replace(port, "<PORT>");
    assert_eq!(
        text,
        "[miguel_cli]\n\
         account = \"EMULATOR\"\n\
         host = \"127.0.0.1\"\n\
         port = <PORT>\n\
         protocol = \"http\"\n\
         user = \"CLI_U\"\n\
         role = \"APP_ROLE\"\n\
         password = \"<SECRET>\"\n"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn tenant_entry_uses_the_tenants_user_runtime_role_and_file_sink() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    let store = sqlite_store(cwd.path());
    // The tenant is provisioned as ADMIN (ACCOUNTADMIN) under a real network policy: the
    // blueprint's automation role owns it and sits under SYSADMIN, so ACCOUNTADMIN inherits the
    // ownership that attaching it to a new user needs (snowflake-behaviour.md §4.3).
    let provision = emu.provision_acme(cwd.path(), MULTI_TENANT_LOOPBACK, &store);
    // interfaces.md: tenant commands as ACCOUNTADMIN work but print a warning.
    assert!(
        stderr(&provision).contains("warning: running tenant commands as ACCOUNTADMIN"),
        "{}",
        stderr(&provision)
    );
    let described = emu.admin_sql("DESCRIBE USER DEPLOYMENT_ACME").to_string();
    assert!(
        described.contains("SNOWPAT_DEPLOYMENT_NETWORK_POLICY"),
        "{described}"
    );
    let file = cwd.path().join("connections.toml");
    emu.tenant_cli_config(
        cwd.path(),
        &store,
        "acme",
        "acme",
        &["--file", file.to_str().unwrap()],
    );
    let doc: toml::Table = std::fs::read_to_string(&file).unwrap().parse().unwrap();
    let e = doc["acme"].as_table().unwrap();
    let user = e["user"].as_str().unwrap();
    assert!(user.contains("ACME"), "{user}");
    assert_eq!(e["role"].as_str(), Some("CORTEX_REST_API_ROLE"));
    let token_path = e["token_file_path"].as_str().unwrap();
    assert!(token_path.ends_with("ACME.token"), "{token_path}");

    // An unknown tenant id format is bad usage, nothing written.
    let out = emu.snowpat(
        cwd.path(),
        &[
            "cli-config",
            "--connection",
            "x",
            "--tenant",
            "no-dashes!",
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!std::fs::read_to_string(&file).unwrap().contains("[x]"));
}
