//! Credentials as presented, and the session they open.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The two clocks of §6.9.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Now {
    /// Account clock: real time plus the control API's offset. Account objects use it.
    pub account: DateTime<Utc>,
    /// Real time: client-signed JWTs are checked against it.
    pub real: DateTime<Utc>,
}

/// `X-Snowflake-Authorization-Token-Type` (protocols §1.2).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum TokenType {
    KeypairJwt,
    OAuth,
    ProgrammaticAccessToken,
}

/// A credential as presented by a client.
#[derive(Debug)]
pub enum Credential {
    /// `Authorization: Bearer <token>` with the declared type, if any (detection: protocols §1.3).
    Bearer {
        token: SecretString,
        token_type: Option<TokenType>,
    },
    /// Driver login with a password (which may be a PAT, §6.6).
    Password { password: SecretString },
}

/// Which door the credential came through: decides the error codes (§6.6 step 10).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Channel {
    SqlApi,
    Driver,
    /// Cortex, MCP and other REST endpoints.
    Rest,
}

/// Everything about a login attempt other than the credential.
#[derive(Clone, Debug)]
pub struct AuthContext {
    /// TCP peer address (never a forwarding header).
    pub peer: IpAddr,
    /// Login name the client claims (driver `LOGIN_NAME`), if any.
    pub login_name: Option<String>,
    /// Requested role (SQL API `role`, `X-Snowflake-Role`, driver `roleName`), as sent.
    pub requested_role: Option<String>,
    pub channel: Channel,
    /// JWKS key sets the server fetched for External OAuth (protocols §5.4 step 3).
    pub jwks: super::JwksKeys,
}

/// How a session was authenticated (decides §6.7 and what the request log prints as `auth`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub enum AuthMethod {
    /// A PAT: the token's internal id and its role restriction.
    Pat {
        token_id: u64,
        role_restriction: Option<String>,
    },
    KeyPair,
    /// External OAuth or Snowflake OAuth.
    OAuth,
    Password,
    /// A session the server opens itself (control API), never reachable by a client.
    Internal,
}

impl AuthMethod {
    /// Short name for the request log: `pat`, `keypair`, `oauth`, `password`, `internal`.
    pub fn log_name(&self) -> &'static str {
        match self {
            Self::Pat { .. } => "pat",
            Self::KeyPair => "keypair",
            Self::OAuth => "oauth",
            Self::Password => "password",
            Self::Internal => "internal",
        }
    }
}

/// A session: who, how, which roles, which namespace. Owned by the transport for the duration of
/// a request (SQL API) or a login (driver).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Session {
    pub user_id: u64,
    pub user_name: String,
    pub auth: AuthMethod,
    /// `CURRENT_ROLE()`.
    pub primary_role: String,
    /// `USE SECONDARY ROLES ALL` in effect.
    pub secondary_roles_all: bool,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub warehouse: Option<String>,
    /// `ALTER SESSION SET` values.
    pub parameters: Vec<(String, String)>,
    /// OAuth sessions: the security integration (object id) that admitted the token; decides
    /// whether `USE ROLE` may switch (External OAuth ANY_ROLE_MODE, protocols §5.4).
    #[serde(default)]
    pub oauth_integration: Option<u64>,
}
