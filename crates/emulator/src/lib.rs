//! `snowpat-emulator`: a local Snowflake that behaves as `shared/spec/snowflake-behaviour.md` and
//! `shared/spec/protocols.md` say Snowflake does, errors included, so that snowpat can be built
//! and tested with no account.
//!
//! Two layers, one contract between them:
//!
//! * [`engine`]: the account — catalog (users, roles, grants, policies, PATs, ...), the statement
//!   semantics and privilege checks, and credential verification. It knows nothing of HTTP. Its
//!   entry points are [`engine::Account::authenticate`] and [`engine::Account::execute`].
//! * [`server`]: the Snowflake-facing HTTP endpoints (SQL API v2, Cortex), the control API, faults,
//!   the request log and durable state. It owns no Snowflake rule.
//!
//! Routes (see [`server`] for details):
//!
//! | Path | Auth | Behaviour |
//! |---|---|---|
//! | `POST /api/v2/statements` | PAT, key-pair JWT | execute one or more statements |
//! | `GET /api/v2/statements/{h}` | same user | status, result, partitions |
//! | `POST /api/v2/statements/{h}/cancel` | same user | cancel |
//! | `POST /api/v2/cortex/inference:complete`, `/v1/messages`, `/v1/chat/completions` | bearer | deterministic echo; CORTEX_USER check |
//! | `/emulator/v1/*` | control token | clock, admin token, request log, scripted faults, healthz |

pub mod engine;
pub mod server;
