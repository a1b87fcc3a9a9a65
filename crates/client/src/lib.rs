//! snowpat's Snowflake SQL API v2 client.
//!
//! One job: send statements to Snowflake (or the emulator) and bring back typed rows or typed
//! errors, surviving the real network. It speaks `protocols.md` §1–§3 and §9:
//!
//! - **Auth** ([`Credential`]): PAT, key-pair JWT (RS256, fingerprint, short-lived tokens renewed
//!   before expiry), OAuth bearer; the `X-Snowflake-Authorization-Token-Type` header is always
//!   sent.
//! - **Retries** ([`RetryPolicy`]): 408/429/5xx, timeouts and dropped connections, with capped
//!   full-jitter backoff. Every submission gets a fresh `requestId` and every retry reuses it with
//!   `retry=true`, so a statement runs at most once whatever the network does.
//! - **Results** ([`ResultSet`], [`Row`]): typed cells by case-insensitive column name, 202
//!   polling, partitions, multi-statement requests; server time ([`ServerTime`]) for anything about
//!   Snowflake objects.
//! - **Errors** ([`Error`], [`ApiError`]): Snowflake's code, SQL state, message and handle, the
//!   HTTP status, `requestId`, retries and elapsed time; one [`codes`] table explains them.
//! - **Where** ([`BaseUrl`], [`profile`]): account identifiers to URLs, a `--url` override,
//!   Snowflake CLI connection profiles.
//! - **Bulk** ([`AimdLimiter`], [`Client::execute_all`]): adaptive concurrency.
//!
//! No secret reaches a log line, an error message or `Debug` output, and statement text is never
//! logged.
//!
//! ```no_run
//! use secrecy::SecretString;
//! use snowpat_client::{BaseUrl, Client, Credential, Statement};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder(
//!     BaseUrl::from_account("myorg-myaccount")?,
//!     Credential::pat(SecretString::from(std::env::var("SNOWFLAKE_TOKEN")?)),
//! )
//! .build()?;
//! let result = client.execute(&Statement::new("SELECT CURRENT_USER()")).await?;
//! let user: String = result.rows()[0].get("CURRENT_USER()")?;
//! # let _ = user;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod account;
mod auth;
mod client;
pub mod codes;
mod error;
mod limiter;
pub mod profile;
mod result;
mod retry;
mod time;

pub use account::{jwt_account, BaseUrl};
pub use auth::{Credential, KeyPair, TOKEN_TYPE_HEADER};
pub use client::{Client, ClientBuilder, Statement, USER_AGENT};
pub use error::{ApiError, AuthError, ConfigError, Error, ErrorKind, RowError};
pub use limiter::{AimdLimiter, Permit};
pub use result::{Column, FromCell, ResultSet, Row, Stats};
pub use retry::{retryable_status, retryable_transport, RetryPolicy};
pub use time::ServerTime;
