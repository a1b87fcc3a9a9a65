//! Properties of the quoting layer (`snowflake-behaviour.md` §1): whatever a name or a text
//! contains, it renders to something that lexes and parses back to exactly itself, and it can
//! never turn one statement into two.

use proptest::prelude::*;
use snowpat_sql::ast::*;
use snowpat_sql::lexer::split_statements;
use snowpat_sql::{parse_statement, parse_statements};

/// Characters that matter to the lexer, mixed with arbitrary Unicode.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        3 => prop::sample::select(vec![
            '"', '\'', ';', '\\', '\n', '\r', '\t', '$', '-', '/', '*', ' ', '\0', '.', '(', ')',
            '=', ',', 'a', 'Z', '_', '0', 'é', '\u{2028}', '\u{feff}',
        ]),
        1 => prop::char::range('A', 'Z'),
    ]
}

fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), min..=max).prop_map(String::from_iter)
}

/// A name Snowflake accepts: 1 to 255 characters, anything at all (§1.1).
fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        text(1, 40),
        text(1, 255),
        // Names the renderer may leave bare.
        "[A-Z_][A-Z0-9_$]{0,20}",
        Just("x; DROP USER y".to_string()),
        Just("ADD".to_string()),
        Just("PAT".to_string()),
        Just("IF".to_string()),
        Just("SELECT".to_string()),
    ]
}

/// Fragments of real statements for the stability property.
fn fragment() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "CREATE",
        "ALTER",
        "DROP",
        "USER",
        "ROLE",
        "GRANT",
        "REVOKE",
        "ADD",
        "PAT",
        "ROTATE",
        "MODIFY",
        "REMOVE",
        "SET",
        "UNSET",
        "TO",
        "ON",
        "IF",
        "EXISTS",
        "NOT",
        "SHOW",
        "USERS",
        "PATS",
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "AS",
        "USE",
        "ACCOUNT",
        "AUTHENTICATION",
        "POLICY",
        "PAT_POLICY",
        "COMMENT",
        "ROLE_RESTRICTION",
        "DISABLED",
        "TRUE",
        "NULL",
        "IDENTIFIER",
        "=",
        "(",
        ")",
        ",",
        ".",
        "*",
        "-",
        "1",
        "'s'",
        "\"Q\"",
        "$$x$$",
        "a",
    ]);
    prop_oneof![
        6 => words.prop_map(str::to_string),
        1 => text(0, 6),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// (1) Any name renders as an identifier that parses back to the same name.
    #[test]
    fn any_identifier_round_trips(name in any_name()) {
        let stmt = Statement::DropUser { if_exists: false, name: Ident::new(name.clone()) };
        let rendered = stmt.to_string();
        prop_assert_eq!(parse_statement(&rendered), Ok(stmt), "{}", rendered);
        let qualified = Statement::DropSchema {
            if_exists: true,
            name: ObjectName(vec![Ident::new(name.clone()), Ident::new(name)]),
        };
        prop_assert_eq!(parse_statement(&qualified.to_string()), Ok(qualified));
    }

    /// (2) Any text renders as a string literal that parses back to the same text.
    #[test]
    fn any_string_literal_round_trips(comment in text(0, 300)) {
        let stmt = Statement::CreateRole {
            or_replace: false,
            if_not_exists: true,
            name: Ident::new("R"),
            comment: Some(comment.clone()),
        };
        let rendered = stmt.to_string();
        prop_assert_eq!(parse_statement(&rendered), Ok(stmt), "{}", rendered);
        let select = Statement::Select(Select {
            items: vec![SelectItem { expr: Expr::String(comment), alias: None }],
            from: None,
            filter: vec![],
        });
        prop_assert_eq!(parse_statement(&select.to_string()), Ok(select));
    }

    /// (3) No name or text turns one rendered ADD PAT statement into two.
    #[test]
    fn add_pat_stays_one_statement(
        user in any_name(),
        role in any_name(),
        token in any_name(),
        comment in text(0, 100),
        omit_user in any::<bool>(),
    ) {
        let stmt = Statement::AlterUser {
            if_exists: false,
            user: (!omit_user).then(|| Ident::new(user)),
            action: AlterUserAction::AddPat(AddPat {
                if_not_exists: true,
                name: Ident::new(token),
                role_restriction: Some(Ident::new(role)),
                days_to_expiry: Some(30),
                mins_to_bypass_network_policy_requirement: None,
                comment: Some(comment),
            }),
        };
        let rendered = stmt.to_string();
        let parts = split_statements(&rendered);
        prop_assert_eq!(parts.as_ref().map(Vec::len), Ok(1), "{}", rendered);
        prop_assert_eq!(parse_statements(&rendered), Ok(vec![stmt.clone()]));
        prop_assert_eq!(parse_statement(&parts.unwrap_or_default()[0]), Ok(stmt));
    }

    /// Any token soup: parsing never panics, and whatever parses renders to text that parses
    /// back to the same statements (the fuzz targets' property, on structured input).
    #[test]
    fn parse_render_parse_is_stable(frags in prop::collection::vec(fragment(), 0..24)) {
        let input = frags.join(" ");
        let _ = split_statements(&input);
        if let Ok(stmts) = parse_statements(&input) {
            for stmt in stmts {
                let rendered = stmt.to_string();
                prop_assert_eq!(parse_statement(&rendered), Ok(stmt), "{} -> {}", input, rendered);
            }
        }
    }
}

#[test]
fn tenant_id_with_a_statement_inside_stays_a_name() {
    let stmt = Statement::AlterUser {
        if_exists: false,
        user: Some(Ident::new("x; DROP USER y")),
        action: AlterUserAction::AddPat(AddPat {
            name: Ident::new("t' ; DROP USER z; --"),
            comment: Some("'; DROP USER w; -- $$ /*".into()),
            ..AddPat::default()
        }),
    };
    let rendered = stmt.to_string();
    assert_eq!(
        rendered,
        "ALTER USER \"x; DROP USER y\" ADD PROGRAMMATIC ACCESS TOKEN \"t' ; DROP USER z; --\" \
         COMMENT = '''; DROP USER w; -- $$ /*'"
    );
    assert_eq!(split_statements(&rendered).map(|v| v.len()), Ok(1));
    assert_eq!(parse_statement(&rendered), Ok(stmt));
}
