//! requestId + retry=true (protocols §2.8), and recovering from a dropped connection.

use std::io::{Read, Write};

use serde_json::json;

use crate::harness::{lines_of_kind, Emulator};

const RID: &str = "6f1b2c1e-54b5-4c7e-9a0f-0d3c8a1e2b4f";

#[tokio::test]
async fn protocols_2_8_retry_returns_the_stored_response_without_executing() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let body = json!({"statement": "CREATE ROLE IDEM_ROLE"});
    let mark = emu.log_mark().await;
    let first = emu
        .post_statement(&token, &body, &format!("?requestId={RID}"))
        .await;
    assert_eq!(first.status, 200, "{}", first.json);
    let again = emu
        .post_statement(&token, &body, &format!("?requestId={RID}&retry=true"))
        .await;
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(again.json, first.json, "the stored response, same handle");
    assert_eq!(again.json["requestId"], RID);

    let lines = emu.control_log(mark).await;
    let creates = lines_of_kind(&lines, "CREATE ROLE");
    assert_eq!(creates.len(), 1, "executed once: {lines:?}");
    assert_eq!(creates[0]["executed"], true);
    let replay = lines.last().unwrap();
    assert_eq!(replay["retry"], true);
    assert_eq!(replay["executed"], false);
    assert_eq!(replay["request_id"], RID);

    // Without retry=true the same id executes again (and now fails: the role exists).
    let third = emu
        .post_statement(&token, &body, &format!("?requestId={RID}"))
        .await;
    assert_eq!(third.status, 422, "{}", third.json);
    assert_eq!(third.json["code"], "002002");
}

#[tokio::test]
async fn protocols_2_8_retry_with_a_different_statement_is_099947() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let q = format!("?requestId={RID}");
    let first = emu
        .post_statement(&token, &json!({"statement": "CREATE ROLE DIGEST_A"}), &q)
        .await;
    assert_eq!(first.status, 200);
    let other = emu
        .post_statement(
            &token,
            &json!({"statement": "CREATE ROLE DIGEST_B"}),
            &format!("{q}&retry=true"),
        )
        .await;
    assert_eq!(other.status, 422);
    assert_eq!(other.json["code"], "099947");
    assert_eq!(
        other.json["message"],
        "Request ID reused for a different statement."
    );
    let body = emu.admin_ok("SHOW ROLES LIKE 'DIGEST_B'").await;
    assert_eq!(body["resultSetMetaData"]["numRows"], 0);
}

#[tokio::test]
async fn protocols_2_8_request_ids_are_per_user_and_failures_reexecute() {
    let emu = Emulator::start().await;
    let admin = emu.admin();
    let other = emu.user_with_pat("IDEM_OTHER", None).await;
    let q = format!("?requestId={RID}&retry=true");
    let body = json!({"statement": "SELECT CURRENT_USER()"});
    let mine = emu
        .post_statement(&admin, &body, &format!("?requestId={RID}"))
        .await;
    assert_eq!(mine.json["data"], json!([["ADMIN"]]));
    let theirs = emu.post_statement(&other, &body, &q).await;
    assert_eq!(theirs.status, 200);
    assert_eq!(
        theirs.json["data"],
        json!([["IDEM_OTHER"]]),
        "a new request for another user"
    );
    assert_ne!(theirs.json["statementHandle"], mine.json["statementHandle"]);

    // A failed request is executed again on retry.
    let rid2 = "0d7c3f3e-2f1a-4d8e-8c55-3b7b9a6f1e20";
    let drop = json!({"statement": "DROP ROLE LATE_ROLE"});
    let failed = emu
        .post_statement(&admin, &drop, &format!("?requestId={rid2}"))
        .await;
    assert_eq!(failed.status, 422);
    emu.admin_ok("CREATE ROLE LATE_ROLE").await;
    let retried = emu
        .post_statement(&admin, &drop, &format!("?requestId={rid2}&retry=true"))
        .await;
    assert_eq!(retried.status, 200, "{}", retried.json);
}

#[tokio::test]
async fn protocols_2_8_drop_replay_recovers_the_result_and_executes_once() {
    let emu = Emulator::start_with(|c| c.drop_rate = 1.0).await;
    let token = emu.admin();
    let mark = emu.log_mark().await;
    let url = format!("{}/api/v2/statements?requestId={RID}", emu.url);
    let body = json!({"statement": "CREATE ROLE DROPPED_ROLE"});
    let first = emu
        .client
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await;
    let error = first.expect_err("the connection is closed without an answer");
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");

    let retry = emu
        .client
        .post(format!("{url}&retry=true"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("the retry is answered from the idempotency table");
    assert_eq!(retry.status().as_u16(), 200);
    let json: serde_json::Value = retry.json().await.unwrap();
    assert_eq!(json["requestId"], RID);

    let lines = emu.control_log(mark).await;
    let submissions: Vec<_> = lines
        .iter()
        .filter(|l| l["endpoint"] == "POST /api/v2/statements")
        .collect();
    assert_eq!(submissions.len(), 2, "{lines:?}");
    let executed: Vec<_> = submissions
        .iter()
        .filter(|l| l["executed"] == true)
        .collect();
    assert_eq!(executed.len(), 1, "one execution for two submissions");
    assert_eq!(
        json["statementHandle"], submissions[0]["statement_handle"],
        "the stored response is the dropped one"
    );
}

#[tokio::test]
async fn drop_sends_not_a_single_byte() {
    let emu = Emulator::start_with(|c| c.drop_rate = 1.0).await;
    let token = emu.admin();
    let addr = emu.url.trim_start_matches("http://").to_owned();
    let body = r#"{"statement":"CREATE ROLE RAW_DROPPED"}"#;
    let request = format!(
        "POST /api/v2/statements HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let received = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut received = Vec::new();
        match stream.read_to_end(&mut received) {
            Ok(_) => {}
            Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "no close seen"),
        }
        received
    })
    .await
    .unwrap();
    assert!(
        received.is_empty(),
        "got {:?}",
        String::from_utf8_lossy(&received)
    );
    // It did execute and commit.
    let emu2_check = emu.control_log(0).await;
    let creates = lines_of_kind(&emu2_check, "CREATE ROLE");
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0]["executed"], true);
}

#[tokio::test]
async fn protocols_2_8_secret_bearing_answers_are_kept_24_hours_of_account_clock() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    emu.admin_ok("CREATE USER KEEP_24H TYPE = PERSON").await;
    let add = json!({"statement": "ALTER USER KEEP_24H ADD PAT KEEP_PAT DAYS_TO_EXPIRY = 30"});
    let q = format!("?requestId={RID}");
    let first = emu.post_statement(&token, &add, &q).await;
    assert_eq!(first.status, 200, "{}", first.json);
    let role = json!({"statement": "CREATE ROLE KEEP_ROLE"});
    let rid2 = "8a0f3c55-6a4e-4b1f-9d2c-7e5b3a1c0d9e";
    let q2 = format!("?requestId={rid2}");
    assert_eq!(emu.post_statement(&token, &role, &q2).await.status, 200);

    // Within 24 h: the stored secret comes back, nothing runs.
    emu.advance_clock(23 * 3600).await;
    let again = emu
        .post_statement(&token, &add, &format!("{q}&retry=true"))
        .await;
    assert_eq!(again.json, first.json);

    // After 24 h the secret-bearing answer is gone: the retry executes (and the token exists).
    emu.advance_clock(2 * 3600).await;
    let late = emu
        .post_statement(&token, &add, &format!("{q}&retry=true"))
        .await;
    assert_eq!(late.status, 422, "{}", late.json);
    assert_eq!(late.json["code"], "099901");
    // An answer without a secret is still there.
    let mark = emu.log_mark().await;
    let kept = emu
        .post_statement(&token, &role, &format!("{q2}&retry=true"))
        .await;
    assert_eq!(kept.status, 200, "{}", kept.json);
    let lines = emu.control_log(mark).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["executed"], false);
}
