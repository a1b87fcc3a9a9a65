//! The retry policy of protocols §9: what is retried, and how long to wait.
//!
//! | Condition | Retried |
//! |---|---|
//! | connect error, timeout, connection closed before a response | yes |
//! | 429, 503, 504 | yes, capped full-jitter exponential backoff |
//! | 500, 502, 408 | yes |
//! | 400, 401, 403, 404, 405, 415, 422 | no (401: a renewable credential re-authenticates once) |
//!
//! Every retry of a submission reuses its `requestId` with `retry=true` (protocols §2.8), so the
//! statement runs at most once whatever the network does.

use std::time::Duration;

use rand::Rng as _;
use reqwest::StatusCode;

/// How many attempts and how long to wait between them.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff base: the first retry waits up to this long.
    pub base_delay: Duration,
    /// Backoff cap.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The default delays with `max_attempts` attempts.
    #[must_use]
    pub fn with_max_attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            ..Self::default()
        }
    }

    /// Full jitter: a uniform wait in `0 ..= min(cap, base × 2^(retry − 1))` (retry ≥ 1), at least
    /// `floor` (a server's `Retry-After`, capped too).
    #[must_use]
    pub fn delay(&self, retry: u32, floor: Option<Duration>) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        let ceiling = self
            .base_delay
            .saturating_mul(1_u32 << exponent)
            .min(self.max_delay);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let jitter = Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling_ms));
        match floor {
            Some(floor) => jitter.max(floor.min(self.max_delay)),
            None => jitter,
        }
    }
}

/// Statuses retried with the same `requestId` and `retry=true` (protocols §9).
#[must_use]
pub fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The status that signals overload to an adaptive limiter (429).
#[must_use]
pub(crate) fn overload_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
}

/// Transport failures retried: connect errors, timeouts, and a connection closed before (or
/// while) the response was read. A request that could not even be built is not retried.
#[must_use]
pub fn retryable_transport(error: &reqwest::Error) -> bool {
    !error.is_builder()
        && !error.is_redirect()
        && !error.is_status()
        && (error.is_connect()
            || error.is_timeout()
            || error.is_request()
            || error.is_body()
            || error.is_decode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_9_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 202, 400, 401, 403, 404, 405, 415, 422] {
            assert!(!retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn protocols_9_backoff_is_capped_full_jitter() {
        let policy = RetryPolicy {
            max_attempts: 20,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
        };
        let mut saw_small = false;
        for retry in 1..40 {
            for _ in 0..20 {
                let d = policy.delay(retry, None);
                assert!(d <= Duration::from_millis(200), "{d:?}");
                let ceiling = Duration::from_millis(10 * (1_u64 << (retry - 1).min(20)))
                    .min(Duration::from_millis(200));
                assert!(d <= ceiling);
                saw_small |= retry > 8 && d < Duration::from_millis(100);
            }
        }
        assert!(saw_small, "full jitter reaches below half the cap");
        assert!(policy.delay(1, Some(Duration::from_millis(150))) >= Duration::from_millis(150));
        assert!(policy.delay(1, Some(Duration::from_secs(60))) <= Duration::from_millis(200));
    }
}
