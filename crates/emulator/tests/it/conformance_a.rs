//! Conformance table rows 1–55 (snowflake-behaviour.md §10), driven over the SQL API v2 with PAT
//! and key-pair sessions. One test per row, named `conformance_NNN_<description>`; where a row has
//! two halves, both are asserted in the one test. Row 16's driver half (login `roleName`) belongs
//! to the driver suite; its SQL API half (422 `003013`) is asserted here.

use serde_json::{json, Value};
use snowpat_emulator::engine::PatSessionRules;

use crate::harness::{column, keypair_jwt, public_key_b64, secret_of, Emulator};

// ------------------------------------------------------------------------------------------------
// Helpers local to this suite.

/// Asserts an SQL error: HTTP 422 with `code` and, where §9 gives one, `sqlState`.
#[track_caller]
fn assert_sql_error(status: u16, body: &Value, code: &str, sql_state: Option<&str>) {
    assert_eq!(status, 422, "expected 422 {code}: {body}");
    assert_eq!(body["code"], code, "{body}");
    if let Some(state) = sql_state {
        assert_eq!(body["sqlState"], state, "{body}");
    }
}

/// Asserts the error message (§9 text) of an SQL error body.
#[track_caller]
fn assert_message(body: &Value, text: &str) {
    assert_eq!(body["message"], text, "{body}");
}

/// Asserts that the error message contains `text` (for §9 texts with an [E] class prefix).
#[track_caller]
fn assert_message_has(body: &Value, text: &str) {
    let message = body["message"].as_str().unwrap_or("");
    assert!(message.contains(text), "{text:?} not in {body}");
}

/// The request log's last line (the request just made) records `code` and no change to the
/// account (`executed: false`, interfaces.md control API log).
async fn assert_logged_unchanged(emu: &Emulator, code: &str) {
    let lines = emu.control_log(0).await;
    let last = lines.last().expect("a log line");
    assert_eq!(last["code"], code, "{last}");
    assert_eq!(last["executed"], false, "{last}");
}

/// The single `status` cell of a DDL answer (§5.19).
#[track_caller]
fn status_text(body: &Value) -> String {
    let cells = column(body, "status");
    assert_eq!(cells.len(), 1, "{body}");
    cells[0].as_str().expect("status is text").to_owned()
}

/// Names of the columns of a result set, in order.
fn column_names(body: &Value) -> Vec<String> {
    body["resultSetMetaData"]["rowType"]
        .as_array()
        .expect("rowType")
        .iter()
        .map(|c| c["name"].as_str().expect("column name").to_owned())
        .collect()
}

fn num_rows(body: &Value) -> u64 {
    body["resultSetMetaData"]["numRows"]
        .as_u64()
        .expect("numRows")
}

/// Rows of a result set as objects keyed by (lowercase) column name.
fn rows(body: &Value) -> Vec<serde_json::Map<String, Value>> {
    let names = column_names(body);
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|row| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.to_ascii_lowercase(), row[i].clone()))
                .collect()
        })
        .collect()
}

/// A statement run with the session's current database and schema given in the request body
/// (protocols §2.4 `database` / `schema`).
async fn sql_in(emu: &Emulator, token: &str, db: &str, statement: &str) -> (u16, Value) {
    let a = emu
        .post_statement(
            token,
            &json!({"statement": statement, "database": db, "schema": "PUBLIC"}),
            "",
        )
        .await;
    (a.status, a.json)
}

/// Same as [`sql_in`], as ADMIN, insisting on 200.
async fn admin_in(emu: &Emulator, db: &str, statement: &str) -> Value {
    let (status, body) = sql_in(emu, &emu.admin(), db, statement).await;
    assert_eq!(status, 200, "{statement}: {body}");
    body
}

/// `SHOW USER PATS FOR USER <user>` as ADMIN.
async fn pats_of(emu: &Emulator, user: &str) -> Vec<serde_json::Map<String, Value>> {
    rows(
        &emu.admin_ok(&format!("SHOW USER PATS FOR USER {user}"))
            .await,
    )
}

/// `SHOW USER PATS FOR USER <user>` in the session of `token` (a role that owns `user`).
async fn pats_via(emu: &Emulator, token: &str, user: &str) -> Vec<serde_json::Map<String, Value>> {
    let (status, body) = emu
        .sql(token, &format!("SHOW USER PATS FOR USER {user}"))
        .await;
    assert_eq!(status, 200, "{body}");
    rows(&body)
}

/// Creates database `db` (and its PUBLIC schema) as ADMIN.
async fn database(emu: &Emulator, db: &str) {
    emu.admin_ok(&format!("CREATE DATABASE {db}")).await;
}

/// Database D and, in it, authentication policy D.PUBLIC.P defined by `clauses` (as ADMIN).
async fn policy_p(emu: &Emulator, clauses: &str) {
    database(emu, "D").await;
    admin_in(
        emu,
        "D",
        &format!("CREATE AUTHENTICATION POLICY p {clauses}"),
    )
    .await;
}

/// Puts the existing user `user` under authentication policy D.PUBLIC.P.
async fn attach_policy_p(emu: &Emulator, user: &str) {
    emu.admin_ok(&format!(
        "ALTER USER {user} SET AUTHENTICATION POLICY D.PUBLIC.P"
    ))
    .await;
}

/// [`policy_p`] with `clauses`, and a PERSON user PERSON under it.
async fn person_under_policy_p(emu: &Emulator, clauses: &str) {
    policy_p(emu, clauses).await;
    emu.admin_ok("CREATE USER person TYPE = PERSON").await;
    attach_policy_p(emu, "person").await;
}

/// Seconds since the epoch of a SHOW timestamp cell (`"<secs>.<9 digits>"`, protocols §2.5).
fn epoch(cell: &Value) -> f64 {
    cell.as_str()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("timestamp cell {cell}"))
}

/// A user with a PAT restricted to `role` whose only grant is `role` (plus PUBLIC): a session in
/// which exactly `role` is active, with no secondary roles (§4.1).
async fn role_session(emu: &Emulator, user: &str, role: &str) -> String {
    emu.user_with_pat(user, Some(role)).await
}

// ------------------------------------------------------------------------------------------------
// Rows 1–10: identifiers, literals, CREATE/DROP basics.

#[tokio::test]
async fn conformance_001_unquoted_role_name_is_stored_uppercase() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let (status, body) = emu.sql(&token, "CREATE ROLE analyst").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(status_text(&body), "Role ANALYST successfully created.");
    let body = emu.admin_ok("SHOW ROLES LIKE 'analyst'").await;
    assert_eq!(column(&body, "name"), vec![json!("ANALYST")]);
}

#[tokio::test]
async fn conformance_002_quoted_role_name_is_a_distinct_role() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE ROLE analyst").await;
    let (status, body) = emu.sql(&emu.admin(), "CREATE ROLE \"Analyst\"").await;
    assert_eq!(status, 200, "{body}");
    let body = emu.admin_ok("SHOW ROLES LIKE 'analyst'").await;
    let mut names: Vec<String> = column(&body, "name")
        .iter()
        .map(|n| n.as_str().expect("name").to_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["ANALYST".to_owned(), "Analyst".to_owned()]);
}

#[tokio::test]
async fn conformance_003_unquoted_name_does_not_resolve_to_mixed_case_role() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE ROLE \"Analyst\"").await;
    let (status, body) = emu
        .sql(&emu.admin(), "GRANT ROLE analyst TO USER ADMIN")
        .await;
    assert_sql_error(status, &body, "002003", Some("42S02"));
    assert_logged_unchanged(&emu, "002003").await;
    assert_message(
        &body,
        "SQL compilation error:\nRole 'ANALYST' does not exist or not authorized.",
    );
    assert!(
        body["message"].as_str().unwrap_or("").contains("'ANALYST'"),
        "{body}"
    );
    // Nothing was granted: "Analyst" has no grantee.
    let body = emu.admin_ok("SHOW GRANTS OF ROLE \"Analyst\"").await;
    assert_eq!(num_rows(&body), 0, "{body}");
}

#[tokio::test]
async fn conformance_004_doubled_quote_inside_quoted_identifier() {
    let emu = Emulator::start().await;
    let (status, body) = emu.sql(&emu.admin(), "CREATE ROLE \"a\"\"b\"").await;
    assert_eq!(status, 200, "{body}");
    let body = emu.admin_ok("SHOW ROLES LIKE 'a\"b'").await;
    assert_eq!(column(&body, "name"), vec![json!("a\"b")]);
}

#[tokio::test]
async fn conformance_005_doubled_single_quote_in_string_literal() {
    let emu = Emulator::start().await;
    let (status, body) = emu
        .sql(&emu.admin(), "CREATE USER u1 COMMENT = 'it''s'")
        .await;
    assert_eq!(status, 200, "{body}");
    let body = emu.admin_ok("SHOW USERS LIKE 'U1'").await;
    assert_eq!(column(&body, "comment"), vec![json!("it's")]);
}

#[tokio::test]
async fn conformance_006_create_existing_role_and_if_not_exists() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    emu.admin_ok("CREATE ROLE R").await;
    let (status, body) = emu.sql(&token, "CREATE ROLE r").await;
    assert_sql_error(status, &body, "002002", Some("42710"));
    assert_logged_unchanged(&emu, "002002").await;
    assert_message(&body, "SQL compilation error:\nObject 'R' already exists.");
    let (status, body) = emu.sql(&token, "CREATE ROLE IF NOT EXISTS r").await;
    assert_eq!(status, 200, "{body}");
    let body = emu.admin_ok("SHOW ROLES LIKE 'R'").await;
    assert_eq!(column(&body, "name"), vec![json!("R")]);
}

#[tokio::test]
async fn conformance_007_useradmin_creates_service_user_and_owns_it() {
    let emu = Emulator::start().await;
    let (status, body) = emu
        .sql_as(&emu.admin(), "USERADMIN", "CREATE USER svc TYPE = SERVICE")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(status_text(&body), "User SVC successfully created.");
    let body = emu.admin_ok("SHOW USERS LIKE 'SVC'").await;
    assert_eq!(column(&body, "type"), vec![json!("SERVICE")]);
    assert_eq!(column(&body, "owner"), vec![json!("USERADMIN")]);
}

#[tokio::test]
async fn conformance_008_public_only_user_cannot_create_user() {
    let emu = Emulator::start().await;
    let pat = emu.user_with_pat("PLAIN8", None).await;
    let (_, body) = emu.sql(&pat, "SELECT CURRENT_ROLE()").await;
    assert_eq!(body["data"], json!([["PUBLIC"]]), "{body}");
    let (status, body) = emu.sql(&pat, "CREATE USER x").await;
    assert_sql_error(status, &body, "003001", Some("42501"));
    assert_message(
        &body,
        "SQL access control error:\nInsufficient privileges to operate on account 'EMULATOR'",
    );
    assert_logged_unchanged(&emu, "003001").await;
    let body = emu.admin_ok("SHOW USERS LIKE 'X'").await;
    assert_eq!(num_rows(&body), 0);
}

#[tokio::test]
async fn conformance_009_service_user_with_password_is_099915() {
    let emu = Emulator::start().await;
    let (status, body) = emu
        .sql(&emu.admin(), "CREATE USER s2 TYPE = SERVICE PASSWORD = 'p'")
        .await;
    assert_sql_error(status, &body, "099915", Some("22023"));
    assert_logged_unchanged(&emu, "099915").await;
    assert_message_has(
        &body,
        "Property PASSWORD cannot be set for a user with TYPE = SERVICE.",
    );
    let body = emu.admin_ok("SHOW USERS LIKE 'S2'").await;
    assert_eq!(num_rows(&body), 0);
}

#[tokio::test]
async fn conformance_010_drop_missing_user_and_if_exists() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let (status, body) = emu.sql(&token, "DROP USER GHOST").await;
    assert_sql_error(status, &body, "002003", Some("42S02"));
    assert_logged_unchanged(&emu, "002003").await;
    assert_message(
        &body,
        "SQL compilation error:\nUser 'GHOST' does not exist or not authorized.",
    );
    let (status, body) = emu.sql(&token, "DROP USER IF EXISTS GHOST").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(num_rows(&body), 1);
}

// ------------------------------------------------------------------------------------------------
// Rows 11–24: privileges, grants, ownership.

#[tokio::test]
async fn conformance_011_alter_user_if_exists_on_missing_user_adds_nothing() {
    let emu = Emulator::start().await;
    let before = pats_of(&emu, "ADMIN").await.len();
    let (status, body) = emu
        .sql(&emu.admin(), "ALTER USER IF EXISTS GHOST ADD PAT t")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(status_text(&body), "Statement executed successfully.");
    assert_logged_unchanged(&emu, "090001").await;
    // No token went anywhere: not to the session user, and no user GHOST appeared.
    let after = pats_of(&emu, "ADMIN").await;
    assert_eq!(after.len(), before);
    assert!(after.iter().all(|r| r["name"] != "T"));
    let body = emu.admin_ok("SHOW USERS LIKE 'GHOST'").await;
    assert_eq!(num_rows(&body), 0);
}

#[tokio::test]
async fn conformance_012_sysadmin_cannot_create_network_policy() {
    let emu = Emulator::start().await;
    let (status, body) = emu
        .sql_as(&emu.admin(), "SYSADMIN", "CREATE NETWORK POLICY np")
        .await;
    assert_sql_error(status, &body, "003001", Some("42501"));
    assert_logged_unchanged(&emu, "003001").await;
    // Not created: creating it now as ACCOUNTADMIN succeeds without IF NOT EXISTS.
    emu.admin_ok("CREATE NETWORK POLICY np").await;
}

#[tokio::test]
async fn conformance_013_create_user_with_unowned_network_policy() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE NETWORK POLICY np ALLOWED_IP_LIST = ('127.0.0.1')")
        .await;
    let (status, body) = emu
        .sql_as(
            &emu.admin(),
            "USERADMIN",
            "CREATE USER u13 NETWORK_POLICY = np",
        )
        .await;
    assert_sql_error(status, &body, "003001", Some("42501"));
    assert_logged_unchanged(&emu, "003001").await;
    let body = emu.admin_ok("SHOW USERS LIKE 'U13'").await;
    assert_eq!(num_rows(&body), 0);
}

#[tokio::test]
async fn conformance_014_role_owner_grants_role_to_user() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE ROLE O").await;
    emu.admin_ok("CREATE ROLE R").await;
    emu.admin_ok("GRANT OWNERSHIP ON ROLE R TO ROLE O").await;
    emu.admin_ok("CREATE USER u").await;
    let pat = role_session(&emu, "OWNER14", "O").await;
    let (status, body) = emu.sql(&pat, "GRANT ROLE R TO USER u").await;
    assert_eq!(status, 200, "{body}");
    let body = emu.admin_ok("SHOW GRANTS OF ROLE R").await;
    let rows = rows(&body);
    assert_eq!(rows.len(), 1, "{body}");
    assert_eq!(rows[0]["granted_to"], "USER");
    assert_eq!(rows[0]["grantee_name"], "U");
}

#[tokio::test]
async fn conformance_015_grant_role_without_ownership_or_manage_grants() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE ROLE R").await;
    emu.admin_ok("CREATE USER u").await;
    let pat = role_session(&emu, "NOBODY15", "NOTHING15").await;
    let (status, body) = emu.sql(&pat, "GRANT ROLE R TO USER u").await;
    assert_sql_error(status, &body, "003001", Some("42501"));
    assert_logged_unchanged(&emu, "003001").await;
    assert_message_has(&body, "Grant not executed: Insufficient privileges.");
    let body = emu.admin_ok("SHOW GRANTS OF ROLE R").await;
    assert_eq!(num_rows(&body), 0, "{body}");
}

#[tokio::test]
async fn conformance_016_use_role_not_granted_is_003013() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE ROLE R").await;
    let pat = emu.user_with_pat("U16", None).await;
    let (status, body) = emu
        .sql_multi(&pat, "USE ROLE R; SELECT CURRENT_ROLE()", 2)
        .await;
    assert_sql_error(status, &body, "003013", Some("42501"));
    assert_logged_unchanged(&emu, "003013").await;
    assert_eq!(
        body["message"],
        "SQL access control error:\nRequested role 'R' is not assigned to the executing user.  Specify another role to activate."
    );
}

#[tokio::test]
async fn conformance_017_accountadmin_cannot_use_ungranted_custom_role() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE ROLE C").await;
    let (status, body) = emu
        .sql_multi(&emu.admin(), "USE ROLE ACCOUNTADMIN; USE ROLE C", 2)
        .await;
    assert_sql_error(status, &body, "003013", Some("42501"));
    assert_logged_unchanged(&emu, "003013").await;
}

#[tokio::test]
async fn conformance_018_ownership_of_role_copy_current_grants() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let (status, body) = emu.sql_as(&token, "SECURITYADMIN", "CREATE ROLE RT").await;
    assert_eq!(status, 200, "{body}");
    emu.admin_ok("CREATE ROLE AUTO").await;
    let (status, body) = emu
        .sql_as(
            &token,
            "SECURITYADMIN",
            "GRANT OWNERSHIP ON ROLE RT TO ROLE AUTO COPY CURRENT GRANTS",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let body = emu.admin_ok("SHOW GRANTS ON ROLE RT").await;
    let ownership: Vec<_> = rows(&body)
        .into_iter()
        .filter(|r| r["privilege"] == "OWNERSHIP")
        .collect();
    assert_eq!(ownership.len(), 1, "{body}");
    assert_eq!(ownership[0]["grantee_name"], "AUTO");
    // AUTO owns RT but was not granted it.
    let body = emu.admin_ok("SHOW GRANTS OF ROLE RT").await;
    assert!(
        rows(&body).iter().all(|r| r["grantee_name"] != "AUTO"),
        "{body}"
    );
}

#[tokio::test]
async fn conformance_019_database_ownership_without_clause_is_099943() {
    let emu = Emulator::start().await;
    database(&emu, "D").await;
    emu.admin_ok("CREATE ROLE X").await;
    emu.admin_ok("CREATE ROLE Y").await;
    emu.admin_ok("GRANT USAGE ON DATABASE D TO ROLE X").await;
    let (status, body) = emu
        .sql(&emu.admin(), "GRANT OWNERSHIP ON DATABASE D TO ROLE Y")
        .await;
    assert_sql_error(status, &body, "099943", Some("0A000"));
    assert_logged_unchanged(&emu, "099943").await;
    assert_message_has(
        &body,
        "Ownership transfer requires REVOKE or COPY CURRENT GRANTS for D.",
    );
    let body = emu.admin_ok("SHOW GRANTS ON DATABASE D").await;
    let owner: Vec<_> = rows(&body)
        .into_iter()
        .filter(|r| r["privilege"] == "OWNERSHIP")
        .collect();
    assert_eq!(owner.len(), 1, "{body}");
    assert_eq!(owner[0]["grantee_name"], "ACCOUNTADMIN");
}

#[tokio::test]
async fn conformance_020_role_ownership_without_clause_doubles_grants_of_role() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let (status, body) = emu.sql_as(&token, "SECURITYADMIN", "CREATE ROLE RT").await;
    assert_eq!(status, 200, "{body}");
    emu.admin_ok("CREATE ROLE AUTO").await;
    emu.admin_ok("CREATE USER u").await;
    let (status, body) = emu
        .sql_as(&token, "SECURITYADMIN", "GRANT ROLE RT TO USER u")
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = emu
        .sql_as(
            &token,
            "SECURITYADMIN",
            "GRANT OWNERSHIP ON ROLE RT TO ROLE AUTO",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let body = emu.admin_ok("SHOW GRANTS OF ROLE RT").await;
    let rows = rows(&body);
    let to_u: Vec<_> = rows.iter().filter(|r| r["grantee_name"] == "U").collect();
    assert_eq!(to_u.len(), 2, "{body}");
    let mut by: Vec<String> = to_u
        .iter()
        .map(|r| r["granted_by"].as_str().expect("granted_by").to_owned())
        .collect();
    by.sort();
    assert_eq!(by, vec!["AUTO".to_owned(), "SECURITYADMIN".to_owned()]);
}

#[tokio::test]
async fn conformance_021_grant_mpam_on_user_shows_in_grants_to_role() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER u").await;
    emu.admin_ok("CREATE ROLE R").await;
    let (status, body) = emu
        .sql(
            &emu.admin(),
            "GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER u TO ROLE R",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let body = emu.admin_ok("SHOW GRANTS TO ROLE R").await;
    let rows = rows(&body);
    assert_eq!(rows.len(), 1, "{body}");
    assert_eq!(
        rows[0]["privilege"],
        "MODIFY PROGRAMMATIC AUTHENTICATION METHODS"
    );
    assert_eq!(rows[0]["granted_on"], "USER");
    assert_eq!(rows[0]["name"], "U");
}

#[tokio::test]
async fn conformance_022_database_role_to_role_not_to_user() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    emu.admin_ok("CREATE ROLE R").await;
    emu.admin_ok("CREATE USER u").await;
    let (status, body) = emu
        .sql(
            &token,
            "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_USER TO ROLE R",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = emu
        .sql(
            &token,
            "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_USER TO USER u",
        )
        .await;
    assert_sql_error(status, &body, "099945", Some("0A000"));
    assert_logged_unchanged(&emu, "099945").await;
    assert_message_has(&body, "Database roles cannot be granted to users.");
}

#[tokio::test]
async fn conformance_023_revoke_nothing_succeeds() {
    let emu = Emulator::start().await;
    database(&emu, "D").await;
    emu.admin_ok("CREATE ROLE R").await;
    let (status, body) = emu
        .sql(&emu.admin(), "REVOKE USAGE ON DATABASE D FROM ROLE R")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(status_text(&body), "Statement executed successfully.");
    let body = emu.admin_ok("SHOW GRANTS TO ROLE R").await;
    assert_eq!(num_rows(&body), 0, "{body}");
}

#[tokio::test]
async fn conformance_024_show_grants_to_user_has_nine_columns() {
    let emu = Emulator::start().await;
    let body = emu.admin_ok("SHOW GRANTS TO USER ADMIN").await;
    assert_eq!(
        column_names(&body),
        vec![
            "created_on",
            "privilege",
            "granted_on",
            "name",
            "role",
            "granted_to",
            "grantee_name",
            "grant_option",
            "granted_by"
        ]
    );
    assert!(
        rows(&body).iter().any(|r| r["role"] == "ACCOUNTADMIN"),
        "{body}"
    );
}

// ------------------------------------------------------------------------------------------------
// Rows 25–35: authentication policies.

const DEFAULT_PAT_POLICY: &str = "{DEFAULT_EXPIRY_IN_DAYS=15, MAX_EXPIRY_IN_DAYS=365, NETWORK_POLICY_EVALUATION=ENFORCED_REQUIRED, REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS=true, REQUIRE_ROLE_RESTRICTION_FOR_PERSON_USERS=false, BLOCKED_ROLES_LIST=[]}";

/// The `value` of property `property` in a DESCRIBE AUTHENTICATION POLICY answer.
fn describe_value(body: &Value, property: &str) -> Value {
    rows(body)
        .into_iter()
        .find(|r| r["property"] == property)
        .unwrap_or_else(|| panic!("property {property} in {body}"))["value"]
        .clone()
}

#[tokio::test]
async fn conformance_025_auth_policy_without_current_database() {
    let emu = Emulator::start().await;
    let (status, body) = emu
        .sql(&emu.admin(), "CREATE AUTHENTICATION POLICY p")
        .await;
    assert_sql_error(status, &body, "099940", Some("22000"));
    assert_logged_unchanged(&emu, "099940").await;
    assert_message_has(&body, "This session does not have a current database");
}

#[tokio::test]
async fn conformance_026_describe_auth_policy_defaults() {
    let emu = Emulator::start().await;
    database(&emu, "D").await;
    admin_in(&emu, "D", "CREATE AUTHENTICATION POLICY p").await;
    let body = admin_in(&emu, "D", "DESCRIBE AUTHENTICATION POLICY p").await;
    assert_eq!(
        column_names(&body),
        vec!["property", "value", "default", "description"]
    );
    let properties: Vec<Value> = column(&body, "property");
    assert_eq!(
        properties,
        [
            "NAME",
            "OWNER",
            "COMMENT",
            "AUTHENTICATION_METHODS",
            "CLIENT_TYPES",
            "CLIENT_POLICY",
            "SECURITY_INTEGRATIONS",
            "MFA_ENROLLMENT",
            "MFA_POLICY",
            "PAT_POLICY",
            "WORKLOAD_IDENTITY_POLICY"
        ]
        .map(|p| json!(p))
        .to_vec()
    );
    assert_eq!(describe_value(&body, "PAT_POLICY"), DEFAULT_PAT_POLICY);
    assert_eq!(describe_value(&body, "AUTHENTICATION_METHODS"), "[ALL]");
}

#[tokio::test]
async fn conformance_027_max_expiry_out_of_range_is_099946() {
    let emu = Emulator::start().await;
    database(&emu, "D").await;
    let (status, body) = sql_in(
        &emu,
        &emu.admin(),
        "D",
        "CREATE AUTHENTICATION POLICY p PAT_POLICY = (MAX_EXPIRY_IN_DAYS = 400)",
    )
    .await;
    assert_sql_error(status, &body, "099946", Some("22023"));
    assert_logged_unchanged(&emu, "099946").await;
    assert_message_has(&body, "Invalid value 400 for property MAX_EXPIRY_IN_DAYS.");
    let (status, body) = sql_in(&emu, &emu.admin(), "D", "DESCRIBE AUTHENTICATION POLICY p").await;
    assert_sql_error(status, &body, "002003", Some("42S02"));
    assert_logged_unchanged(&emu, "002003").await;
}

#[tokio::test]
async fn conformance_028_blocked_roles_list_names_missing_role() {
    let emu = Emulator::start().await;
    database(&emu, "D").await;
    let (status, body) = sql_in(
        &emu,
        &emu.admin(),
        "D",
        "CREATE AUTHENTICATION POLICY p PAT_POLICY = (BLOCKED_ROLES_LIST = ('NOPE'))",
    )
    .await;
    assert_sql_error(status, &body, "002003", Some("42S02"));
    assert_logged_unchanged(&emu, "002003").await;
    let message = body["message"].as_str().unwrap_or("");
    assert!(message.contains("Role 'NOPE' does not exist."), "{body}");
}

#[tokio::test]
async fn conformance_029_pat_policy_fields_separated_by_commas() {
    let emu = Emulator::start().await;
    policy_p(&emu, "PAT_POLICY = ( NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED, DEFAULT_EXPIRY_IN_DAYS = 90 )").await;
    let body = admin_in(&emu, "D", "DESCRIBE AUTHENTICATION POLICY p").await;
    assert_eq!(
        describe_value(&body, "PAT_POLICY"),
        "{DEFAULT_EXPIRY_IN_DAYS=90, MAX_EXPIRY_IN_DAYS=365, NETWORK_POLICY_EVALUATION=ENFORCED_NOT_REQUIRED, REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS=true, REQUIRE_ROLE_RESTRICTION_FOR_PERSON_USERS=false, BLOCKED_ROLES_LIST=[]}"
    );
}

#[tokio::test]
async fn conformance_030_client_policy_without_drivers_is_004800() {
    let emu = Emulator::start().await;
    database(&emu, "D").await;
    let (status, body) = sql_in(
        &emu,
        &emu.admin(),
        "D",
        "CREATE AUTHENTICATION POLICY p CLIENT_TYPES=('SNOWSQL') CLIENT_POLICY=(GO_DRIVER=(MINIMUM_VERSION='1.0.0'))",
    )
    .await;
    assert_sql_error(status, &body, "004800", Some("22023"));
    assert_logged_unchanged(&emu, "004800").await;
    assert!(
        body["message"].as_str().unwrap_or("").contains(
            "Authentication policy can not contain CLIENT_POLICY of 'GO_DRIVER' without including 'DRIVERS' in CLIENT_TYPES."
        ),
        "{body}"
    );
}

#[tokio::test]
async fn conformance_031_alter_account_policy_needs_apply_authentication_policy() {
    let emu = Emulator::start().await;
    database(&emu, "D").await;
    admin_in(&emu, "D", "CREATE AUTHENTICATION POLICY p").await;
    let pat = role_session(&emu, "NOAPPLY31", "NOAPPLY_ROLE").await;
    let (status, body) = emu
        .sql(
            &pat,
            "ALTER ACCOUNT SET AUTHENTICATION POLICY D.PUBLIC.P FOR ALL SERVICE USERS",
        )
        .await;
    assert_sql_error(status, &body, "003001", Some("42501"));
    assert_logged_unchanged(&emu, "003001").await;
    // The SERVICE slot is still empty: ACCOUNTADMIN can set it without FORCE.
    emu.admin_ok("ALTER ACCOUNT SET AUTHENTICATION POLICY D.PUBLIC.P FOR ALL SERVICE USERS")
        .await;
}

#[tokio::test]
async fn conformance_032_occupied_account_slot_needs_force() {
    let emu = Emulator::start().await;
    database(&emu, "D").await;
    admin_in(&emu, "D", "CREATE AUTHENTICATION POLICY p1").await;
    admin_in(
        &emu,
        "D",
        "CREATE AUTHENTICATION POLICY p2 PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)",
    )
    .await;
    emu.service_user("SVC", None).await;
    emu.admin_ok("ALTER ACCOUNT SET AUTHENTICATION POLICY D.PUBLIC.P1 FOR ALL SERVICE USERS")
        .await;
    let token = emu.admin();
    let (status, body) = emu
        .sql(
            &token,
            "ALTER ACCOUNT SET AUTHENTICATION POLICY D.PUBLIC.P2 FOR ALL SERVICE USERS",
        )
        .await;
    assert_sql_error(status, &body, "099913", Some("42710"));
    assert_logged_unchanged(&emu, "099913").await;
    assert_message_has(&body, "Use FORCE or UNSET it first.");
    // p1 still governs SVC: an unrestricted token is refused.
    let (status, body) = emu.sql(&token, "ALTER USER SVC ADD PAT before").await;
    assert_sql_error(status, &body, "099904", Some("22023"));
    assert_logged_unchanged(&emu, "099904").await;
    assert_message_has(
        &body,
        "Role restriction is required when creating a programmatic access token",
    );
    let (status, body) = emu
        .sql(
            &token,
            "ALTER ACCOUNT SET AUTHENTICATION POLICY D.PUBLIC.P2 FOR ALL SERVICE USERS FORCE",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Now p2 governs SVC.
    let (status, body) = emu.sql(&token, "ALTER USER SVC ADD PAT after").await;
    assert_eq!(status, 200, "{body}");
}

/// Rows 33/34: SERVICE slot p1 (requires a restriction), user-level p2 (does not) on SVC.
async fn slot_and_user_policy(emu: &Emulator, force: bool) -> (u16, Value) {
    database(emu, "D").await;
    admin_in(
        emu,
        "D",
        "CREATE AUTHENTICATION POLICY p1 PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = TRUE)",
    )
    .await;
    admin_in(
        emu,
        "D",
        "CREATE AUTHENTICATION POLICY p2 PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)",
    )
    .await;
    emu.service_user("SVC", None).await;
    let force = if force { " FORCE" } else { "" };
    emu.admin_ok(&format!(
        "ALTER ACCOUNT SET AUTHENTICATION POLICY D.PUBLIC.P1 FOR ALL SERVICE USERS{force}"
    ))
    .await;
    emu.admin_ok("ALTER USER SVC SET AUTHENTICATION POLICY D.PUBLIC.P2")
        .await;
    emu.sql(&emu.admin(), "ALTER USER SVC ADD PAT t").await
}

#[tokio::test]
async fn conformance_033_user_level_policy_beats_service_slot() {
    let emu = Emulator::start().await;
    let (status, body) = slot_and_user_policy(&emu, false).await;
    assert_eq!(status, 200, "{body}");
    let pats = pats_of(&emu, "SVC").await;
    assert_eq!(pats.len(), 1);
    assert_eq!(pats[0]["role_restriction"], Value::Null);
}

#[tokio::test]
async fn conformance_034_forced_service_slot_beats_user_level_policy() {
    let emu = Emulator::start().await;
    let (status, body) = slot_and_user_policy(&emu, true).await;
    assert_sql_error(status, &body, "099904", Some("22023"));
    assert_logged_unchanged(&emu, "099904").await;
    assert!(pats_of(&emu, "SVC").await.is_empty());
}

#[tokio::test]
async fn conformance_035_policy_and_user_owner_attaches_by_qualified_name() {
    let emu = Emulator::start().await;
    database(&emu, "D").await;
    admin_in(
        &emu,
        "D",
        "CREATE AUTHENTICATION POLICY P AUTHENTICATION_METHODS = ('PASSWORD')",
    )
    .await;
    emu.admin_ok("CREATE ROLE AUTO").await;
    emu.admin_ok("GRANT OWNERSHIP ON AUTHENTICATION POLICY D.PUBLIC.P TO ROLE AUTO")
        .await;
    emu.admin_ok("CREATE USER u TYPE = PERSON").await;
    emu.admin_ok("GRANT OWNERSHIP ON USER u TO ROLE AUTO").await;
    let pat = role_session(&emu, "AUTO_USER", "AUTO").await;
    // Precondition: AUTO has no USAGE on the policy's database.
    let (status, body) = emu.sql_multi(&pat, "USE DATABASE D; SELECT 1", 2).await;
    assert_sql_error(status, &body, "003001", Some("42501"));
    let (status, body) = emu
        .sql(&pat, "ALTER USER u SET AUTHENTICATION POLICY D.PUBLIC.P")
        .await;
    assert_eq!(status, 200, "{body}");
    // Attached: the policy (PASSWORD only) now refuses PATs for U (ACCOUNTADMIN neither owns U
    // nor holds MPAM on it, so it takes that privilege first, §4.3).
    emu.admin_ok("GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER u TO ROLE ACCOUNTADMIN")
        .await;
    let (status, body) = emu.sql(&emu.admin(), "ALTER USER u ADD PAT t").await;
    assert_sql_error(status, &body, "099910", Some("42501"));
    assert_logged_unchanged(&emu, "099910").await;
    assert_message_has(
        &body,
        "The authentication policy for user U does not allow programmatic access tokens.",
    );
}

// ------------------------------------------------------------------------------------------------
// Rows 36–55: ALTER USER ADD / ROTATE PAT.

#[tokio::test]
async fn conformance_036_person_user_adds_own_pat_in_key_pair_session() {
    let (emu, pem) = Emulator::start_with_admin_key().await;
    emu.admin_ok("CREATE USER p TYPE = PERSON").await;
    emu.admin_ok(&format!(
        "ALTER USER p SET RSA_PUBLIC_KEY = '{}'",
        public_key_b64(&pem)
    ))
    .await;
    let jwt = keypair_jwt(&pem, "EMULATOR", "P");
    let (status, body) = emu
        .sql_keypair(&jwt, "SELECT CURRENT_USER(), CURRENT_ROLE()")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["P", "PUBLIC"]]));
    let mark = emu.log_mark().await;
    let (status, body) = emu.sql_keypair(&jwt, "ALTER USER ADD PAT t").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(column_names(&body), vec!["token_name", "token_secret"]);
    assert_eq!(num_rows(&body), 1);
    assert_eq!(body["data"][0][0], "T");
    assert!(!secret_of(&body).is_empty());
    let lines = emu.control_log(mark).await;
    assert!(
        lines.iter().any(|l| l["auth"] == "keypair"),
        "key-pair session: {lines:?}"
    );
    let pats = pats_of(&emu, "P").await;
    assert_eq!(pats.len(), 1);
    assert_eq!(pats[0]["created_by"], "P");
}

#[tokio::test]
async fn conformance_037_other_user_without_privilege_cannot_add() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER p TYPE = PERSON").await;
    let b = emu.user_with_pat("B", None).await;
    let (status, body) = emu.sql(&b, "ALTER USER p ADD PAT t").await;
    assert_sql_error(status, &body, "003001", Some("42501"));
    assert_logged_unchanged(&emu, "003001").await;
    assert!(pats_of(&emu, "P").await.is_empty());
}

#[tokio::test]
async fn conformance_038_service_user_without_network_policy_is_099911() {
    let emu = Emulator::start_with(|c| c.no_default_network_policy = true).await;
    emu.service_user("SVC", Some("R")).await;
    let (status, body) = emu
        .sql(
            &emu.admin(),
            "ALTER USER SVC ADD PAT t ROLE_RESTRICTION = 'R'",
        )
        .await;
    assert_sql_error(status, &body, "099911", Some("42501"));
    assert_logged_unchanged(&emu, "099911").await;
    assert_message_has(&body, "Network policy is required.");
    assert!(pats_of(&emu, "SVC").await.is_empty());
}

#[tokio::test]
async fn conformance_039_service_user_needs_role_restriction() {
    let emu = Emulator::start().await;
    emu.service_user("SVC", Some("R")).await;
    let (status, body) = emu.sql(&emu.admin(), "ALTER USER SVC ADD PAT t").await;
    assert_sql_error(status, &body, "099904", Some("22023"));
    assert_logged_unchanged(&emu, "099904").await;
    assert_message_has(
        &body,
        "Role restriction is required when creating a programmatic access token",
    );
    assert!(pats_of(&emu, "SVC").await.is_empty());
}

#[tokio::test]
async fn conformance_040_restriction_role_not_granted_is_099905() {
    let emu = Emulator::start().await;
    emu.service_user("SVC", None).await;
    emu.admin_ok("CREATE ROLE r").await;
    let (status, body) = emu
        .sql(
            &emu.admin(),
            "ALTER USER SVC ADD PAT t ROLE_RESTRICTION = 'r'",
        )
        .await;
    assert_sql_error(status, &body, "099905", Some("42501"));
    assert_logged_unchanged(&emu, "099905").await;
    assert_message_has(&body, "Role R is not granted to user SVC");
    assert!(pats_of(&emu, "SVC").await.is_empty());
}

#[tokio::test]
async fn conformance_041_restriction_as_literal_and_identifier() {
    let emu = Emulator::start().await;
    emu.service_user("SVC", Some("r")).await;
    let token = emu.admin();
    let (status, body) = emu
        .sql(&token, "ALTER USER SVC ADD PAT t1 ROLE_RESTRICTION = 'r'")
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = emu
        .sql(&token, "ALTER USER SVC ADD PAT t2 ROLE_RESTRICTION = r")
        .await;
    assert_eq!(status, 200, "{body}");
    let pats = pats_of(&emu, "SVC").await;
    assert_eq!(pats.len(), 2);
    for pat in &pats {
        assert_eq!(pat["role_restriction"], "R", "{pat:?}");
    }
}

#[tokio::test]
async fn conformance_042_service_user_unrestricted_when_policy_allows() {
    let emu = Emulator::start().await;
    policy_p(
        &emu,
        "PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)",
    )
    .await;
    emu.service_user("SVC", None).await;
    attach_policy_p(&emu, "SVC").await;
    let (status, body) = emu.sql(&emu.admin(), "ALTER USER SVC ADD PAT t").await;
    assert_eq!(status, 200, "{body}");
    let pats = pats_of(&emu, "SVC").await;
    assert_eq!(pats.len(), 1);
    assert_eq!(pats[0]["role_restriction"], Value::Null);
}

#[tokio::test]
async fn conformance_043_person_user_restriction_required_by_policy() {
    let emu = Emulator::start().await;
    person_under_policy_p(
        &emu,
        "PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_PERSON_USERS = TRUE)",
    )
    .await;
    let (status, body) = emu.sql(&emu.admin(), "ALTER USER person ADD PAT t").await;
    assert_sql_error(status, &body, "099904", Some("22023"));
    assert_logged_unchanged(&emu, "099904").await;
    assert!(pats_of(&emu, "PERSON").await.is_empty());
}

#[tokio::test]
async fn conformance_044_blocked_role_cannot_be_restriction() {
    let emu = Emulator::start().await;
    policy_p(&emu, "PAT_POLICY = (BLOCKED_ROLES_LIST = ('ACCOUNTADMIN'))").await;
    emu.service_user("SVC", Some("ACCOUNTADMIN")).await;
    attach_policy_p(&emu, "SVC").await;
    let (status, body) = emu
        .sql(
            &emu.admin(),
            "ALTER USER SVC ADD PAT t ROLE_RESTRICTION='ACCOUNTADMIN'",
        )
        .await;
    assert_sql_error(status, &body, "099906", Some("42501"));
    assert_logged_unchanged(&emu, "099906").await;
    assert_message_has(&body, "Role ACCOUNTADMIN is blocked by the authentication policy and cannot be used as a role restriction.");
    assert!(pats_of(&emu, "SVC").await.is_empty());
}

#[tokio::test]
async fn conformance_045_days_to_expiry_out_of_builtin_range() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER person TYPE = PERSON").await;
    for days in [0, 366] {
        let (status, body) = emu
            .sql(
                &emu.admin(),
                &format!("ALTER USER person ADD PAT t DAYS_TO_EXPIRY = {days}"),
            )
            .await;
        assert_sql_error(status, &body, "099907", Some("22023"));
        assert_logged_unchanged(&emu, "099907").await;
        assert_message_has(&body, "DAYS_TO_EXPIRY must be between 1 and 365.");
    }
    assert!(pats_of(&emu, "PERSON").await.is_empty());
}

#[tokio::test]
async fn conformance_046_days_to_expiry_above_policy_max() {
    let emu = Emulator::start().await;
    person_under_policy_p(
        &emu,
        "PAT_POLICY = (DEFAULT_EXPIRY_IN_DAYS = 15 MAX_EXPIRY_IN_DAYS = 30)",
    )
    .await;
    let (status, body) = emu
        .sql(
            &emu.admin(),
            "ALTER USER person ADD PAT t DAYS_TO_EXPIRY = 31",
        )
        .await;
    assert_sql_error(status, &body, "099907", Some("22023"));
    assert_logged_unchanged(&emu, "099907").await;
    assert_message_has(&body, "DAYS_TO_EXPIRY must be between 1 and 30.");
    assert!(pats_of(&emu, "PERSON").await.is_empty());
    emu.admin_ok("ALTER USER person ADD PAT t DAYS_TO_EXPIRY = 30")
        .await;
}

#[tokio::test]
async fn conformance_047_default_expiry_builtin_and_policy() {
    let emu = Emulator::start().await;
    policy_p(&emu, "PAT_POLICY = (DEFAULT_EXPIRY_IN_DAYS = 90)").await;
    emu.admin_ok("CREATE USER builtin TYPE = PERSON").await;
    emu.admin_ok("CREATE USER governed TYPE = PERSON").await;
    attach_policy_p(&emu, "governed").await;
    for (user, days) in [("BUILTIN", 15.0), ("GOVERNED", 90.0)] {
        emu.admin_ok(&format!("ALTER USER {user} ADD PAT t")).await;
        let pats = pats_of(&emu, user).await;
        assert_eq!(pats.len(), 1);
        let life = epoch(&pats[0]["expires_at"]) - epoch(&pats[0]["created_on"]);
        assert!(
            (life - days * 86_400.0).abs() < 1.0,
            "{user}: lifetime {life} s, expected {days} d"
        );
    }
}

#[tokio::test]
async fn conformance_048_mins_to_bypass_above_1440_is_099908() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER person TYPE = PERSON").await;
    let (status, body) = emu
        .sql(
            &emu.admin(),
            "ALTER USER person ADD PAT t MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT = 1441",
        )
        .await;
    assert_sql_error(status, &body, "099908", Some("22023"));
    assert_logged_unchanged(&emu, "099908").await;
    assert_message_has(
        &body,
        "MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT must be between 1 and 1440.",
    );
    assert!(pats_of(&emu, "PERSON").await.is_empty());
}

#[tokio::test]
async fn conformance_049_sixteenth_token_is_099903() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER person TYPE = PERSON").await;
    let text: Vec<String> = (1..=15)
        .map(|i| format!("ALTER USER person ADD PAT t{i}"))
        .collect();
    let (status, body) = emu.sql_multi(&emu.admin(), &text.join(";"), 15).await;
    assert_eq!(status, 200, "{body}");
    emu.admin_ok("ALTER USER person MODIFY PAT t1 SET DISABLED = TRUE")
        .await;
    let (status, body) = emu.sql(&emu.admin(), "ALTER USER person ADD PAT t16").await;
    assert_sql_error(status, &body, "099903", Some("54000"));
    assert_logged_unchanged(&emu, "099903").await;
    assert_message_has(
        &body,
        "Maximum number of programmatic access tokens (15) reached for user PERSON.",
    );
    let pats = pats_of(&emu, "PERSON").await;
    assert_eq!(pats.len(), 15);
    assert!(pats.iter().any(|p| p["status"] == "DISABLED"));
}

#[tokio::test]
async fn conformance_050_expired_token_does_not_count_toward_limit() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER person TYPE = PERSON").await;
    let mut text = vec!["ALTER USER person ADD PAT short DAYS_TO_EXPIRY = 1".to_owned()];
    text.extend((2..=15).map(|i| format!("ALTER USER person ADD PAT t{i} DAYS_TO_EXPIRY = 30")));
    let (status, body) = emu.sql_multi(&emu.admin(), &text.join(";"), 15).await;
    assert_eq!(status, 200, "{body}");
    emu.advance_clock(86_400 + 60).await;
    let pats = pats_of(&emu, "PERSON").await;
    assert_eq!(
        pats.iter().filter(|p| p["status"] == "EXPIRED").count(),
        1,
        "{pats:?}"
    );
    let (status, body) = emu.sql(&emu.admin(), "ALTER USER person ADD PAT t16").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(pats_of(&emu, "PERSON").await.len(), 16);
}

#[tokio::test]
async fn conformance_051_existing_token_name_and_if_not_exists() {
    let emu = Emulator::start().await;
    emu.admin_ok("CREATE USER person TYPE = PERSON").await;
    emu.admin_ok("ALTER USER person ADD PAT T").await;
    let token = emu.admin();
    let (status, body) = emu.sql(&token, "ALTER USER person ADD PAT t").await;
    assert_sql_error(status, &body, "099901", Some("42710"));
    assert_logged_unchanged(&emu, "099901").await;
    assert_message_has(&body, "Programmatic access token T already exists.");
    let (status, body) = emu
        .sql(&token, "ALTER USER person ADD PAT IF NOT EXISTS t")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(column_names(&body), vec!["token_name", "token_secret"]);
    assert_eq!(num_rows(&body), 0);
    assert_eq!(pats_of(&emu, "PERSON").await.len(), 1);
}

#[tokio::test]
async fn conformance_052_policy_without_pat_method_is_099910() {
    let emu = Emulator::start().await;
    person_under_policy_p(&emu, "AUTHENTICATION_METHODS = ('PASSWORD')").await;
    let (status, body) = emu.sql(&emu.admin(), "ALTER USER person ADD PAT t").await;
    assert_sql_error(status, &body, "099910", Some("42501"));
    assert_logged_unchanged(&emu, "099910").await;
    assert_message_has(
        &body,
        "The authentication policy for user PERSON does not allow programmatic access tokens.",
    );
    assert!(pats_of(&emu, "PERSON").await.is_empty());
}

/// Rows 53/54: role AUTOMATION_ROLE owns SERVICE user D, which is granted CORTEX_REST_API_ROLE;
/// PERSON user AUTO holds AUTOMATION_ROLE (its default role).
async fn automation_setup(emu: &Emulator) {
    emu.admin_ok("CREATE ROLE AUTOMATION_ROLE").await;
    emu.admin_ok("CREATE ROLE CORTEX_REST_API_ROLE").await;
    emu.service_user("D", Some("CORTEX_REST_API_ROLE")).await;
    emu.admin_ok("GRANT OWNERSHIP ON USER D TO ROLE AUTOMATION_ROLE")
        .await;
}

#[tokio::test]
async fn conformance_053_restricted_pat_session_restriction_mismatch_is_099421() {
    let emu = Emulator::start().await;
    automation_setup(&emu).await;
    let auto = emu.user_with_pat("AUTO", Some("AUTOMATION_ROLE")).await;
    let (status, body) = emu
        .sql(
            &auto,
            "ALTER USER d ADD PAT x ROLE_RESTRICTION='CORTEX_REST_API_ROLE'",
        )
        .await;
    assert_sql_error(status, &body, "099421", Some("42501"));
    assert_logged_unchanged(&emu, "099421").await;
    assert!(
        body["message"].as_str().unwrap_or("").contains(
            "The specified role restriction CORTEX_REST_API_ROLE does not match the session role AUTOMATION_ROLE."
        ),
        "{body}"
    );
    assert!(pats_via(&emu, &auto, "D").await.is_empty());

    // The rule is S3 of §6.7, observed mode only: under documented rules the same ADD succeeds.
    let emu = Emulator::start_with(|c| c.pat_session_rules = PatSessionRules::Documented).await;
    automation_setup(&emu).await;
    let auto = emu.user_with_pat("AUTO", Some("AUTOMATION_ROLE")).await;
    let (status, body) = emu
        .sql(
            &auto,
            "ALTER USER d ADD PAT x ROLE_RESTRICTION='CORTEX_REST_API_ROLE'",
        )
        .await;
    assert_eq!(status, 200, "documented mode: {body}");
}

#[tokio::test]
async fn conformance_054_unrestricted_pat_session_adds_for_owned_user() {
    let emu = Emulator::start().await;
    automation_setup(&emu).await;
    emu.admin_ok("CREATE USER AUTO TYPE = PERSON DEFAULT_ROLE = AUTOMATION_ROLE")
        .await;
    emu.admin_ok("GRANT ROLE AUTOMATION_ROLE TO USER AUTO")
        .await;
    let body = emu.admin_ok("ALTER USER AUTO ADD PAT auto_pat").await;
    let auto = secret_of(&body);
    let (status, body) = emu
        .sql(
            &auto,
            "ALTER USER d ADD PAT x ROLE_RESTRICTION='CORTEX_REST_API_ROLE'",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let secret = body["data"][0][1].as_str().unwrap_or("");
    assert!(!secret.is_empty(), "{body}");
    let pats = pats_via(&emu, &auto, "D").await;
    assert_eq!(pats.len(), 1);
    assert_eq!(pats[0]["role_restriction"], "CORTEX_REST_API_ROLE");
    assert_eq!(pats[0]["created_by"], "AUTO");
    // The new secret authenticates as D.
    let (status, body) = emu.sql(secret, "SELECT CURRENT_USER()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["D"]]));
}

#[tokio::test]
async fn conformance_055_rotate_own_pat_in_own_pat_session_is_099413() {
    for rules in [PatSessionRules::Observed, PatSessionRules::Documented] {
        let emu = Emulator::start_with(|c| c.pat_session_rules = rules).await;
        let pat = emu.user_with_pat("U", None).await;
        emu.admin_ok("ALTER USER U ADD PAT t").await;
        let (status, body) = emu.sql(&pat, "ALTER USER ROTATE PAT t").await;
        assert_sql_error(status, &body, "099413", Some("42501"));
        assert_logged_unchanged(&emu, "099413").await;
        assert_message_has(&body, "Programmatic access tokens cannot be modified in a session authenticated with a programmatic access token for the same user.");
        // Nothing rotated: no rotated-token object, T still has its original secret row.
        let pats = pats_of(&emu, "U").await;
        assert_eq!(pats.len(), 2, "{rules:?}: {pats:?}");
        assert!(pats.iter().all(|p| p["rotated_to"].is_null()));
    }
}
