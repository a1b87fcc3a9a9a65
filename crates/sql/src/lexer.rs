//! Tokens of Snowflake SQL (placeholder: filled in by the lexer work).
