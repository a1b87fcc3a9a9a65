//! Per-subject rate limits: a token bucket per (issuer, subject), keyed by a SHA-256 so the table
//! holds no subject text. Over the limit: HTTP 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Limits per subject.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Burst size.
    pub burst: f64,
}

impl Default for RateLimit {
    /// 10 requests per second with bursts of 200 (an agent fleet of one user starting at once).
    fn default() -> Self {
        Self {
            per_second: 10.0,
            burst: 200.0,
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets.
pub struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<[u8; 32], Bucket>>,
}

impl Limiter {
    #[must_use]
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for (issuer, subject): `Ok` or `Err(retry after)`.
    pub fn check(&self, issuer: &str, subject: &str) -> Result<(), Duration> {
        let mut h = Sha256::new();
        h.update((issuer.len() as u64).to_be_bytes());
        h.update(issuer.as_bytes());
        h.update(subject.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Forget full buckets; they would be full again anyway.
            let limit = self.limit;
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * limit.per_second < limit.burst
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.limit.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.limit.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.limit.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.limit.per_second.max(f64::MIN_POSITIVE);
            Err(Duration::from_secs_f64(wait.clamp(0.0, 3600.0)).max(Duration::from_secs(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refuses_per_subject() {
        let limiter = Limiter::new(RateLimit {
            per_second: 0.001,
            burst: 3.0,
        });
        for _ in 0..3 {
            assert!(limiter.check("i", "alice").is_ok());
        }
        let wait = limiter.check("i", "alice").unwrap_err();
        assert!(wait >= Duration::from_secs(1));
        assert!(
            limiter.check("i", "bob").is_ok(),
            "another subject has its own bucket"
        );
    }
}
