//! Bad input of every kind: never a panic or a bare 500, always the body protocols §2.2/§2.5 give.

use serde_json::{json, Value};

use crate::harness::{answer, Emulator};

async fn raw_post(
    emulator: &Emulator,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    query: &str,
) -> (u16, Value) {
    let mut request = emulator
        .client
        .post(format!("{}/api/v2/statements{query}", emulator.url))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let a = answer(request.send().await.expect("sent")).await;
    (a.status, a.json)
}

const AUTH: (&str, &str) = ("Authorization", "Bearer not-a-real-token");
const JSON: (&str, &str) = ("Content-Type", "application/json");

#[tokio::test]
async fn protocols_2_2_missing_or_malformed_authorization_is_401_099922() {
    let emu = Emulator::bare().await;
    let body = br#"{"statement":"SELECT 1"}"#.to_vec();
    for headers in [
        vec![JSON],
        vec![JSON, ("Authorization", "Basic dXNlcjpwYXNz")],
        vec![JSON, ("Authorization", "Bearer")],
        vec![JSON, ("Authorization", "Bearer a b")],
        vec![
            JSON,
            AUTH,
            ("X-Snowflake-Authorization-Token-Type", "SOMETHING_ELSE"),
        ],
    ] {
        let (status, body) = raw_post(&emu, &headers, body.clone(), "").await;
        assert_eq!(status, 401, "{headers:?}");
        assert_eq!(body["code"], "099922");
        assert_eq!(
            body["message"],
            "Missing or malformed Authorization header."
        );
    }
}

#[tokio::test]
async fn protocols_2_2_content_type_not_json_is_415_and_absent_is_400() {
    let emu = Emulator::bare().await;
    let body = br#"{"statement":"SELECT 1"}"#.to_vec();
    let (status, json) = raw_post(
        &emu,
        &[AUTH, ("Content-Type", "text/plain")],
        body.clone(),
        "",
    )
    .await;
    assert_eq!(status, 415);
    assert!(json["message"].as_str().is_some());
    let (status, json) = raw_post(&emu, &[AUTH], body, "").await;
    assert_eq!(status, 400);
    assert_eq!(json["code"], "390142");
}

#[tokio::test]
async fn protocols_2_2_unparsable_body_is_400_390142() {
    let emu = Emulator::bare().await;
    for body in [
        b"{not json".to_vec(),
        b"".to_vec(),
        b"[1,2]".to_vec(),
        br#"{"statemnt":"SELECT 1"}"#.to_vec(),
        br#"{"statement":42}"#.to_vec(),
        br#"{"statement":"SELECT 1","role":7}"#.to_vec(),
        br#"{"statement":"SELECT 1","parameters":{"MULTI_STATEMENT_COUNT":"two"}}"#.to_vec(),
        vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
    ] {
        let (status, json) = raw_post(&emu, &[AUTH, JSON], body.clone(), "").await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        assert_eq!(json["code"], "390142");
        assert_eq!(
            json["message"],
            "Incoming request does not contain a valid payload."
        );
    }
}

#[tokio::test]
async fn protocols_2_3_bad_query_parameters_are_400_390142() {
    let emu = Emulator::bare().await;
    let body = br#"{"statement":"SELECT 1"}"#.to_vec();
    for query in [
        "?requestId=not-a-uuid",
        "?retry=maybe",
        "?async=2",
        "?nullable=x",
        "?a=%zz",
    ] {
        let (status, json) = raw_post(&emu, &[AUTH, JSON], body.clone(), query).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(json["code"], "390142");
    }
}

#[tokio::test]
async fn interfaces_body_over_max_is_413_json() {
    let emu = Emulator::start_with(|c| {
        c.admin_token_file = None;
        c.max_body_bytes = 1024;
    })
    .await;
    let statement = "x".repeat(4096);
    let body = serde_json::to_vec(&json!({ "statement": statement })).unwrap();
    let (status, json) = raw_post(&emu, &[AUTH, JSON], body, "").await;
    assert_eq!(status, 413);
    assert!(json["message"].as_str().unwrap().contains("1024"));
}

#[tokio::test]
async fn unknown_token_is_401_and_never_500() {
    let emu = Emulator::bare().await;
    let (status, json) = raw_post(
        &emu,
        &[AUTH, JSON],
        br#"{"statement":"SELECT 1"}"#.to_vec(),
        "",
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(json["code"], "394400");
}

#[tokio::test]
async fn unknown_route_is_404_json_and_get_without_auth_is_401() {
    let emu = Emulator::bare().await;
    let a = answer(
        emu.client
            .get(format!("{}/api/v2/nothing-here", emu.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 404);
    assert!(a.json["message"].is_string());
    let a = answer(
        emu.client
            .get(format!("{}/api/v2/statements/abc", emu.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json["code"], "099922");
    let a = answer(
        emu.client
            .post(format!("{}/api/v2/statements/abc/cancel", emu.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 401);
}

#[tokio::test]
async fn rejected_requests_are_logged_without_secrets() {
    let emu = Emulator::bare().await;
    let secret_ish = "Bearer s3cr3t-value-that-must-not-appear";
    let _ = raw_post(
        &emu,
        &[("Authorization", secret_ish), JSON],
        br#"{"statement":"CREATE USER X PASSWORD = 'hunter2'"}"#.to_vec(),
        "",
    )
    .await;
    let lines = emu.control_log(0).await;
    let last = lines.last().expect("a log line");
    assert_eq!(last["endpoint"], "POST /api/v2/statements");
    assert_eq!(last["executed"], false);
    assert_eq!(last["status"], 401);
    assert_eq!(last["peer"], "127.0.0.1");
    let text = serde_json::to_string(&lines).unwrap();
    assert!(!text.contains("s3cr3t"));
    assert!(!text.contains("hunter2"));
}
