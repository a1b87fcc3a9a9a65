//! `parse_statements` on arbitrary UTF-8: never panics, and every parsed statement renders to text
//! that is one statement and parses back to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snowpat_sql::lexer::split_statements;
use snowpat_sql::{parse_statement, parse_statements};

fuzz_target!(|text: &str| {
    let Ok(stmts) = parse_statements(text) else {
        return;
    };
    for stmt in stmts {
        let rendered = stmt.to_string();
        assert_eq!(
            split_statements(&rendered).map(|v| v.len()),
            Ok(1),
            "{rendered}"
        );
        assert_eq!(parse_statement(&rendered), Ok(stmt), "{rendered}");
    }
});
