//! snowpat-client against the in-process emulator: one test binary.
//!
//! - `harness`: an emulator per test (127.0.0.1:0, temporary admin/control/key files), clients
//!   and the control log.
//! - `sqlapi`: requests, typed rows, typed errors, multi-statement requests, 202 polling,
//!   partitions (protocols §2).
//! - `auth`: PAT, key-pair JWT with renewal, token-type headers (protocols §1.2, §3).
//! - `faults`: 1,000 PAT-creating statements under `--fault-rate 0.3 --drop-rate 0.2`, seeds 1–3,
//!   each run once; retry budgets (protocols §2.8, §9).
//! - `mock`: a scripted HTTP server for answers the emulator does not give on demand (500/502/504/408,
//!   `Retry-After`, gzip partitions written by hand, malformed bodies, refused statuses).
//! - `secrets`: a workload logged at trace level leaks no secret.

mod auth;
mod faults;
mod harness;
mod mock;
mod secrets;
mod sqlapi;
