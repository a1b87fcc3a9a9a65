//! `snowpat-core`: the engine behind the `snowpat` commands.
//!
//! * [`config`]: `snowpat.toml` (unknown keys refused with file, line and key), tenant ids.
//! * [`plan`]: a plan is an ordered list of typed statements (`snowpat_sql::ast::Statement`),
//!   printed by `--plan` and sent by `--apply`; no SQL is assembled outside `snowpat-sql`.
//! * [`blueprints`]: the account patterns of the seeds (multi-tenant, cli-single-role,
//!   admin-runtime, token-exchange) as plans with a privilege preflight.
//! * [`tenants`]: the tenant lifecycle (provision, rotate, revoke, disable, enable, drop, list,
//!   show, rotate-due), bulk with bounded concurrency.
//! * [`store`]: the state store trait and its SQLite implementation: tenants, token metadata, the
//!   journal of statements (each `requestId` recorded before it is sent).
//! * [`sinks`]: where a minted secret goes (file, dotenv, exec, snowflake-secret, stdout).
//! * [`oauth`]: Snowflake OAuth with PKCE for `snowpat oauth` (loopback redirect, token cache).
//! * [`exchange`]: the trust side of the token exchange: policies, JWKS, IdP JWT verification.

pub mod audit;
pub mod blueprints;
pub mod cli_config;
pub mod config;
pub mod exchange;
pub mod oauth;
pub mod plan;
pub mod sinks;
pub mod store;
pub mod tenants;
