//! `snowpat-sql`: Snowflake's lexical rules, a typed AST of the access-control statements snowpat
//! and its emulator speak, rendering that always quotes safely, and parsing.
//!
//! * [`ast`]: the statement tree (names already resolved: `id` → `ID`, `"id"` → `id`).
//! * [`lexer`]: tokens, comments, `''`/backslash/`$$` literals, splitting text into statements.
//! * [`parser`]: text → [`ast::Statement`], with Snowflake-shaped syntax errors.
//! * [`render`]: [`ast::Statement`] → text (`Display`), through [`render::quote_ident`] and
//!   [`render::quote_string`], the one quoting layer.

pub mod ast;
pub mod lexer;
pub mod parser;
pub mod render;

pub use parser::{parse_statement, parse_statements, ParseError};
