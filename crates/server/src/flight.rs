//! In-process single flight: concurrent requests for one (policy, issuer, subject, user, role)
//! share one mint. The first caller mints while holding the key's slot; the others wait on it and
//! then read the result from the reuse cache, or share the first caller's refusal.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::cache::CacheKey;

/// One key's slot.
pub struct Slot<E> {
    lock: Arc<tokio::sync::Mutex<()>>,
    generation: AtomicU64,
    last_error: Mutex<Option<(u64, E)>>,
}

/// The single-flight table.
pub struct Flights<E> {
    slots: Mutex<HashMap<CacheKey, Arc<Slot<E>>>>,
}

impl<E> Default for Flights<E> {
    fn default() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

/// What a caller holding the slot learns.
pub enum Turn<E> {
    /// Mint now (nobody finished a flight since this caller arrived, or the last one succeeded).
    Mint(Lead<E>),
    /// A flight that started after this caller arrived failed: share its error.
    Shared(E),
}

/// The right (and duty) to finish a flight.
pub struct Lead<E> {
    slot: Arc<Slot<E>>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
    /// Whether a flight finished successfully since the caller arrived (the cache has it).
    pub followed_success: bool,
}

impl<E: Clone> Lead<E> {
    /// Ends the flight, recording its error for the waiters.
    pub fn finish(self, error: Option<E>) {
        let generation = self.slot.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let mut last = self
            .slot
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *last = error.map(|e| (generation, e));
    }
}

impl<E: Clone> Flights<E> {
    /// Waits for the key's slot.
    pub async fn join(&self, key: CacheKey) -> Turn<E> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            // Drop idle slots so the table does not grow without bound.
            slots.retain(|k, s| *k == key || Arc::strong_count(s) > 1);
            Arc::clone(slots.entry(key).or_insert_with(|| {
                Arc::new(Slot {
                    lock: Arc::new(tokio::sync::Mutex::new(())),
                    generation: AtomicU64::new(0),
                    last_error: Mutex::new(None),
                })
            }))
        };
        let arrived = slot.generation.load(Ordering::SeqCst);
        let guard = Arc::clone(&slot.lock).lock_owned().await;
        let now = slot.generation.load(Ordering::SeqCst);
        if now != arrived {
            let last = slot
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some((generation, error)) = last {
                if generation > arrived {
                    return Turn::Shared(error);
                }
            }
        }
        Turn::Mint(Lead {
            slot,
            _guard: guard,
            followed_success: now != arrived,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_share_one_flight_and_its_error() {
        let flights: Arc<Flights<String>> = Arc::new(Flights::default());
        let key = [7u8; 32];
        let Turn::Mint(lead) = flights.join(key).await else {
            panic!("first caller leads");
        };
        assert!(!lead.followed_success);
        let f = Arc::clone(&flights);
        let waiter = tokio::spawn(async move {
            match f.join(key).await {
                Turn::Shared(e) => Some(e),
                Turn::Mint(_) => None,
            }
        });
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        lead.finish(Some("refused".into()));
        assert_eq!(waiter.await.unwrap().as_deref(), Some("refused"));
        // A caller arriving after the failure leads a new flight.
        let Turn::Mint(lead) = flights.join(key).await else {
            panic!("new flight");
        };
        let f = Arc::clone(&flights);
        let waiter = tokio::spawn(async move {
            match f.join(key).await {
                Turn::Mint(l) => l.followed_success,
                Turn::Shared(_) => false,
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        lead.finish(None);
        assert!(waiter.await.unwrap(), "the waiter sees the success");
    }
}
