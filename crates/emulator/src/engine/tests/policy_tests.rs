//! Authentication policies, effective policy resolution, ALTER ACCOUNT (§5.9, §5.10).

use super::*;

fn describe_value(r: &ResultSet, property: &str) -> Option<String> {
    let i = (0..r.rows.len()).find(|i| text_at(r, *i, "property").as_deref() == Some(property))?;
    text_at(r, i, "value")
}

fn with_d() -> (Account, Session) {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE DATABASE d");
    (a, sess)
}

#[test]
fn conformance_025_no_current_database() {
    let mut a = account();
    let mut sess = admin(&a);
    let e = run(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY p").unwrap_err();
    assert_eq!((e.code.as_str(), e.sql_state.as_str()), ("099940", "22000"));
}

#[test]
fn conformance_026_describe_defaults() {
    let (mut a, mut sess) = with_d();
    let r = sql(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY p");
    assert_eq!(
        text_at(&r, 0, "status").as_deref(),
        Some("Authentication policy P successfully created.")
    );
    let d = sql(&mut a, &mut sess, "DESCRIBE AUTHENTICATION POLICY p");
    assert_eq!(
        d.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["property", "value", "default", "description"]
    );
    let pat = describe_value(&d, "PAT_POLICY").unwrap_or_default();
    assert!(pat.contains("DEFAULT_EXPIRY_IN_DAYS=15"), "{pat}");
    assert!(pat.contains("MAX_EXPIRY_IN_DAYS=365"));
    assert!(pat.contains("NETWORK_POLICY_EVALUATION=ENFORCED_REQUIRED"));
    assert!(pat.contains("REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS=true"));
    assert!(pat.contains("REQUIRE_ROLE_RESTRICTION_FOR_PERSON_USERS=false"));
    assert!(pat.contains("BLOCKED_ROLES_LIST=[]"));
    assert_eq!(
        describe_value(&d, "AUTHENTICATION_METHODS").as_deref(),
        Some("[ALL]")
    );
}

#[test]
fn conformance_027_028_029_030_validation() {
    let (mut a, mut sess) = with_d();
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "CREATE AUTHENTICATION POLICY p PAT_POLICY = (MAX_EXPIRY_IN_DAYS = 400)"
        ),
        "099946"
    );
    let e = run(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY p PAT_POLICY = (BLOCKED_ROLES_LIST = ('NOPE'))",
    )
    .unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "002003",
            "SQL compilation error:\nRole 'NOPE' does not exist."
        )
    );
    sql(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY p PAT_POLICY = ( NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED, DEFAULT_EXPIRY_IN_DAYS = 90 )",
    );
    let d = sql(&mut a, &mut sess, "DESCRIBE AUTHENTICATION POLICY p");
    let pat = describe_value(&d, "PAT_POLICY").unwrap_or_default();
    assert!(pat.contains("DEFAULT_EXPIRY_IN_DAYS=90") && pat.contains("ENFORCED_NOT_REQUIRED"));
    assert!(pat.contains("MAX_EXPIRY_IN_DAYS=365"));
    let e = run(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY p2 CLIENT_TYPES=('SNOWSQL') CLIENT_POLICY=(GO_DRIVER=(MINIMUM_VERSION='1.0.0'))",
    )
    .unwrap_err();
    assert_eq!((e.code.as_str(), e.sql_state.as_str()), ("004800", "22023"));
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "CREATE AUTHENTICATION POLICY p3 BOGUS = 1"
        ),
        "001003"
    );
}

#[test]
fn conformance_031_032_account_slots() {
    let (mut a, mut sess) = with_d();
    sql(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY p1");
    sql(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY p2");
    sql(&mut a, &mut sess, "USE ROLE SYSADMIN");
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "ALTER ACCOUNT SET AUTHENTICATION POLICY d.public.p1 FOR ALL SERVICE USERS"
        ),
        "003001"
    );
    sql(&mut a, &mut sess, "USE ROLE ACCOUNTADMIN");
    sql(
        &mut a,
        &mut sess,
        "ALTER ACCOUNT SET AUTHENTICATION POLICY p1 FOR ALL SERVICE USERS",
    );
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "ALTER ACCOUNT SET AUTHENTICATION POLICY p2 FOR ALL SERVICE USERS"
        ),
        "099913"
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER ACCOUNT SET AUTHENTICATION POLICY p2 FOR ALL SERVICE USERS FORCE",
    );
    let r = sql(&mut a, &mut sess, "SHOW AUTHENTICATION POLICIES ON ACCOUNT");
    assert_eq!(text_at(&r, 0, "name").as_deref(), Some("P2"));
    assert!(text_at(&r, 0, "options")
        .unwrap_or_default()
        .contains("SERVICE_USERS"));
    assert_eq!(
        sql_code(&mut a, &mut sess, "DROP AUTHENTICATION POLICY p2"),
        "099914"
    );
}

#[test]
fn conformance_033_034_user_level_vs_forced_slot() {
    let (mut a, mut sess) = with_d();
    service_user(&mut a, &mut sess);
    sql(&mut a, &mut sess, "USE SCHEMA d.public");
    sql(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY p1 PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = TRUE)");
    sql(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY p2 PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)");
    sql(
        &mut a,
        &mut sess,
        "ALTER ACCOUNT SET AUTHENTICATION POLICY p1 FOR ALL SERVICE USERS",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY p2",
    );
    sql(&mut a, &mut sess, "ALTER USER svc ADD PAT t1");
    sql(
        &mut a,
        &mut sess,
        "ALTER ACCOUNT SET AUTHENTICATION POLICY p1 FOR ALL SERVICE USERS FORCE",
    );
    assert_eq!(
        sql_code(&mut a, &mut sess, "ALTER USER svc ADD PAT t2"),
        "099904"
    );
}

#[test]
fn conformance_035_policy_owner_applies_by_qualified_name() {
    let (mut a, mut sess) = with_d();
    sql(&mut a, &mut sess, "CREATE SCHEMA d.s");
    sql(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY d.s.p");
    sql(&mut a, &mut sess, "CREATE ROLE auto");
    sql(&mut a, &mut sess, "CREATE USER u");
    sql(&mut a, &mut sess, "CREATE USER au DEFAULT_ROLE = auto");
    sql(&mut a, &mut sess, "GRANT ROLE auto TO USER au");
    sql(
        &mut a,
        &mut sess,
        "GRANT OWNERSHIP ON AUTHENTICATION POLICY d.s.p TO ROLE auto",
    );
    sql(&mut a, &mut sess, "GRANT OWNERSHIP ON USER u TO ROLE auto");
    let mut s = session_with(&a, "AU", AuthMethod::KeyPair);
    sql(
        &mut a,
        &mut s,
        "ALTER USER u SET AUTHENTICATION POLICY d.s.p",
    );
    // without ownership of the user it fails
    sql(&mut a, &mut sess, "CREATE USER v");
    assert_eq!(
        sql_code(
            &mut a,
            &mut s,
            "ALTER USER v SET AUTHENTICATION POLICY d.s.p"
        ),
        "003001"
    );
}

#[test]
fn conformance_043_044_046_047_052_policy_driven_add() {
    let (mut a, mut sess) = with_d();
    service_user(&mut a, &mut sess);
    sql(&mut a, &mut sess, "USE SCHEMA d.public");
    sql(&mut a, &mut sess, "CREATE USER p TYPE = PERSON");
    sql(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY person_strict PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_PERSON_USERS = TRUE)");
    sql(
        &mut a,
        &mut sess,
        "ALTER USER p SET AUTHENTICATION POLICY person_strict",
    );
    assert_eq!(
        sql_code(&mut a, &mut sess, "ALTER USER p ADD PAT t"),
        "099904"
    );
    sql(&mut a, &mut sess, "GRANT ROLE ACCOUNTADMIN TO USER svc");
    sql(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY blocked PAT_POLICY = (BLOCKED_ROLES_LIST = ('ACCOUNTADMIN'), MAX_EXPIRY_IN_DAYS = 30, DEFAULT_EXPIRY_IN_DAYS = 20)");
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY blocked",
    );
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "ALTER USER svc ADD PAT t ROLE_RESTRICTION = 'ACCOUNTADMIN'"
        ),
        "099906"
    );
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "ALTER USER svc ADD PAT t ROLE_RESTRICTION = r DAYS_TO_EXPIRY = 31"
        ),
        "099907"
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc ADD PAT t ROLE_RESTRICTION = r",
    );
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    assert_eq!(
        ts_at(&show, 0, "expires_at"),
        Some(t0() + Duration::days(20))
    );
    sql(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY pw AUTHENTICATION_METHODS = ('PASSWORD')",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY pw FORCE",
    );
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "ALTER USER svc ADD PAT t3 ROLE_RESTRICTION = r"
        ),
        "099910"
    );
}

#[test]
fn conformance_107_108_account_type_slots() {
    let (mut a, mut sess) = with_d();
    service_user(&mut a, &mut sess);
    sql(&mut a, &mut sess, "USE SCHEMA d.public");
    sql(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY no_pat AUTHENTICATION_METHODS = ('KEYPAIR', 'PASSWORD')",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER ACCOUNT SET AUTHENTICATION POLICY no_pat FOR ALL PERSON USERS",
    );
    sql(&mut a, &mut sess, "CREATE USER p");
    let mut ps = session_with(&a, "P", AuthMethod::KeyPair);
    assert_eq!(sql_code(&mut a, &mut ps, "ALTER USER ADD PAT t"), "099910");
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc ADD PAT t ROLE_RESTRICTION = r",
    );
    // 108: the SERVICE slot covers LEGACY_SERVICE
    sql(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY lax PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)");
    sql(
        &mut a,
        &mut sess,
        "ALTER ACCOUNT SET AUTHENTICATION POLICY lax FOR ALL SERVICE USERS",
    );
    sql(
        &mut a,
        &mut sess,
        "CREATE USER legacy TYPE = LEGACY_SERVICE",
    );
    give_network_policy(&mut a, &mut sess, "LEGACY");
    sql(&mut a, &mut sess, "ALTER USER legacy ADD PAT t");
}

#[test]
fn conformance_109_user_policy_force() {
    let (mut a, mut sess) = with_d();
    sql(&mut a, &mut sess, "CREATE USER svc TYPE = SERVICE");
    sql(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY p1");
    sql(&mut a, &mut sess, "CREATE AUTHENTICATION POLICY p2");
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY p1",
    );
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "ALTER USER svc SET AUTHENTICATION POLICY p2"
        ),
        "099913"
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY p2 FORCE",
    );
    let r = sql(
        &mut a,
        &mut sess,
        "SHOW AUTHENTICATION POLICIES ON USER svc",
    );
    assert_eq!(text_at(&r, 0, "name").as_deref(), Some("P2"));
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc UNSET AUTHENTICATION POLICY",
    );
    let r = sql(
        &mut a,
        &mut sess,
        "ALTER USER svc UNSET AUTHENTICATION POLICY",
    );
    assert!(!r.changed);
}

#[test]
fn alter_policy_rename_unset_and_or_alter() {
    let (mut a, mut sess) = with_d();
    sql(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY p PAT_POLICY = (DEFAULT_EXPIRY_IN_DAYS = 5) COMMENT = 'c'",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER AUTHENTICATION POLICY p UNSET PAT_POLICY, COMMENT",
    );
    let d = sql(&mut a, &mut sess, "DESCRIBE AUTHENTICATION POLICY p");
    assert!(describe_value(&d, "PAT_POLICY")
        .unwrap_or_default()
        .contains("DEFAULT_EXPIRY_IN_DAYS=15"));
    assert_eq!(describe_value(&d, "COMMENT").as_deref(), Some("null"));
    sql(
        &mut a,
        &mut sess,
        "ALTER AUTHENTICATION POLICY p RENAME TO q",
    );
    assert_eq!(
        sql_code(&mut a, &mut sess, "DESCRIBE AUTHENTICATION POLICY p"),
        "002003"
    );
    sql(
        &mut a,
        &mut sess,
        "CREATE OR ALTER AUTHENTICATION POLICY q AUTHENTICATION_METHODS = ('KEYPAIR')",
    );
    let d = sql(&mut a, &mut sess, "DESC AUTHENTICATION POLICY q");
    assert_eq!(
        describe_value(&d, "AUTHENTICATION_METHODS").as_deref(),
        Some("[KEYPAIR]")
    );
    let r = sql(&mut a, &mut sess, "SHOW AUTHENTICATION POLICIES");
    assert_eq!(
        r.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        [
            "created_on",
            "name",
            "comment",
            "database_name",
            "schema_name",
            "kind",
            "owner",
            "owner_role_type",
            "options"
        ]
    );
    assert!(row_named(&r, "Q").is_some());
}

#[test]
fn network_policy_ip_lists_and_blocking() {
    let (mut a, mut sess) = with_d();
    sql(&mut a, &mut sess, "CREATE USER p");
    sql(
        &mut a,
        &mut sess,
        "CREATE NETWORK RULE lo TYPE = IPV4 VALUE_LIST = ('127.0.0.0/8')",
    );
    sql(
        &mut a,
        &mut sess,
        "CREATE NETWORK POLICY np ALLOWED_NETWORK_RULE_LIST = ('lo') BLOCKED_IP_LIST = ('127.0.0.1')",
    );
    sql(&mut a, &mut sess, "ALTER USER p SET NETWORK_POLICY = np");
    let secret = secret_of(&sql(&mut a, &mut sess, "ALTER USER p ADD PAT t"));
    assert_eq!(
        pat_login(&mut a, &secret, now())
            .map(|_| ())
            .unwrap_err()
            .code,
        "099918"
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER NETWORK POLICY np SET BLOCKED_IP_LIST = ()",
    );
    assert!(pat_login(&mut a, &secret, now()).is_ok());
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "CREATE NETWORK POLICY bad ALLOWED_IP_LIST = ('not-an-ip')"
        ),
        "099946"
    );
}

#[test]
fn conformance_047_060_policy_default_expiry_from_a_keypair_session() {
    let (mut a, mut sess) = with_d();
    service_user(&mut a, &mut sess);
    sql(&mut a, &mut sess, "USE SCHEMA d.public");
    sql(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY p90 PAT_POLICY = (DEFAULT_EXPIRY_IN_DAYS = 90)",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY p90",
    );
    // a key-pair session of ADMIN
    let mut kp = admin(&a);
    kp.auth = AuthMethod::KeyPair;
    sql(
        &mut a,
        &mut kp,
        "ALTER USER svc ADD PAT t ROLE_RESTRICTION = 'r'",
    );
    let show = ok(&mut a, &mut kp, show_pats(Some("SVC")));
    assert_eq!(
        ts_at(&show, 0, "expires_at"),
        Some(t0() + Duration::days(90))
    );
}
