//! The control API (interfaces.md): token, loopback, clock, log, faults, healthz.

use serde_json::json;

use crate::harness::{answer, Emulator};

#[tokio::test]
async fn healthz_needs_no_token() {
    let emu = Emulator::bare().await;
    assert_eq!(emu.healthz_status().await, 200);
}

#[tokio::test]
async fn control_api_needs_the_control_token() {
    let emu = Emulator::bare().await;
    for token in [None, Some("wrong"), Some("")] {
        let mut request = emu.client.get(format!("{}/emulator/v1/log", emu.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let a = answer(request.send().await.unwrap()).await;
        assert_eq!(a.status, 401, "{token:?}");
        assert!(a.json["request_id"].is_string());
    }
    let token = emu.control_token();
    assert!(token.len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(emu.path("control.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn control_token_is_not_a_snowflake_credential() {
    let emu = Emulator::bare().await;
    let (status, body) = emu.sql(&emu.control_token(), "SELECT 1").await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn without_control_token_file_the_control_api_is_404() {
    let emu = Emulator::start_with(|c| {
        c.admin_token_file = None;
        c.control_token_file = None;
    })
    .await;
    for path in ["/emulator/v1/log", "/emulator/v1/clock"] {
        let response = emu
            .client
            .post(format!("{}{path}", emu.url))
            .bearer_auth("anything")
            .send()
            .await
            .unwrap();
        // GET /log answers 405 for POST only if the route existed for POST; both must be 4xx.
        assert!(
            [404, 405].contains(&response.status().as_u16()),
            "{path}: {}",
            response.status()
        );
    }
    let response = emu
        .client
        .get(format!("{}/emulator/v1/log", emu.url))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(emu.healthz_status().await, 200);
}

#[tokio::test]
async fn clock_moves_forward_only() {
    let emu = Emulator::bare().await;
    let first = emu.advance_clock(0).await;
    let t0 = chrono::DateTime::parse_from_rfc3339(first["now"].as_str().unwrap()).unwrap();
    let later = emu.advance_clock(86_400).await;
    let t1 = chrono::DateTime::parse_from_rfc3339(later["now"].as_str().unwrap()).unwrap();
    let moved = (t1 - t0).num_seconds();
    assert!((86_400..86_460).contains(&moved), "moved {moved}s");
    let a = emu
        .control_post("/emulator/v1/clock", &json!({"advance_seconds": -5}))
        .await;
    assert_eq!(a.status, 400);
    let a = emu
        .control_post("/emulator/v1/clock", &json!({"advance": 5}))
        .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn faults_endpoint_validates_its_body() {
    let emu = Emulator::bare().await;
    for body in [
        json!({}),
        json!({"statement_kind": "CREATE USER"}),
        json!({"statement_kind": "CREATE USER", "code": "abc"}),
        json!({"statement_kind": "", "code": "003001"}),
        json!({"statement_kind": "CREATE USER", "code": "003001", "times": -1}),
    ] {
        let a = emu.control_post("/emulator/v1/faults", &body).await;
        assert_eq!(a.status, 400, "{body}");
    }
    let a = emu
        .control_post(
            "/emulator/v1/faults",
            &json!({"statement_kind": "create   service", "code": "003001"}),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["statement_kind"], "create service");
    assert_eq!(a.json["times"], 1);
}

#[tokio::test]
async fn log_since_filters_by_sequence() {
    let emu = Emulator::bare().await;
    for _ in 0..3 {
        let _ = emu.sql("bogus", "SELECT 1").await;
    }
    let all = emu.control_log(0).await;
    assert_eq!(all.len(), 3);
    let seqs: Vec<u64> = all.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    let tail = emu.control_log(2).await;
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0]["seq"], 3);
    for line in &all {
        for key in [
            "seq",
            "at",
            "peer",
            "endpoint",
            "user",
            "role",
            "auth",
            "request_id",
            "retry",
            "statement_kind",
            "object",
            "executed",
            "code",
        ] {
            assert!(line.get(key).is_some(), "{key} missing from {line}");
        }
    }
    let a = answer(
        emu.client
            .get(format!("{}/emulator/v1/log?since=x", emu.url))
            .bearer_auth(emu.control_token())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn admin_token_rotation_replaces_the_secret_and_the_file() {
    let emu = Emulator::start().await;
    let old = emu.admin();
    let a = emu
        .control_post("/emulator/v1/admin-token", &json!({}))
        .await;
    assert_eq!(a.status, 200);
    let new = a.json["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(emu.admin(), new, "the admin token file is rewritten");
    let (status, _) = emu.sql(&old, "SELECT 1").await;
    assert_eq!(status, 401, "the old secret stops at once (grace 0)");
    let (status, body) = emu.sql(&new, "SELECT CURRENT_USER()").await;
    assert_eq!(status, 200, "{body}");
    let text = serde_json::to_string(&emu.control_log(0).await).unwrap();
    assert!(!text.contains(&new) && !text.contains(&old));
}

#[tokio::test]
async fn admin_token_rotation_rewrites_the_0600_file() {
    let emu = Emulator::start().await;
    let old = emu.admin();
    let a = emu
        .control_post("/emulator/v1/admin-token", &json!({}))
        .await;
    assert_eq!(a.status, 200, "{}", a.json);
    let new = a.json["token"].as_str().unwrap();
    assert_ne!(new, old);
    assert!(!new.contains('.'), "PAT secrets never look like a JWT");
    assert_eq!(emu.admin(), new);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(emu.path("admin.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Without the control token nothing rotates.
    let response = emu
        .client
        .post(format!("{}/emulator/v1/admin-token", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(emu.admin(), new);
}
