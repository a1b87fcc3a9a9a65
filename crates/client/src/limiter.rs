//! Adaptive concurrency for bulk callers: an AIMD limiter. Each HTTP attempt holds a permit; a
//! 429 halves the limit (multiplicative decrease) at most once per window of `limit` answers (a
//! burst of 429s from one overload counts once, as TCP cuts once per round trip), and every
//! other answer grows it by `1 / limit` (additive increase: one more slot per window).
//!
//! Attach one to a [`crate::Client`] with [`crate::ClientBuilder::limiter`], then run many
//! statements at once with [`crate::Client::execute_all`]; the limiter decides how many are on the
//! wire.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// An additive-increase / multiplicative-decrease concurrency limit.
#[derive(Debug)]
pub struct AimdLimiter {
    state: Mutex<State>,
    changed: Notify,
    min: usize,
    max: usize,
    decrease: f64,
}

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
    overloads: u64,
    since_decrease: usize,
}

impl AimdLimiter {
    /// A limiter starting at `initial`, kept within `min ..= max` (min at least 1).
    #[must_use]
    pub fn new(initial: usize, min: usize, max: usize) -> Arc<Self> {
        let min = min.max(1);
        let max = max.max(min);
        Arc::new(Self {
            state: Mutex::new(State {
                limit: as_f64(initial.clamp(min, max)),
                in_flight: 0,
                overloads: 0,
                since_decrease: usize::MAX,
            }),
            changed: Notify::new(),
            min,
            max,
            decrease: 0.5,
        })
    }

    /// The current limit (whole slots).
    #[must_use]
    pub fn limit(&self) -> usize {
        whole(self.lock().limit)
    }

    /// Requests holding a permit now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// How many overload signals were recorded.
    #[must_use]
    pub fn overloads(&self) -> u64 {
        self.lock().overloads
    }

    /// Waits for a free slot.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if state.in_flight < whole(state.limit) {
                    state.in_flight += 1;
                    return Permit {
                        limiter: Arc::clone(self),
                    };
                }
            }
            notified.await;
        }
    }

    /// Records an answer that was not an overload.
    pub fn on_success(&self) {
        let grew = {
            let mut state = self.lock();
            let before = whole(state.limit);
            state.since_decrease = state.since_decrease.saturating_add(1);
            state.limit = (state.limit + 1.0 / state.limit.max(1.0)).min(as_f64(self.max));
            whole(state.limit) > before
        };
        if grew {
            self.changed.notify_waiters();
        }
    }

    /// Records an overload (429).
    pub fn on_overload(&self) {
        let mut state = self.lock();
        state.overloads += 1;
        if state.since_decrease >= whole(state.limit) {
            state.limit = (state.limit * self.decrease).max(as_f64(self.min));
            state.since_decrease = 0;
        } else {
            state.since_decrease = state.since_decrease.saturating_add(1);
        }
    }

    fn release(&self) {
        {
            let mut state = self.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
        }
        self.changed.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A slot; released on drop.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<AimdLimiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limiter.release();
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "concurrency limits are small integers"
)]
fn as_f64(n: usize) -> f64 {
    n as f64
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the limit is kept within 1 ..= max, a small positive number"
)]
fn whole(limit: f64) -> usize {
    limit.floor().max(1.0) as usize
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn aimd_halves_on_overload_and_grows_on_success() {
        let limiter = AimdLimiter::new(16, 1, 64);
        limiter.on_overload();
        assert_eq!(limiter.limit(), 8);
        limiter.on_overload();
        assert_eq!(limiter.limit(), 8, "one cut per window");
        for _ in 0..4 {
            for _ in 0..16 {
                limiter.on_success();
            }
            limiter.on_overload();
        }
        assert!(limiter.limit() < 8, "{}", limiter.limit());
        let small = AimdLimiter::new(2, 1, 4);
        small.on_overload();
        for _ in 0..4 {
            small.on_success();
            small.on_success();
            small.on_overload();
        }
        assert_eq!(small.limit(), 1, "never below min");
        for _ in 0..3 {
            limiter.on_success();
        }
        assert!(limiter.limit() >= 2);
        for _ in 0..10_000 {
            limiter.on_success();
        }
        assert_eq!(limiter.limit(), 64, "never above max");
        assert_eq!(limiter.overloads(), 6);
    }

    #[tokio::test]
    async fn permits_bound_concurrency() {
        let limiter = AimdLimiter::new(2, 1, 2);
        let a = limiter.acquire().await;
        let _b = limiter.acquire().await;
        assert_eq!(limiter.in_flight(), 2);
        let waiter = {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move { limiter.acquire().await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "a third permit waits");
        drop(a);
        let c = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(limiter.in_flight(), 2);
        drop(c);
        assert_eq!(limiter.in_flight(), 1);
    }
}
