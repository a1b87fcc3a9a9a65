//! Engine tests, named after the conformance rows of `snowflake-behaviour.md` §10 they pin.

mod auth_tests;
mod grants_tests;
mod pat_tests;
mod policy_tests;
mod seed_tests;

use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, Duration, TimeZone, Utc};
use secrecy::SecretString;
use snowpat_sql::ast::Grantee;
use snowpat_sql::ast::*;

use super::*;

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

pub(super) fn at(hours: i64) -> Now {
    Now {
        account: t0() + Duration::hours(hours),
        real: t0(),
    }
}

pub(super) fn now() -> Now {
    at(0)
}

pub(super) fn account_with(default_np: bool, rules: PatSessionRules) -> Account {
    Account::new(
        &AccountConfig {
            name: "EMULATOR".into(),
            default_network_policy: default_np,
            pat_session_rules: rules,
        },
        now(),
    )
}

pub(super) fn account() -> Account {
    account_with(true, PatSessionRules::Observed)
}

pub(super) fn admin(a: &Account) -> Session {
    a.internal_session("ADMIN")
        .unwrap_or_else(|| panic!("ADMIN exists"))
}

/// A session of the existing user `user` (its default role), as the engine builds one.
pub(super) fn session_of(a: &Account, user: &str) -> Session {
    a.internal_session(user).unwrap_or_else(|| panic!("{user}"))
}

/// [`session_of`] `user`, authenticated by `auth`.
pub(super) fn session_with(a: &Account, user: &str, auth: AuthMethod) -> Session {
    let mut s = session_of(a, user);
    s.auth = auth;
    s
}

pub(super) fn id(s: &str) -> Ident {
    Ident::new(s)
}

pub(super) fn on(parts: &[&str]) -> ObjectName {
    ObjectName(parts.iter().map(|p| Ident::new(*p)).collect())
}

pub(super) fn prop(name: &str, value: Value) -> Property {
    Property::new(name, value)
}

pub(super) fn s(v: &str) -> Value {
    Value::String(v.into())
}

pub(super) fn name(v: &str) -> Value {
    Value::Name(ObjectName::simple(v))
}

/// Runs a statement, panicking with the error on failure.
pub(super) fn ok(a: &mut Account, sess: &mut Session, st: Statement) -> ResultSet {
    ok_at(a, sess, st, now())
}

pub(super) fn ok_at(a: &mut Account, sess: &mut Session, st: Statement, n: Now) -> ResultSet {
    match a.execute(sess, &st, n) {
        Ok(r) => r,
        Err(e) => panic!("{st:?} failed: {e}"),
    }
}

/// Runs a statement that must fail, answering its code.
pub(super) fn code(a: &mut Account, sess: &mut Session, st: Statement) -> String {
    code_at(a, sess, st, now())
}

pub(super) fn code_at(a: &mut Account, sess: &mut Session, st: Statement, n: Now) -> String {
    match a.execute(sess, &st, n) {
        Ok(r) => panic!("{st:?} unexpectedly succeeded: {r:?}"),
        Err(e) => e.code,
    }
}

pub(super) fn create_role(r: &str) -> Statement {
    Statement::CreateRole {
        or_replace: false,
        if_not_exists: false,
        name: id(r),
        comment: None,
    }
}

pub(super) fn create_user(u: &str, props: Vec<Property>) -> Statement {
    Statement::CreateUser {
        or_replace: false,
        if_not_exists: false,
        name: id(u),
        properties: props,
    }
}

pub(super) fn grant_role_user(r: &str, u: &str) -> Statement {
    Statement::GrantRole {
        role: id(r),
        to: Grantee::User(id(u)),
        with_grant_option: false,
    }
}

pub(super) fn grant_role_role(r: &str, p: &str) -> Statement {
    Statement::GrantRole {
        role: id(r),
        to: Grantee::Role(id(p)),
        with_grant_option: false,
    }
}

pub(super) fn add_pat(
    user: Option<&str>,
    token: &str,
    restriction: Option<&str>,
    days: Option<i64>,
) -> Statement {
    Statement::AlterUser {
        if_exists: false,
        user: user.map(id),
        action: AlterUserAction::AddPat(AddPat {
            if_not_exists: false,
            name: id(token),
            role_restriction: restriction.map(id),
            days_to_expiry: days,
            mins_to_bypass_network_policy_requirement: None,
            comment: None,
        }),
    }
}

pub(super) fn rotate(user: Option<&str>, token: &str, hours: Option<i64>) -> Statement {
    Statement::AlterUser {
        if_exists: false,
        user: user.map(id),
        action: AlterUserAction::RotatePat {
            if_exists: false,
            name: id(token),
            expire_rotated_token_after_hours: hours,
        },
    }
}

pub(super) fn modify(user: Option<&str>, token: &str, change: ModifyPat) -> Statement {
    Statement::AlterUser {
        if_exists: false,
        user: user.map(id),
        action: AlterUserAction::ModifyPat {
            if_exists: false,
            name: id(token),
            change,
        },
    }
}

pub(super) fn remove(user: Option<&str>, token: &str) -> Statement {
    Statement::AlterUser {
        if_exists: false,
        user: user.map(id),
        action: AlterUserAction::RemovePat {
            if_exists: false,
            name: id(token),
        },
    }
}

pub(super) fn show_pats(user: Option<&str>) -> Statement {
    Statement::ShowUserPats {
        for_user: user.map(id),
    }
}

pub(super) fn alter_user_set(u: &str, props: Vec<Property>) -> Statement {
    Statement::AlterUser {
        if_exists: false,
        user: Some(id(u)),
        action: AlterUserAction::Set(props),
    }
}

pub(super) fn select_fn(f: &str) -> Statement {
    Statement::Select(Select {
        items: vec![SelectItem {
            expr: Expr::Function {
                name: f.into(),
                args: vec![],
            },
            alias: None,
        }],
        from: None,
        filter: vec![],
    })
}

pub(super) fn loopback() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

pub(super) fn ctx(role: Option<&str>, channel: Channel) -> AuthContext {
    AuthContext {
        peer: loopback(),
        login_name: None,
        requested_role: role.map(str::to_owned),
        channel,
        jwks: Default::default(),
    }
}

pub(super) fn bearer(secret: &str, ty: Option<TokenType>) -> Credential {
    Credential::Bearer {
        token: SecretString::from(secret.to_owned()),
        token_type: ty,
    }
}

/// Authenticates a PAT secret over the SQL API at the given instant.
pub(super) fn pat_login(a: &mut Account, secret: &str, n: Now) -> Result<Session, AuthError> {
    a.authenticate(
        &bearer(secret, Some(TokenType::ProgrammaticAccessToken)),
        &ctx(None, Channel::SqlApi),
        n,
    )
}

/// The secret of an ADD/ROTATE result.
pub(super) fn secret_of(r: &ResultSet) -> String {
    match r.rows.first().and_then(|row| row.get(1)) {
        Some(Cell::Text(t)) => t.clone(),
        other => panic!("no secret: {other:?}"),
    }
}

pub(super) fn text_at(r: &ResultSet, row: usize, col: &str) -> Option<String> {
    let i = r.columns.iter().position(|c| c.name == col)?;
    match r.rows.get(row)?.get(i)? {
        Cell::Text(t) | Cell::Number(t) => Some(t.clone()),
        Cell::Null => None,
        other => Some(format!("{other:?}")),
    }
}

pub(super) fn ts_at(r: &ResultSet, row: usize, col: &str) -> Option<DateTime<Utc>> {
    let i = r.columns.iter().position(|c| c.name == col)?;
    match r.rows.get(row)?.get(i)? {
        Cell::Timestamp(t) => Some(*t),
        _ => None,
    }
}

/// The row index whose `name` column equals `v`.
pub(super) fn row_named(r: &ResultSet, v: &str) -> Option<usize> {
    (0..r.rows.len()).find(|i| text_at(r, *i, "name").as_deref() == Some(v))
}

/// A database D with schema PUBLIC, made current in ADMIN's session.
pub(super) fn with_db(a: &mut Account, sess: &mut Session) {
    ok(
        a,
        sess,
        Statement::CreateDatabase {
            or_replace: false,
            if_not_exists: false,
            name: id("D"),
            comment: None,
        },
    );
}

/// A network rule and policy allowing loopback, set on user `u` (so it may hold PATs).
pub(super) fn give_network_policy(a: &mut Account, sess: &mut Session, u: &str) {
    if a.catalog
        .object_id(Kind::Database, &["D".to_owned()])
        .is_none()
    {
        with_db(a, sess);
    }
    ok(
        a,
        sess,
        Statement::CreateNetworkRule {
            or_replace: true,
            if_not_exists: false,
            name: on(&["D", "PUBLIC", "LOCAL"]),
            properties: vec![
                prop("TYPE", name("IPV4")),
                prop("VALUE_LIST", Value::List(vec![s("127.0.0.0/8")])),
                prop("MODE", name("INGRESS")),
            ],
        },
    );
    ok(
        a,
        sess,
        Statement::CreateNetworkPolicy {
            or_replace: true,
            if_not_exists: false,
            name: id("NP_LOCAL"),
            properties: vec![prop(
                "ALLOWED_NETWORK_RULE_LIST",
                Value::List(vec![s("D.PUBLIC.LOCAL")]),
            )],
        },
    );
    ok(
        a,
        sess,
        alter_user_set(u, vec![prop("NETWORK_POLICY", name("NP_LOCAL"))]),
    );
}

/// A SERVICE user `SVC` granted role `R`, with a loopback network policy.
pub(super) fn service_user(a: &mut Account, sess: &mut Session) {
    ok(a, sess, create_role("R"));
    ok(
        a,
        sess,
        create_user("SVC", vec![prop("TYPE", name("SERVICE"))]),
    );
    ok(a, sess, grant_role_user("R", "SVC"));
    give_network_policy(a, sess, "SVC");
}

#[test]
fn bootstrap_account_round_trips_through_serde() {
    let a = account();
    let json = serde_json::to_string(&a).unwrap_or_default();
    let back: Account = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.name(), "EMULATOR");
    assert_eq!(back.catalog.users.len(), 1);
    assert!(back.catalog.account_network_policy.is_some());
    let b = account_with(false, PatSessionRules::Documented);
    assert!(b.catalog.account_network_policy.is_none());
    assert_eq!(b.pat_session_rules(), PatSessionRules::Documented);
    let mut restored: Account =
        serde_json::from_str(&serde_json::to_string(&b).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    restored.apply_config(&AccountConfig {
        name: "EMULATOR".into(),
        default_network_policy: false,
        pat_session_rules: PatSessionRules::Observed,
    });
    assert_eq!(restored.pat_session_rules(), PatSessionRules::Observed);
}

#[test]
fn conformance_099_select_current_user_and_role() {
    let mut a = account();
    let mut sess = admin(&a);
    let r = ok(&mut a, &mut sess, select_fn("CURRENT_USER"));
    assert_eq!(r.columns[0].name, "CURRENT_USER()");
    assert_eq!(text_at(&r, 0, "CURRENT_USER()").as_deref(), Some("ADMIN"));
    assert!(!r.changed);
    let r = ok(&mut a, &mut sess, select_fn("CURRENT_ROLE"));
    assert_eq!(
        text_at(&r, 0, "CURRENT_ROLE()").as_deref(),
        Some("ACCOUNTADMIN")
    );
    let r = ok(&mut a, &mut sess, select_fn("CURRENT_TIMESTAMP"));
    assert_eq!(ts_at(&r, 0, "CURRENT_TIMESTAMP()"), Some(t0()));
    let r = ok(&mut a, &mut sess, select_fn("CURRENT_AVAILABLE_ROLES"));
    let roles: Vec<String> =
        serde_json::from_str(&text_at(&r, 0, "CURRENT_AVAILABLE_ROLES()").unwrap_or_default())
            .unwrap_or_default();
    assert!(roles.contains(&"ACCOUNTADMIN".to_owned()) && roles.contains(&"USERADMIN".to_owned()));
}

#[test]
fn select_one_is_fixed_precision_one() {
    let mut a = account();
    let mut sess = admin(&a);
    let r = ok(
        &mut a,
        &mut sess,
        Statement::Select(Select {
            items: vec![SelectItem {
                expr: Expr::Number("1".into()),
                alias: None,
            }],
            from: None,
            filter: vec![],
        }),
    );
    assert_eq!(r.columns[0].name, "1");
    assert_eq!(
        r.columns[0].ty,
        ColumnType::Fixed {
            precision: 1,
            scale: 0
        }
    );
    assert_eq!(r.rows, vec![vec![Cell::Number("1".into())]]);
}

#[test]
fn cortex_allowed_follows_public_cortex_user_grant() {
    let mut a = account();
    let mut sess = admin(&a);
    assert!(a.cortex_allowed(&sess));
    ok(
        &mut a,
        &mut sess,
        Statement::RevokeDatabaseRole {
            role: on(&["SNOWFLAKE", "CORTEX_USER"]),
            from: Grantee::Role(id("PUBLIC")),
        },
    );
    assert!(!a.cortex_allowed(&sess));
    ok(&mut a, &mut sess, create_role("R"));
    ok(
        &mut a,
        &mut sess,
        Statement::GrantDatabaseRole {
            role: on(&["SNOWFLAKE", "CORTEX_REST_API_USER"]),
            to: Grantee::Role(id("R")),
        },
    );
    ok(&mut a, &mut sess, grant_role_role("R", "ACCOUNTADMIN"));
    assert!(a.cortex_allowed(&sess));
}

/// Parses and runs one statement of SQL text at an instant (parse errors become 001003).
pub(super) fn run_at(
    a: &mut Account,
    sess: &mut Session,
    text: &str,
    n: Now,
) -> Result<ResultSet, SqlError> {
    match snowpat_sql::parse_statement(text) {
        Ok(st) => a.execute(sess, &st, n),
        Err(e) => Err(SqlError::new(
            "001003",
            "42000",
            format!("SQL compilation error:\n{e}"),
        )),
    }
}

pub(super) fn run(a: &mut Account, sess: &mut Session, text: &str) -> Result<ResultSet, SqlError> {
    run_at(a, sess, text, now())
}

/// Runs SQL text that must succeed.
pub(super) fn sql(a: &mut Account, sess: &mut Session, text: &str) -> ResultSet {
    match run(a, sess, text) {
        Ok(r) => r,
        Err(e) => panic!("{text} failed: {e}"),
    }
}

/// Runs SQL text that must fail, answering its code.
pub(super) fn sql_code(a: &mut Account, sess: &mut Session, text: &str) -> String {
    match run(a, sess, text) {
        Ok(r) => panic!("{text} unexpectedly succeeded: {r:?}"),
        Err(e) => e.code,
    }
}

/// Every statement form, run by ADMIN and by a user holding only PUBLIC, in a session with and
/// without a current database: each answers a result or a catalogued error, never a panic, and
/// a failed statement leaves the account unchanged.
#[test]
fn every_statement_form_answers_without_panicking() {
    let texts = [
        "CREATE USER u1 PASSWORD = 'x' DEFAULT_ROLE = r1 DEFAULT_NAMESPACE = 'd.s' TYPE = PERSON",
        "CREATE OR REPLACE USER u1",
        "ALTER USER u1 RENAME TO u2",
        "ALTER USER u2 SET COMMENT = 'c' DAYS_TO_EXPIRY = 3 MINS_TO_UNLOCK = 0",
        "ALTER USER u2 UNSET COMMENT, DEFAULT_ROLE",
        "DESCRIBE USER u2",
        "CREATE ROLE r1 COMMENT = 'x'",
        "GRANT ROLE r1 TO ROLE SYSADMIN",
        "GRANT ROLE r1 TO USER u2",
        "REVOKE ROLE r1 FROM USER u2",
        "CREATE DATABASE d",
        "CREATE SCHEMA d.s",
        "USE SCHEMA d.s",
        "USE DATABASE d",
        "GRANT USAGE ON DATABASE d TO ROLE r1 WITH GRANT OPTION",
        "GRANT ALL ON SCHEMA d.s TO ROLE r1",
        "REVOKE ALL ON SCHEMA d.s FROM ROLE r1 CASCADE",
        "GRANT OWNERSHIP ON ALL SECRETS IN SCHEMA d.s TO ROLE r1",
        "CREATE AUTHENTICATION POLICY d.s.p MFA_POLICY = (ALLOWED_METHODS = ('PASSKEY')) WORKLOAD_IDENTITY_POLICY = (ALLOWED_PROVIDERS = ('AWS'))",
        "SHOW AUTHENTICATION POLICIES IN SCHEMA d.s",
        "SHOW AUTHENTICATION POLICIES IN DATABASE d",
        "ALTER ACCOUNT SET AUTHENTICATION POLICY d.s.p",
        "ALTER ACCOUNT UNSET AUTHENTICATION POLICY",
        "ALTER ACCOUNT SET NETWORK_POLICY = EMULATOR_LOOPBACK",
        "ALTER ACCOUNT SET TIMEZONE = 'UTC'",
        "ALTER ACCOUNT UNSET TIMEZONE",
        "CREATE NETWORK RULE d.s.nr TYPE = HOST_PORT VALUE_LIST = ('example.com:443') MODE = EGRESS",
        "DROP NETWORK RULE d.s.nr",
        "CREATE SECRET d.s.sec TYPE = GENERIC_STRING SECRET_STRING = 'x'",
        "ALTER SECRET d.s.sec SET SECRET_STRING = 'y' COMMENT = 'z'",
        "DESCRIBE SECRET d.s.sec",
        "DROP SECRET d.s.sec",
        "CREATE SECURITY INTEGRATION i TYPE = OAUTH OAUTH_CLIENT = CUSTOM OAUTH_CLIENT_TYPE = 'CONFIDENTIAL' OAUTH_REDIRECT_URI = 'https://x'",
        "ALTER SECURITY INTEGRATION i SET ENABLED = TRUE",
        "SHOW INTEGRATIONS",
        "DROP INTEGRATION i",
        "CREATE COMPUTE POOL pool MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS",
        "CREATE STAGE d.s.st",
        "CREATE IMAGE REPOSITORY d.s.repo",
        "CREATE SERVICE d.s.svc IN COMPUTE POOL pool FROM SPECIFICATION $$spec: {endpoints: [{public: true}]}$$",
        "GRANT OWNERSHIP ON SERVICE d.s.svc TO ROLE r1",
        "SHOW SERVICES IN SCHEMA d.s",
        "DROP SERVICE d.s.svc",
        "SHOW DATABASE ROLES IN DATABASE SNOWFLAKE",
        "SHOW GRANTS TO DATABASE ROLE SNOWFLAKE.CORTEX_USER",
        "SHOW GRANTS ON ACCOUNT",
        "SHOW GRANTS ON SCHEMA d.s",
        "SHOW PARAMETERS",
        "SHOW TERSE USERS STARTS WITH 'A' LIMIT 1",
        "SHOW TERSE ROLES LIMIT 2 FROM 'B'",
        "SHOW DATABASES",
        "SHOW SCHEMAS IN DATABASE d",
        "SHOW NETWORK POLICIES",
        "SHOW NETWORK RULES IN ACCOUNT",
        "ALTER SESSION SET QUERY_TAG = 'x'",
        "ALTER SESSION UNSET QUERY_TAG",
        "USE WAREHOUSE wh",
        "USE SECONDARY ROLES ALL",
        "USE SECONDARY ROLES NONE",
        "SELECT CURRENT_ACCOUNT(), CURRENT_WAREHOUSE() AS w, 'a', TRUE, NULL, 1.50",
        "SELECT NO_SUCH_FUNCTION()",
        "SELECT x FROM t",
        "SELECT credential_id, CURRENT_USER() FROM snowflake.account_usage.credentials WHERE type = 'PAT' AND status = CURRENT_ROLE()",
        "DROP AUTHENTICATION POLICY d.s.p",
        "DROP SCHEMA d.s",
        "DROP DATABASE d",
        "DROP ROLE r1",
        "DROP USER u2",
        "BEGIN",
        "COMMIT",
    ];
    for with_admin in [true, false] {
        let mut a = account();
        let mut adm = admin(&a);
        sql(&mut a, &mut adm, "CREATE USER plain");
        let mut sess = if with_admin {
            adm
        } else {
            session_of(&a, "PLAIN")
        };
        for text in texts {
            let st = match snowpat_sql::parse_statement(text) {
                Ok(st) => st,
                Err(e) => panic!("{text} does not parse: {e}"),
            };
            let before = serde_json::to_string(&a).unwrap_or_default();
            match a.execute(&mut sess, &st, now()) {
                Ok(r) => {
                    let after = serde_json::to_string(&a).unwrap_or_default();
                    if !r.changed {
                        assert_eq!(
                            before, after,
                            "{text} changed the account but said it did not"
                        );
                    }
                }
                Err(e) => {
                    assert!(
                        e.code.len() == 6 && e.code.chars().all(|c| c.is_ascii_digit()),
                        "{text}: {e}"
                    );
                    let after = serde_json::to_string(&a).unwrap_or_default();
                    assert_eq!(before, after, "{text} failed but changed the account: {e}");
                }
            }
        }
    }
}
