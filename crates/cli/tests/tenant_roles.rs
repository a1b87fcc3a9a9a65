//! Tenant commands run as ACCOUNTADMIN (`interfaces.md` "Which identity runs what": it works but
//! warns) still leave every object they create owned by the blueprint's automation role, so the
//! automation identity from bootstrap's `[connection]` snippet manages those tenants afterwards
//! (`snowflake-behaviour.md` §4.1 role hierarchy, §4.3 ownership). Proved with the request log's
//! `role` field.

mod common;
mod tenant_setup;

use std::path::Path;
use std::process::Output;

use common::{stderr, stdout};
use serde_json::Value;
use tenant_setup::Setup;

fn executed(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l["executed"] == true).collect()
}

fn action(out: &Output) -> String {
    let line: Value = serde_json::from_str(stdout(out).lines().next().unwrap_or("{}")).unwrap();
    line["action"].as_str().unwrap_or_default().to_owned()
}

/// The `owner` column of `SHOW USERS LIKE 'user'` (None: no such user).
fn owner(setup: &Setup, user: &str) -> Option<String> {
    let answer = setup.emu.admin_sql(&format!("SHOW USERS LIKE '{user}'"));
    let columns = answer["resultSetMetaData"]["rowType"].as_array().unwrap();
    let [name, owner] = ["name", "owner"].map(|c| {
        columns
            .iter()
            .position(|t| t["name"] == c)
            .expect("a column")
    });
    answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row[name] == user)
        .map(|row| row[owner].as_str().unwrap_or_default().to_owned())
}

fn pat_works(setup: &Setup, path: &Path) -> bool {
    let secret = std::fs::read_to_string(path).unwrap();
    let r = setup.emu.runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/api/v2/statements", setup.emu.url))
            .bearer_auth(secret.trim())
            .header(
                "X-Snowflake-Authorization-Token-Type",
                "PROGRAMMATIC_ACCESS_TOKEN",
            )
            .json(&serde_json::json!({"statement": "SELECT CURRENT_USER()"}))
            .send()
            .await
            .unwrap()
    });
    r.status().as_u16() == 200
}

#[test]
fn tenants_provisioned_as_accountadmin_are_owned_by_the_automation_role_and_managed_by_it() {
    let setup = Setup::start();
    let before = setup.emu.last_seq();
    let sink = setup.sink();
    let out = setup.as_admin(&["tenant", "provision", "acme", "--sink", &sink]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: running tenant commands as ACCOUNTADMIN"),
        "{}",
        stderr(&out)
    );
    assert_eq!(action(&out), "created");
    let log = setup.emu.log(before);
    let changes: Vec<&Value> = executed(&log)
        .into_iter()
        .filter(|l| {
            let kind = l["statement_kind"].as_str().unwrap_or("");
            !kind.starts_with("SELECT") && !kind.starts_with("SHOW")
        })
        .collect();
    assert!(
        changes
            .iter()
            .any(|l| l["statement_kind"].as_str() == Some("CREATE USER")),
        "no CREATE USER in {log:#?}"
    );
    for line in &changes {
        assert_eq!(
            line["role"].as_str(),
            Some("AUTOMATION_ROLE"),
            "a tenant statement ran as another role: {line}"
        );
        assert_eq!(line["user"].as_str(), Some("ADMIN"), "{line}");
    }
    let line: Value = serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    let user = line["user"].as_str().unwrap().to_owned();
    assert_eq!(owner(&setup, &user).as_deref(), Some("AUTOMATION_ROLE"));

    // Everything else as the automation identity.
    let secret = setup.dir.path().join("secrets/ACME.token");
    for (command, expected) in [
        ("rotate", "rotated"),
        ("disable", "disabled"),
        ("enable", "enabled"),
        ("revoke", "revoked"),
    ] {
        let before = setup.emu.last_seq();
        let out = setup.as_automation(&["tenant", command, "acme"]);
        assert!(
            out.status.success(),
            "{command} as the automation identity: {}",
            stderr(&out)
        );
        assert_eq!(action(&out), expected);
        assert!(
            !stderr(&out).contains("warning: running tenant commands as ACCOUNTADMIN"),
            "{}",
            stderr(&out)
        );
        for line in executed(&setup.emu.log(before)) {
            assert_eq!(line["user"].as_str(), Some("AUTOMATION_USER"), "{line}");
            assert_eq!(line["role"].as_str(), Some("AUTOMATION_ROLE"), "{line}");
        }
        if command == "enable" {
            assert!(pat_works(&setup, &secret), "the rotated secret works again");
        }
    }
    assert!(!pat_works(&setup, &secret), "revoked secret still works");
    let out = setup.as_automation(&["tenant", "provision", "acme", "--sink", &sink]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = setup.as_automation(&["tenant", "drop", "acme"]);
    assert!(out.status.success(), "drop: {}", stderr(&out));
    assert_eq!(action(&out), "dropped");
    assert_eq!(owner(&setup, &user), None, "{user} still exists");
}

#[test]
fn an_identity_that_cannot_use_the_automation_role_is_told_the_fix_before_anything_changes() {
    let setup = Setup::start();
    setup
        .emu
        .admin_sql("REVOKE ROLE AUTOMATION_ROLE FROM ROLE SYSADMIN");
    let before = setup.emu.last_seq();
    let sink = setup.sink();
    let out = setup.as_admin(&["tenant", "provision", "acme", "--sink", &sink]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot use the automation role AUTOMATION_ROLE"),
        "{err}"
    );
    assert!(
        err.contains("GRANT ROLE AUTOMATION_ROLE TO ROLE SYSADMIN"),
        "{err}"
    );
    assert!(err.contains("automation identity"), "{err}");
    let log = setup.emu.log(before);
    assert!(!log.is_empty());
    for line in log {
        // SELECT CURRENT_ROLE(), then the probe, refused before any statement (390186).
        let kind = line["statement_kind"].as_str().unwrap_or("SELECT");
        assert!(
            kind.starts_with("SELECT"),
            "sent more than the probe: {line}"
        );
        assert_eq!(line["executed"], false, "{line}");
    }
    assert!(!setup.dir.path().join("secrets/ACME.token").exists());
}

/// A `snowflake-secret` sink's SECRET is created by the tenant command too: as ACCOUNTADMIN it is
/// created with role AUTOMATION_ROLE, so the automation identity's rotation can replace it
/// (CREATE OR REPLACE needs its OWNERSHIP, `snowflake-behaviour.md` §4.3).
#[test]
fn a_snowflake_secret_sink_written_as_accountadmin_is_owned_by_the_automation_role() {
    let setup = Setup::start();
    setup
        .emu
        .admin_sql("GRANT CREATE SECRET ON SCHEMA SNOWPAT.POLICIES TO ROLE AUTOMATION_ROLE");
    let before = setup.emu.last_seq();
    let out = setup.as_admin(&[
        "tenant",
        "provision",
        "vault",
        "--sink",
        "snowflake-secret:SNOWPAT.POLICIES.TOKEN_{id}",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = setup.emu.log(before);
    let create: Vec<&Value> = executed(&log)
        .into_iter()
        .filter(|l| l["statement_kind"].as_str() == Some("CREATE SECRET"))
        .collect();
    assert_eq!(create.len(), 1, "{log:#?}");
    assert_eq!(
        create[0]["role"].as_str(),
        Some("AUTOMATION_ROLE"),
        "{}",
        create[0]
    );
    assert_eq!(create[0]["user"].as_str(), Some("ADMIN"), "{}", create[0]);

    let before = setup.emu.last_seq();
    let out = setup.as_automation(&["tenant", "rotate", "vault"]);
    assert!(out.status.success(), "rotate: {}", stderr(&out));
    assert_eq!(action(&out), "rotated");
    let replaced = setup
        .emu
        .log(before)
        .into_iter()
        .filter(|l| l["statement_kind"].as_str() == Some("CREATE SECRET"))
        .filter(|l| l["executed"] == true)
        .count();
    assert_eq!(replaced, 1);
}
