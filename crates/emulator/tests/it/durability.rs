//! `--state`: the account, the clock offset and the idempotency table survive a restart.

use serde_json::json;

use crate::harness::{column, secret_of, Emulator};

const RID: &str = "3b9e7f0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

#[tokio::test]
async fn interfaces_state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let emu = Emulator::start_with(|c| c.state = Some(state.clone())).await;
    let old_admin = emu.admin();
    // A second administrator with a 30-day PAT: the checks after the restart use it, so they do
    // not depend on the rotated admin token.
    emu.admin_ok("CREATE USER DURABLE_ADMIN TYPE = PERSON DEFAULT_ROLE = ACCOUNTADMIN")
        .await;
    emu.admin_ok("GRANT ROLE ACCOUNTADMIN TO USER DURABLE_ADMIN")
        .await;
    let second = secret_of(
        &emu.admin_ok("ALTER USER DURABLE_ADMIN ADD PAT DURABLE_PAT DAYS_TO_EXPIRY = 30")
            .await,
    );
    emu.admin_ok("CREATE ROLE DURABLE_ROLE").await;
    let stored = emu
        .post_statement(
            &second,
            &json!({"statement": "CREATE ROLE DURABLE_RETRY"}),
            &format!("?requestId={RID}"),
        )
        .await;
    assert_eq!(stored.status, 200);
    let moved = emu.advance_clock(3 * 86_400).await;
    let moved = chrono::DateTime::parse_from_rfc3339(moved["now"].as_str().unwrap()).unwrap();

    let emu = emu.restart().await;
    assert_ne!(
        emu.admin(),
        old_admin,
        "EMULATOR_ADMIN was rotated on restart"
    );
    let (status, _) = emu.sql(&old_admin, "SELECT 1").await;
    assert_eq!(
        status, 401,
        "the old admin secret stopped working (grace 0)"
    );

    let (status, body) = emu.sql(&second, "SHOW ROLES LIKE 'DURABLE_%'").await;
    assert_eq!(status, 200, "{body}");
    let mut names: Vec<String> = column(&body, "name")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["DURABLE_RETRY", "DURABLE_ROLE"]);

    let now = emu.advance_clock(0).await;
    let now = chrono::DateTime::parse_from_rfc3339(now["now"].as_str().unwrap()).unwrap();
    assert!(now >= moved, "the clock offset survived: {now} < {moved}");

    let mark = emu.log_mark().await;
    let replay = emu
        .post_statement(
            &second,
            &json!({"statement": "CREATE ROLE DURABLE_RETRY"}),
            &format!("?requestId={RID}&retry=true"),
        )
        .await;
    assert_eq!(replay.status, 200, "{}", replay.json);
    assert_eq!(
        replay.json["statementHandle"],
        stored.json["statementHandle"]
    );
    let lines = emu.control_log(mark).await;
    assert!(lines.iter().all(|l| l["executed"] == false), "{lines:?}");
}

#[tokio::test]
async fn failed_statements_leave_no_trace_in_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let emu = Emulator::start_with(|c| c.state = Some(state.clone())).await;
    emu.admin_ok("CREATE ROLE BEFORE_FAILURE").await;
    let before = std::fs::read(&state).unwrap();
    let (status, _) = emu
        .sql(&emu.admin(), "GRANT ROLE NO_SUCH_ROLE TO USER ADMIN")
        .await;
    assert_eq!(status, 422);
    let after = std::fs::read(&state).unwrap();
    assert_eq!(before, after, "a 422 wrote nothing");
}

#[tokio::test]
async fn restart_after_the_admin_token_expired_issues_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let emu = Emulator::start_with(|c| c.state = Some(state.clone())).await;
    let old = emu.admin();
    // Past EMULATOR_ADMIN's 365 days: ROTATE refuses an expired token, so it is replaced.
    emu.advance_clock(366 * 86_400).await;
    let (status, _) = emu.sql(&old, "SELECT 1").await;
    assert_eq!(status, 401, "expired");
    let emu = emu.restart().await;
    let new = emu.admin();
    assert_ne!(new, old);
    let (status, body) = emu.sql(&new, "SELECT CURRENT_USER()").await;
    assert_eq!(status, 200, "{body}");
}
