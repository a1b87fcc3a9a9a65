//! `snowpat-server`: the token exchange service behind `snowpat serve` and `snowpat exchange`
//! (issue 6; `interfaces.md` "snowpat.toml" `[exchange]`, `POST /v1/token`).
//!
//! * [`mint`]: the minting engine, as-user (seed 003, External OAuth) or delegated.
//! * [`cache`]: the encrypted in-memory reuse cache; [`flight`]: in-process single flight.
//! * [`ratelimit`], [`audit`], [`metrics`]: per-subject limits, JSON-line audit events,
//!   Prometheus text.

pub mod audit;
pub mod cache;
pub mod flight;
pub mod metrics;
pub mod mint;
pub mod ratelimit;
