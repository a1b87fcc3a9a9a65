//! A `revoke`, `disable`, `enable` or `drop` that dies after a journaled statement ran (the
//! `test-hooks` crash point `after_change`) leaves that statement pending; the rerun of the same
//! command resolves it (superseded once the rerun succeeded), and the tenant ends in the state
//! the command asks for (`interfaces.md` "Lifecycle semantics").

mod common;
mod tenant_setup;

use std::os::unix::process::ExitStatusExt;

use common::stderr;
use snowpat_core::store::{JournalEntry, JournalState, SqliteStore, Store};
use tenant_setup::Setup;

fn journal(setup: &Setup, tenant: &str) -> Vec<JournalEntry> {
    let url = setup.store();
    setup.emu.runtime.block_on(async {
        let store = SqliteStore::open(&url).await.unwrap();
        store.journal(tenant).await.unwrap()
    })
}

fn pending(setup: &Setup, tenant: &str) -> Vec<i64> {
    journal(setup, tenant)
        .into_iter()
        .filter(|e| e.state == JournalState::Pending)
        .map(|e| e.seq)
        .collect()
}

/// The `disabled` column of SHOW USERS for the tenant's user.
fn disabled(setup: &Setup, user: &str) -> Option<String> {
    let answer = setup.emu.admin_sql(&format!("SHOW USERS LIKE '{user}'"));
    let columns = answer["resultSetMetaData"]["rowType"].as_array().unwrap();
    let [name, disabled] = ["name", "disabled"].map(|c| {
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
        .map(|row| row[disabled].as_str().unwrap_or_default().to_owned())
}

#[test]
fn crashed_lifecycle_commands_leave_pending_statements_that_their_rerun_resolves() {
    let setup = Setup::start();
    let sink = setup.sink();
    let out = setup.as_automation(&["tenant", "provision", "acme", "--sink", &sink]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line: serde_json::Value =
        serde_json::from_str(common::stdout(&out).lines().next().unwrap()).unwrap();
    let user = line["user"].as_str().unwrap().to_owned();
    assert!(pending(&setup, "ACME").is_empty());

    for (command, expected) in [
        ("disable", Some("true")),
        ("enable", Some("false")),
        ("revoke", Some("false")),
        ("drop", None),
    ] {
        let crashed = setup.as_automation_env(
            &["tenant", command, "acme"],
            &[("SNOWPAT_CRASH_AT", "after_change:1")],
        );
        assert_eq!(
            crashed.status.signal(),
            Some(6),
            "{command}: {}",
            stderr(&crashed)
        );
        assert!(
            stderr(&crashed).contains("test-hooks crash at after_change"),
            "{command}: {}",
            stderr(&crashed)
        );
        let left = pending(&setup, "ACME");
        assert_eq!(left.len(), 1, "{command}: the crashed statement is pending");

        let rerun = setup.as_automation(&["tenant", command, "acme"]);
        assert!(rerun.status.success(), "{command}: {}", stderr(&rerun));
        assert!(
            pending(&setup, "ACME").is_empty(),
            "{command}: {:?}",
            journal(&setup, "ACME")
        );
        let entry = journal(&setup, "ACME")
            .into_iter()
            .find(|e| e.seq == left[0])
            .unwrap();
        assert_eq!(entry.state, JournalState::Superseded, "{command}");
        assert_eq!(
            disabled(&setup, &user).as_deref(),
            expected,
            "{command}: the user's state"
        );
    }
}
