//! Users, roles, grants and ownership (§5.1–§5.8, §5.16, §5.17).

use super::*;

/// A PERSON user `name` holding only PUBLIC, as a key-pair session.
fn plain_session(a: &mut Account, sess: &mut Session, name: &str) -> Session {
    sql(a, sess, &format!("CREATE USER {name}"));
    session_with(a, &name.to_uppercase(), AuthMethod::KeyPair)
}

fn col(r: &ResultSet, c: &str) -> Vec<Option<String>> {
    (0..r.rows.len()).map(|i| text_at(r, i, c)).collect()
}

#[test]
fn conformance_001_to_004_role_names() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE ROLE analyst");
    let r = sql(&mut a, &mut sess, "SHOW ROLES LIKE 'analyst'");
    assert_eq!(col(&r, "name"), [Some("ANALYST".to_owned())]);
    assert_eq!(r.columns.len(), 10);
    sql(&mut a, &mut sess, "CREATE ROLE \"Analyst\"");
    assert!(a.catalog.role_id("Analyst").is_some() && a.catalog.role_id("ANALYST").is_some());
    sql(&mut a, &mut sess, "CREATE ROLE \"a\"\"b\"");
    let r = sql(&mut a, &mut sess, "SHOW ROLES LIKE 'a\"b'");
    assert_eq!(col(&r, "name"), [Some("a\"b".to_owned())]);
}

#[test]
fn conformance_003_grant_resolves_unquoted_upper() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE ROLE \"Analyst\"");
    assert_eq!(
        sql_code(&mut a, &mut sess, "GRANT ROLE analyst TO USER admin"),
        "002003"
    );
}

#[test]
fn conformance_005_006_comment_and_existing_role() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE USER u1 COMMENT = 'it''s'");
    let r = sql(&mut a, &mut sess, "SHOW USERS LIKE 'U1'");
    assert_eq!(col(&r, "comment"), [Some("it's".to_owned())]);
    assert_eq!(r.columns.len(), 30);
    sql(&mut a, &mut sess, "CREATE ROLE r");
    assert_eq!(sql_code(&mut a, &mut sess, "CREATE ROLE r"), "002002");
    let r = sql(&mut a, &mut sess, "CREATE ROLE IF NOT EXISTS r");
    assert!(!r.changed);
}

#[test]
fn conformance_007_008_create_user_privilege_and_owner() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "USE ROLE USERADMIN");
    sql(&mut a, &mut sess, "CREATE USER svc TYPE = SERVICE");
    let r = sql(&mut a, &mut sess, "SHOW USERS LIKE 'SVC'");
    assert_eq!(col(&r, "type"), [Some("SERVICE".to_owned())]);
    assert_eq!(col(&r, "owner"), [Some("USERADMIN".to_owned())]);
    let mut p = plain_session(&mut a, &mut sess, "pub");
    assert_eq!(sql_code(&mut a, &mut p, "CREATE USER x"), "003001");
}

#[test]
fn conformance_009_010_service_properties_and_drop() {
    let mut a = account();
    let mut sess = admin(&a);
    let e = run(
        &mut a,
        &mut sess,
        "CREATE USER s2 TYPE = SERVICE PASSWORD = 'p'",
    )
    .unwrap_err();
    assert_eq!(e.code, "099915");
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "CREATE USER s5 TYPE = SERVICE MUST_CHANGE_PASSWORD = FALSE"
        ),
        "099915"
    );
    sql(&mut a, &mut sess, "CREATE USER s3 FIRST_NAME = 'x'");
    assert_eq!(
        sql_code(&mut a, &mut sess, "ALTER USER s3 SET TYPE = SERVICE"),
        "099915"
    );
    assert_eq!(sql_code(&mut a, &mut sess, "DROP USER ghost"), "002003");
    let r = sql(&mut a, &mut sess, "DROP USER IF EXISTS ghost");
    assert!(!r.changed);
    assert_eq!(
        sql_code(&mut a, &mut sess, "CREATE USER s4 NO_SUCH_PROPERTY = 1"),
        "001003"
    );
}

#[test]
fn conformance_012_013_network_policy_privileges() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "USE ROLE SYSADMIN");
    assert_eq!(
        sql_code(&mut a, &mut sess, "CREATE NETWORK POLICY np"),
        "003001"
    );
    sql(&mut a, &mut sess, "USE ROLE ACCOUNTADMIN");
    sql(
        &mut a,
        &mut sess,
        "CREATE NETWORK POLICY np ALLOWED_IP_LIST = ('127.0.0.1')",
    );
    sql(&mut a, &mut sess, "USE ROLE USERADMIN");
    assert_eq!(
        sql_code(&mut a, &mut sess, "CREATE USER u NETWORK_POLICY = np"),
        "003001"
    );
}

#[test]
fn conformance_014_015_grant_role_by_owner() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE ROLE o");
    sql(&mut a, &mut sess, "GRANT ROLE o TO USER admin");
    sql(&mut a, &mut sess, "USE ROLE o");
    // O may not create roles; ADMIN transfers ownership of R to O
    sql(&mut a, &mut sess, "USE ROLE ACCOUNTADMIN");
    sql(&mut a, &mut sess, "CREATE ROLE r");
    sql(&mut a, &mut sess, "CREATE USER u");
    sql(&mut a, &mut sess, "GRANT OWNERSHIP ON ROLE r TO ROLE o");
    sql(&mut a, &mut sess, "USE ROLE o");
    sql(&mut a, &mut sess, "GRANT ROLE r TO USER u");
    let r = sql(&mut a, &mut sess, "SHOW GRANTS OF ROLE r");
    assert_eq!(col(&r, "granted_to"), [Some("USER".to_owned())]);
    assert_eq!(col(&r, "grantee_name"), [Some("U".to_owned())]);
    sql(&mut a, &mut sess, "USE ROLE ACCOUNTADMIN");
    let mut p = plain_session(&mut a, &mut sess, "pub");
    let e = run(&mut a, &mut p, "GRANT ROLE r TO USER pub").unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "003001",
            "SQL access control error:\nGrant not executed: Insufficient privileges."
        )
    );
}

#[test]
fn conformance_016_017_use_role() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE ROLE c");
    let e = run(&mut a, &mut sess, "USE ROLE c").unwrap_err();
    assert_eq!(e.code, "003013");
    assert_eq!(
        e.message,
        "SQL access control error:\nRequested role 'C' is not assigned to the executing user.  Specify another role to activate."
    );
    let r = sql(&mut a, &mut sess, "USE ROLE SECURITYADMIN");
    assert!(!r.changed);
    assert_eq!(sess.primary_role, "SECURITYADMIN");
}

#[test]
fn conformance_018_ownership_copy_current_grants() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "USE ROLE SECURITYADMIN");
    sql(&mut a, &mut sess, "CREATE ROLE rt");
    sql(&mut a, &mut sess, "CREATE ROLE auto");
    sql(
        &mut a,
        &mut sess,
        "GRANT OWNERSHIP ON ROLE rt TO ROLE auto COPY CURRENT GRANTS",
    );
    let r = sql(&mut a, &mut sess, "SHOW GRANTS ON ROLE rt");
    let i = (0..r.rows.len())
        .find(|i| text_at(&r, *i, "privilege").as_deref() == Some("OWNERSHIP"))
        .unwrap_or(99);
    assert_eq!(text_at(&r, i, "grantee_name").as_deref(), Some("AUTO"));
    assert_eq!(
        r.columns.last().map(|c| c.name.as_str()),
        Some("granted_by_role_type")
    );
    let auto = a.catalog.role_id("AUTO").unwrap_or_default();
    let rt = a.catalog.role_id("RT").unwrap_or_default();
    assert!(!a.catalog.closure([auto]).contains(&rt));
}

#[test]
fn conformance_019_020_ownership_without_clause() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE DATABASE d");
    sql(&mut a, &mut sess, "CREATE ROLE x");
    sql(&mut a, &mut sess, "CREATE ROLE y");
    sql(&mut a, &mut sess, "GRANT USAGE ON DATABASE d TO ROLE x");
    assert_eq!(
        sql_code(&mut a, &mut sess, "GRANT OWNERSHIP ON DATABASE d TO ROLE y"),
        "099943"
    );
    sql(
        &mut a,
        &mut sess,
        "GRANT OWNERSHIP ON DATABASE d TO ROLE y REVOKE CURRENT GRANTS",
    );
    let r = sql(&mut a, &mut sess, "SHOW GRANTS ON DATABASE d");
    assert_eq!(col(&r, "privilege"), [Some("OWNERSHIP".to_owned())]);
    // 20: roles transfer without a clause and show two grant rows
    sql(&mut a, &mut sess, "USE ROLE SECURITYADMIN");
    sql(&mut a, &mut sess, "CREATE ROLE rt");
    sql(&mut a, &mut sess, "CREATE ROLE auto");
    sql(&mut a, &mut sess, "CREATE USER u");
    sql(&mut a, &mut sess, "GRANT ROLE rt TO USER u");
    sql(&mut a, &mut sess, "GRANT OWNERSHIP ON ROLE rt TO ROLE auto");
    let r = sql(&mut a, &mut sess, "SHOW GRANTS OF ROLE rt");
    assert_eq!(
        col(&r, "grantee_name"),
        [Some("U".to_owned()), Some("U".to_owned())]
    );
    assert_eq!(
        col(&r, "granted_by"),
        [Some("SECURITYADMIN".to_owned()), Some("AUTO".to_owned())]
    );
    assert_eq!(
        r.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        [
            "created_on",
            "role",
            "granted_to",
            "grantee_name",
            "granted_by"
        ]
    );
}

#[test]
fn conformance_021_022_023_privileges_and_database_roles() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE ROLE r");
    sql(&mut a, &mut sess, "CREATE USER u");
    sql(
        &mut a,
        &mut sess,
        "GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER u TO ROLE r",
    );
    let g = sql(&mut a, &mut sess, "SHOW GRANTS TO ROLE r");
    assert_eq!(
        col(&g, "privilege"),
        [Some(
            "MODIFY PROGRAMMATIC AUTHENTICATION METHODS".to_owned()
        )]
    );
    assert_eq!(col(&g, "granted_on"), [Some("USER".to_owned())]);
    assert_eq!(col(&g, "name"), [Some("U".to_owned())]);
    sql(
        &mut a,
        &mut sess,
        "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_USER TO ROLE r",
    );
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_USER TO USER u"
        ),
        "099945"
    );
    sql(&mut a, &mut sess, "CREATE DATABASE d");
    let r = sql(&mut a, &mut sess, "REVOKE USAGE ON DATABASE d FROM ROLE r");
    assert!(!r.changed);
    assert_eq!(
        sql_code(&mut a, &mut sess, "GRANT FLY ON DATABASE d TO ROLE r"),
        "001003"
    );
}

#[test]
fn conformance_024_show_grants_to_user_columns() {
    let mut a = account();
    let mut sess = admin(&a);
    let r = sql(&mut a, &mut sess, "SHOW GRANTS TO USER admin");
    assert_eq!(
        r.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        [
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
    assert_eq!(col(&r, "role"), [Some("ACCOUNTADMIN".to_owned())]);
    let same = sql(&mut a, &mut sess, "SHOW GRANTS");
    assert_eq!(same.rows, r.rows);
}

#[test]
fn conformance_110_schema_privileges() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE DATABASE d");
    sql(&mut a, &mut sess, "CREATE SCHEMA d.s");
    sql(&mut a, &mut sess, "CREATE ROLE r");
    sql(
        &mut a,
        &mut sess,
        "GRANT CREATE STAGE, CREATE SECRET ON SCHEMA d.s TO ROLE r",
    );
    let g = sql(&mut a, &mut sess, "SHOW GRANTS TO ROLE r");
    assert_eq!(g.rows.len(), 2);
    assert_eq!(
        col(&g, "granted_on"),
        [Some("SCHEMA".to_owned()), Some("SCHEMA".to_owned())]
    );
    assert_eq!(
        col(&g, "name"),
        [Some("D.S".to_owned()), Some("D.S".to_owned())]
    );
}

#[test]
fn role_cycles_and_system_roles() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE ROLE a1");
    sql(&mut a, &mut sess, "CREATE ROLE b1");
    sql(&mut a, &mut sess, "GRANT ROLE a1 TO ROLE b1");
    assert_eq!(
        sql_code(&mut a, &mut sess, "GRANT ROLE b1 TO ROLE a1"),
        "099942"
    );
    assert_eq!(
        sql_code(&mut a, &mut sess, "GRANT ROLE a1 TO ROLE a1"),
        "099942"
    );
    assert_eq!(sql_code(&mut a, &mut sess, "DROP ROLE SYSADMIN"), "099941");
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "REVOKE ROLE SYSADMIN FROM ROLE ACCOUNTADMIN"
        ),
        "099941"
    );
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "REVOKE MANAGE GRANTS ON ACCOUNT FROM ROLE SECURITYADMIN"
        ),
        "099941"
    );
}

#[test]
fn conformance_102_103_create_secret_and_integration_privileges() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE DATABASE d");
    sql(&mut a, &mut sess, "CREATE ROLE r");
    sql(&mut a, &mut sess, "GRANT USAGE ON DATABASE d TO ROLE r");
    sql(
        &mut a,
        &mut sess,
        "GRANT USAGE ON SCHEMA d.public TO ROLE r",
    );
    let mut p = plain_session(&mut a, &mut sess, "pub");
    sql(&mut a, &mut sess, "GRANT ROLE r TO USER pub");
    sql(&mut a, &mut p, "USE ROLE r");
    sql(&mut a, &mut p, "USE DATABASE d");
    assert_eq!(
        sql_code(
            &mut a,
            &mut p,
            "CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = 'x'"
        ),
        "003001"
    );
    assert_eq!(
        sql_code(
            &mut a,
            &mut p,
            "CREATE SECURITY INTEGRATION i TYPE = EXTERNAL_OAUTH ENABLED = TRUE EXTERNAL_OAUTH_TYPE = CUSTOM"
        ),
        "003001"
    );
    let r = sql(
        &mut a,
        &mut sess,
        "CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = 'hush'",
    );
    assert!(r.changed);
    let show = sql(&mut a, &mut sess, "SHOW SECRETS");
    assert_eq!(col(&show, "name"), [Some("S".to_owned())]);
    assert!(!format!("{show:?}").contains("hush"));
}

#[test]
fn use_database_requires_usage_and_sets_public() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE DATABASE d");
    let mut p = plain_session(&mut a, &mut sess, "pub");
    let e = run(&mut a, &mut p, "USE DATABASE d").unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "003001",
            "SQL access control error:\nInsufficient privileges to operate on database 'D'"
        )
    );
    assert_eq!(sql_code(&mut a, &mut p, "USE DATABASE nope"), "002003");
    sql(
        &mut a,
        &mut sess,
        "GRANT USAGE ON DATABASE d TO ROLE PUBLIC",
    );
    sql(&mut a, &mut p, "USE DATABASE d");
    let r = sql(
        &mut a,
        &mut p,
        "SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()",
    );
    assert_eq!(text_at(&r, 0, "CURRENT_DATABASE()").as_deref(), Some("D"));
    assert_eq!(
        text_at(&r, 0, "CURRENT_SCHEMA()").as_deref(),
        Some("PUBLIC")
    );
}

#[test]
fn credentials_view_for_accountadmin_only() {
    let mut a = account();
    let mut sess = admin(&a);
    service_user(&mut a, &mut sess);
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc ADD PAT t ROLE_RESTRICTION = r COMMENT = 'c'",
    );
    let r = sql(
        &mut a,
        &mut sess,
        "SELECT * FROM SNOWFLAKE.ACCOUNT_USAGE.CREDENTIALS WHERE type = 'PAT' AND user_name = 'SVC'",
    );
    assert_eq!(r.rows.len(), 1);
    assert_eq!(r.columns[0].name, "CREDENTIAL_ID");
    assert_eq!(text_at(&r, 0, "NAME").as_deref(), Some("T"));
    assert_eq!(text_at(&r, 0, "STATUS").as_deref(), Some("ACTIVE"));
    let none = sql(
        &mut a,
        &mut sess,
        "SELECT name FROM SNOWFLAKE.ACCOUNT_USAGE.CREDENTIALS WHERE user_name = 'NOBODY'",
    );
    assert!(none.rows.is_empty());
    sql(&mut a, &mut sess, "USE ROLE SYSADMIN");
    assert_eq!(
        sql_code(
            &mut a,
            &mut sess,
            "SELECT * FROM SNOWFLAKE.ACCOUNT_USAGE.CREDENTIALS"
        ),
        "002003"
    );
}

#[test]
fn unqualified_schema_objects_need_current_namespace() {
    let mut a = account();
    let mut sess = admin(&a);
    let e = run(
        &mut a,
        &mut sess,
        "CREATE NETWORK RULE r TYPE = IPV4 VALUE_LIST = ('1.2.3.4')",
    )
    .unwrap_err();
    assert_eq!(e.code, "099940");
}

#[test]
fn changed_is_true_exactly_when_the_account_changed() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE USER u");
    assert!(sql(&mut a, &mut sess, "ALTER USER u SET COMMENT = 'x'").changed);
    assert!(!sql(&mut a, &mut sess, "ALTER USER u SET COMMENT = 'x'").changed);
    assert!(!sql(&mut a, &mut sess, "SHOW USERS").changed);
    assert!(!sql(&mut a, &mut sess, "USE ROLE SYSADMIN").changed);
    assert!(
        !sql(
            &mut a,
            &mut sess,
            "ALTER USER IF EXISTS ghost SET COMMENT = 'x'"
        )
        .changed
    );
}

#[test]
fn create_service_checks_pool_image_secrets_and_endpoint() {
    let mut a = account();
    let mut sess = admin(&a);
    for t in [
        "CREATE DATABASE d",
        "CREATE IMAGE REPOSITORY d.public.repo",
        "CREATE SECRET d.public.tok TYPE = GENERIC_STRING SECRET_STRING = 'x'",
        "CREATE COMPUTE POOL pool",
        "CREATE ROLE rt",
        "GRANT ROLE rt TO USER admin",
        "GRANT USAGE ON DATABASE d TO ROLE rt",
        "GRANT USAGE ON SCHEMA d.public TO ROLE rt",
        "GRANT CREATE SERVICE ON SCHEMA d.public TO ROLE rt",
        "USE ROLE rt",
    ] {
        sql(&mut a, &mut sess, t);
    }
    let spec = "CREATE SERVICE d.public.svc IN COMPUTE POOL pool FROM SPECIFICATION $$\nspec:\n  containers:\n  - name: main\n    image: /d/public/repo/app:1\n    secrets:\n    - snowflakeSecret:\n        objectName: tok\n  endpoints:\n  - name: ui\n    public: true\n$$";
    assert_eq!(sql_code(&mut a, &mut sess, spec), "002003");
    for (grant, expect) in [
        ("GRANT USAGE ON COMPUTE POOL pool TO ROLE rt", "002003"),
        (
            "GRANT READ ON IMAGE REPOSITORY d.public.repo TO ROLE rt",
            "002003",
        ),
        ("GRANT READ ON SECRET d.public.tok TO ROLE rt", "003001"),
    ] {
        let mut adm = admin(&a);
        sql(&mut a, &mut adm, grant);
        let got = run(&mut a, &mut sess, spec).unwrap_err();
        assert_eq!(got.code, expect, "after {grant}: {got}");
    }
    let e = run(&mut a, &mut sess, spec).unwrap_err();
    assert!(e.message.contains("BIND SERVICE ENDPOINT"));
    let mut adm = admin(&a);
    sql(
        &mut a,
        &mut adm,
        "GRANT BIND SERVICE ENDPOINT ON ACCOUNT TO ROLE rt",
    );
    sql(&mut a, &mut sess, spec);
    assert_eq!(
        sql_code(
            &mut a,
            &mut adm,
            "GRANT OWNERSHIP ON SERVICE d.public.svc TO ROLE SYSADMIN"
        ),
        "099948"
    );
}

#[test]
fn or_replace_needs_ownership_of_the_existing_object() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE ROLE r");
    sql(&mut a, &mut sess, "CREATE USER u");
    sql(&mut a, &mut sess, "CREATE DATABASE d");
    sql(&mut a, &mut sess, "GRANT ROLE USERADMIN TO USER u");
    sql(&mut a, &mut sess, "GRANT ROLE SYSADMIN TO USER u");
    let mut us = session_with(&a, "U", AuthMethod::KeyPair);
    sql(&mut a, &mut us, "USE ROLE USERADMIN");
    assert_eq!(
        sql_code(&mut a, &mut us, "CREATE OR REPLACE ROLE r"),
        "003001"
    );
    assert_eq!(
        sql_code(&mut a, &mut us, "CREATE OR REPLACE USER admin"),
        "003001"
    );
    sql(&mut a, &mut us, "USE ROLE SYSADMIN");
    assert_eq!(
        sql_code(&mut a, &mut us, "CREATE OR REPLACE DATABASE d"),
        "002003"
    );
    // the owner may replace
    sql(&mut a, &mut sess, "CREATE OR REPLACE ROLE r");
    sql(&mut a, &mut sess, "CREATE OR REPLACE DATABASE d");
}
