//! Prometheus metrics in the text exposition format (written by hand), with no per-subject
//! labels: only decision, reason and mode, whose values are bounded sets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Latency buckets (seconds).
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String), u64>>,
    mints: Mutex<BTreeMap<String, u64>>,
    latency: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    pub cache_entries: AtomicU64,
    removals: AtomicU64,
    scheduler_runs: AtomicU64,
}

impl Metrics {
    /// One answered token request: `decision` (`issued`/`refused`), `reason` (a stable code).
    pub fn request(&self, decision: &str, reason: &str, seconds: f64) {
        *self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((decision.to_owned(), reason.to_owned()))
            .or_default() += 1;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.latency[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// One statement that minted (`add`, `rotate`) or removed (`remove`).
    pub fn mint(&self, action: &str) {
        *self
            .mints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(action.to_owned())
            .or_default() += 1;
    }

    pub fn removal(&self) {
        self.removals.fetch_add(1, Ordering::Relaxed);
    }

    pub fn scheduler_run(&self) {
        self.scheduler_runs.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP snowpat_exchange_requests_total Token requests answered, by decision and reason.\n");
        out.push_str("# TYPE snowpat_exchange_requests_total counter\n");
        for ((decision, reason), n) in self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "snowpat_exchange_requests_total{{decision=\"{}\",reason=\"{}\"}} {n}",
                escape(decision),
                escape(reason)
            );
        }
        out.push_str("# HELP snowpat_exchange_snowflake_statements_total PAT statements sent to Snowflake, by action.\n");
        out.push_str("# TYPE snowpat_exchange_snowflake_statements_total counter\n");
        for (action, n) in self
            .mints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "snowpat_exchange_snowflake_statements_total{{action=\"{}\"}} {n}",
                escape(action)
            );
        }
        out.push_str("# HELP snowpat_exchange_request_duration_seconds Token request latency.\n");
        out.push_str("# TYPE snowpat_exchange_request_duration_seconds histogram\n");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "snowpat_exchange_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                self.latency[i].load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "snowpat_exchange_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "snowpat_exchange_request_duration_seconds_sum {}",
            self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "snowpat_exchange_request_duration_seconds_count {count}"
        );
        for (name, help, kind, value) in [
            (
                "snowpat_exchange_cache_entries",
                "Tokens held (encrypted) in the reuse cache.",
                "gauge",
                self.cache_entries.load(Ordering::Relaxed),
            ),
            (
                "snowpat_exchange_removals_total",
                "Tokens removed at their policy deadline.",
                "counter",
                self.removals.load(Ordering::Relaxed),
            ),
            (
                "snowpat_scheduler_runs_total",
                "Rotation scheduler passes.",
                "counter",
                self.scheduler_runs.load(Ordering::Relaxed),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
