//! Typed errors. An [`Error`] is what went wrong ([`ErrorKind`]) plus the request's context: the
//! `requestId`, how many retries were made and how long it all took (STYLE §2). No secret and no
//! statement text is ever part of an error.

use std::fmt;
use std::time::Duration;

use uuid::Uuid;

use crate::codes::{self, CodeClass, CodeInfo};

/// A failed client call, with the context of the request that failed.
#[derive(Debug)]
pub struct Error {
    kind: Box<ErrorKind>,
    request_id: Option<Uuid>,
    retries: u32,
    elapsed: Duration,
    gave_up: bool,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self {
            kind: Box::new(kind),
            request_id: None,
            retries: 0,
            elapsed: Duration::ZERO,
            gave_up: false,
        }
    }

    pub(crate) fn with_context(
        mut self,
        request_id: Option<Uuid>,
        retries: u32,
        elapsed: Duration,
    ) -> Self {
        self.request_id = request_id;
        self.retries = retries;
        self.elapsed = elapsed;
        self
    }

    pub(crate) fn exhausted(mut self) -> Self {
        self.gave_up = true;
        self
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The SQL API answer, when Snowflake answered with an error body or status.
    #[must_use]
    pub fn api(&self) -> Option<&ApiError> {
        match &*self.kind {
            ErrorKind::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The `requestId` of the submission (the same on every retry).
    #[must_use]
    pub fn request_id(&self) -> Option<Uuid> {
        self.request_id
    }

    /// Retries made before this error (0: the first attempt failed for good).
    #[must_use]
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Time from the first attempt to the error.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Whether the retry budget ran out (the last failure was retryable).
    #[must_use]
    pub fn retries_exhausted(&self) -> bool {
        self.gave_up
    }

    /// The class of the failure: from the code table, the SQL state or the HTTP status
    /// ([`codes::class_of`]); transport failures are [`CodeClass::Unavailable`].
    #[must_use]
    pub fn class(&self) -> Option<CodeClass> {
        match &*self.kind {
            ErrorKind::Api(api) => Some(api.class()),
            ErrorKind::Transport(_) => Some(CodeClass::Unavailable),
            ErrorKind::PollTimeout { .. } => Some(CodeClass::Canceled),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        let mut context = Vec::new();
        if let Some(id) = self.request_id {
            context.push(format!("requestId {id}"));
        }
        if self.retries > 0 || self.gave_up {
            let what = if self.gave_up {
                "retry budget exhausted after"
            } else {
                "after"
            };
            context.push(format!(
                "{what} {} retries in {:.1}s",
                self.retries,
                self.elapsed.as_secs_f64()
            ));
        }
        if !context.is_empty() {
            write!(f, " ({})", context.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            ErrorKind::Transport(e) => Some(e),
            ErrorKind::Auth(e) => Some(e),
            ErrorKind::Config(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        Self::new(ErrorKind::Auth(e))
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self::new(ErrorKind::Config(e))
    }
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Snowflake answered with an error status (and usually a `{code, message, sqlState,
    /// statementHandle}` body).
    Api(ApiError),
    /// The request could not be sent or its answer not read (connect error, timeout, connection
    /// closed before a response).
    Transport(reqwest::Error),
    /// The answer was not the shape protocols §2.5 gives.
    Decode(String),
    /// The statement was still running when the poll deadline passed; it may still finish.
    PollTimeout {
        /// Its handle, for a later GET or a cancel.
        statement_handle: String,
        /// How long the client polled.
        waited: Duration,
    },
    /// A credential could not be loaded or used.
    Auth(AuthError),
    /// A connection setting is invalid.
    Config(ConfigError),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Api(api) => write!(f, "{api}"),
            Self::Transport(_) => write!(f, "request to Snowflake failed"),
            Self::Decode(what) => write!(f, "unexpected answer from Snowflake: {what}"),
            Self::PollTimeout {
                statement_handle,
                waited,
            } => write!(
                f,
                "statement `{statement_handle}` still running after {:.1}s",
                waited.as_secs_f64()
            ),
            Self::Auth(_) => write!(f, "credential error"),
            Self::Config(_) => write!(f, "connection setting error"),
        }
    }
}

/// An error answer of the SQL API (protocols §2.5, snowflake-behaviour §8).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Snowflake's code (`002003`), normalised to six digits when numeric.
    pub code: Option<String>,
    /// SQL state (`42S02`).
    pub sql_state: Option<String>,
    /// Snowflake's message, as sent.
    pub message: Option<String>,
    /// The statement's handle, when one was assigned.
    pub statement_handle: Option<String>,
}

impl ApiError {
    /// The row of [`codes::CODES`] for this code, if known.
    #[must_use]
    pub fn info(&self) -> Option<&'static CodeInfo> {
        self.code.as_deref().and_then(codes::lookup)
    }

    /// What to do about it, from the code table (the `hint:` line after a CLI error).
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        self.info().map(|info| info.fix)
    }

    /// The class: the code's, else the SQL state's, else the HTTP status's.
    #[must_use]
    pub fn class(&self) -> CodeClass {
        codes::class_of(self.status, self.code.as_deref(), self.sql_state.as_deref())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Snowflake answered HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " code {code}")?;
        }
        if let Some(state) = &self.sql_state {
            write!(f, " ({state})")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        } else if let Some(info) = self.info() {
            write!(f, ": {}", info.title)?;
        }
        if let Some(handle) = &self.statement_handle {
            write!(f, " [statement `{handle}`]")?;
        }
        Ok(())
    }
}

/// A credential that could not be loaded or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The private key file could not be read.
    #[error("cannot read private key file `{path}`")]
    KeyFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token file could not be read.
    #[error("cannot read token file `{path}`")]
    TokenFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file held no token.
    #[error("token file `{0}` is empty")]
    EmptyToken(std::path::PathBuf),
    /// Encrypted PKCS#8 keys are not supported.
    #[error("encrypted private keys are not supported; decrypt it first (`openssl pkcs8 -topk8 -nocrypt`)")]
    EncryptedKey,
    /// The key is not an RSA private key in PKCS#8 (or PKCS#1) PEM.
    #[error("the private key is not an RSA key in PKCS#8 PEM form")]
    InvalidKey,
    /// Signing the JWT failed.
    #[error("signing the key-pair JWT failed")]
    Signing,
    /// The account or user is empty or not usable in JWT claims.
    #[error("invalid {what} for key-pair authentication: `{value}`")]
    InvalidClaim {
        /// `account` or `user`.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The local clock is before 1970.
    #[error("the local clock is before the Unix epoch")]
    Clock,
}

/// An invalid connection setting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The account identifier has characters a host name cannot hold.
    #[error("invalid account identifier `{0}`")]
    Account(String),
    /// The base URL does not parse, or is not usable.
    #[error("invalid URL `{url}`: {why}")]
    Url {
        /// The URL as given (URLs with credentials are refused before they get here).
        url: String,
        /// Why.
        why: &'static str,
    },
    /// A configuration file could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A configuration file is not valid TOML.
    #[error("`{path}` is not valid TOML: {message}")]
    Toml {
        /// The file.
        path: std::path::PathBuf,
        /// The parser's message (never values: the parser reports positions).
        message: String,
    },
    /// No such connection profile.
    #[error("no connection named `{0}` in connections.toml or config.toml")]
    NoProfile(String),
    /// A profile key has the wrong type or value.
    #[error("connection `{profile}`: invalid `{key}`: {why}")]
    Profile {
        /// The profile.
        profile: String,
        /// The key.
        key: String,
        /// Why.
        why: String,
    },
    /// The profile lacks something the chosen authentication needs.
    #[error("connection `{profile}`: missing `{key}`")]
    Missing {
        /// The profile.
        profile: String,
        /// The key.
        key: &'static str,
    },
    /// The authenticator is not one snowpat supports.
    #[error("connection `{profile}`: authenticator `{authenticator}` is not supported (use PROGRAMMATIC_ACCESS_TOKEN, SNOWFLAKE_JWT or OAUTH)")]
    Authenticator {
        /// The profile.
        profile: String,
        /// The value.
        authenticator: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Http(#[source] reqwest::Error),
}

/// A cell that could not be read as the asked type.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// No column by that name (compared case-insensitively).
    #[error("no column `{0}` in the result")]
    NoColumn(String),
    /// SQL NULL where a value was required.
    #[error("column `{0}` is NULL")]
    Null(String),
    /// The cell does not parse as the asked type (the value is not repeated: it may be a secret).
    #[error("column `{column}` of type `{column_type}` cannot be read as {wanted}")]
    Type {
        /// Column name.
        column: String,
        /// Its rowType type.
        column_type: String,
        /// What was asked.
        wanted: &'static str,
    },
}
