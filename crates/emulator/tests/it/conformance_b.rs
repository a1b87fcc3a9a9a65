//! Conformance table rows 56–110 (`snowflake-behaviour.md` §10), driven over HTTP through the SQL
//! API with PAT and key-pair sessions. Rows needing the driver protocol or OAuth (58, 59, 89, 95,
//! 96, 98, 100 and the driver half of 78) are covered elsewhere.

use serde_json::{json, Value};
use snowpat_emulator::engine::PatSessionRules;

use crate::harness::{column, keypair_jwt, public_key_b64, secret_of, sql_bearer, Emulator};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// The error `code` of a body.
fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or("")
}

/// Insists on an SQL API error: HTTP status and code (and sqlState when given).
fn assert_error(got: &(u16, Value), status: u16, want: &str, sql_state: Option<&str>) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(code(&got.1), want, "{}", got.1);
    if let Some(state) = sql_state {
        assert_eq!(got.1["sqlState"], state, "{}", got.1);
    }
}

/// Whether the last Snowflake-facing request in the emulator's log changed the account.
async fn last_executed(emu: &Emulator) -> bool {
    let lines = emu.control_log(0).await;
    let last = lines.last().expect("a logged request");
    last["executed"].as_bool().expect("executed flag")
}

/// Authenticates with a PAT through the SQL API (`SELECT CURRENT_USER()`).
async fn authenticate(emu: &Emulator, secret: &str) -> (u16, Value) {
    emu.sql(secret, "SELECT CURRENT_USER()").await
}

/// ADMIN adds a PAT (`ALTER USER <user> ADD PAT <name> <extra>`) and returns its secret.
async fn add_pat(emu: &Emulator, user: &str, name: &str, extra: &str) -> String {
    let body = emu
        .admin_ok(&format!("ALTER USER {user} ADD PAT {name} {extra}"))
        .await;
    secret_of(&body)
}

/// `SHOW USER PATS FOR USER <user>` as ADMIN.
async fn pats_of(emu: &Emulator, user: &str) -> Value {
    emu.admin_ok(&format!("SHOW USER PATS FOR USER {user}"))
        .await
}

/// Cell `col` of the row whose `name` is `name`, or None when no such row.
fn cell(body: &Value, name: &str, col: &str) -> Option<Value> {
    let names = column(body, "name");
    let values = column(body, col);
    names
        .iter()
        .position(|n| n.as_str() == Some(name))
        .map(|i| values[i].clone())
}

fn names(body: &Value) -> Vec<String> {
    column(body, "name")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Epoch seconds of a timestamp cell (`"1767225600.000000000"`).
fn epoch(cell: &Value) -> f64 {
    cell.as_str()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("timestamp cell {cell}"))
}

/// A database for schema-level objects (authentication policies), created as ADMIN.
async fn policy_db(emu: &Emulator) {
    emu.admin_ok("CREATE DATABASE IF NOT EXISTS CONF_DB").await;
}

/// Creates `CONF_DB.PUBLIC.<name>` with the given clauses.
async fn policy(emu: &Emulator, name: &str, clauses: &str) {
    policy_db(emu).await;
    emu.admin_ok(&format!(
        "CREATE AUTHENTICATION POLICY CONF_DB.PUBLIC.{name} {clauses}"
    ))
    .await;
}

/// [`policy`] `name` with `clauses`, set on the existing user `user`.
async fn policy_on_user(emu: &Emulator, name: &str, clauses: &str, user: &str) {
    policy(emu, name, clauses).await;
    emu.admin_ok(&format!(
        "ALTER USER {user} SET AUTHENTICATION POLICY CONF_DB.PUBLIC.{name}"
    ))
    .await;
}

/// POST to a Cortex endpoint with a bearer PAT → status.
async fn cortex(emu: &Emulator, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = emu
        .client
        .post(format!("{}/api/v2/cortex/{path}", emu.url))
        .bearer_auth(token)
        .header(
            "X-Snowflake-Authorization-Token-Type",
            "PROGRAMMATIC_ACCESS_TOKEN",
        )
        .json(body)
        .send()
        .await
        .expect("request sent");
    let a = crate::harness::answer(response).await;
    (a.status, a.json)
}

fn complete_body() -> Value {
    json!({"model": "claude-sonnet-4-5", "stream": false,
           "messages": [{"role": "user", "content": "Hello"}]})
}

// ---------------------------------------------------------------------------------------------

/// §10 #56, §6.7 S2: a PERSON user's own PAT session adding a PAT for itself is refused in the
/// observed mode and allowed in the documented mode.
#[tokio::test]
async fn conformance_056_pat_session_adds_own_pat() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U56", None).await;
    let got = emu.sql(&secret, "ALTER USER ADD PAT t2").await;
    assert_error(&got, 422, "099413", Some("42501"));
    assert!(!last_executed(&emu).await);
    assert!(!names(&pats_of(&emu, "U56").await).contains(&"T2".to_owned()));

    let emu = Emulator::start_with(|c| c.pat_session_rules = PatSessionRules::Documented).await;
    let secret = emu.user_with_pat("U56", None).await;
    let (status, body) = emu.sql(&secret, "ALTER USER ADD PAT t2").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0][0], "T2");
    assert!(!secret_of(&body).is_empty());
}

/// §10 #57, §6.7 S6: an unrestricted PAT session of AUTO rotates and removes a PAT of user d
/// that AUTO's role owns.
#[tokio::test]
async fn conformance_057_unrestricted_pat_manages_other_users_pat() {
    let emu = Emulator::start().await;
    let auto = emu.user_with_pat("AUTO", None).await;
    emu.admin_ok("CREATE ROLE AUTO_ROLE").await;
    emu.admin_ok("GRANT ROLE AUTO_ROLE TO USER AUTO").await;
    emu.admin_ok("CREATE USER D57 TYPE = PERSON").await;
    add_pat(&emu, "D57", "DT", "DAYS_TO_EXPIRY = 10").await;
    emu.admin_ok("GRANT OWNERSHIP ON USER D57 TO ROLE AUTO_ROLE")
        .await;

    let (status, body) = emu
        .sql_as(&auto, "AUTO_ROLE", "ALTER USER D57 ROTATE PAT DT")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0][0], "DT");
    let (status, body) = emu
        .sql_as(&auto, "AUTO_ROLE", "ALTER USER D57 REMOVE PAT DT")
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, show) = emu
        .sql_as(&auto, "AUTO_ROLE", "SHOW USER PATS FOR USER D57")
        .await;
    assert_eq!(status, 200, "{show}");
    assert!(!names(&show).contains(&"DT".to_owned()), "{show}");
    assert_eq!(names(&show).len(), 1, "the rotated object remains: {show}");
}

/// §10 #60, §6.7 S9: a key-pair session of ADMIN adds a PAT for a SERVICE user with a granted
/// restriction.
#[tokio::test]
async fn conformance_060_keypair_session_adds_service_pat() {
    let (emu, pem) = Emulator::start_with_admin_key().await;
    emu.service_user("SVC60", Some("R60")).await;
    let jwt = keypair_jwt(&pem, "EMULATOR", "ADMIN");
    let (status, body) = emu
        .sql_keypair(&jwt, "ALTER USER SVC60 ADD PAT t ROLE_RESTRICTION = 'R60'")
        .await;
    assert_eq!(status, 200, "{body}");
    let secret = secret_of(&body);
    let (status, body) = authenticate(&emu, &secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["SVC60"]]));
    let lines = emu.control_log(0).await;
    let add = lines
        .iter()
        .find(|l| {
            l["statement_kind"]
                .as_str()
                .is_some_and(|k| k.contains("PAT"))
        })
        .expect("ADD logged");
    assert_eq!(add["auth"], "keypair");
}

/// §10 #61, §6.4: ROTATE with the default grace: three columns; the token keeps its name with
/// a 90-day expiry, the rotated object holds the old secret for 24 h.
#[tokio::test]
async fn conformance_061_rotate_default_grace() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U61 TYPE = PERSON").await;
    add_pat(&emu, "U61", "T", "DAYS_TO_EXPIRY = 90").await;
    let body = emu.admin_ok("ALTER USER U61 ROTATE PAT T").await;
    let cols: Vec<&str> = body["resultSetMetaData"]["rowType"]
        .as_array()
        .expect("rowType")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(cols, ["token_name", "token_secret", "rotated_token_name"]);
    let rotated = body["data"][0][2]
        .as_str()
        .expect("rotated name")
        .to_owned();
    let ms = rotated.strip_prefix("T_ROTATED_").expect("T_ROTATED_<ms>");
    assert!(
        ms.len() >= 13 && ms.chars().all(|c| c.is_ascii_digit()),
        "{rotated}"
    );

    let show = pats_of(&emu, "U61").await;
    assert_eq!(cell(&show, "T", "status").unwrap(), "ACTIVE");
    assert_eq!(cell(&show, &rotated, "status").unwrap(), "ACTIVE");
    assert_eq!(cell(&show, &rotated, "rotated_to").unwrap(), "T");
    assert_eq!(cell(&show, "T", "rotated_to").unwrap(), Value::Null);
    let now = epoch(&cell(&show, &rotated, "created_on").unwrap());
    let t_exp = epoch(&cell(&show, "T", "expires_at").unwrap());
    let r_exp = epoch(&cell(&show, &rotated, "expires_at").unwrap());
    assert!((t_exp - now - (90 * DAY) as f64).abs() < 5.0, "{show}");
    assert!((r_exp - now - (24 * HOUR) as f64).abs() < 5.0, "{show}");
}

/// §10 #62, §6.4: the old secret works during the 24 h grace and not after it.
#[tokio::test]
async fn conformance_062_rotated_secret_grace_window() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U62 TYPE = PERSON").await;
    let old = add_pat(&emu, "U62", "T", "DAYS_TO_EXPIRY = 90").await;
    let body = emu.admin_ok("ALTER USER U62 ROTATE PAT T").await;
    let new = secret_of(&body);
    assert_ne!(old, new);
    emu.advance_clock(23 * HOUR).await;
    let got = authenticate(&emu, &old).await;
    assert_eq!(got.0, 200, "{}", got.1);
    emu.advance_clock(2 * HOUR).await;
    assert_error(&authenticate(&emu, &old).await, 401, "394400", None);
    assert_eq!(authenticate(&emu, &new).await.0, 200);
}

/// §10 #63: a grace of 0 hours expires the rotated object at once.
#[tokio::test]
async fn conformance_063_rotate_with_zero_grace() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U63 TYPE = PERSON").await;
    let old = add_pat(&emu, "U63", "T", "DAYS_TO_EXPIRY = 30").await;
    assert_eq!(authenticate(&emu, &old).await.0, 200);
    let body = emu
        .admin_ok("ALTER USER U63 ROTATE PAT T EXPIRE_ROTATED_TOKEN_AFTER_HOURS = 0")
        .await;
    let rotated = body["data"][0][2].as_str().expect("rotated").to_owned();
    let show = pats_of(&emu, "U63").await;
    assert_eq!(cell(&show, &rotated, "status").unwrap(), "EXPIRED");
    assert_error(&authenticate(&emu, &old).await, 401, "394400", None);
}

/// §10 #64, §6.2: the grace cannot exceed the hours left on the current secret.
#[tokio::test]
async fn conformance_064_grace_beyond_remaining_life() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U64 TYPE = PERSON").await;
    add_pat(&emu, "U64", "T", "DAYS_TO_EXPIRY = 1").await;
    emu.advance_clock(14 * HOUR).await;
    let got = emu
        .sql(
            &emu.admin(),
            "ALTER USER U64 ROTATE PAT T EXPIRE_ROTATED_TOKEN_AFTER_HOURS = 11",
        )
        .await;
    assert_error(&got, 422, "099909", Some("22023"));
    assert!(!last_executed(&emu).await);
    assert_eq!(column(&pats_of(&emu, "U64").await, "name").len(), 1);
    let body = emu
        .admin_ok("ALTER USER U64 ROTATE PAT T EXPIRE_ROTATED_TOKEN_AFTER_HOURS = 9")
        .await;
    assert_eq!(body["data"][0][0], "T");
}

/// §10 #65: ROTATE of a missing token; IF EXISTS succeeds.
#[tokio::test]
async fn conformance_065_rotate_missing_token() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U65 TYPE = PERSON").await;
    let got = emu.sql(&emu.admin(), "ALTER USER U65 ROTATE PAT FOO").await;
    assert_error(&got, 422, "099902", Some("02000"));
    let message = got.1["message"].as_str().unwrap_or("");
    assert!(
        message.contains("Programmatic access token FOO not found"),
        "{message}"
    );
    let (status, body) = emu
        .sql(&emu.admin(), "ALTER USER U65 ROTATE PAT IF EXISTS FOO")
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!last_executed(&emu).await);
    assert!(column(&pats_of(&emu, "U65").await, "name").is_empty());
}

/// §10 #66, §6.4 step 3 and §6.6 step 7: ROTATE does not re-check the restriction, but the new
/// secret fails because the role is no longer granted.
#[tokio::test]
async fn conformance_066_rotate_after_restriction_revoked() {
    let emu = Emulator::start().await;
    emu.user_with_pat("U66", Some("R66")).await;
    emu.admin_ok("REVOKE ROLE R66 FROM USER U66").await;
    let body = emu.admin_ok("ALTER USER U66 ROTATE PAT U66_PAT").await;
    let new = secret_of(&body);
    assert_error(&authenticate(&emu, &new).await, 401, "394400", None);
}

/// §10 #67: MODIFY SET DISABLED = TRUE disables the token.
#[tokio::test]
async fn conformance_067_modify_disable() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U67", None).await;
    emu.admin_ok("ALTER USER U67 MODIFY PAT U67_PAT SET DISABLED = TRUE")
        .await;
    let show = pats_of(&emu, "U67").await;
    assert_eq!(cell(&show, "U67_PAT", "status").unwrap(), "DISABLED");
    assert_error(&authenticate(&emu, &secret).await, 401, "394400", None);
}

/// §10 #68: MODIFY UNSET DISABLED re-enables the token.
#[tokio::test]
async fn conformance_068_modify_unset_disabled() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U68", None).await;
    emu.admin_ok("ALTER USER U68 MODIFY PAT U68_PAT SET DISABLED = TRUE")
        .await;
    assert_eq!(authenticate(&emu, &secret).await.0, 401);
    emu.admin_ok("ALTER USER U68 MODIFY PAT U68_PAT UNSET DISABLED")
        .await;
    let show = pats_of(&emu, "U68").await;
    assert_eq!(cell(&show, "U68_PAT", "status").unwrap(), "ACTIVE");
    let (status, body) = authenticate(&emu, &secret).await;
    assert_eq!(status, 200, "{body}");
}

/// §10 #69: RENAME TO changes the listed name.
#[tokio::test]
async fn conformance_069_modify_rename() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U69 TYPE = PERSON").await;
    add_pat(&emu, "U69", "T", "DAYS_TO_EXPIRY = 5").await;
    emu.admin_ok("ALTER USER U69 MODIFY PAT T RENAME TO T2")
        .await;
    assert_eq!(names(&pats_of(&emu, "U69").await), ["T2"]);
}

/// §10 #70, §5.12.3: a value in UNSET is a syntax error.
#[tokio::test]
async fn conformance_070_unset_with_value_is_syntax_error() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U70 TYPE = PERSON").await;
    add_pat(&emu, "U70", "T", "DAYS_TO_EXPIRY = 5 COMMENT = 'keep'").await;
    let got = emu
        .sql(
            &emu.admin(),
            "ALTER USER U70 MODIFY PAT T UNSET COMMENT = 'x'",
        )
        .await;
    assert_error(&got, 422, "001003", Some("42000"));
    assert!(!last_executed(&emu).await);
    assert_eq!(
        cell(&pats_of(&emu, "U70").await, "T", "comment").unwrap(),
        "keep"
    );
}

/// §10 #71, §5.12.3: a rotated-token object accepts REMOVE but not SET COMMENT.
#[tokio::test]
async fn conformance_071_rotated_object_changes() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U71 TYPE = PERSON").await;
    add_pat(&emu, "U71", "T", "DAYS_TO_EXPIRY = 5").await;
    let body = emu.admin_ok("ALTER USER U71 ROTATE PAT T").await;
    let rotated = body["data"][0][2].as_str().expect("rotated").to_owned();
    let got = emu
        .sql(
            &emu.admin(),
            &format!("ALTER USER U71 MODIFY PAT {rotated} SET COMMENT = 'x'"),
        )
        .await;
    assert_error(&got, 422, "099912", Some("0A000"));
    assert!(!last_executed(&emu).await);
    emu.admin_ok(&format!("ALTER USER U71 REMOVE PAT {rotated}"))
        .await;
    assert_eq!(names(&pats_of(&emu, "U71").await), ["T"]);
}

/// §10 #72, §5.12.4: REMOVE answers the documented status and the secret stops working.
#[tokio::test]
async fn conformance_072_remove_revokes() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U72 TYPE = PERSON").await;
    let secret = add_pat(&emu, "U72", "T", "DAYS_TO_EXPIRY = 5").await;
    assert_eq!(authenticate(&emu, &secret).await.0, 200);
    let body = emu.admin_ok("ALTER USER U72 REMOVE PAT T").await;
    assert_eq!(
        column(&body, "status"),
        [json!("Programmatic access token T successfully removed.")]
    );
    assert_error(&authenticate(&emu, &secret).await, 401, "394400", None);
}

/// §10 #73: REMOVE of a missing token / for a missing user.
#[tokio::test]
async fn conformance_073_remove_missing_token_or_user() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U73 TYPE = PERSON").await;
    let got = emu.sql(&emu.admin(), "ALTER USER U73 REMOVE PAT FOO").await;
    assert_error(&got, 422, "099902", Some("02000"));
    let got = emu
        .sql(&emu.admin(), "ALTER USER GHOST73 REMOVE PAT FOO")
        .await;
    assert_error(&got, 422, "002003", Some("42S02"));
}

/// §10 #74, §4.3: SHOW USER PATS for another user needs OWNERSHIP or MPAM.
#[tokio::test]
async fn conformance_074_show_pats_needs_privilege() {
    let emu = Emulator::start().await;
    let b = emu.user_with_pat("B74", None).await;
    emu.admin_ok("CREATE USER U74 TYPE = PERSON").await;
    let got = emu.sql(&b, "SHOW USER PATS FOR USER U74").await;
    assert_error(&got, 422, "003001", Some("42501"));
    assert!(!last_executed(&emu).await);
}

/// §10 #75, §5.12.5: the ten columns in order, and no secret anywhere.
#[tokio::test]
async fn conformance_075_show_pats_columns_without_secret() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U75", None).await;
    let other = add_pat(&emu, "U75", "SECOND", "DAYS_TO_EXPIRY = 3").await;
    let expected = [
        "name",
        "user_name",
        "role_restriction",
        "expires_at",
        "status",
        "comment",
        "created_on",
        "created_by",
        "mins_to_bypass_network_policy_requirement",
        "rotated_to",
    ];
    for body in [
        pats_of(&emu, "U75").await,
        emu.sql(&secret, "SHOW USER PATS").await.1,
    ] {
        let cols: Vec<&str> = body["resultSetMetaData"]["rowType"]
            .as_array()
            .expect("rowType")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(cols, expected, "{body}");
        assert_eq!(column(&body, "name").len(), 2);
        let text = body.to_string();
        assert!(!text.contains(&secret) && !text.contains(&other));
    }
}

/// §10 #76, §6.1: a token expired more than 7 days ago is no longer listed.
#[tokio::test]
async fn conformance_076_expired_tokens_purged_after_seven_days() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U76 TYPE = PERSON").await;
    add_pat(&emu, "U76", "OLD", "DAYS_TO_EXPIRY = 1").await;
    add_pat(&emu, "U76", "RECENT", "DAYS_TO_EXPIRY = 3").await;
    emu.advance_clock(9 * DAY).await;
    let show = pats_of(&emu, "U76").await;
    assert_eq!(names(&show), ["RECENT"]);
    assert_eq!(cell(&show, "RECENT", "status").unwrap(), "EXPIRED");
}

/// §10 #77, §6.1: disabling the user disables its tokens, and re-enabling the user does not.
#[tokio::test]
async fn conformance_077_user_disable_disables_tokens() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U77 TYPE = PERSON").await;
    add_pat(&emu, "U77", "A", "DAYS_TO_EXPIRY = 5").await;
    add_pat(&emu, "U77", "B", "DAYS_TO_EXPIRY = 5").await;
    emu.admin_ok("ALTER USER U77 SET DISABLED = TRUE").await;
    let status = column(&pats_of(&emu, "U77").await, "status");
    assert_eq!(status, [json!("DISABLED"), json!("DISABLED")]);
    emu.admin_ok("ALTER USER U77 SET DISABLED = FALSE").await;
    let status = column(&pats_of(&emu, "U77").await, "status");
    assert_eq!(status, [json!("DISABLED"), json!("DISABLED")]);
}

/// §10 #78 (SQL API half), §6.5: a PERSON user not subject to a network policy cannot use a PAT
/// under ENFORCED_REQUIRED.
#[tokio::test]
async fn conformance_078_person_pat_needs_network_policy() {
    let emu = Emulator::start_with(|c| c.no_default_network_policy = true).await;
    let secret = emu.user_with_pat("U78", None).await;
    assert_error(&authenticate(&emu, &secret).await, 401, "390432", None);
}

/// §10 #79, §6.5: the MINS_TO_BYPASS window lets the token in until it ends.
#[tokio::test]
async fn conformance_079_bypass_window() {
    let emu = Emulator::start_with(|c| c.no_default_network_policy = true).await;
    emu.admin_ok("CREATE USER U79 TYPE = PERSON").await;
    let secret = add_pat(
        &emu,
        "U79",
        "T",
        "DAYS_TO_EXPIRY = 5 MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT = 60",
    )
    .await;
    emu.advance_clock(30 * 60).await;
    let got = authenticate(&emu, &secret).await;
    assert_eq!(got.0, 200, "{}", got.1);
    emu.advance_clock(31 * 60).await;
    assert_error(&authenticate(&emu, &secret).await, 401, "390432", None);
}

/// A user-level network policy allowing only 10.0.0.0/8.
async fn ten_net_policy(emu: &Emulator, user: &str) {
    policy_db(emu).await;
    emu.admin_ok(
        "CREATE NETWORK RULE CONF_DB.PUBLIC.TEN_NET TYPE = IPV4 VALUE_LIST = ('10.0.0.0/8') MODE = INGRESS",
    )
    .await;
    emu.admin_ok(
        "CREATE NETWORK POLICY TEN_ONLY ALLOWED_NETWORK_RULE_LIST = ('CONF_DB.PUBLIC.TEN_NET')",
    )
    .await;
    emu.admin_ok(&format!("ALTER USER {user} SET NETWORK_POLICY = TEN_ONLY"))
        .await;
}

/// §10 #80, §5.11: the loopback client is not in the user's allowed rule.
#[tokio::test]
async fn conformance_080_network_policy_blocks_address() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U80", None).await;
    ten_net_policy(&emu, "U80").await;
    assert_error(&authenticate(&emu, &secret).await, 401, "099918", None);
}

/// §10 #81, §6.5: NOT_ENFORCED skips the network policy.
#[tokio::test]
async fn conformance_081_not_enforced_skips_network_policy() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U81", None).await;
    ten_net_policy(&emu, "U81").await;
    assert_error(&authenticate(&emu, &secret).await, 401, "099918", None);
    policy_on_user(
        &emu,
        "NOT_ENF",
        "PAT_POLICY = (NETWORK_POLICY_EVALUATION = NOT_ENFORCED)",
        "U81",
    )
    .await;
    let got = authenticate(&emu, &secret).await;
    assert_eq!(got.0, 200, "{}", got.1);
}

/// §10 #82, §6.5: ENFORCED_NOT_REQUIRED lets a service user without any network policy in.
#[tokio::test]
async fn conformance_082_enforced_not_required_service_user() {
    let emu = Emulator::start_with(|c| c.no_default_network_policy = true).await;
    emu.service_user("SVC82", Some("R82")).await;
    policy_on_user(
        &emu,
        "ENR",
        "PAT_POLICY = (NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED)",
        "SVC82",
    )
    .await;
    let secret = add_pat(
        &emu,
        "SVC82",
        "T",
        "ROLE_RESTRICTION = 'R82' DAYS_TO_EXPIRY = 5",
    )
    .await;
    let got = authenticate(&emu, &secret).await;
    assert_eq!(got.0, 200, "{}", got.1);
    assert_eq!(got.1["data"], json!([["SVC82"]]));
}

/// §10 #83, §6.6 step 6: a policy without PAT among its methods refuses an existing token.
#[tokio::test]
async fn conformance_083_methods_policy_refuses_pat() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U83", None).await;
    assert_eq!(authenticate(&emu, &secret).await.0, 200);
    policy_on_user(
        &emu,
        "KP_ONLY",
        "AUTHENTICATION_METHODS = ('KEYPAIR')",
        "U83",
    )
    .await;
    assert_error(&authenticate(&emu, &secret).await, 401, "390202", None);
}

/// §10 #84, §6.6 step 7: a revoked or dropped restriction role invalidates the token, whose SHOW
/// status stays ACTIVE.
#[tokio::test]
async fn conformance_084_restriction_role_revoked_or_dropped() {
    let emu = Emulator::start().await;
    let revoked = emu.user_with_pat("U84A", Some("R84A")).await;
    let dropped = emu.user_with_pat("U84B", Some("R84B")).await;
    assert_eq!(authenticate(&emu, &revoked).await.0, 200);
    assert_eq!(authenticate(&emu, &dropped).await.0, 200);
    emu.admin_ok("REVOKE ROLE R84A FROM USER U84A").await;
    emu.admin_ok("DROP ROLE R84B").await;
    assert_error(&authenticate(&emu, &revoked).await, 401, "394400", None);
    assert_error(&authenticate(&emu, &dropped).await, 401, "394400", None);
    for (user, token) in [("U84A", "U84A_PAT"), ("U84B", "U84B_PAT")] {
        let show = pats_of(&emu, user).await;
        assert_eq!(cell(&show, token, "status").unwrap(), "ACTIVE", "{show}");
    }
}

/// §10 #85, §6.6 step 7: blocking the restriction role invalidates restricted tokens only.
#[tokio::test]
async fn conformance_085_blocked_role_invalidates_restricted_token() {
    let emu = Emulator::start().await;
    let restricted = emu.user_with_pat("U85", Some("R85")).await;
    let unrestricted = add_pat(&emu, "U85", "FREE", "DAYS_TO_EXPIRY = 5").await;
    policy_on_user(&emu, "P85", "", "U85").await;
    assert_eq!(authenticate(&emu, &restricted).await.0, 200);
    emu.admin_ok(
        "ALTER AUTHENTICATION POLICY CONF_DB.PUBLIC.P85 SET PAT_POLICY = (BLOCKED_ROLES_LIST = ('R85'))",
    )
    .await;
    assert_error(&authenticate(&emu, &restricted).await, 401, "394400", None);
    let got = authenticate(&emu, &unrestricted).await;
    assert_eq!(got.0, 200, "{}", got.1);
}

/// §10 #86, §6.6 step 9: lowering MAX_EXPIRY_IN_DAYS below a token's lifetime invalidates it.
#[tokio::test]
async fn conformance_086_lowered_max_expiry() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U86 TYPE = PERSON").await;
    let long = add_pat(&emu, "U86", "LONG", "DAYS_TO_EXPIRY = 90").await;
    let short = add_pat(&emu, "U86", "SHORT", "DAYS_TO_EXPIRY = 20").await;
    policy_on_user(&emu, "P86", "", "U86").await;
    assert_eq!(authenticate(&emu, &long).await.0, 200);
    emu.admin_ok(
        "ALTER AUTHENTICATION POLICY CONF_DB.PUBLIC.P86 SET PAT_POLICY = (DEFAULT_EXPIRY_IN_DAYS = 15, MAX_EXPIRY_IN_DAYS = 30)",
    )
    .await;
    assert_error(&authenticate(&emu, &long).await, 401, "394400", None);
    assert_eq!(authenticate(&emu, &short).await.0, 200);
}

/// §10 #87, §6.6 step 8: turning REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS on invalidates a
/// service user's unrestricted token.
#[tokio::test]
async fn conformance_087_require_restriction_flipped_on() {
    let emu = Emulator::start().await;
    emu.service_user("SVC87", Some("R87")).await;
    policy_on_user(
        &emu,
        "P87",
        "PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)",
        "SVC87",
    )
    .await;
    let secret = add_pat(&emu, "SVC87", "T", "DAYS_TO_EXPIRY = 5").await;
    let restricted = add_pat(
        &emu,
        "SVC87",
        "TR",
        "ROLE_RESTRICTION = 'R87' DAYS_TO_EXPIRY = 5",
    )
    .await;
    let got = authenticate(&emu, &secret).await;
    assert_eq!(got.0, 200, "{}", got.1);
    emu.admin_ok(
        "ALTER AUTHENTICATION POLICY CONF_DB.PUBLIC.P87 SET PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = TRUE)",
    )
    .await;
    assert_error(&authenticate(&emu, &secret).await, 401, "394400", None);
    assert_eq!(authenticate(&emu, &restricted).await.0, 200);
}

/// §10 #88, §6.1: an expired token fails and shows EXPIRED.
#[tokio::test]
async fn conformance_088_expired_token() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U88 TYPE = PERSON").await;
    let secret = add_pat(&emu, "U88", "T", "DAYS_TO_EXPIRY = 2").await;
    emu.advance_clock(2 * DAY - 60).await;
    assert_eq!(authenticate(&emu, &secret).await.0, 200);
    emu.advance_clock(60).await;
    assert_error(&authenticate(&emu, &secret).await, 401, "394400", None);
    assert_eq!(
        cell(&pats_of(&emu, "U88").await, "T", "status").unwrap(),
        "EXPIRED"
    );
}

/// §10 #90, §6.6 step 10: a restricted token accepts only its own role in the body's `role`.
#[tokio::test]
async fn conformance_090_requested_role_with_restriction() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U90", Some("R90")).await;
    emu.admin_ok("CREATE ROLE OTHER90").await;
    emu.admin_ok("GRANT ROLE OTHER90 TO USER U90").await;
    let got = emu
        .sql_as(&secret, "OTHER90", "SELECT CURRENT_ROLE()")
        .await;
    assert_error(&got, 400, "390186", None);
    let (status, body) = emu.sql_as(&secret, "R90", "SELECT CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["R90"]]));
}

/// §10 #91, §6.7 S7/S8: a restricted PAT session's role is fixed and has no secondary roles.
#[tokio::test]
async fn conformance_091_restricted_session_role_fixed() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U91", Some("R91")).await;
    emu.admin_ok("CREATE ROLE OTHER91").await;
    emu.admin_ok("GRANT ROLE OTHER91 TO USER U91").await;
    let (status, body) = emu.sql(&secret, "SELECT CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["R91"]]));
    let got = emu
        .sql_multi(&secret, "USE ROLE OTHER91; SELECT CURRENT_ROLE()", 2)
        .await;
    assert_error(&got, 422, "099920", Some("0A000"));
    let got = emu
        .sql_multi(&secret, "USE SECONDARY ROLES ALL; SELECT CURRENT_ROLE()", 2)
        .await;
    assert_error(&got, 422, "099919", Some("0A000"));
}

/// §10 #92, §4.1: an unrestricted PAT session uses DEFAULT_ROLE and the default secondary roles.
#[tokio::test]
async fn conformance_092_unrestricted_session_secondary_roles() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER U92 TYPE = PERSON").await;
    emu.admin_ok("CREATE ROLE PRIMARY92").await;
    emu.admin_ok("GRANT ROLE PRIMARY92 TO USER U92").await;
    emu.admin_ok("ALTER USER U92 SET DEFAULT_ROLE = PRIMARY92")
        .await;
    let plain = add_pat(&emu, "U92", "FREE", "DAYS_TO_EXPIRY = 5").await;
    emu.admin_ok("CREATE USER V92 TYPE = PERSON").await;
    emu.admin_ok("CREATE ROLE MPAM92").await;
    emu.admin_ok("GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER V92 TO ROLE MPAM92")
        .await;
    emu.admin_ok("GRANT ROLE MPAM92 TO USER U92").await;
    emu.admin_ok("ALTER USER U92 SET DEFAULT_SECONDARY_ROLES = ()")
        .await;
    let got = emu.sql(&plain, "SHOW USER PATS FOR USER V92").await;
    assert_error(&got, 422, "003001", Some("42501"));
    emu.admin_ok("ALTER USER U92 SET DEFAULT_SECONDARY_ROLES = ('ALL')")
        .await;
    let (status, body) = emu.sql(&plain, "SHOW USER PATS FOR USER V92").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = emu.sql(&plain, "SELECT CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["PRIMARY92"]]));
    let (status, body) = emu.sql(&plain, "SELECT CURRENT_SECONDARY_ROLES()").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"][0][0].to_string().contains("MPAM92"), "{body}");
}

/// §10 #93, protocols §1.2: a PAT sent with the OAUTH type header is an invalid OAuth token.
#[tokio::test]
async fn conformance_093_pat_sent_as_oauth() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U93", None).await;
    let got = sql_bearer(&emu, &secret, Some("OAUTH"), "SELECT CURRENT_USER()").await;
    assert_error(&got, 401, "390303", None);
}

/// §10 #94, protocols §1.3: a PAT works with no type header and with PROGRAMMATIC_ACCESS_TOKEN.
#[tokio::test]
async fn conformance_094_pat_with_or_without_type_header() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U94", None).await;
    for kind in [None, Some("PROGRAMMATIC_ACCESS_TOKEN")] {
        let (status, body) = sql_bearer(&emu, &secret, kind, "SELECT CURRENT_USER()").await;
        assert_eq!(status, 200, "{kind:?}: {body}");
        assert_eq!(body["data"], json!([["U94"]]));
    }
}

/// §10 #97, §6.6 step 2: dropping the user invalidates its tokens.
#[tokio::test]
async fn conformance_097_dropped_user_token() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U97", None).await;
    assert_eq!(authenticate(&emu, &secret).await.0, 200);
    emu.admin_ok("DROP USER U97").await;
    assert_error(&authenticate(&emu, &secret).await, 401, "394400", None);
}

/// §10 #99, §5.18: SELECT CURRENT_USER() names its column after the expression.
#[tokio::test]
async fn conformance_099_select_current_user() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U99", None).await;
    for (token, user) in [(secret.as_str(), "U99"), (&emu.admin(), "ADMIN")] {
        let (status, body) = emu.sql(token, "SELECT CURRENT_USER()").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["resultSetMetaData"]["rowType"][0]["name"],
            "CURRENT_USER()"
        );
        assert_eq!(body["data"], json!([[user]]));
    }
}

/// §10 #101, protocols §2.6: USE is refused as a single SQL API statement.
#[tokio::test]
async fn conformance_101_use_role_single_statement() {
    let emu = Emulator::start().await;
    let got = emu.sql(&emu.admin(), "USE ROLE SYSADMIN").await;
    assert_error(&got, 422, "391911", Some("0A000"));
}

/// §10 #102, §5.13: CREATE SECRET needs CREATE SECRET on the schema.
#[tokio::test]
async fn conformance_102_create_secret_needs_privilege() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U102", Some("R102")).await;
    policy_db(&emu).await;
    emu.admin_ok("GRANT USAGE ON DATABASE CONF_DB TO ROLE R102")
        .await;
    emu.admin_ok("GRANT USAGE ON SCHEMA CONF_DB.PUBLIC TO ROLE R102")
        .await;
    let got = emu
        .sql(
            &secret,
            "CREATE SECRET CONF_DB.PUBLIC.S TYPE = GENERIC_STRING SECRET_STRING = 'x'",
        )
        .await;
    assert_error(&got, 422, "003001", Some("42501"));
    emu.admin_ok("GRANT CREATE SECRET ON SCHEMA CONF_DB.PUBLIC TO ROLE R102")
        .await;
    let (status, body) = emu
        .sql(
            &secret,
            "CREATE SECRET CONF_DB.PUBLIC.S TYPE = GENERIC_STRING SECRET_STRING = 'x'",
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// §10 #103, §5.14: CREATE SECURITY INTEGRATION needs CREATE INTEGRATION.
#[tokio::test]
async fn conformance_103_create_integration_needs_privilege() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U103", Some("R103")).await;
    let got = emu
        .sql(
            &secret,
            "CREATE SECURITY INTEGRATION I103 TYPE = EXTERNAL_OAUTH ENABLED = TRUE \
             EXTERNAL_OAUTH_TYPE = CUSTOM EXTERNAL_OAUTH_ISSUER = 'https://idp.example' \
             EXTERNAL_OAUTH_JWS_KEYS_URL = 'https://idp.example/keys' \
             EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM = 'sub' \
             EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE = 'LOGIN_NAME'",
        )
        .await;
    assert_error(&got, 422, "003001", Some("42501"));
}

/// §10 #104, protocols §7.1: without CORTEX_USER (PUBLIC's revoked), Cortex answers 403.
#[tokio::test]
async fn conformance_104_cortex_without_cortex_user() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("U104", Some("R104")).await;
    let got = cortex(&emu, &secret, "inference:complete", &complete_body()).await;
    assert_eq!(got.0, 200, "{}", got.1);
    emu.admin_ok("REVOKE DATABASE ROLE SNOWFLAKE.CORTEX_USER FROM ROLE PUBLIC")
        .await;
    let got = cortex(&emu, &secret, "inference:complete", &complete_body()).await;
    assert_eq!(got.0, 403, "{}", got.1);
}

/// §10 #105, §5.12.5: SHOW USER PATS of a token ADMIN made for a service user.
#[tokio::test]
async fn conformance_105_show_pats_row_fields() {
    let emu = Emulator::start().await;
    emu.service_user("SVC105", Some("R105")).await;
    add_pat(&emu, "SVC105", "t", "ROLE_RESTRICTION='R105'").await;
    let show = pats_of(&emu, "SVC105").await;
    assert_eq!(cell(&show, "T", "user_name").unwrap(), "SVC105");
    assert_eq!(cell(&show, "T", "created_by").unwrap(), "ADMIN");
    assert_eq!(cell(&show, "T", "role_restriction").unwrap(), "R105");
    assert_eq!(cell(&show, "T", "rotated_to").unwrap(), Value::Null);
}

/// §10 #106, §5.12.5: once its creator is dropped, `created_by` shows the creator's numeric id.
#[tokio::test]
async fn conformance_106_created_by_dropped_user() {
    let emu = Emulator::start().await;
    emu.service_user("SVC106", Some("R106")).await;
    let admin2 = emu.user_with_pat("ADMIN2", None).await;
    emu.admin_ok("CREATE ROLE MPAM106").await;
    emu.admin_ok("GRANT ROLE MPAM106 TO USER ADMIN2").await;
    emu.admin_ok("GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER SVC106 TO ROLE MPAM106")
        .await;
    let (status, body) = emu
        .sql_as(
            &admin2,
            "MPAM106",
            "ALTER USER SVC106 ADD PAT t2 ROLE_RESTRICTION = 'R106'",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let show = pats_of(&emu, "SVC106").await;
    assert_eq!(cell(&show, "T2", "created_by").unwrap(), "ADMIN2");
    emu.admin_ok("DROP USER ADMIN2").await;
    let show = pats_of(&emu, "SVC106").await;
    let by = cell(&show, "T2", "created_by").expect("T2 listed");
    let by = by.as_str().expect("text");
    assert!(
        !by.is_empty() && by.chars().all(|c| c.is_ascii_digit()),
        "{by}"
    );
}

/// §10 #107, §5.9.5: a PERSON slot policy without PAT refuses a person's own ADD, not a service
/// user's.
#[tokio::test]
async fn conformance_107_person_slot_policy_without_pat() {
    let (emu, pem) = Emulator::start_with_admin_key().await;
    emu.admin_ok("CREATE USER P107 TYPE = PERSON").await;
    emu.admin_ok(&format!(
        "ALTER USER P107 SET RSA_PUBLIC_KEY = '{}'",
        public_key_b64(&pem)
    ))
    .await;
    emu.service_user("SVC107", Some("R107")).await;
    policy(
        &emu,
        "NO_PAT",
        "AUTHENTICATION_METHODS = ('KEYPAIR', 'PASSWORD')",
    )
    .await;
    emu.admin_ok(
        "ALTER ACCOUNT SET AUTHENTICATION POLICY CONF_DB.PUBLIC.NO_PAT FOR ALL PERSON USERS",
    )
    .await;
    let jwt = keypair_jwt(&pem, "EMULATOR", "P107");
    let got = emu.sql_keypair(&jwt, "ALTER USER ADD PAT t").await;
    assert_error(&got, 422, "099910", Some("42501"));
    let secret = add_pat(&emu, "SVC107", "T", "ROLE_RESTRICTION = 'R107'").await;
    assert!(!secret.is_empty());
}

/// §10 #108, §5.9.5: the SERVICE slot covers LEGACY_SERVICE users.
#[tokio::test]
async fn conformance_108_service_slot_covers_legacy_service() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER L108 TYPE = LEGACY_SERVICE").await;
    let got = emu
        .sql(&emu.admin(), "ALTER USER L108 ADD PAT t DAYS_TO_EXPIRY = 5")
        .await;
    assert_error(&got, 422, "099904", Some("22023"));
    policy(
        &emu,
        "P108",
        "PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)",
    )
    .await;
    emu.admin_ok(
        "ALTER ACCOUNT SET AUTHENTICATION POLICY CONF_DB.PUBLIC.P108 FOR ALL SERVICE USERS",
    )
    .await;
    let secret = add_pat(&emu, "L108", "t", "DAYS_TO_EXPIRY = 5").await;
    assert!(!secret.is_empty());
    assert_eq!(
        cell(&pats_of(&emu, "L108").await, "T", "role_restriction").unwrap(),
        Value::Null
    );
}

/// §10 #109, §5.10: a second user-level policy needs FORCE.
#[tokio::test]
async fn conformance_109_user_policy_replacement_needs_force() {
    let emu = Emulator::start().await;
    emu.service_user("SVC109", Some("R109")).await;
    policy(&emu, "P1", "").await;
    policy(&emu, "P2", "").await;
    emu.admin_ok("ALTER USER SVC109 SET AUTHENTICATION POLICY CONF_DB.PUBLIC.P1")
        .await;
    let got = emu
        .sql(
            &emu.admin(),
            "ALTER USER SVC109 SET AUTHENTICATION POLICY CONF_DB.PUBLIC.P2",
        )
        .await;
    assert_error(&got, 422, "099913", Some("42710"));
    emu.admin_ok("ALTER USER SVC109 SET AUTHENTICATION POLICY CONF_DB.PUBLIC.P2 FORCE")
        .await;
    let body = emu
        .admin_ok("SHOW AUTHENTICATION POLICIES ON USER SVC109")
        .await;
    assert_eq!(column(&body, "name"), [json!("P2")]);
}

/// §10 #110, §5.7: one GRANT of two schema privileges gives two rows.
#[tokio::test]
async fn conformance_110_grant_two_schema_privileges() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE DATABASE D").await;
    emu.admin_ok("CREATE SCHEMA D.S").await;
    emu.admin_ok("CREATE ROLE R110").await;
    emu.admin_ok("GRANT CREATE STAGE, CREATE SECRET ON SCHEMA D.S TO ROLE R110")
        .await;
    let body = emu.admin_ok("SHOW GRANTS TO ROLE R110").await;
    let mut privileges: Vec<String> = column(&body, "privilege")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    privileges.sort();
    assert_eq!(privileges, ["CREATE SECRET", "CREATE STAGE"]);
    assert_eq!(
        column(&body, "granted_on"),
        [json!("SCHEMA"), json!("SCHEMA")]
    );
    assert_eq!(column(&body, "name"), [json!("D.S"), json!("D.S")]);
}
