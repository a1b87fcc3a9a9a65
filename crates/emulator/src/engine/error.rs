//! Snowflake-shaped errors (`snowflake-behaviour.md` §9).

use std::fmt;

/// A statement failed: SQL API 422, driver `success:false`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SqlError {
    /// Six-digit code (`002003`).
    pub code: String,
    /// sqlState (`42S02`).
    pub sql_state: String,
    /// Message as Snowflake lays it out (`SQL compilation error:\n...`).
    pub message: String,
}

impl SqlError {
    pub fn new(code: &str, sql_state: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            sql_state: sql_state.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.sql_state, self.message)
    }
}

impl std::error::Error for SqlError {}

/// Authentication failed (SQL API 401, or 400 for `390186`).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AuthError {
    /// HTTP status on REST endpoints.
    pub http_status: u16,
    /// Code (`394400`).
    pub code: String,
    /// Message (`Programmatic access token is invalid.`).
    pub message: String,
}

impl AuthError {
    pub fn new(http_status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            http_status,
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AuthError {}
