//! The driver (connector) protocol, protocols §4: login with each authenticator, query-request
//! results and errors, multi-statement and async results, renewal, heartbeat, delete, telemetry,
//! gzip bodies and bad input; and the driver rows of snowflake-behaviour.md §10 (16, 78, 89, 95,
//! 96, 98, 100). Requests are gzip-compressed as the connectors send them (§4.2).

use std::io::Write;

use serde_json::{json, Value};

use crate::harness::{answer, keypair_jwt, Answer, Emulator};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A connector-shaped POST: gzip body, `Content-Encoding: gzip`, `Accept: application/snowflake`,
/// and `Authorization: Snowflake Token="…"` (during login a meaningless one, §4.2).
async fn post_raw(
    emu: &Emulator,
    path_and_query: &str,
    token: Option<&str>,
    body: Vec<u8>,
    compressed: bool,
) -> Answer {
    let mut request = emu
        .client
        .post(format!("{}{path_and_query}", emu.url))
        .header("Content-Type", "application/json")
        .header("Accept", "application/snowflake")
        .header(
            "Authorization",
            format!("Snowflake Token=\"{}\"", token.unwrap_or("None")),
        );
    let body = if compressed {
        request = request.header("Content-Encoding", "gzip");
        gzip(&body)
    } else {
        body
    };
    answer(request.body(body).send().await.expect("request sent")).await
}

async fn post(emu: &Emulator, path_and_query: &str, token: Option<&str>, body: &Value) -> Answer {
    post_raw(
        emu,
        path_and_query,
        token,
        serde_json::to_vec(body).expect("JSON"),
        true,
    )
    .await
}

async fn get(emu: &Emulator, path: &str, token: &str) -> Answer {
    let response = emu
        .client
        .get(format!("{}{path}", emu.url))
        .header("Accept", "application/snowflake")
        .header("Authorization", format!("Snowflake Token=\"{token}\""))
        .send()
        .await
        .expect("request sent");
    answer(response).await
}

/// The login body of §4.3 with `fields` merged into `data`.
fn login_body(fields: Value) -> Value {
    let mut data = json!({
        "CLIENT_APP_ID": "PythonConnector", "CLIENT_APP_VERSION": "3.18.0", "SVN_REVISION": null,
        "ACCOUNT_NAME": "EMULATOR",
        "CLIENT_ENVIRONMENT": {"APPLICATION": "PythonConnector", "OS": "Linux", "OCSP_MODE": "FAIL_OPEN"},
        "SESSION_PARAMETERS": {"AUTOCOMMIT": true},
    });
    if let (Some(map), Value::Object(extra)) = (data.as_object_mut(), fields) {
        map.extend(extra);
    }
    json!({ "data": data })
}

async fn login(emu: &Emulator, query: &str, fields: Value) -> Answer {
    let path = format!(
        "/session/v1/login-request?request_id={}{query}",
        uuid::Uuid::new_v4()
    );
    post(emu, &path, None, &login_body(fields)).await
}

/// A successful login's session token.
#[track_caller]
fn token_of(a: &Answer) -> String {
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["success"], true, "{}", a.json);
    a.json["data"]["token"]
        .as_str()
        .expect("data.token")
        .to_owned()
}

async fn admin_session(emu: &Emulator) -> (String, Value) {
    let a = login(
        emu,
        "",
        json!({"LOGIN_NAME": "ADMIN", "PASSWORD": emu.admin()}),
    )
    .await;
    (token_of(&a), a.json)
}

async fn query(emu: &Emulator, token: &str, sql: &str) -> Answer {
    query_with(emu, token, json!({"sqlText": sql})).await
}

async fn query_with(emu: &Emulator, token: &str, fields: Value) -> Answer {
    let mut body = json!({
        "asyncExec": false, "sequenceId": 1, "querySubmissionTime": 1_738_317_395_000_i64,
        "parameters": {}, "bindings": null, "isInternal": false, "describeOnly": false,
        "queryContextDTO": {"entries": []},
    });
    if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), fields) {
        map.extend(extra);
    }
    let path = format!(
        "/queries/v1/query-request?requestId={}",
        uuid::Uuid::new_v4()
    );
    post(emu, &path, Some(token), &body).await
}

/// A login failure of §4.3: HTTP 200, `success:false`, the code (never 403).
#[track_caller]
fn assert_login_failure(a: &Answer, code: &str) {
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["success"], false, "{}", a.json);
    assert_eq!(a.json["code"], code, "{}", a.json);
    assert!(a.json["data"]["token"].is_null(), "{}", a.json);
}

/// The PAT failure envelope of §4.3, exactly.
#[track_caller]
fn assert_pat_invalid(a: &Answer) {
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json,
        json!({"data": {"nextAction": "RETRY_LOGIN", "authnMethod": "PAT", "signInOptions": {}},
               "code": "394400", "message": "Programmatic access token is invalid.",
               "success": false, "headers": null})
    );
}

/// The §4.5 statement error envelope with `code`.
#[track_caller]
fn assert_statement_error(a: &Answer, code: &str, sql_state: &str) {
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["success"], false, "{}", a.json);
    assert_eq!(a.json["code"], code, "{}", a.json);
    assert_eq!(a.json["data"]["errorCode"], code, "{}", a.json);
    assert_eq!(a.json["data"]["sqlState"], sql_state, "{}", a.json);
    assert!(a.json["data"]["queryId"].is_string(), "{}", a.json);
    assert_eq!(a.json["headers"], Value::Null);
    assert!(
        a.json["code"]
            .as_str()
            .is_some_and(|c| c.parse::<u64>().is_ok()),
        "codes are numeric strings: {}",
        a.json
    );
}

fn rowset(a: &Answer) -> Vec<Vec<Value>> {
    a.json["data"]["rowset"]
        .as_array()
        .expect("rowset")
        .iter()
        .map(|r| r.as_array().expect("row").clone())
        .collect()
}

// ------------------------------------------------------------------------------------------------
// Conformance rows (snowflake-behaviour.md §10), driver halves.

#[tokio::test]
async fn conformance_016_use_role_not_granted_is_003013_success_false() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE ROLE R").await;
    let pat = emu.user_with_pat("U16", None).await;
    let a = login(
        &emu,
        "",
        json!({"LOGIN_NAME": "U16", "AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN", "TOKEN": pat}),
    )
    .await;
    let token = token_of(&a);
    let a = query(&emu, &token, "USE ROLE R").await;
    assert_statement_error(&a, "003013", "42501");
    assert_eq!(
        a.json["message"],
        "SQL access control error:\nRequested role 'R' is not assigned to the executing user.  Specify another role to activate."
    );
    // The session is unchanged and still usable.
    let a = query(&emu, &token, "SELECT CURRENT_ROLE()").await;
    assert_eq!(rowset(&a), vec![vec![json!("PUBLIC")]]);
}

#[tokio::test]
async fn conformance_078_person_pat_without_network_policy_is_390432_success_false() {
    let emu = Emulator::start_with(|c| c.no_default_network_policy = true).await;
    let pat = emu.user_with_pat("U78", None).await;
    let a = login(
        &emu,
        "",
        json!({"LOGIN_NAME": "U78", "AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN", "TOKEN": pat}),
    )
    .await;
    assert_login_failure(&a, "390432");
    assert_eq!(a.json["data"], Value::Null);
    assert_eq!(a.json["message"], "Fail : Network policy is required.");
    // The same PAT in PASSWORD fails the same way (§6.6 applies to both).
    let a = login(&emu, "", json!({"LOGIN_NAME": "U78", "PASSWORD": pat})).await;
    assert_login_failure(&a, "390432");
}

#[tokio::test]
async fn conformance_089_login_role_name_other_with_restricted_token_is_394400() {
    let emu = Emulator::start().await;
    let pat = emu.user_with_pat("U89", Some("R89")).await;
    emu.admin_ok("CREATE ROLE OTHER").await;
    emu.admin_ok("GRANT ROLE OTHER TO USER U89").await;
    let a = login(
        &emu,
        "&roleName=OTHER",
        json!({"LOGIN_NAME": "U89", "AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN", "TOKEN": pat}),
    )
    .await;
    assert_pat_invalid(&a);
    // The restriction role itself is accepted, and is the session's role.
    let a = login(
        &emu,
        "&roleName=R89",
        json!({"LOGIN_NAME": "U89", "AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN", "TOKEN": pat}),
    )
    .await;
    token_of(&a);
    assert_eq!(a.json["data"]["sessionInfo"]["roleName"], "R89");
}

#[tokio::test]
async fn conformance_095_pat_in_password_with_default_authenticator_succeeds() {
    let emu = Emulator::start().await;
    let pat = emu.user_with_pat("U95", Some("R95")).await;
    let a = login(&emu, "", json!({"LOGIN_NAME": "U95", "PASSWORD": pat})).await;
    let token = token_of(&a);
    assert_eq!(a.json["data"]["displayUserName"], "U95");
    let a = query(&emu, &token, "SELECT CURRENT_USER(), CURRENT_ROLE()").await;
    assert_eq!(rowset(&a), vec![vec![json!("U95"), json!("R95")]]);
    // The request log records the session as a PAT session.
    let lines = emu.control_log(0).await;
    let login_line = lines
        .iter()
        .rev()
        .find(|l| l["endpoint"] == "POST /session/v1/login-request")
        .expect("login logged");
    assert_eq!(login_line["auth"], "pat");
    assert_eq!(login_line["user"], "U95");
    assert!(login_line["request_id"].is_string(), "{login_line}");
}

#[tokio::test]
async fn conformance_096_pat_authenticator_with_another_login_name_is_394400() {
    let emu = Emulator::start().await;
    let pat = emu.user_with_pat("U96", None).await;
    emu.user_with_pat("V96", None).await;
    let a = login(
        &emu,
        "",
        json!({"LOGIN_NAME": "V96", "AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN", "TOKEN": pat}),
    )
    .await;
    assert_pat_invalid(&a);
    // An empty LOGIN_NAME takes the user from the token (§4.3).
    let a = login(
        &emu,
        "",
        json!({"LOGIN_NAME": "", "AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN", "TOKEN": pat}),
    )
    .await;
    token_of(&a);
    assert_eq!(a.json["data"]["displayUserName"], "U96");
}

#[tokio::test]
async fn conformance_098_user_locked_by_failed_passwords_still_uses_its_pat() {
    let emu = Emulator::start().await;
    let pat = emu.user_with_pat("U98", None).await;
    emu.admin_ok("ALTER USER U98 SET PASSWORD = 'Correct-Horse-1'")
        .await;
    for _ in 0..5 {
        let a = login(
            &emu,
            "",
            json!({"LOGIN_NAME": "U98", "PASSWORD": "wrong-password"}),
        )
        .await;
        assert_login_failure(&a, "390100");
        assert_eq!(a.json["data"], Value::Null);
    }
    // Locked: even the right password is refused now.
    let a = login(
        &emu,
        "",
        json!({"LOGIN_NAME": "U98", "PASSWORD": "Correct-Horse-1"}),
    )
    .await;
    assert_login_failure(&a, "390100");
    let body = emu.admin_ok("SHOW USER PATS FOR USER U98").await;
    assert_eq!(
        crate::harness::column(&body, "status"),
        vec![json!("ACTIVE")]
    );
    let a = login(
        &emu,
        "",
        json!({"LOGIN_NAME": "U98", "AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN", "TOKEN": pat}),
    )
    .await;
    token_of(&a);
    let (status, body) = emu.sql(&pat, "SELECT CURRENT_USER()").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn conformance_100_select_1_rowtype_and_rowset() {
    let emu = Emulator::start().await;
    let (token, _) = admin_session(&emu).await;
    let a = query(&emu, &token, "select 1").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["success"], true, "{}", a.json);
    assert_eq!(a.json["code"], Value::Null);
    let data = &a.json["data"];
    assert_eq!(
        data["rowtype"],
        json!([{"name": "1", "database": "", "schema": "", "table": "", "nullable": false,
                "length": null, "type": "fixed", "scale": 0, "precision": 1,
                "byteLength": null, "collation": null}])
    );
    assert_eq!(data["rowset"], json!([["1"]]));
    assert_eq!(data["total"], 1);
    assert_eq!(data["returned"], 1);
    assert_eq!(data["statementTypeId"], 4096);
    assert_eq!(data["queryResultFormat"], "json");
    assert_eq!(data["finalRoleName"], "ACCOUNTADMIN");
    assert!(data["queryId"].is_string());
}

// ------------------------------------------------------------------------------------------------
// Login (§4.3).

#[tokio::test]
async fn protocols_4_3_login_answer_has_the_fixture_fields() {
    let emu = Emulator::start().await;
    let a = login(
        &emu,
        "&databaseName=DB1&schemaName=S1&warehouse=WH",
        json!({"LOGIN_NAME": "ADMIN", "AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN", "TOKEN": emu.admin()}),
    )
    .await;
    let token = token_of(&a);
    let data = &a.json["data"];
    assert_eq!(data["validityInSeconds"], 3600);
    assert_eq!(data["masterValidityInSeconds"], 14400);
    assert!(data["masterToken"].as_str().is_some_and(|m| m != token));
    assert!(data["sessionId"].is_u64());
    assert_eq!(
        data["sessionInfo"],
        json!({"databaseName": "DB1", "schemaName": "S1", "warehouseName": "WH", "roleName": "ACCOUNTADMIN"})
    );
    assert!(data["parameters"].is_array());
    assert_eq!(a.json["code"], Value::Null);
    // The session token is not a PAT: it does not authenticate on the SQL API.
    let (status, _) = emu.sql(&token, "SELECT 1").await;
    assert_eq!(status, 401);
    // Nothing secret is logged.
    let log = serde_json::to_string(&emu.control_log(0).await).unwrap();
    assert!(!log.contains(&token));
    assert!(!log.contains(&emu.admin()));
}

#[tokio::test]
async fn protocols_4_3_key_pair_jwt_login() {
    let (emu, pem) = Emulator::start_with_admin_key().await;
    let jwt = keypair_jwt(&pem, "EMULATOR", "ADMIN");
    let a = login(
        &emu,
        "",
        json!({"LOGIN_NAME": "ADMIN", "AUTHENTICATOR": "SNOWFLAKE_JWT", "TOKEN": jwt}),
    )
    .await;
    token_of(&a);
    let a = login(
        &emu,
        "",
        json!({"LOGIN_NAME": "ADMIN", "AUTHENTICATOR": "SNOWFLAKE_JWT", "TOKEN": "a.b.c"}),
    )
    .await;
    assert_login_failure(&a, "390144");
}

#[tokio::test]
async fn protocols_4_3_oauth_login_with_a_pat_fails_as_oauth() {
    let emu = Emulator::start().await;
    let a = login(
        &emu,
        "",
        json!({"LOGIN_NAME": "", "AUTHENTICATOR": "OAUTH", "TOKEN": emu.admin()}),
    )
    .await;
    assert_login_failure(&a, "390303");
    assert_eq!(
        a.json["data"],
        json!({"nextAction": "RETRY_LOGIN", "authnMethod": "OAUTH", "signInOptions": {}})
    );
}

#[tokio::test]
async fn protocols_4_3_credential_failures_are_never_403() {
    let emu = Emulator::start().await;
    for fields in [
        json!({"LOGIN_NAME": "ADMIN", "PASSWORD": "nope"}),
        json!({"LOGIN_NAME": "NOBODY", "PASSWORD": "nope"}),
        json!({"LOGIN_NAME": "ADMIN"}),
        json!({"LOGIN_NAME": "ADMIN", "AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN", "TOKEN": "nope"}),
        json!({"LOGIN_NAME": "ADMIN", "AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN"}),
        json!({"LOGIN_NAME": "ADMIN", "AUTHENTICATOR": "EXTERNALBROWSER"}),
    ] {
        let a = login(&emu, "", fields.clone()).await;
        assert_eq!(a.status, 200, "{fields}: {}", a.json);
        assert_eq!(a.json["success"], false, "{fields}: {}", a.json);
        assert!(
            a.json["code"]
                .as_str()
                .is_some_and(|c| c.parse::<u64>().is_ok()),
            "{fields}: {}",
            a.json
        );
    }
}

#[tokio::test]
async fn protocols_4_3_unrestricted_login_with_an_ungranted_role_is_refused() {
    let emu = Emulator::start().await;
    let pat = emu.user_with_pat("UR", None).await;
    emu.admin_ok("CREATE ROLE NOTMINE").await;
    let a = login(
        &emu,
        "&roleName=NOTMINE",
        json!({"LOGIN_NAME": "UR", "AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN", "TOKEN": pat}),
    )
    .await;
    assert_login_failure(&a, "099926");
}

// ------------------------------------------------------------------------------------------------
// Queries (§4.4, §4.5).

#[tokio::test]
async fn protocols_4_4_use_updates_the_final_context_on_the_driver_path() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE DATABASE D1").await;
    let (token, _) = admin_session(&emu).await;
    // USE is a single statement here (391911 is SQL API only).
    let a = query(&emu, &token, "USE DATABASE D1").await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    assert_eq!(a.json["data"]["finalDatabaseName"], "D1");
    let a = query(&emu, &token, "USE ROLE SECURITYADMIN").await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    assert_eq!(a.json["data"]["finalRoleName"], "SECURITYADMIN");
    assert_eq!(a.json["data"]["finalDatabaseName"], "D1");
    let a = query(&emu, &token, "SELECT CURRENT_ROLE(), CURRENT_DATABASE()").await;
    assert_eq!(rowset(&a), vec![vec![json!("SECURITYADMIN"), json!("D1")]]);
}

#[tokio::test]
async fn protocols_4_5_syntax_and_statement_errors_use_the_envelope() {
    let emu = Emulator::start().await;
    let (token, _) = admin_session(&emu).await;
    let a = query(&emu, &token, "SELEKT 1").await;
    assert_statement_error(&a, "001003", "42000");
    let a = query(&emu, &token, "DROP ROLE NO_SUCH_ROLE").await;
    assert_eq!(a.json["success"], false, "{}", a.json);
    assert_eq!(a.status, 200);
    let a = query(&emu, &token, "").await;
    assert_statement_error(&a, "000900", "42000");
}

#[tokio::test]
async fn protocols_4_4_multi_statement_result_ids_are_fetched_by_get() {
    let emu = Emulator::start().await;
    let (token, _) = admin_session(&emu).await;
    let a = query_with(
        &emu,
        &token,
        json!({"sqlText": "SELECT 1; SELECT CURRENT_USER()", "parameters": {"MULTI_STATEMENT_COUNT": 2}}),
    )
    .await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    let ids: Vec<String> = a.json["data"]["resultIds"]
        .as_str()
        .expect("resultIds")
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(a.json["data"]["resultTypes"], "4096,4096");
    let first = get(&emu, &format!("/queries/{}/result", ids[0]), &token).await;
    assert_eq!(rowset(&first), vec![vec![json!("1")]]);
    let second = get(&emu, &format!("/queries/{}/result", ids[1]), &token).await;
    assert_eq!(rowset(&second), vec![vec![json!("ADMIN")]]);
    // Without MULTI_STATEMENT_COUNT two statements are refused (000008).
    let a = query(&emu, &token, "SELECT 1; SELECT 2").await;
    assert_statement_error(&a, "000008", "0A000");
}

#[tokio::test]
async fn protocols_4_4_async_exec_answers_333334_then_the_result() {
    let emu = Emulator::start().await;
    let (token, _) = admin_session(&emu).await;
    let a = query_with(
        &emu,
        &token,
        json!({"sqlText": "SELECT CURRENT_ROLE()", "asyncExec": true}),
    )
    .await;
    assert_eq!(a.json["code"], "333334", "{}", a.json);
    let qid = a.json["data"]["queryId"]
        .as_str()
        .expect("queryId")
        .to_owned();
    assert_eq!(
        a.json["data"]["getResultUrl"],
        format!("/queries/{qid}/result")
    );
    let status = get(&emu, &format!("/monitoring/queries/{qid}"), &token).await;
    assert_eq!(status.json["data"]["queries"][0]["status"], "SUCCESS");
    let result = get(&emu, &format!("/queries/{qid}/result"), &token).await;
    assert_eq!(rowset(&result), vec![vec![json!("ACCOUNTADMIN")]]);
    // A failed async statement is reported as such.
    let a = query_with(
        &emu,
        &token,
        json!({"sqlText": "USE ROLE NO_SUCH", "asyncExec": true}),
    )
    .await;
    let qid = a.json["data"]["queryId"]
        .as_str()
        .expect("queryId")
        .to_owned();
    let status = get(&emu, &format!("/monitoring/queries/{qid}"), &token).await;
    assert_eq!(
        status.json["data"]["queries"][0]["status"],
        "FAILED_WITH_ERROR"
    );
    // Another user's session cannot read the result.
    let pat = emu.user_with_pat("UA", None).await;
    let other = token_of(
        &login(
            &emu,
            "",
            json!({"AUTHENTICATOR": "PROGRAMMATIC_ACCESS_TOKEN", "TOKEN": pat}),
        )
        .await,
    );
    let result = get(&emu, &format!("/queries/{qid}/result"), &other).await;
    assert_eq!(result.json["code"], "000709", "{}", result.json);
}

#[tokio::test]
async fn protocols_4_4_scripted_faults_apply_on_the_driver_path() {
    let emu = Emulator::start().await;
    let (token, _) = admin_session(&emu).await;
    emu.add_fault("CREATE ROLE", "000630", 1).await;
    let a = query(&emu, &token, "CREATE ROLE FAULTED").await;
    assert_statement_error(&a, "000630", "57014");
    let a = query(&emu, &token, "CREATE ROLE FAULTED").await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    let lines = emu.control_log(0).await;
    let kinds: Vec<&Value> = lines
        .iter()
        .filter(|l| l["endpoint"] == "POST /queries/v1/query-request")
        .map(|l| &l["code"])
        .collect();
    assert_eq!(kinds, vec![&json!("000630"), &json!("090001")]);
}

// ------------------------------------------------------------------------------------------------
// Session life cycle (§4.1).

#[tokio::test]
async fn protocols_4_1_renewal_heartbeat_delete() {
    let emu = Emulator::start().await;
    let (token, login_answer) = admin_session(&emu).await;
    let master = login_answer["data"]["masterToken"]
        .as_str()
        .expect("master")
        .to_owned();
    let a = post(&emu, "/session/heartbeat", Some(&token), &json!({})).await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    // Renewal with the master token gives a new session token; the old one stops working.
    let a = post(
        &emu,
        &format!("/session/token-request?requestId={}", uuid::Uuid::new_v4()),
        Some(&master),
        &json!({"oldSessionToken": token, "requestType": "RENEW"}),
    )
    .await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    let renewed = a.json["data"]["sessionToken"]
        .as_str()
        .expect("sessionToken")
        .to_owned();
    assert_ne!(renewed, token);
    assert!(a.json["data"]["masterValidityInSeconds"].is_u64());
    let a = query(&emu, &token, "SELECT 1").await;
    assert_eq!(a.json["code"], "390111", "{}", a.json);
    let a = query(&emu, &renewed, "SELECT 1").await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    // A session token is not a master token.
    let a = post(
        &emu,
        "/session/token-request",
        Some(&renewed),
        &json!({"oldSessionToken": renewed, "requestType": "RENEW"}),
    )
    .await;
    assert_eq!(a.json["code"], "390114", "{}", a.json);
    // Delete.
    let a = post(&emu, "/session?delete=true", Some(&renewed), &json!({})).await;
    assert_eq!(
        a.json,
        json!({"code": 200, "message": "done", "success": true})
    );
    let a = query(&emu, &renewed, "SELECT 1").await;
    assert_eq!(a.json["success"], false);
    assert_eq!(a.json["code"], "390111");
    // ... and the master token went with it.
    let a = post(
        &emu,
        "/session/token-request",
        Some(&master),
        &json!({"oldSessionToken": renewed, "requestType": "RENEW"}),
    )
    .await;
    assert_eq!(a.json["code"], "390114", "{}", a.json);
}

#[tokio::test]
async fn protocols_4_1_abort_and_telemetry_answer_success() {
    let emu = Emulator::start().await;
    let (token, _) = admin_session(&emu).await;
    let a = post(
        &emu,
        &format!(
            "/queries/v1/abort-request?requestId={}",
            uuid::Uuid::new_v4()
        ),
        Some(&token),
        &json!({"sqlText": "SELECT 1", "requestId": uuid::Uuid::new_v4().to_string()}),
    )
    .await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    let a = post(
        &emu,
        "/telemetry/send",
        Some(&token),
        &json!({"logs": [{"message": {"type": "client_time"}, "timestamp": "1"}]}),
    )
    .await;
    assert_eq!(a.json, json!({"success": true}));
}

#[tokio::test]
async fn protocols_4_2_unknown_or_missing_session_token_is_success_false() {
    let emu = Emulator::start().await;
    for token in [Some("never-issued"), None] {
        let a = query(&emu, token.unwrap_or("None"), "SELECT 1").await;
        assert_eq!(a.status, 200);
        assert_eq!(a.json["success"], false);
        assert_eq!(a.json["code"], "390111");
    }
    // Without any Authorization header.
    let response = emu
        .client
        .post(format!("{}/queries/v1/query-request", emu.url))
        .header("Content-Type", "application/json")
        .body(r#"{"sqlText":"SELECT 1"}"#)
        .send()
        .await
        .expect("sent");
    let a = answer(response).await;
    assert_eq!(a.json["code"], "390111", "{}", a.json);
}

// ------------------------------------------------------------------------------------------------
// Transport and bad input (§4.2).

#[tokio::test]
async fn protocols_4_2_uncompressed_bodies_are_accepted_too() {
    let emu = Emulator::start().await;
    let body = serde_json::to_vec(&login_body(
        json!({"LOGIN_NAME": "ADMIN", "PASSWORD": emu.admin()}),
    ))
    .unwrap();
    let a = post_raw(&emu, "/session/v1/login-request", None, body, false).await;
    let token = token_of(&a);
    let a = post_raw(
        &emu,
        "/queries/v1/query-request",
        Some(&token),
        br#"{"sqlText":"SELECT CURRENT_USER()"}"#.to_vec(),
        false,
    )
    .await;
    assert_eq!(rowset(&a), vec![vec![json!("ADMIN")]]);
}

#[tokio::test]
async fn protocols_4_2_malformed_gzip_and_json_are_400_without_harm() {
    let emu = Emulator::start().await;
    let (token, _) = admin_session(&emu).await;
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "/session/v1/login-request",
            b"\x1f\x8b\x08garbage".to_vec(),
            false,
        ),
        ("/session/v1/login-request", b"{not json".to_vec(), true),
        ("/session/v1/login-request", b"[1,2,3]".to_vec(), true),
        (
            "/session/v1/login-request",
            br#"{"data": "x"}"#.to_vec(),
            true,
        ),
        (
            "/queries/v1/query-request",
            b"\x1f\x8b\x08garbage".to_vec(),
            false,
        ),
        (
            "/queries/v1/query-request",
            b"{\"sqlText\": 5}".to_vec(),
            true,
        ),
        (
            "/queries/v1/query-request",
            br#"{"sqlText":"SELECT 1","parameters":{"MULTI_STATEMENT_COUNT":"x"}}"#.to_vec(),
            true,
        ),
        ("/session/token-request", b"{}".to_vec(), true),
        ("/session/heartbeat", b"\xff\xfe".to_vec(), true),
    ];
    for (path, body, compress) in cases {
        let response = emu
            .client
            .post(format!("{}{path}", emu.url))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .header("Authorization", format!("Snowflake Token=\"{token}\""))
            .body(if compress { gzip(&body) } else { body })
            .send()
            .await
            .expect("sent");
        let a = answer(response).await;
        assert_eq!(a.status, 400, "{path}: {}", a.json);
        assert_eq!(a.json["code"], "390142", "{path}: {}", a.json);
        assert_eq!(a.json["success"], false, "{path}: {}", a.json);
    }
    // A gzip bomb beyond --max-body-bytes is refused, not inflated.
    let bomb = gzip(&vec![b' '; emu.config.max_body_bytes + 10]);
    let a = post_raw(&emu, "/queries/v1/query-request", Some(&token), bomb, false).await;
    // post_raw(.., false) sends no Content-Encoding: it is not JSON either way.
    assert_eq!(a.status, 400);
    let response = emu
        .client
        .post(format!("{}/queries/v1/query-request", emu.url))
        .header("Content-Encoding", "gzip")
        .header("Authorization", format!("Snowflake Token=\"{token}\""))
        .body(gzip(&vec![b' '; emu.config.max_body_bytes + 10]))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 400);
    // The server is still fine.
    let a = query(&emu, &token, "SELECT 1").await;
    assert_eq!(a.json["success"], true, "{}", a.json);
}

#[tokio::test]
async fn interfaces_state_keeps_driver_changes_but_not_driver_sessions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let emu = Emulator::start_with(|c| c.state = Some(state.clone())).await;
    let pat = emu.user_with_pat("UD", None).await;
    let (token, _) = admin_session(&emu).await;
    let a = query(&emu, &token, "CREATE ROLE VIA_DRIVER").await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    let emu = emu.restart().await;
    let (status, body) = emu.sql(&pat, "SHOW ROLES LIKE 'VIA_DRIVER'").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        crate::harness::column(&body, "name"),
        vec![json!("VIA_DRIVER")]
    );
    // Sessions are transport state, kept in memory only: a restart ends them.
    let a = query(&emu, &token, "SELECT 1").await;
    assert_eq!(a.json["code"], "390111", "{}", a.json);
}

#[tokio::test]
async fn protocols_4_4_describe_only_answers_metadata_and_changes_nothing() {
    let emu = Emulator::start().await;
    let (token, _) = admin_session(&emu).await;
    let a = query_with(
        &emu,
        &token,
        json!({"sqlText": "select 1", "describeOnly": true}),
    )
    .await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    assert_eq!(a.json["data"]["rowtype"][0]["name"], "1");
    assert_eq!(a.json["data"]["rowset"], json!([]));
    let a = query_with(
        &emu,
        &token,
        json!({"sqlText": "CREATE ROLE ONLY_DESCRIBED", "describeOnly": true}),
    )
    .await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    assert_eq!(a.json["data"]["rowtype"][0]["name"], "status");
    let body = emu.admin_ok("SHOW ROLES LIKE 'ONLY_DESCRIBED'").await;
    assert_eq!(body["data"], json!([]));
    // A described USE does not move the session either.
    let a = query_with(
        &emu,
        &token,
        json!({"sqlText": "USE ROLE PUBLIC", "describeOnly": true}),
    )
    .await;
    assert_eq!(a.json["success"], true, "{}", a.json);
    let a = query(&emu, &token, "SELECT CURRENT_ROLE()").await;
    assert_eq!(rowset(&a), vec![vec![json!("ACCOUNTADMIN")]]);
}
