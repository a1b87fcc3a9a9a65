//! SQL API bind variables (protocols §2.4): `?`, `:n` and `:name` placeholders take typed values
//! as literals (never as SQL text); unrecognised values are 422 `100037`; bindings are refused in
//! multi-statement requests (§2.6).

use serde_json::{json, Value};

use crate::harness::{column, Emulator};

async fn bound(emu: &Emulator, statement: &str, bindings: Value) -> (u16, Value) {
    let a = emu
        .post_statement(
            &emu.admin(),
            &json!({ "statement": statement, "bindings": bindings }),
            "",
        )
        .await;
    (a.status, a.json)
}

#[tokio::test]
async fn protocols_2_4_bindings_replace_positional_numbered_and_named_placeholders() {
    let emu = Emulator::start().await;
    let hostile = "x'; DROP ROLE accountadmin; --";
    let (status, body) = bound(
        &emu,
        "SELECT ?, ?, :1, :flag, '?'",
        json!({
            "1": {"type": "FIXED", "value": "123"},
            "2": {"type": "TEXT", "value": hostile},
            "flag": {"type": "BOOLEAN", "value": "false"},
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!([["123", hostile, "123", "false", "?"]]),
        "{body}"
    );
    // A bound value stands where a literal may in DDL: the comment is the value, quote and all.
    let (status, body) = bound(
        &emu,
        "CREATE ROLE bound_role COMMENT = ?",
        json!({"1": {"type": "TEXT", "value": "it's bound"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, show) = emu.sql(&emu.admin(), "SHOW ROLES LIKE 'BOUND_ROLE'").await;
    assert_eq!(
        column(&show, "comment"),
        vec![json!("it's bound")],
        "{show}"
    );
    // Date/time values are turned into their canonical text (protocols §2.4 formats).
    let (status, body) = bound(
        &emu,
        "SELECT ?, ?",
        json!({
            "1": {"type": "DATE", "value": "1706659200000"},
            "2": {"type": "TIMESTAMP_NTZ", "value": "1706702400000000000"},
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!([["2024-01-31", "2024-01-31 12:00:00.000000000"]])
    );
}

#[tokio::test]
async fn protocols_2_4_unrecognised_bound_value_is_422_100037_and_runs_nothing() {
    let emu = Emulator::start().await;
    let mark = emu.log_mark().await;
    let (status, body) = bound(
        &emu,
        "CREATE ROLE never_made COMMENT = ?",
        json!({"1": {"type": "FIXED", "value": "12a"}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "100037", "{body}");
    assert_eq!(body["sqlState"], "22018", "{body}");
    assert_eq!(body["message"], "FIXED value '12a' is not recognized");
    let lines = emu.control_log(mark).await;
    assert!(lines.iter().all(|l| l["executed"] == false), "{lines:?}");
    let (_, show) = emu.sql(&emu.admin(), "SHOW ROLES LIKE 'NEVER_MADE'").await;
    assert_eq!(show["data"], json!([]), "{show}");
}

#[tokio::test]
async fn protocols_2_6_bindings_in_a_multi_statement_request_are_refused() {
    let emu = Emulator::start().await;
    let a = emu
        .post_statement(
            &emu.admin(),
            &json!({
                "statement": "CREATE ROLE m1 COMMENT = ?; SELECT 1",
                "bindings": {"1": {"type": "TEXT", "value": "x"}},
                "parameters": {"MULTI_STATEMENT_COUNT": "2"},
            }),
            "",
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.json);
    assert_eq!(a.json["code"], "000002", "{}", a.json);
    let (_, show) = emu.sql(&emu.admin(), "SHOW ROLES LIKE 'M1'").await;
    assert_eq!(show["data"], json!([]), "{show}");
    // `bindings` that is not an object of typed values is an invalid payload.
    for bindings in [
        json!("1"),
        json!({"1": "x"}),
        json!({"1": {"type": "NOPE", "value": "1"}}),
    ] {
        let (status, body) = bound(&emu, "SELECT ?", bindings).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["code"], "390142", "{body}");
    }
}
