//! One test per statement form of `snowflake-behaviour.md` §5: text → expected tree → rendered
//! text → the same tree again; plus the lexical quirks of §1 and syntax errors.

use snowpat_sql::ast::*;
use snowpat_sql::lexer::split_statements;
use snowpat_sql::render::{quote_ident, quote_string};
use snowpat_sql::{parse_statement, parse_statements, ParseError};

fn id(s: &str) -> Ident {
    Ident::new(s)
}

fn name(parts: &[&str]) -> ObjectName {
    ObjectName(parts.iter().map(|p| Ident::new(*p)).collect())
}

fn prop(n: &str, v: Value) -> Property {
    Property::new(n, v)
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn num(v: &str) -> Value {
    Value::Number(v.into())
}

fn nm(v: &str) -> Value {
    Value::Name(ObjectName::simple(v))
}

/// Parses `text`, compares with `expected`, renders, parses the rendering and compares again.
#[track_caller]
fn rt(text: &str, expected: Statement) {
    let parsed = parse_statement(text);
    assert_eq!(parsed, Ok(expected.clone()), "parsing {text:?}");
    let rendered = expected.to_string();
    assert_eq!(
        parse_statement(&rendered),
        Ok(expected),
        "re-parsing rendered {rendered:?}"
    );
}

#[track_caller]
fn err(text: &str, line: usize, position: usize, unexpected: &str) {
    assert_eq!(
        parse_statement(text),
        Err(ParseError {
            line,
            position,
            unexpected: unexpected.into()
        }),
        "parsing {text:?}"
    );
}

fn alter_user(user: Option<&str>, action: AlterUserAction) -> Statement {
    Statement::AlterUser {
        if_exists: false,
        user: user.map(id),
        action,
    }
}

// ------------------------------------------------------------------ §1 lexical rules

#[test]
fn s1_1_unquoted_folds_quoted_keeps_case() {
    rt(
        "drop user alice",
        Statement::DropUser {
            if_exists: false,
            name: id("ALICE"),
        },
    );
    rt(
        r#"DROP USER "alice""#,
        Statement::DropUser {
            if_exists: false,
            name: id("alice"),
        },
    );
    rt(
        r#"drop user "quote""andunquote""""#,
        Statement::DropUser {
            if_exists: false,
            name: id("quote\"andunquote\""),
        },
    );
}

#[test]
fn s1_1_identifier_literal_is_parsed_with_the_same_rules() {
    rt(
        "DROP USER IDENTIFIER('alice')",
        Statement::DropUser {
            if_exists: false,
            name: id("ALICE"),
        },
    );
    rt(
        r#"DROP AUTHENTICATION POLICY IDENTIFIER('db."My Schema".p')"#,
        Statement::DropAuthenticationPolicy {
            if_exists: false,
            name: name(&["DB", "My Schema", "P"]),
        },
    );
    // A qualified name where a single identifier is required, and a literal that is not a name.
    err("DROP USER IDENTIFIER('a.b')", 1, 10, "IDENTIFIER");
    err("DROP USER IDENTIFIER('a b')", 1, 21, "'a b'");
}

#[test]
fn s1_1_limits_and_reserved_words() {
    let long = "A".repeat(255);
    rt(
        &format!("DROP ROLE {long}"),
        Statement::DropRole {
            if_exists: false,
            name: id(&long),
        },
    );
    err(&format!("DROP ROLE {long}B"), 1, 10, &format!("{long}B"));
    err("DROP ROLE \"\"", 1, 10, "\"\"");
    err("DROP ROLE select", 1, 10, "select");
    rt(
        "DROP ROLE \"SELECT\"",
        Statement::DropRole {
            if_exists: false,
            name: id("SELECT"),
        },
    );
}

#[test]
fn s1_1_keywords_are_case_insensitive() {
    rt(
        "sHoW tErSe UsErS lIkE 'a%'",
        Statement::ShowUsers {
            terse: true,
            filter: ShowFilter {
                like: Some("a%".into()),
                ..ShowFilter::default()
            },
        },
    );
}

#[test]
fn s1_3_string_literal_forms() {
    for (text, content) in [
        ("'it''s'", "it's"),
        (r"'it\'s'", "it's"),
        (r"'a\\b\nc'", "a\\b\nc"),
        ("$$;'\\$$", ";'\\"),
        (r"'\u00e9'", "é"),
    ] {
        rt(
            &format!("CREATE ROLE r COMMENT = {text}"),
            Statement::CreateRole {
                or_replace: false,
                if_not_exists: false,
                name: id("R"),
                comment: Some(content.into()),
            },
        );
    }
}

#[test]
fn s1_3_comments_everywhere() {
    rt(
        "/* a */ CREATE -- b\n ROLE // c\n r /* ; */ COMMENT /**/ = -- x\n 'c' -- end",
        Statement::CreateRole {
            or_replace: false,
            if_not_exists: false,
            name: id("R"),
            comment: Some("c".into()),
        },
    );
}

#[test]
fn s1_3_statements_end_at_semicolon() {
    let text = "USE ROLE r; -- x\n;; SELECT '$$;$$' ; CREATE ROLE \"a;b\";";
    assert_eq!(
        split_statements(text),
        Ok(vec![
            "USE ROLE r".to_string(),
            "SELECT '$$;$$'".to_string(),
            "CREATE ROLE \"a;b\"".to_string()
        ])
    );
    let stmts = parse_statements(text).unwrap_or_default();
    assert_eq!(stmts.len(), 3);
    assert_eq!(stmts[2].object().as_deref(), Some("\"a;b\""));
    // parse_statement takes one statement; a trailing `;` is fine, a second statement is not.
    assert!(parse_statement("BEGIN;").is_ok());
    err("BEGIN; COMMIT", 1, 7, "COMMIT");
    err("  -- nothing\n", 2, 0, "<EOF>");
}

#[test]
fn quoting_functions() {
    assert_eq!(quote_ident("ALICE"), "ALICE");
    assert_eq!(quote_ident("alice"), "\"alice\"");
    assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    assert_eq!(quote_ident("SELECT"), "\"SELECT\"");
    assert_eq!(quote_ident("A B"), "\"A B\"");
    assert_eq!(quote_ident("1A"), "\"1A\"");
    assert_eq!(quote_ident("_A$1"), "_A$1");
    assert_eq!(quote_string("it's \\ x"), r"'it''s \\ x'");
    assert_eq!(quote_string("a\nb"), r"'a\nb'");
    // NUL is written as a full three-digit octal escape, so a following digit stays a digit.
    assert_eq!(quote_string("\u{0}07"), r"'\00007'");
    rt(
        &format!("CREATE ROLE r COMMENT = {}", quote_string("\u{0}07")),
        Statement::CreateRole {
            or_replace: false,
            if_not_exists: false,
            name: id("R"),
            comment: Some("\u{0}07".into()),
        },
    );
}

// ------------------------------------------------------------------ §5.1–5.3 users

#[test]
fn s5_1_create_user_properties_any_order_blanks_or_commas() {
    rt(
        "CREATE OR REPLACE USER alice TYPE = SERVICE, default_role = r\n LOGIN_NAME = 'a@x' \
         DAYS_TO_EXPIRY = 5 DISABLED = false DEFAULT_NAMESPACE = db.sch \
         DEFAULT_SECONDARY_ROLES = ('ALL') NETWORK_POLICY = np COMMENT = 'c'",
        Statement::CreateUser {
            or_replace: true,
            if_not_exists: false,
            name: id("ALICE"),
            properties: vec![
                prop("TYPE", nm("SERVICE")),
                prop("DEFAULT_ROLE", nm("R")),
                prop("LOGIN_NAME", s("a@x")),
                prop("DAYS_TO_EXPIRY", num("5")),
                prop("DISABLED", Value::Bool(false)),
                prop("DEFAULT_NAMESPACE", Value::Name(name(&["DB", "SCH"]))),
                prop("DEFAULT_SECONDARY_ROLES", Value::List(vec![s("ALL")])),
                prop("NETWORK_POLICY", nm("NP")),
                prop("COMMENT", s("c")),
            ],
        },
    );
    rt(
        "CREATE USER IF NOT EXISTS u TYPE = NULL DEFAULT_SECONDARY_ROLES = ()",
        Statement::CreateUser {
            or_replace: false,
            if_not_exists: true,
            name: id("U"),
            properties: vec![
                prop("TYPE", Value::Null),
                prop("DEFAULT_SECONDARY_ROLES", Value::List(vec![])),
            ],
        },
    );
}

#[test]
fn s5_1_or_replace_with_if_not_exists_is_a_syntax_error() {
    err("CREATE OR REPLACE USER IF NOT EXISTS u", 1, 23, "IF");
}

#[test]
fn s5_1_property_without_value_is_a_syntax_error() {
    err("CREATE USER u PASSWORD = ", 1, 25, "<EOF>");
    err("CREATE USER u PASSWORD 'x'", 1, 14, "PASSWORD");
    err("CREATE USER u A = 1,", 1, 19, ",");
}

#[test]
fn s5_2_alter_user_forms() {
    rt(
        "ALTER USER IF EXISTS u RENAME TO \"New\"",
        Statement::AlterUser {
            if_exists: true,
            user: Some(id("U")),
            action: AlterUserAction::Rename(id("New")),
        },
    );
    rt(
        "ALTER USER u SET DISABLED = TRUE MINS_TO_UNLOCK = 0, TYPE = PERSON",
        alter_user(
            Some("U"),
            AlterUserAction::Set(vec![
                prop("DISABLED", Value::Bool(true)),
                prop("MINS_TO_UNLOCK", num("0")),
                prop("TYPE", nm("PERSON")),
            ]),
        ),
    );
    rt(
        "ALTER USER u UNSET comment, DISPLAY_NAME",
        alter_user(
            Some("U"),
            AlterUserAction::Unset(vec![id("COMMENT"), id("DISPLAY_NAME")]),
        ),
    );
    rt(
        "ALTER USER u SET AUTHENTICATION POLICY db.s.p FORCE",
        alter_user(
            Some("U"),
            AlterUserAction::SetAuthenticationPolicy {
                policy: name(&["DB", "S", "P"]),
                force: true,
            },
        ),
    );
    rt(
        "ALTER USER u SET AUTHENTICATION POLICY p",
        alter_user(
            Some("U"),
            AlterUserAction::SetAuthenticationPolicy {
                policy: name(&["P"]),
                force: false,
            },
        ),
    );
    rt(
        "ALTER USER u UNSET AUTHENTICATION POLICY",
        alter_user(Some("U"), AlterUserAction::UnsetAuthenticationPolicy),
    );
    rt(
        "ALTER USER u SET NETWORK_POLICY = 'np'",
        alter_user(
            Some("U"),
            AlterUserAction::Set(vec![prop("NETWORK_POLICY", s("np"))]),
        ),
    );
    rt(
        "ALTER USER u UNSET NETWORK_POLICY",
        alter_user(
            Some("U"),
            AlterUserAction::Unset(vec![id("NETWORK_POLICY")]),
        ),
    );
    err("ALTER USER u SET", 1, 16, "<EOF>");
    err("ALTER USER u FROB", 1, 13, "FROB");
}

#[test]
fn s5_3_drop_and_describe_user() {
    rt(
        "DROP USER IF EXISTS u",
        Statement::DropUser {
            if_exists: true,
            name: id("U"),
        },
    );
    rt("DESC USER u", Statement::DescribeUser { name: id("U") });
    rt("DESCRIBE USER u", Statement::DescribeUser { name: id("U") });
}

// ------------------------------------------------------------------ §5.4–5.8 roles, grants

#[test]
fn s5_4_roles() {
    rt(
        "CREATE ROLE IF NOT EXISTS r COMMENT = 'x'",
        Statement::CreateRole {
            or_replace: false,
            if_not_exists: true,
            name: id("R"),
            comment: Some("x".into()),
        },
    );
    rt(
        "DROP ROLE IF EXISTS r",
        Statement::DropRole {
            if_exists: true,
            name: id("R"),
        },
    );
    err("CREATE ROLE r PASSWORD = 'x'", 1, 14, "PASSWORD");
}

#[test]
fn s5_5_grant_and_revoke_role() {
    rt(
        "GRANT ROLE r TO ROLE SYSADMIN WITH GRANT OPTION",
        Statement::GrantRole {
            role: id("R"),
            to: Grantee::Role(id("SYSADMIN")),
            with_grant_option: true,
        },
    );
    rt(
        "grant role r to user alice",
        Statement::GrantRole {
            role: id("R"),
            to: Grantee::User(id("ALICE")),
            with_grant_option: false,
        },
    );
    rt(
        "REVOKE GRANT OPTION FOR ROLE r FROM ROLE p CASCADE",
        Statement::RevokeRole {
            grant_option_for: true,
            role: id("R"),
            from: Grantee::Role(id("P")),
            behavior: Some(DropBehavior::Cascade),
        },
    );
    rt(
        "REVOKE ROLE r FROM USER u",
        Statement::RevokeRole {
            grant_option_for: false,
            role: id("R"),
            from: Grantee::User(id("U")),
            behavior: None,
        },
    );
}

#[test]
fn s5_6_grant_ownership() {
    rt(
        "GRANT OWNERSHIP ON AUTHENTICATION POLICY db.s.p TO ROLE r REVOKE CURRENT GRANTS",
        Statement::GrantOwnership {
            on: OwnershipTarget::Object {
                kind: ObjectKind::AuthenticationPolicy,
                name: name(&["DB", "S", "P"]),
            },
            to_role: id("R"),
            current_grants: Some(CurrentGrants::Revoke),
        },
    );
    rt(
        "GRANT OWNERSHIP ON ROLE x TO ROLE r COPY CURRENT GRANTS",
        Statement::GrantOwnership {
            on: OwnershipTarget::Object {
                kind: ObjectKind::Role,
                name: name(&["X"]),
            },
            to_role: id("R"),
            current_grants: Some(CurrentGrants::Copy),
        },
    );
    rt(
        "GRANT OWNERSHIP ON ALL SECRETS IN SCHEMA d.s TO ROLE r",
        Statement::GrantOwnership {
            on: OwnershipTarget::All {
                kind: ObjectKind::Secret,
                in_kind: ObjectKind::Schema,
                in_name: name(&["D", "S"]),
            },
            to_role: id("R"),
            current_grants: None,
        },
    );
    rt(
        "GRANT OWNERSHIP ON SERVICE d.s.svc TO ROLE r",
        Statement::GrantOwnership {
            on: OwnershipTarget::Object {
                kind: ObjectKind::Service,
                name: name(&["D", "S", "SVC"]),
            },
            to_role: id("R"),
            current_grants: None,
        },
    );
    // Ownership goes to a role only.
    err("GRANT OWNERSHIP ON USER u TO USER v", 1, 29, "USER");
}

#[test]
fn s5_7_grant_and_revoke_privileges() {
    rt(
        "GRANT modify   programmatic\nauthentication methods, MONITOR ON USER u TO ROLE r",
        Statement::GrantPrivileges {
            privileges: Privileges::List(vec![
                "MODIFY PROGRAMMATIC AUTHENTICATION METHODS".into(),
                "MONITOR".into(),
            ]),
            on: GrantTarget::Object {
                kind: ObjectKind::User,
                name: name(&["U"]),
            },
            to_role: id("R"),
            with_grant_option: false,
        },
    );
    rt(
        "GRANT CREATE AUTHENTICATION POLICY, CREATE NETWORK RULE ON SCHEMA d.s TO r WITH GRANT OPTION",
        Statement::GrantPrivileges {
            privileges: Privileges::List(vec![
                "CREATE AUTHENTICATION POLICY".into(),
                "CREATE NETWORK RULE".into(),
            ]),
            on: GrantTarget::Object {
                kind: ObjectKind::Schema,
                name: name(&["D", "S"]),
            },
            to_role: id("R"),
            with_grant_option: true,
        },
    );
    rt(
        "GRANT ALL PRIVILEGES ON ACCOUNT TO ROLE r",
        Statement::GrantPrivileges {
            privileges: Privileges::All,
            on: GrantTarget::Account,
            to_role: id("R"),
            with_grant_option: false,
        },
    );
    rt(
        "GRANT ALL ON INTEGRATION i TO ROLE r",
        Statement::GrantPrivileges {
            privileges: Privileges::All,
            on: GrantTarget::Object {
                kind: ObjectKind::Integration,
                name: name(&["I"]),
            },
            to_role: id("R"),
            with_grant_option: false,
        },
    );
    rt(
        "GRANT USAGE ON MCP SERVER d.s.m TO ROLE r",
        Statement::GrantPrivileges {
            privileges: Privileges::List(vec!["USAGE".into()]),
            on: GrantTarget::Object {
                kind: ObjectKind::McpServer,
                name: name(&["D", "S", "M"]),
            },
            to_role: id("R"),
            with_grant_option: false,
        },
    );
    rt(
        "REVOKE GRANT OPTION FOR READ, USAGE ON SECRET d.s.x FROM ROLE r RESTRICT",
        Statement::RevokePrivileges {
            grant_option_for: true,
            privileges: Privileges::List(vec!["READ".into(), "USAGE".into()]),
            on: GrantTarget::Object {
                kind: ObjectKind::Secret,
                name: name(&["D", "S", "X"]),
            },
            from_role: id("R"),
            behavior: Some(DropBehavior::Restrict),
        },
    );
    err("GRANT ON ACCOUNT TO ROLE r", 1, 6, "ON");
    err("GRANT USAGE ON DATABASE d TO USER u", 1, 29, "USER");
    err("GRANT USAGE,, MONITOR ON ACCOUNT TO ROLE r", 1, 12, ",");
    err("GRANT USAGE ON FROB x TO ROLE r", 1, 15, "FROB");
}

#[test]
fn s5_8_database_roles() {
    rt(
        "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_USER TO ROLE r",
        Statement::GrantDatabaseRole {
            role: name(&["SNOWFLAKE", "CORTEX_USER"]),
            to: Grantee::Role(id("R")),
        },
    );
    rt(
        "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_USER TO USER u",
        Statement::GrantDatabaseRole {
            role: name(&["SNOWFLAKE", "CORTEX_USER"]),
            to: Grantee::User(id("U")),
        },
    );
    rt(
        "REVOKE DATABASE ROLE SNOWFLAKE.CORTEX_USER FROM ROLE PUBLIC",
        Statement::RevokeDatabaseRole {
            role: name(&["SNOWFLAKE", "CORTEX_USER"]),
            from: Grantee::Role(id("PUBLIC")),
        },
    );
}

// ------------------------------------------------------------------ §5.9–5.10 policies, account

#[test]
fn s5_9_create_authentication_policy_nested_lists() {
    let pat_policy = Value::Properties(vec![
        prop("DEFAULT_EXPIRY_IN_DAYS", num("1")),
        prop("MAX_EXPIRY_IN_DAYS", num("30")),
        prop("NETWORK_POLICY_EVALUATION", nm("ENFORCED_NOT_REQUIRED")),
        prop(
            "BLOCKED_ROLES_LIST",
            Value::List(vec![s("ACCOUNTADMIN"), s("SYSADMIN")]),
        ),
    ]);
    let expected = |pat: Value| Statement::CreateAuthenticationPolicy {
        create: CreateMode::Create,
        if_not_exists: false,
        name: name(&["DB", "S", "P"]),
        properties: vec![
            prop(
                "AUTHENTICATION_METHODS",
                Value::List(vec![s("PROGRAMMATIC_ACCESS_TOKEN")]),
            ),
            prop("PAT_POLICY", pat),
        ],
    };
    // Blanks, commas and new lines between nested properties (§1.3).
    for sep in [" ", ", ", "\n  ", ",\n"] {
        let text = format!(
            "CREATE AUTHENTICATION POLICY db.s.p AUTHENTICATION_METHODS = ('PROGRAMMATIC_ACCESS_TOKEN') \
             PAT_POLICY = ( DEFAULT_EXPIRY_IN_DAYS = 1{sep}MAX_EXPIRY_IN_DAYS = 30{sep}\
             NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED{sep}BLOCKED_ROLES_LIST = ('ACCOUNTADMIN', 'SYSADMIN') )"
        );
        rt(&text, expected(pat_policy.clone()));
    }
    // The unquoted form of BLOCKED_ROLES_LIST (§1.2).
    rt(
        "CREATE AUTHENTICATION POLICY db.s.p AUTHENTICATION_METHODS = ('PROGRAMMATIC_ACCESS_TOKEN') \
         PAT_POLICY = (BLOCKED_ROLES_LIST = (ACCOUNTADMIN, sysadmin))",
        expected(Value::Properties(vec![prop(
            "BLOCKED_ROLES_LIST",
            Value::List(vec![nm("ACCOUNTADMIN"), nm("SYSADMIN")]),
        )])),
    );
    rt(
        "CREATE OR ALTER AUTHENTICATION POLICY p CLIENT_POLICY = (DRIVERS = (MINIMUM_VERSION = '3.0'))",
        Statement::CreateAuthenticationPolicy {
            create: CreateMode::OrAlter,
            if_not_exists: false,
            name: name(&["P"]),
            properties: vec![prop(
                "CLIENT_POLICY",
                Value::Properties(vec![prop(
                    "DRIVERS",
                    Value::Properties(vec![prop("MINIMUM_VERSION", s("3.0"))]),
                )]),
            )],
        },
    );
    rt(
        "CREATE OR REPLACE AUTHENTICATION POLICY p",
        Statement::CreateAuthenticationPolicy {
            create: CreateMode::OrReplace,
            if_not_exists: false,
            name: name(&["P"]),
            properties: vec![],
        },
    );
    err("CREATE OR ALTER ROLE r", 1, 16, "ROLE");
    err(
        "CREATE AUTHENTICATION POLICY p PAT_POLICY = (A = 1,)",
        1,
        50,
        ",",
    );
}

#[test]
fn s5_9_alter_drop_describe_show_policy() {
    rt(
        "ALTER AUTHENTICATION POLICY p SET PAT_POLICY = (MAX_EXPIRY_IN_DAYS = 10)\n MFA_ENROLLMENT = REQUIRED",
        Statement::AlterAuthenticationPolicy {
            if_exists: false,
            name: name(&["P"]),
            action: AlterPolicyAction::Set(vec![
                prop(
                    "PAT_POLICY",
                    Value::Properties(vec![prop("MAX_EXPIRY_IN_DAYS", num("10"))]),
                ),
                prop("MFA_ENROLLMENT", nm("REQUIRED")),
            ]),
        },
    );
    rt(
        "ALTER AUTHENTICATION POLICY IF EXISTS p UNSET PAT_POLICY, COMMENT",
        Statement::AlterAuthenticationPolicy {
            if_exists: true,
            name: name(&["P"]),
            action: AlterPolicyAction::Unset(vec![id("PAT_POLICY"), id("COMMENT")]),
        },
    );
    rt(
        "ALTER AUTHENTICATION POLICY p RENAME TO db.s.q",
        Statement::AlterAuthenticationPolicy {
            if_exists: false,
            name: name(&["P"]),
            action: AlterPolicyAction::Rename(name(&["DB", "S", "Q"])),
        },
    );
    rt(
        "DROP AUTHENTICATION POLICY IF EXISTS p",
        Statement::DropAuthenticationPolicy {
            if_exists: true,
            name: name(&["P"]),
        },
    );
    rt(
        "DESC AUTHENTICATION POLICY p",
        Statement::DescribeAuthenticationPolicy { name: name(&["P"]) },
    );
    rt(
        "SHOW AUTHENTICATION POLICIES LIKE 'p%' IN SCHEMA d.s ON USER u STARTS WITH 'P' LIMIT 5",
        Statement::ShowAuthenticationPolicies {
            filter: ShowFilter {
                like: Some("p%".into()),
                starts_with: Some("P".into()),
                limit: Some(5),
                from: None,
            },
            scope: Some(ShowScope::Schema(name(&["D", "S"]))),
            on: Some(PolicyOn::User(id("U"))),
        },
    );
    rt(
        "SHOW AUTHENTICATION POLICIES ON ACCOUNT",
        Statement::ShowAuthenticationPolicies {
            filter: ShowFilter::default(),
            scope: None,
            on: Some(PolicyOn::Account),
        },
    );
}

#[test]
fn s5_10_alter_account() {
    rt(
        "ALTER ACCOUNT SET AUTHENTICATION POLICY p FOR ALL SERVICE USERS FORCE",
        Statement::AlterAccount(AlterAccountAction::SetAuthenticationPolicy {
            policy: name(&["P"]),
            scope: PolicyScope::ServiceUsers,
            force: true,
        }),
    );
    rt(
        "ALTER ACCOUNT SET AUTHENTICATION POLICY d.s.p",
        Statement::AlterAccount(AlterAccountAction::SetAuthenticationPolicy {
            policy: name(&["D", "S", "P"]),
            scope: PolicyScope::Account,
            force: false,
        }),
    );
    rt(
        "ALTER ACCOUNT UNSET AUTHENTICATION POLICY FOR ALL PERSON USERS",
        Statement::AlterAccount(AlterAccountAction::UnsetAuthenticationPolicy {
            scope: PolicyScope::PersonUsers,
        }),
    );
    rt(
        "ALTER ACCOUNT SET NETWORK_POLICY = np",
        Statement::AlterAccount(AlterAccountAction::SetNetworkPolicy(id("NP"))),
    );
    rt(
        "ALTER ACCOUNT SET NETWORK_POLICY = '\"Np\"'",
        Statement::AlterAccount(AlterAccountAction::SetNetworkPolicy(id("Np"))),
    );
    rt(
        "ALTER ACCOUNT UNSET NETWORK_POLICY",
        Statement::AlterAccount(AlterAccountAction::UnsetNetworkPolicy),
    );
    rt(
        "ALTER ACCOUNT SET TIMEZONE = 'UTC' NETWORK_POLICY = np",
        Statement::AlterAccount(AlterAccountAction::SetParameters(vec![
            prop("TIMEZONE", s("UTC")),
            prop("NETWORK_POLICY", nm("NP")),
        ])),
    );
    rt(
        "ALTER ACCOUNT UNSET TIMEZONE, NETWORK_POLICY",
        Statement::AlterAccount(AlterAccountAction::UnsetParameters(vec![
            id("TIMEZONE"),
            id("NETWORK_POLICY"),
        ])),
    );
    err(
        "ALTER ACCOUNT UNSET AUTHENTICATION POLICY FORCE",
        1,
        42,
        "FORCE",
    );
}

// ------------------------------------------------------------------ §5.11 network

#[test]
fn s5_11_network_rules_and_policies() {
    rt(
        "CREATE OR REPLACE NETWORK RULE d.s.r TYPE = IPV4 VALUE_LIST = ('10.0.0.0/8', '192.168.1.1') MODE = INGRESS COMMENT = 'x'",
        Statement::CreateNetworkRule {
            or_replace: true,
            if_not_exists: false,
            name: name(&["D", "S", "R"]),
            properties: vec![
                prop("TYPE", nm("IPV4")),
                prop(
                    "VALUE_LIST",
                    Value::List(vec![s("10.0.0.0/8"), s("192.168.1.1")]),
                ),
                prop("MODE", nm("INGRESS")),
                prop("COMMENT", s("x")),
            ],
        },
    );
    rt(
        "DROP NETWORK RULE IF EXISTS r",
        Statement::DropNetworkRule {
            if_exists: true,
            name: name(&["R"]),
        },
    );
    rt(
        "CREATE NETWORK POLICY IF NOT EXISTS np ALLOWED_NETWORK_RULE_LIST = ('d.s.r') BLOCKED_IP_LIST = ()",
        Statement::CreateNetworkPolicy {
            or_replace: false,
            if_not_exists: true,
            name: id("NP"),
            properties: vec![
                prop("ALLOWED_NETWORK_RULE_LIST", Value::List(vec![s("d.s.r")])),
                prop("BLOCKED_IP_LIST", Value::List(vec![])),
            ],
        },
    );
    rt(
        "ALTER NETWORK POLICY np SET ALLOWED_IP_LIST = ('1.2.3.4')",
        Statement::AlterNetworkPolicy {
            if_exists: false,
            name: id("NP"),
            properties: vec![prop("ALLOWED_IP_LIST", Value::List(vec![s("1.2.3.4")]))],
        },
    );
    rt(
        "DROP NETWORK POLICY np",
        Statement::DropNetworkPolicy {
            if_exists: false,
            name: id("NP"),
        },
    );
}

// ------------------------------------------------------------------ §5.12 PATs

#[test]
fn s5_12_username_omitted_before_pat_forms() {
    for verb in ["ADD", "add", "Rotate", "MODIFY", "REMOVE"] {
        for pat in ["PAT", "PROGRAMMATIC ACCESS TOKEN"] {
            let tail = if verb.eq_ignore_ascii_case("MODIFY") {
                " RENAME TO t2"
            } else {
                ""
            };
            let text = format!("ALTER USER {verb} {pat} t{tail}");
            let stmt = parse_statement(&text);
            assert!(
                matches!(stmt, Ok(Statement::AlterUser { user: None, .. })),
                "{text}: {stmt:?}"
            );
            if let Ok(stmt) = stmt {
                assert_eq!(parse_statement(&stmt.to_string()), Ok(stmt));
            }
        }
    }
    // A user literally named ADD: the word after it is not PAT.
    rt(
        "ALTER USER add ADD PAT t",
        alter_user(
            Some("ADD"),
            AlterUserAction::AddPat(AddPat {
                name: id("T"),
                ..AddPat::default()
            }),
        ),
    );
    rt(
        "ALTER USER IF EXISTS REMOVE PAT IF EXISTS t",
        Statement::AlterUser {
            if_exists: true,
            user: None,
            action: AlterUserAction::RemovePat {
                if_exists: true,
                name: id("T"),
            },
        },
    );
}

#[test]
fn s5_12_1_add_pat_options() {
    let expected = |role: &str| {
        alter_user(
            Some("U"),
            AlterUserAction::AddPat(AddPat {
                if_not_exists: true,
                name: id("EXAMPLE_TOKEN"),
                role_restriction: Some(id(role)),
                days_to_expiry: Some(30),
                mins_to_bypass_network_policy_requirement: Some(240),
                comment: Some("ci token".into()),
            }),
        )
    };
    rt(
        "ALTER USER u ADD PROGRAMMATIC ACCESS TOKEN IF NOT EXISTS example_token \
         ROLE_RESTRICTION = 'example_role' DAYS_TO_EXPIRY = 30 \
         MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT = 240 COMMENT = 'ci token'",
        expected("EXAMPLE_ROLE"),
    );
    // Identifier form, any order, commas.
    rt(
        "ALTER USER u ADD PAT IF NOT EXISTS example_token COMMENT = 'ci token', \
         DAYS_TO_EXPIRY = 30, ROLE_RESTRICTION = example_role, MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT = 240",
        expected("EXAMPLE_ROLE"),
    );
    // §1.2: a double-quoted literal keeps its case; a quoted identifier too.
    rt(
        "ALTER USER u ADD PAT IF NOT EXISTS example_token ROLE_RESTRICTION = '\"Mixed\"' \
         DAYS_TO_EXPIRY = 30 MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT = 240 COMMENT = 'ci token'",
        expected("Mixed"),
    );
    rt(
        "ALTER USER u ADD PAT IF NOT EXISTS example_token ROLE_RESTRICTION = \"Mixed\" \
         DAYS_TO_EXPIRY = 30 MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT = 240 COMMENT = 'ci token'",
        expected("Mixed"),
    );
    // Rendering writes the role as a string literal of its identifier spelling.
    let rendered = expected("CORTEX_REST_API_ROLE").to_string();
    assert!(
        rendered.contains("ROLE_RESTRICTION = 'CORTEX_REST_API_ROLE'"),
        "{rendered}"
    );
    assert!(expected("Mixed")
        .to_string()
        .contains("ROLE_RESTRICTION = '\"Mixed\"'"),);
    err("ALTER USER u ADD PAT t DAYS_TO_EXPIRY = 'x'", 1, 40, "'x'");
    err(
        "ALTER USER u ADD PAT t DAYS_TO_EXPIRY = 1 DAYS_TO_EXPIRY = 2",
        1,
        42,
        "DAYS_TO_EXPIRY",
    );
    err("ALTER USER u ADD PAT t FROB = 1", 1, 23, "FROB");
    err("ALTER USER u ADD PAT t ROLE_RESTRICTION = ''", 1, 42, "''");
}

#[test]
fn s5_12_2_rotate() {
    rt(
        "ALTER USER u ROTATE PAT IF EXISTS t EXPIRE_ROTATED_TOKEN_AFTER_HOURS = 0",
        alter_user(
            Some("U"),
            AlterUserAction::RotatePat {
                if_exists: true,
                name: id("T"),
                expire_rotated_token_after_hours: Some(0),
            },
        ),
    );
    rt(
        "ALTER USER u ROTATE PROGRAMMATIC ACCESS TOKEN t",
        alter_user(
            Some("U"),
            AlterUserAction::RotatePat {
                if_exists: false,
                name: id("T"),
                expire_rotated_token_after_hours: None,
            },
        ),
    );
}

#[test]
fn s5_12_3_modify() {
    let set = ModifyPat::Set {
        disabled: Some(false),
        mins_to_bypass_network_policy_requirement: Some(15),
        comment: Some("c".into()),
    };
    for sep in [" ", ", ", "\n", " ,\n "] {
        rt(
            &format!(
                "ALTER USER u MODIFY PAT t SET DISABLED = FALSE{sep}\
                 MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT = 15{sep}COMMENT = 'c'"
            ),
            alter_user(
                Some("U"),
                AlterUserAction::ModifyPat {
                    if_exists: false,
                    name: id("T"),
                    change: set.clone(),
                },
            ),
        );
    }
    rt(
        "ALTER USER u MODIFY PROGRAMMATIC ACCESS TOKEN IF EXISTS t UNSET DISABLED, MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT, COMMENT",
        alter_user(
            Some("U"),
            AlterUserAction::ModifyPat {
                if_exists: true,
                name: id("T"),
                change: ModifyPat::Unset(vec![
                    PatProperty::Disabled,
                    PatProperty::MinsToBypassNetworkPolicyRequirement,
                    PatProperty::Comment,
                ]),
            },
        ),
    );
    rt(
        "ALTER USER u MODIFY PAT t RENAME TO t2",
        alter_user(
            Some("U"),
            AlterUserAction::ModifyPat {
                if_exists: false,
                name: id("T"),
                change: ModifyPat::Rename(id("T2")),
            },
        ),
    );
    // §5.12.3: a value in UNSET is an error; UNSET items need commas; SET needs an item.
    err(
        "ALTER USER u MODIFY PAT t UNSET DISABLED = TRUE",
        1,
        41,
        "=",
    );
    err(
        "ALTER USER u MODIFY PAT t UNSET DISABLED COMMENT",
        1,
        41,
        "COMMENT",
    );
    err("ALTER USER u MODIFY PAT t SET", 1, 29, "<EOF>");
    err(
        "ALTER USER u MODIFY PAT t SET ROLE_RESTRICTION = r",
        1,
        30,
        "ROLE_RESTRICTION",
    );
    err("ALTER USER u MODIFY PAT t SET DISABLED = 1", 1, 41, "1");
}

#[test]
fn s5_12_4_remove_and_5_show_pats() {
    rt(
        "ALTER USER u REMOVE PROGRAMMATIC ACCESS TOKEN t",
        alter_user(
            Some("U"),
            AlterUserAction::RemovePat {
                if_exists: false,
                name: id("T"),
            },
        ),
    );
    rt(
        "SHOW USER PROGRAMMATIC ACCESS TOKENS FOR USER u",
        Statement::ShowUserPats {
            for_user: Some(id("U")),
        },
    );
    rt("show user pats", Statement::ShowUserPats { for_user: None });
    err("SHOW USER PAT", 1, 10, "PAT");
}

// ------------------------------------------------------------------ §5.13–5.15

#[test]
fn s5_13_secrets() {
    rt(
        "CREATE SECRET IF NOT EXISTS d.s.x TYPE = GENERIC_STRING SECRET_STRING = 'p@ss''w' COMMENT = 'c'",
        Statement::CreateSecret {
            or_replace: false,
            if_not_exists: true,
            name: name(&["D", "S", "X"]),
            properties: vec![
                prop("TYPE", nm("GENERIC_STRING")),
                prop("SECRET_STRING", s("p@ss'w")),
                prop("COMMENT", s("c")),
            ],
        },
    );
    rt(
        "ALTER SECRET x SET SECRET_STRING = 'n'",
        Statement::AlterSecret {
            if_exists: false,
            name: name(&["X"]),
            properties: vec![prop("SECRET_STRING", s("n"))],
        },
    );
    rt(
        "DROP SECRET IF EXISTS x",
        Statement::DropSecret {
            if_exists: true,
            name: name(&["X"]),
        },
    );
    rt(
        "DESCRIBE SECRET x",
        Statement::DescribeSecret { name: name(&["X"]) },
    );
}

#[test]
fn s5_14_security_integrations() {
    rt(
        "CREATE SECURITY INTEGRATION ext TYPE = EXTERNAL_OAUTH ENABLED = TRUE \
         EXTERNAL_OAUTH_TYPE = CUSTOM EXTERNAL_OAUTH_ISSUER = 'https://idp/x' \
         EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM = ('sub', 'upn') \
         EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE = 'LOGIN_NAME'",
        Statement::CreateSecurityIntegration {
            or_replace: false,
            if_not_exists: false,
            name: id("EXT"),
            properties: vec![
                prop("TYPE", nm("EXTERNAL_OAUTH")),
                prop("ENABLED", Value::Bool(true)),
                prop("EXTERNAL_OAUTH_TYPE", nm("CUSTOM")),
                prop("EXTERNAL_OAUTH_ISSUER", s("https://idp/x")),
                prop(
                    "EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM",
                    Value::List(vec![s("sub"), s("upn")]),
                ),
                prop(
                    "EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE",
                    s("LOGIN_NAME"),
                ),
            ],
        },
    );
    rt(
        "ALTER SECURITY INTEGRATION ext SET ENABLED = FALSE",
        Statement::AlterIntegration {
            if_exists: false,
            name: id("EXT"),
            properties: vec![prop("ENABLED", Value::Bool(false))],
        },
    );
    rt(
        "DROP INTEGRATION IF EXISTS ext",
        Statement::DropIntegration {
            if_exists: true,
            name: id("EXT"),
        },
    );
}

#[test]
fn s5_15_databases_and_schemas() {
    rt(
        "CREATE DATABASE IF NOT EXISTS workdb COMMENT = 'w'",
        Statement::CreateDatabase {
            or_replace: false,
            if_not_exists: true,
            name: id("WORKDB"),
            comment: Some("w".into()),
        },
    );
    rt(
        "CREATE OR REPLACE SCHEMA workdb.s",
        Statement::CreateSchema {
            or_replace: true,
            if_not_exists: false,
            name: name(&["WORKDB", "S"]),
            comment: None,
        },
    );
    rt(
        "DROP DATABASE d",
        Statement::DropDatabase {
            if_exists: false,
            name: id("D"),
        },
    );
    rt(
        "DROP SCHEMA IF EXISTS s",
        Statement::DropSchema {
            if_exists: true,
            name: name(&["S"]),
        },
    );
    err("CREATE SCHEMA a.b.c", 1, 14, "a");
}

// ------------------------------------------------------------------ §5.16–5.18

#[test]
fn s5_16_use() {
    rt("USE ROLE r", Statement::Use(UseTarget::Role(id("R"))));
    rt(
        "USE SECONDARY ROLES ALL",
        Statement::Use(UseTarget::SecondaryRoles(SecondaryRoles::All)),
    );
    rt(
        "use secondary roles none",
        Statement::Use(UseTarget::SecondaryRoles(SecondaryRoles::None)),
    );
    rt("USE d", Statement::Use(UseTarget::Database(id("D"))));
    rt(
        "USE DATABASE d",
        Statement::Use(UseTarget::Database(id("D"))),
    );
    rt(
        "USE SCHEMA d.s",
        Statement::Use(UseTarget::Schema(name(&["D", "S"]))),
    );
    rt(
        "USE WAREHOUSE wh",
        Statement::Use(UseTarget::Warehouse(id("WH"))),
    );
    err("USE SECONDARY ROLES r", 1, 20, "r");
}

#[test]
fn alter_session() {
    rt(
        "ALTER SESSION SET JDBC_QUERY_RESULT_FORMAT = 'JSON', TIMEZONE = 'UTC'",
        Statement::AlterSessionSet(vec![
            prop("JDBC_QUERY_RESULT_FORMAT", s("JSON")),
            prop("TIMEZONE", s("UTC")),
        ]),
    );
    rt(
        "ALTER SESSION UNSET QUERY_TAG, TIMEZONE",
        Statement::AlterSessionUnset(vec![id("QUERY_TAG"), id("TIMEZONE")]),
    );
}

#[test]
fn s5_17_show_users_roles_grants() {
    rt(
        "SHOW TERSE ROLES LIKE 'r%' STARTS WITH 'R' LIMIT 10 FROM 'R1'",
        Statement::ShowRoles {
            terse: true,
            filter: ShowFilter {
                like: Some("r%".into()),
                starts_with: Some("R".into()),
                limit: Some(10),
                from: Some("R1".into()),
            },
        },
    );
    rt(
        "SHOW USERS",
        Statement::ShowUsers {
            terse: false,
            filter: ShowFilter::default(),
        },
    );
    rt(
        "SHOW GRANTS",
        Statement::ShowGrants(ShowGrantsTarget::CurrentUser),
    );
    rt(
        "SHOW GRANTS ON ACCOUNT",
        Statement::ShowGrants(ShowGrantsTarget::OnAccount),
    );
    rt(
        "SHOW GRANTS ON SCHEMA workdb.public",
        Statement::ShowGrants(ShowGrantsTarget::On {
            kind: ObjectKind::Schema,
            name: name(&["WORKDB", "PUBLIC"]),
        }),
    );
    rt(
        "SHOW GRANTS ON NETWORK RULE d.s.r",
        Statement::ShowGrants(ShowGrantsTarget::On {
            kind: ObjectKind::NetworkRule,
            name: name(&["D", "S", "R"]),
        }),
    );
    rt(
        "SHOW GRANTS TO ROLE r",
        Statement::ShowGrants(ShowGrantsTarget::ToRole(id("R"))),
    );
    rt(
        "SHOW GRANTS TO USER u",
        Statement::ShowGrants(ShowGrantsTarget::ToUser(id("U"))),
    );
    rt(
        "SHOW GRANTS OF ROLE r",
        Statement::ShowGrants(ShowGrantsTarget::OfRole(id("R"))),
    );
    rt(
        "SHOW GRANTS TO DATABASE ROLE SNOWFLAKE.CORTEX_USER",
        Statement::ShowGrants(ShowGrantsTarget::ToDatabaseRole(name(&[
            "SNOWFLAKE",
            "CORTEX_USER",
        ]))),
    );
    assert_eq!(
        parse_statement("SHOW GRANTS OF DATABASE ROLE SNOWFLAKE.CORTEX_USER"),
        Ok(Statement::ShowGrants(ShowGrantsTarget::ToDatabaseRole(
            name(&["SNOWFLAKE", "CORTEX_USER"])
        )))
    );
    err("SHOW GRANTS TO u", 1, 15, "u");
}

#[test]
fn show_object_kinds() {
    for (text, kind) in [
        ("DATABASES", ShowKind::Databases),
        ("SCHEMAS", ShowKind::Schemas),
        ("NETWORK POLICIES", ShowKind::NetworkPolicies),
        ("NETWORK RULES", ShowKind::NetworkRules),
        ("SECRETS", ShowKind::Secrets),
        ("INTEGRATIONS", ShowKind::Integrations),
        ("SECURITY INTEGRATIONS", ShowKind::SecurityIntegrations),
        ("DATABASE ROLES", ShowKind::DatabaseRoles),
        ("PARAMETERS", ShowKind::Parameters),
        ("MCP SERVERS", ShowKind::McpServers),
        ("SERVICES", ShowKind::Services),
        ("COMPUTE POOLS", ShowKind::ComputePools),
        ("STAGES", ShowKind::Stages),
        ("IMAGE REPOSITORIES", ShowKind::ImageRepositories),
    ] {
        rt(
            &format!("SHOW {text} LIKE 'x' IN DATABASE d"),
            Statement::ShowObjects {
                kind,
                filter: ShowFilter {
                    like: Some("x".into()),
                    ..ShowFilter::default()
                },
                scope: Some(ShowScope::Database(id("D"))),
            },
        );
    }
    err("SHOW TERSE DATABASES", 1, 11, "DATABASES");
    err("SHOW TABLES", 1, 5, "TABLES");
}

#[test]
fn s5_18_select() {
    rt(
        "select current_user(), CURRENT_ROLE() AS r, 1, 'x' y, current_timestamp",
        Statement::Select(Select {
            items: vec![
                SelectItem {
                    expr: Expr::Function {
                        name: "CURRENT_USER".into(),
                        args: vec![],
                    },
                    alias: None,
                },
                SelectItem {
                    expr: Expr::Function {
                        name: "CURRENT_ROLE".into(),
                        args: vec![],
                    },
                    alias: Some(id("R")),
                },
                SelectItem {
                    expr: Expr::Number("1".into()),
                    alias: None,
                },
                SelectItem {
                    expr: Expr::String("x".into()),
                    alias: Some(id("Y")),
                },
                SelectItem {
                    expr: Expr::Function {
                        name: "CURRENT_TIMESTAMP".into(),
                        args: vec![],
                    },
                    alias: None,
                },
            ],
            from: None,
            filter: vec![],
        }),
    );
    rt(
        "SELECT * FROM SNOWFLAKE.ACCOUNT_USAGE.CREDENTIALS WHERE type = 'PAT' AND user_name = 'X'",
        Statement::Select(Select {
            items: vec![SelectItem {
                expr: Expr::Wildcard,
                alias: None,
            }],
            from: Some(name(&["SNOWFLAKE", "ACCOUNT_USAGE", "CREDENTIALS"])),
            filter: vec![
                (id("TYPE"), Expr::String("PAT".into())),
                (id("USER_NAME"), Expr::String("X".into())),
            ],
        }),
    );
    rt(
        "SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('I'), name, TRUE, NULL, -2",
        Statement::Select(Select {
            items: vec![
                SelectItem {
                    expr: Expr::Function {
                        name: "SYSTEM$SHOW_OAUTH_CLIENT_SECRETS".into(),
                        args: vec![Expr::String("I".into())],
                    },
                    alias: None,
                },
                SelectItem {
                    expr: Expr::Column(id("NAME")),
                    alias: None,
                },
                SelectItem {
                    expr: Expr::Bool(true),
                    alias: None,
                },
                SelectItem {
                    expr: Expr::Null,
                    alias: None,
                },
                SelectItem {
                    expr: Expr::Number("-2".into()),
                    alias: None,
                },
            ],
            from: None,
            filter: vec![],
        }),
    );
    assert_eq!(
        Expr::Function {
            name: "CURRENT_USER".into(),
            args: vec![]
        }
        .to_string(),
        "CURRENT_USER()"
    );
    err("SELECT", 1, 6, "<EOF>");
    err("SELECT 1 FROM", 1, 13, "<EOF>");
    err("SELECT 1 WHERE a > 1", 1, 17, ">");
}

// ------------------------------------------------------------------ §5.20–5.21 objects

#[test]
fn s5_20_runtime_objects() {
    rt(
        "CREATE SERVICE d.s.svc IN COMPUTE POOL pool FROM SPECIFICATION $$\nspec:\n  x: ';'\n$$ \
         EXTERNAL_ACCESS_INTEGRATIONS = (eai)",
        Statement::CreateObject {
            kind: ObjectKind::Service,
            or_replace: false,
            if_not_exists: false,
            name: name(&["D", "S", "SVC"]),
            in_compute_pool: Some(id("POOL")),
            specification: Some("\nspec:\n  x: ';'\n".into()),
            properties: vec![prop(
                "EXTERNAL_ACCESS_INTEGRATIONS",
                Value::List(vec![nm("EAI")]),
            )],
        },
    );
    rt(
        "CREATE OR REPLACE MCP SERVER d.s.m FROM SPECIFICATION $$tools: []$$",
        Statement::CreateObject {
            kind: ObjectKind::McpServer,
            or_replace: true,
            if_not_exists: false,
            name: name(&["D", "S", "M"]),
            in_compute_pool: None,
            specification: Some("tools: []".into()),
            properties: vec![],
        },
    )
}

#[test]
fn s5_20_runtime_objects_more() {
    for (kw, kind) in [
        ("STAGE", ObjectKind::Stage),
        ("IMAGE REPOSITORY", ObjectKind::ImageRepository),
        ("COMPUTE POOL", ObjectKind::ComputePool),
        (
            "EXTERNAL ACCESS INTEGRATION",
            ObjectKind::ExternalAccessIntegration,
        ),
        ("SERVICE", ObjectKind::Service),
        ("MCP SERVER", ObjectKind::McpServer),
    ] {
        rt(
            &format!("CREATE {kw} IF NOT EXISTS x ENABLED = TRUE"),
            Statement::CreateObject {
                kind,
                or_replace: false,
                if_not_exists: true,
                name: name(&["X"]),
                in_compute_pool: None,
                specification: None,
                properties: vec![prop("ENABLED", Value::Bool(true))],
            },
        );
        let drop = Statement::DropObject {
            kind,
            if_exists: true,
            name: name(&["X"]),
        };
        rt(&format!("DROP {kw} IF EXISTS x"), drop.clone());
        assert_eq!(drop.kind(), format!("DROP {kw}"));
    }
}

#[test]
fn transactions() {
    rt("BEGIN", Statement::Begin);
    rt("BEGIN TRANSACTION", Statement::Begin);
    rt("START TRANSACTION", Statement::Begin);
    rt("COMMIT", Statement::Commit);
    rt("ROLLBACK", Statement::Rollback);
}

// ------------------------------------------------------------------ errors, kind, object

#[test]
fn syntax_errors_point_at_the_first_unexpected_token() {
    err("CREATE TABLE t (a int)", 1, 7, "TABLE");
    err("select 1;\nFROB x", 2, 0, "FROB");
    err("CREATE USER u\n  PASSWORD = 'x'\n  , ,", 3, 2, ",");
    err("CREATE ROLE", 1, 11, "<EOF>");
    err("CREATE ROLE;", 1, 11, "<EOF>");
    err("DROP USER u extra", 1, 12, "extra");
    err("'unterminated", 1, 0, "'");
    err("DROP USER \"x", 1, 10, "\"");
    err("CREATE ROLE r /* open", 1, 14, "/*");
    err("CREATE ROLE é", 1, 12, "é");
    assert_eq!(
        parse_statement("DROP USER")
            .err()
            .map(|e| e.to_string())
            .as_deref(),
        Some("syntax error line 1 at position 9 unexpected '<EOF>'.")
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let text = format!(
        "CREATE USER u A = {}1{}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(parse_statement(&text).is_err());
    let text = format!("SELECT {}1{}", "F(".repeat(5000), ")".repeat(5000));
    assert!(parse_statement(&text).is_err());
}

#[test]
fn kind_and_object_for_the_log() {
    let cases = [
        (
            "CREATE USER u PASSWORD = 'secret'",
            "CREATE USER",
            Some("U"),
        ),
        (
            "ALTER USER ADD PAT t COMMENT = 'c'",
            "ALTER USER ADD PAT",
            None,
        ),
        (
            "ALTER USER u ROTATE PAT t",
            "ALTER USER ROTATE PAT",
            Some("U"),
        ),
        (
            "ALTER USER u MODIFY PAT t RENAME TO x",
            "ALTER USER MODIFY PAT",
            Some("U"),
        ),
        (
            "ALTER USER u REMOVE PAT t",
            "ALTER USER REMOVE PAT",
            Some("U"),
        ),
        (
            "ALTER USER \"u\" SET DISABLED = TRUE",
            "ALTER USER",
            Some("\"u\""),
        ),
        ("GRANT ROLE r TO USER u", "GRANT ROLE", Some("R")),
        (
            "GRANT OWNERSHIP ON ROLE x TO ROLE r",
            "GRANT OWNERSHIP",
            Some("X"),
        ),
        (
            "GRANT USAGE ON DATABASE d TO ROLE r",
            "GRANT PRIVILEGES",
            Some("D"),
        ),
        (
            "CREATE AUTHENTICATION POLICY p",
            "CREATE AUTHENTICATION POLICY",
            Some("P"),
        ),
        ("ALTER ACCOUNT UNSET NETWORK_POLICY", "ALTER ACCOUNT", None),
        ("SHOW USER PATS", "SHOW USER PATS", None),
        (
            "CREATE SERVICE s IN COMPUTE POOL p FROM SPECIFICATION $$x$$",
            "CREATE SERVICE",
            Some("S"),
        ),
        (
            "CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = 'k'",
            "CREATE SECRET",
            Some("S"),
        ),
        ("USE ROLE r", "USE ROLE", Some("R")),
        ("USE DATABASE d", "USE DATABASE", Some("D")),
        ("SELECT 1", "SELECT", None),
        ("BEGIN", "BEGIN", None),
        ("DROP COMPUTE POOL p", "DROP COMPUTE POOL", Some("P")),
    ];
    for (text, kind, object) in cases {
        let stmt = parse_statement(text);
        assert_eq!(stmt.as_ref().map(Statement::kind), Ok(kind), "{text}");
        assert_eq!(
            stmt.as_ref().ok().and_then(Statement::object).as_deref(),
            object,
            "{text}"
        );
    }
}
