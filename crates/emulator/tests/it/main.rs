//! snowpat-emulator integration tests: one binary (link once), one module per area.
//!
//! * `harness` — an in-process emulator per test (127.0.0.1:0, temp token files) and helpers.
//! * `input` — malformed requests of every kind get Snowflake-shaped errors (protocols §2.2–§2.5).
//! * `control` — the control API: token, clock, log, faults, healthz (interfaces.md).
//! * `binary` — the real `snowpat-emulator` binary: ready line, flags, `kill -9` durability.
//! * `sqlapi` — SQL API v2 shapes, multi-statement, partitions, async, cancel (protocols §2).
//! * `bindings` — SQL API bind variables (protocols §2.4, §2.6).
//! * `idempotency` — requestId + retry=true, drop replay (protocols §2.8).
//! * `faults` — latency, seeded 429/503, drops, scripted statement faults.
//! * `peers` — the TCP peer decides, never a forwarding header; control API loopback only.
//! * `cortex` — Cortex endpoints: 200/401/403/400 (protocols §7).
//! * `durability` — `--state` across restarts.
//! * `jwks` — External OAuth keys from loopback JWKS URLs: kid, RS/ES algorithms, rotation, caps (protocols §5.4).
//! * `oauth` — External OAuth JWTs (rows 58–59) and Snowflake OAuth code/PKCE/refresh (protocols §5–§6).
//! * `driver` — the connector protocol (protocols §4) and the driver rows of §10.
//! * `mcp` — the managed MCP server endpoint (protocols §8).
//! * `conformance_a` — snowflake-behaviour.md §10 rows 1–55 over the SQL API.
//! * `conformance_b` — snowflake-behaviour.md §10 rows 56–110 over the SQL API (PAT and key pair).
//! * `refusals` — removed, expired, disabled and wrong-type PATs; expired, stale and foreign key-pair JWTs.
//! * `seed_000` — seed 000 (cross-role PAT issuance) as written, troubleshooting errors included.

mod harness;

mod binary;
mod bindings;
mod conformance_b;
mod control;
mod cortex;
mod driver;
mod durability;
mod faults;
mod idempotency;
mod input;
mod jwks;
mod mcp;
mod oauth;
mod peers;
mod refusals;
mod seed_000;
mod sqlapi;

mod conformance_a;
