//! SQL API v2 shapes and behaviour (protocols §2.5–§2.9).

use std::io::Read;

use serde_json::{json, Value};

use crate::harness::{column, keypair_jwt, Emulator};

fn is_epoch_9(text: &str) -> bool {
    let Some((secs, frac)) = text.split_once('.') else {
        return false;
    };
    !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 9
        && frac.bytes().all(|b| b.is_ascii_digit())
}

#[tokio::test]
async fn protocols_2_5_result_set_has_every_field() {
    let emu = Emulator::start().await;
    let before = chrono::Utc::now().timestamp_millis();
    let a = emu
        .post_statement(
            &emu.admin(),
            &json!({"statement": "SELECT CURRENT_ROLE()"}),
            "",
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.json);
    let body = &a.json;
    let meta = &body["resultSetMetaData"];
    assert_eq!(meta["numRows"], 1);
    assert_eq!(meta["format"], "jsonv2");
    assert_eq!(meta["partitionInfo"][0]["rowCount"], 1);
    assert!(
        meta["partitionInfo"][0]["uncompressedSize"]
            .as_u64()
            .unwrap()
            > 0
    );
    let row_type = &meta["rowType"][0];
    for key in [
        "name",
        "database",
        "schema",
        "table",
        "type",
        "nullable",
        "length",
        "byteLength",
        "precision",
        "scale",
        "collation",
    ] {
        assert!(
            row_type.get(key).is_some(),
            "rowType lacks {key}: {row_type}"
        );
    }
    assert_eq!(row_type["type"], "text");
    assert_eq!(body["data"], json!([["ACCOUNTADMIN"]]));
    assert_eq!(body["code"], "090001");
    assert_eq!(body["sqlState"], "00000");
    assert_eq!(body["message"], "Statement executed successfully.");
    let handle = body["statementHandle"].as_str().unwrap();
    let request_id = body["requestId"].as_str().unwrap();
    assert_eq!(
        body["statementStatusUrl"],
        format!("/api/v2/statements/{handle}?requestId={request_id}")
    );
    let created = body["createdOn"].as_i64().unwrap();
    assert!(created >= before - 1000 && created <= chrono::Utc::now().timestamp_millis() + 1000);
    let link = a.headers["link"].to_str().unwrap();
    assert!(link.contains(&format!(
        "</api/v2/statements/{handle}?requestId={request_id}&partition=0>; rel=\"first\""
    )));
    assert!(link.contains("rel=\"last\""));
}

#[tokio::test]
async fn protocols_2_5_timestamps_are_epoch_seconds_with_9_decimals() {
    let emu = Emulator::start().await;
    let body = emu.admin_ok("SHOW USER PATS FOR USER ADMIN").await;
    let row_type = body["resultSetMetaData"]["rowType"].as_array().unwrap();
    let ts = row_type
        .iter()
        .find(|c| c["name"] == "expires_at")
        .expect("expires_at column");
    assert_eq!(ts["type"], "timestamp_ltz");
    for cell in column(&body, "expires_at") {
        assert!(is_epoch_9(cell.as_str().unwrap()), "{cell}");
    }
}

#[tokio::test]
async fn protocols_2_3_nullable_false_sends_the_string_null() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let a = emu
        .post_statement(&token, &json!({"statement": "SELECT NULL"}), "")
        .await;
    assert_eq!(a.json["data"], json!([[null]]), "{}", a.json);
    let a = emu
        .post_statement(
            &token,
            &json!({"statement": "SELECT NULL"}),
            "?nullable=false",
        )
        .await;
    assert_eq!(a.json["data"], json!([["null"]]), "{}", a.json);
}

#[tokio::test]
async fn protocols_2_5_failed_statement_is_422_with_all_fields() {
    let emu = Emulator::start().await;
    let (status, body) = emu.sql(&emu.admin(), "DROP ROLE NO_SUCH_ROLE").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "002003");
    assert_eq!(body["sqlState"], "42S02");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("SQL compilation error:\n"));
    let handle = body["statementHandle"].as_str().unwrap();
    assert!(body["createdOn"].is_i64());
    assert_eq!(
        body["statementStatusUrl"],
        format!("/api/v2/statements/{handle}")
    );
}

#[tokio::test]
async fn protocols_2_5_syntax_error_is_001003() {
    let emu = Emulator::start().await;
    let (status, body) = emu.sql(&emu.admin(), "CREATE ROLLE X").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "001003");
    assert_eq!(body["sqlState"], "42000");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("SQL compilation error:\nsyntax error line 1 at position ")
            && message.ends_with("'."),
        "{message}"
    );
}

#[tokio::test]
async fn protocols_2_5_empty_statement_is_400_000900() {
    let emu = Emulator::start().await;
    for text in ["", "   ", " ; ", "-- just a comment\n"] {
        let (status, body) = emu.sql(&emu.admin(), text).await;
        assert_eq!(status, 400, "{text:?}: {body}");
        assert_eq!(body["code"], "000900");
    }
}

#[tokio::test]
async fn protocols_2_6_session_statements_alone_are_391911() {
    let emu = Emulator::start().await;
    for (text, kind) in [
        ("USE ROLE SECURITYADMIN", "USE"),
        ("BEGIN", "TRANSACTION_BEGIN"),
        ("ALTER SESSION SET QUERY_TAG = 'x'", "ALTER_SESSION"),
    ] {
        let (status, body) = emu.sql(&emu.admin(), text).await;
        assert_eq!(status, 422, "{text}: {body}");
        assert_eq!(body["code"], "391911");
        assert_eq!(body["sqlState"], "0A000");
        assert_eq!(
            body["message"],
            format!("Command not supported by SQL API: {kind}")
        );
    }
}

#[tokio::test]
async fn protocols_2_6_multi_statement_success_and_child_handles() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let (status, body) = emu
        .sql_multi(
            &token,
            "CREATE ROLE MULTI_1; USE ROLE SECURITYADMIN; SELECT CURRENT_ROLE()",
            3,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!([["Multiple statements executed successfully."]])
    );
    assert_eq!(
        body["resultSetMetaData"]["rowType"][0]["name"],
        "multiple statement execution"
    );
    let children = body["statementHandles"].as_array().unwrap();
    assert_eq!(children.len(), 3);
    let last = emu
        .get_statement(&token, children[2].as_str().unwrap(), "")
        .await;
    assert_eq!(last.status, 200);
    assert_eq!(last.json["data"], json!([["SECURITYADMIN"]]));
    // Each request is its own session: USE did not persist.
    let (_, body) = emu.sql(&token, "SELECT CURRENT_ROLE()").await;
    assert_eq!(body["data"], json!([["ACCOUNTADMIN"]]));
    // The whole set's handle answers the set's result again.
    let parent = emu
        .get_statement(&token, body["statementHandle"].as_str().unwrap(), "")
        .await;
    assert_eq!(parent.status, 200);
}

#[tokio::test]
async fn protocols_2_4_multi_statement_count_in_both_spellings_and_types() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    for parameters in [
        json!({"MULTI_STATEMENT_COUNT": "2"}),
        json!({"multi_statement_count": 2}),
        json!({"MULTI_STATEMENT_COUNT": 0}),
        json!({"multi_statement_count": "0"}),
    ] {
        let a = emu
            .post_statement(
                &token,
                &json!({"statement": "SELECT 1; SELECT 2", "parameters": parameters}),
                "",
            )
            .await;
        assert_eq!(a.status, 200, "{parameters}: {}", a.json);
        assert_eq!(a.json["statementHandles"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn protocols_2_6_count_mismatch_is_000008_and_runs_nothing() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let (status, body) = emu
        .sql(&token, "CREATE ROLE NOT_MADE_1; CREATE ROLE NOT_MADE_2")
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "000008");
    assert_eq!(
        body["message"],
        "Actual statement count 2 did not match the desired statement count 1."
    );
    let (status, body) = emu.sql_multi(&token, "CREATE ROLE NOT_MADE_3", 2).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "000008");
    let body = emu.admin_ok("SHOW ROLES LIKE 'NOT_MADE%'").await;
    assert_eq!(body["resultSetMetaData"]["numRows"], 0);
}

#[tokio::test]
async fn protocols_2_6_failure_midway_keeps_earlier_statements() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let (status, body) = emu
        .sql_multi(
            &token,
            "CREATE ROLE MID_1; DROP ROLE MID_NOPE; CREATE ROLE MID_2",
            3,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "002003");
    let body = emu.admin_ok("SHOW ROLES LIKE 'MID_%'").await;
    let names: Vec<Value> = column(&body, "name");
    assert_eq!(names, vec![json!("MID_1")]);
}

#[tokio::test]
async fn protocols_2_4_role_field_selects_the_role() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let (status, body) = emu
        .sql_as(&token, "SECURITYADMIN", "SELECT CURRENT_ROLE()")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["SECURITYADMIN"]]));
    emu.admin_ok("CREATE ROLE NOT_ADMINS").await;
    let (status, body) = emu
        .sql_as(&token, "NOT_ADMINS", "SELECT CURRENT_ROLE()")
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "390186");
}

#[tokio::test]
async fn protocols_2_7_partitions_of_1000_rows_gzip() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    for batch in 0..11 {
        let text: Vec<String> = (0..100)
            .map(|i| format!("CREATE ROLE PART_{:04}", batch * 100 + i))
            .collect();
        let (status, body) = emu.sql_multi(&token, &text.join(";"), 0).await;
        assert_eq!(status, 200, "{body}");
    }
    let a = emu
        .post_statement(
            &token,
            &json!({"statement": "SHOW ROLES LIKE 'PART_%'"}),
            "",
        )
        .await;
    assert_eq!(a.status, 200);
    let meta = &a.json["resultSetMetaData"];
    assert_eq!(meta["numRows"], 1100);
    assert_eq!(meta["partitionInfo"].as_array().unwrap().len(), 2);
    assert_eq!(meta["partitionInfo"][0]["rowCount"], 1000);
    assert_eq!(meta["partitionInfo"][1]["rowCount"], 100);
    assert_eq!(a.json["data"].as_array().unwrap().len(), 1000);
    let link = a.headers["link"].to_str().unwrap();
    assert!(link.contains("&partition=1>; rel=\"next\""), "{link}");
    let handle = a.json["statementHandle"].as_str().unwrap();

    // Partition 1, read without transparent decompression to see the encoding.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = raw
        .get(format!(
            "{}/api/v2/statements/{handle}?partition=1",
            emu.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let bytes = response.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    let page: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(page.as_object().unwrap().len(), 1, "only data: {page}");
    assert_eq!(page["data"].as_array().unwrap().len(), 100);

    let out = emu.get_statement(&token, handle, "?partition=2").await;
    assert_eq!(out.status, 400);
    assert_eq!(out.json["code"], "391922");
    // Without a partition: the first partition again, with metadata.
    let again = emu.get_statement(&token, handle, "").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json["resultSetMetaData"]["numRows"], 1100);
    assert_eq!(again.json["data"], a.json["data"]);
}

#[tokio::test]
async fn protocols_2_9_unknown_or_foreign_handles_are_000709() {
    let emu = Emulator::start().await;
    let admin = emu.admin();
    let other = emu.user_with_pat("HANDLE_OTHER", None).await;
    let (status, body) = emu.sql(&admin, "SELECT CURRENT_USER()").await;
    assert_eq!(status, 200);
    let handle = body["statementHandle"].as_str().unwrap();

    let unknown = emu
        .get_statement(&admin, "01b2c3d4-0000-0000-0000-000000000000", "")
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json["code"], "000709");
    assert_eq!(unknown.json["sqlState"], "02000");

    let foreign = emu.get_statement(&other, handle, "").await;
    assert_eq!(foreign.status, 400);
    assert_eq!(foreign.json["code"], "000709");
    assert_eq!(
        foreign.json["message"],
        format!("Statement {handle} not found"),
        "another user's handle reads exactly like an unknown one"
    );
    let cancel = emu.cancel(&other, handle).await;
    assert_eq!(cancel.status, 422);
    assert_eq!(cancel.json["code"], "000709");
    let cancel = emu.cancel(&admin, "nope").await;
    assert_eq!(cancel.status, 422);
    assert_eq!(cancel.json["code"], "000709");
}

#[tokio::test]
async fn protocols_2_9_cancel_of_a_finished_statement_is_200() {
    let emu = Emulator::start().await;
    let admin = emu.admin();
    let (_, body) = emu.sql(&admin, "SELECT 1").await;
    let handle = body["statementHandle"].as_str().unwrap();
    let a = emu.cancel(&admin, handle).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["code"], "000604");
    assert_eq!(a.json["sqlState"], "57014");
    assert_eq!(a.json["statementHandle"], handle);
}

#[tokio::test]
async fn protocols_2_5_async_is_202_then_get_gives_the_result() {
    let emu = Emulator::start().await;
    let admin = emu.admin();
    let a = emu
        .post_statement(
            &admin,
            &json!({"statement": "CREATE ROLE ASYNC_ROLE"}),
            "?async=true",
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.json);
    assert_eq!(a.json["code"], "333334");
    let handle = a.json["statementHandle"].as_str().unwrap().to_owned();
    assert_eq!(
        a.json["statementStatusUrl"],
        format!("/api/v2/statements/{handle}")
    );
    let mut result = None;
    for _ in 0..100 {
        let got = emu.get_statement(&admin, &handle, "").await;
        if got.status == 200 {
            result = Some(got.json);
            break;
        }
        assert_eq!(got.status, 202);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let result = result.expect("finished");
    assert_eq!(result["statementHandle"], handle.as_str());
    let body = emu.admin_ok("SHOW ROLES LIKE 'ASYNC_ROLE'").await;
    assert_eq!(body["resultSetMetaData"]["numRows"], 1);
}

#[tokio::test]
async fn request_log_has_one_line_per_statement_with_kind_and_object() {
    let emu = Emulator::start().await;
    let mark = emu.log_mark().await;
    let (status, _) = emu
        .sql_multi(
            &emu.admin(),
            "CREATE ROLE LOGGED_ROLE; SELECT CURRENT_ROLE()",
            2,
        )
        .await;
    assert_eq!(status, 200);
    let lines = emu.control_log(mark).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["statement_kind"], "CREATE ROLE");
    assert_eq!(lines[0]["object"], "LOGGED_ROLE");
    assert_eq!(lines[0]["executed"], true);
    assert_eq!(lines[0]["user"], "ADMIN");
    assert_eq!(lines[0]["auth"], "pat");
    assert_eq!(lines[1]["statement_kind"], "SELECT");
    assert_eq!(lines[1]["executed"], false);
    assert_eq!(lines[0]["request_id"], lines[1]["request_id"]);
}

#[tokio::test]
async fn secrets_never_reach_the_request_log() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("LOG_SECRET_USER", None).await;
    let lines = emu.control_log(0).await;
    let text = serde_json::to_string(&lines).unwrap();
    assert!(!text.contains(&secret));
    assert!(!text.contains(&emu.admin()));
}

#[tokio::test]
async fn interfaces_admin_key_file_gives_a_working_key_pair() {
    let (emu, pem) = Emulator::start_with_admin_key().await;
    let path = emu.path("admin.p8");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let jwt = keypair_jwt(&pem, "EMULATOR", "ADMIN");
    let (status, body) = emu.sql_keypair(&jwt, "SELECT CURRENT_USER()").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], json!([["ADMIN"]]));
    let lines = emu.control_log(0).await;
    assert_eq!(lines.last().unwrap()["auth"], "keypair");
}
