//! The account: catalog, statement semantics, privilege checks and credential verification.
//!
//! The contract with [`crate::server`]:
//!
//! * [`Account::new`] builds the start-up account of `snowflake-behaviour.md` §3.2.
//! * [`Account::authenticate`] turns a presented credential into a [`Session`] or an
//!   [`AuthError`] (§6.6, protocols §3.2).
//! * [`Account::execute`] runs one parsed statement in a session and answers a [`ResultSet`] or a
//!   [`SqlError`] (§9). It never panics on any statement the parser accepts.
//! * Every time-dependent rule reads [`Now`]: `account` (the account clock, moved only by the
//!   control API) for account objects, `real` for client-signed JWTs (§6.9).
//! * [`Account`] is `Serialize + Deserialize`: the server persists it for `--state`.

mod error;
mod result;
mod session;

pub use error::{AuthError, SqlError};
pub use result::{Cell, Column, ColumnType, ResultSet};
pub use session::{AuthContext, AuthMethod, Channel, Credential, Now, Session, TokenType};

use serde::{Deserialize, Serialize};
use snowpat_sql::ast::Statement;

/// Start-up options of the account (`interfaces.md`, `snowpat-emulator` flags).
#[derive(Clone, Debug)]
pub struct AccountConfig {
    /// Account name (`--account`, default `EMULATOR`), upper case.
    pub name: String,
    /// Create the account-level loopback network policy (`--no-default-network-policy` clears it).
    pub default_network_policy: bool,
    /// `--pat-session-rules`.
    pub pat_session_rules: PatSessionRules,
}

/// `--pat-session-rules observed|documented` (§6.7).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub enum PatSessionRules {
    #[default]
    Observed,
    Documented,
}

/// All state of one account.
#[derive(Debug, Deserialize, Serialize)]
pub struct Account {
    // Filled in by the engine work.
    name: String,
}

impl Account {
    /// The start-up account (§3.2).
    pub fn new(config: &AccountConfig, now: Now) -> Self {
        let _ = now;
        Self {
            name: config.name.clone(),
        }
    }

    /// The account name, upper case.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Verifies a credential and opens a session (§6.6; protocols §1.3, §3.2).
    pub fn authenticate(
        &mut self,
        credential: &Credential,
        context: &AuthContext,
        now: Now,
    ) -> Result<Session, AuthError> {
        let _ = (credential, context, now);
        Err(AuthError::new(
            401,
            "394400",
            "Programmatic access token is invalid.",
        ))
    }

    /// A session as `user` with its default role, for the server's own use (the control API
    /// rotates ADMIN's PAT through it). Never reachable by a client credential.
    pub fn internal_session(&self, user: &str) -> Option<Session> {
        let _ = user;
        None
    }

    /// Whether the session's role in effect may call Cortex: it holds `SNOWFLAKE.CORTEX_USER` or
    /// `SNOWFLAKE.CORTEX_REST_API_USER` (protocols §7.1).
    pub fn cortex_allowed(&self, session: &Session) -> bool {
        let _ = session;
        false
    }

    /// Runs one statement in a session.
    pub fn execute(
        &mut self,
        session: &mut Session,
        statement: &Statement,
        now: Now,
    ) -> Result<ResultSet, SqlError> {
        let _ = (session, statement, now);
        Err(SqlError::new(
            "001003",
            "42000",
            "SQL compilation error:\nnot implemented",
        ))
    }
}
