//! `split_statements` on arbitrary UTF-8: never panics; every statement it returns is non-empty,
//! splits to itself, and a parse of the whole text agrees with a parse of the pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snowpat_sql::lexer::split_statements;
use snowpat_sql::{parse_statement, parse_statements};

fuzz_target!(|text: &str| {
    let Ok(parts) = split_statements(text) else {
        return;
    };
    for part in &parts {
        assert!(!part.is_empty());
        assert_eq!(
            split_statements(part).as_deref(),
            Ok(std::slice::from_ref(part))
        );
    }
    if let Ok(stmts) = parse_statements(text) {
        assert_eq!(stmts.len(), parts.len());
        for (stmt, part) in stmts.iter().zip(&parts) {
            assert_eq!(parse_statement(part).as_ref(), Ok(stmt));
        }
    }
});
