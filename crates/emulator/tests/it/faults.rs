//! Faults: latency before execution, seeded 429/503, scripted statement failures.

use std::time::Duration;

use serde_json::json;

use crate::harness::{lines_of_kind, Emulator};

#[tokio::test]
async fn interfaces_latency_comes_before_execution() {
    let emu = Emulator::start_with(|c| c.latency_ms = 400).await;
    let token = emu.admin();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let result = impatient
        .post(format!("{}/api/v2/statements", emu.url))
        .bearer_auth(&token)
        .json(&json!({"statement": "CREATE ROLE TOO_LATE"}))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    tokio::time::sleep(Duration::from_millis(800)).await;
    let lines = emu.control_log(0).await;
    assert!(lines_of_kind(&lines, "CREATE ROLE").is_empty(), "{lines:?}");
    let body = emu.admin_ok("SHOW ROLES LIKE 'TOO_LATE'").await;
    assert_eq!(body["resultSetMetaData"]["numRows"], 0);
}

async fn statuses(seed: u64) -> Vec<u16> {
    let emu = Emulator::start_with(|c| {
        c.fault_rate = 0.5;
        c.seed = seed;
    })
    .await;
    let token = emu.admin();
    let mut out = Vec::new();
    for i in 0..24 {
        let (status, body) = emu.sql(&token, &format!("CREATE ROLE SEEDED_{i}")).await;
        match status {
            429 => assert_eq!(body["code"], "390505"),
            503 | 200 => {}
            other => panic!("unexpected {other}: {body}"),
        }
        out.push(status);
    }
    // Faulted requests executed nothing; the control API never faults.
    let lines = emu.control_log(0).await;
    let executed = lines.iter().filter(|l| l["executed"] == true).count();
    assert_eq!(executed, out.iter().filter(|s| **s == 200).count());
    out
}

#[tokio::test]
async fn interfaces_fault_rate_is_seeded_and_repeats() {
    let a = statuses(7).await;
    let b = statuses(7).await;
    assert_eq!(a, b, "same seed, same run");
    assert!(
        a.contains(&200) && (a.contains(&429) || a.contains(&503)),
        "{a:?}"
    );
    let c = statuses(8).await;
    assert_ne!(a, c, "another seed, another run");
}

#[tokio::test]
async fn interfaces_scripted_faults_fail_the_next_matching_statements() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    emu.add_fault("CREATE ROLE", "003001", 2).await;
    for i in 0..2 {
        let (status, body) = emu.sql(&token, &format!("CREATE ROLE SCRIPTED_{i}")).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["code"], "003001");
        assert_eq!(body["sqlState"], "42501");
    }
    let (status, _) = emu.sql(&token, "SELECT 1").await;
    assert_eq!(status, 200, "other kinds are untouched");
    let (status, body) = emu.sql(&token, "CREATE ROLE SCRIPTED_2").await;
    assert_eq!(status, 200, "{body}");
    let body = emu.admin_ok("SHOW ROLES LIKE 'SCRIPTED_%'").await;
    assert_eq!(body["resultSetMetaData"]["numRows"], 1);
    let lines = emu.control_log(0).await;
    let creates = lines_of_kind(&lines, "CREATE ROLE");
    assert_eq!(creates.len(), 3);
    assert_eq!(creates[0]["code"], "003001");
    assert_eq!(creates[0]["executed"], false);
    // An unknown code still gets a 422 with a generic message.
    emu.add_fault("SELECT", "123456", 1).await;
    let (status, body) = emu.sql(&token, "SELECT 1").await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "123456");
}
