//! Text → statements (placeholder: filled in by the parser work).

use crate::ast::Statement;

/// A syntax error, positioned as Snowflake reports it (`001003`).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("syntax error line {line} at position {position} unexpected '{unexpected}'.")]
pub struct ParseError {
    /// 1-based line of the offending token.
    pub line: usize,
    /// 0-based column of the offending token on that line.
    pub position: usize,
    /// The offending token's text (`<EOF>` at the end of input).
    pub unexpected: String,
}

/// Parses exactly one statement (a trailing `;` is allowed).
pub fn parse_statement(text: &str) -> Result<Statement, ParseError> {
    let _ = text;
    Err(ParseError {
        line: 1,
        position: 0,
        unexpected: "<EOF>".into(),
    })
}

/// Parses every statement of a text.
pub fn parse_statements(text: &str) -> Result<Vec<Statement>, ParseError> {
    parse_statement(text).map(|s| vec![s])
}
