//! The reuse cache: a still-fresh PAT is handed out again instead of rotated (issue 6, "never
//! break a running agent").
//!
//! * Held only in memory, each secret sealed with ChaCha20-Poly1305 under a per-process random
//!   key (`ring`), the cache key as associated data, so a secret can only be opened under the key
//!   it was stored with; a core dump or a stray `Debug` shows ciphertext only.
//! * The cache key is SHA-256 over the policy fingerprint, policy, issuer, subject, user and role:
//!   it never spans subjects, and a policy change gives new keys. [`TokenCache::retain_fingerprint`]
//!   empties the cache when the fingerprint changes.
//! * Times are server time (unix ms) estimated as local time plus the offset measured at mint.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Who a cached token was handed to: the single-flight and cache key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub policy: String,
    pub issuer: String,
    pub subject: String,
    /// The Snowflake user (policy-mapped).
    pub user: String,
    pub role: String,
}

/// A 32-byte cache key.
pub type CacheKey = [u8; 32];

/// SHA-256 over the fingerprint and each identity field, length-prefixed (no two identities
/// collide by concatenation).
#[must_use]
pub fn cache_key(fingerprint: &[u8; 32], id: &Identity) -> CacheKey {
    let mut h = Sha256::new();
    h.update(b"snowpat-exchange-cache-v1");
    h.update(fingerprint);
    for part in [&id.policy, &id.issuer, &id.subject, &id.user, &id.role] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

struct Entry {
    nonce: [u8; NONCE_LEN],
    sealed: Vec<u8>,
    /// Server time (unix ms) after which the token is no longer handed out at all.
    deadline_ms: i64,
    /// Lifetime at mint (ms), for the reuse threshold.
    lifetime_ms: i64,
    /// The Snowflake object (user, token name) the secret belongs to.
    object: (String, String),
}

/// A cached token, opened.
pub struct Hit {
    pub secret: SecretString,
    pub deadline_ms: i64,
    pub token_name: String,
}

/// Cache failures (the RNG or the AEAD refused; never expected).
#[derive(Debug, thiserror::Error)]
#[error("the reuse cache's cipher failed")]
pub struct CacheError;

/// The encrypted in-memory cache.
pub struct TokenCache {
    key: LessSafeKey,
    rng: SystemRandom,
    fingerprint: Mutex<[u8; 32]>,
    entries: Mutex<HashMap<CacheKey, Entry>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache with a fresh random key, for policies with `fingerprint`.
    pub fn new(fingerprint: [u8; 32]) -> Result<Self, CacheError> {
        let rng = SystemRandom::new();
        let mut raw = [0u8; 32];
        rng.fill(&mut raw).map_err(|_| CacheError)?;
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &raw).map_err(|_| CacheError)?;
        zeroize::Zeroize::zeroize(&mut raw);
        Ok(Self {
            key: LessSafeKey::new(unbound),
            rng,
            fingerprint: Mutex::new(fingerprint),
            entries: Mutex::new(HashMap::new()),
        })
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether the cache is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the cache when the policy fingerprint differs from the one it was filled under.
    pub fn retain_fingerprint(&self, fingerprint: [u8; 32]) {
        let mut current = self
            .fingerprint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *current != fingerprint {
            *current = fingerprint;
            self.entries().clear();
        }
    }

    /// Seals and stores a secret.
    pub fn put(
        &self,
        key: CacheKey,
        secret: &SecretString,
        deadline_ms: i64,
        lifetime_ms: i64,
        object: (String, String),
    ) -> Result<(), CacheError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CacheError)?;
        let mut sealed = secret.expose_secret().as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&key),
                &mut sealed,
            )
            .map_err(|_| CacheError)?;
        self.entries().insert(
            key,
            Entry {
                nonce,
                sealed,
                deadline_ms,
                lifetime_ms,
                object,
            },
        );
        Ok(())
    }

    /// The entry for `key` if more than the reuse threshold is left at `now_ms` (server time):
    /// `min(reuse_while, lifetime / 2)`, so a short-lived token is still reused for half its life.
    pub fn fresh(&self, key: &CacheKey, now_ms: i64, reuse_while_ms: i64) -> Option<Hit> {
        let entries = self.entries();
        let entry = entries.get(key)?;
        let threshold = reuse_while_ms.min(entry.lifetime_ms / 2);
        if entry.deadline_ms - now_ms <= threshold {
            return None;
        }
        let mut buf = entry.sealed.clone();
        let opened = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(entry.nonce),
                Aad::from(key),
                &mut buf,
            )
            .ok()
            .and_then(|plain| std::str::from_utf8(plain).ok().map(SecretString::from));
        zeroize::Zeroize::zeroize(&mut buf);
        opened.map(|secret| Hit {
            secret,
            deadline_ms: entry.deadline_ms,
            token_name: entry.object.1.clone(),
        })
    }

    /// A ROTATE of `object` moved the secrets other entries hold to a rotated object that expires
    /// at `cap_ms`: their deadlines are capped there.
    pub fn cap_object(&self, object: &(String, String), cap_ms: i64, except: &CacheKey) {
        for (key, entry) in self.entries().iter_mut() {
            if &entry.object == object && key != except {
                entry.deadline_ms = entry.deadline_ms.min(cap_ms);
            }
        }
    }

    /// Forgets every entry of `object` (it was removed).
    pub fn drop_object(&self, object: &(String, String)) {
        self.entries().retain(|_, e| &e.object != object);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(subject: &str) -> Identity {
        Identity {
            policy: "agents".into(),
            issuer: "https://idp".into(),
            subject: subject.into(),
            user: "U".into(),
            role: "R".into(),
        }
    }

    #[test]
    fn keys_never_span_subjects_or_fingerprints() {
        let fp = [1u8; 32];
        assert_ne!(cache_key(&fp, &id("a")), cache_key(&fp, &id("b")));
        assert_ne!(cache_key(&fp, &id("a")), cache_key(&[2u8; 32], &id("a")));
        // Length prefixes: moving a character between fields changes the key.
        let mut x = id("ab");
        x.user = "c".into();
        let mut y = id("a");
        y.user = "bc".into();
        assert_ne!(cache_key(&fp, &x), cache_key(&fp, &y));
    }

    #[test]
    fn sealed_at_rest_fresh_until_the_threshold_and_flushed_on_policy_change() {
        let cache = TokenCache::new([1u8; 32]).unwrap();
        let key = cache_key(&[1u8; 32], &id("a"));
        let secret = SecretString::from("pat-secret-value-0123456789");
        let object = ("U".to_owned(), "SNOWPAT_R".to_owned());
        cache
            .put(key, &secret, 100_000, 100_000, object.clone())
            .unwrap();
        // Ciphertext only in memory.
        {
            let entries = cache.entries();
            let sealed = &entries.get(&key).unwrap().sealed;
            assert!(!sealed
                .windows(10)
                .any(|w| w == &b"pat-secret-value-0123456789"[..10]));
        }
        let hit = cache.fresh(&key, 10_000, 40_000).unwrap();
        assert_eq!(hit.secret.expose_secret(), "pat-secret-value-0123456789");
        // 100_000 - 70_000 = 30_000 left ≤ 40_000: not fresh.
        assert!(cache.fresh(&key, 70_000, 40_000).is_none());
        // Short lifetime: the threshold is half the lifetime.
        assert!(cache.fresh(&key, 40_000, 1_000_000).is_some());
        assert!(cache.fresh(&key, 50_000, 1_000_000).is_none());
        // Another subject's key cannot open it.
        assert!(cache
            .fresh(&cache_key(&[1u8; 32], &id("b")), 0, 0)
            .is_none());
        // Rotation by another entry caps the deadline.
        cache.cap_object(&object, 20_000, &[0u8; 32]);
        assert!(cache.fresh(&key, 15_000, 1_000).is_some());
        assert!(cache.fresh(&key, 19_500, 1_000).is_none());
        cache.retain_fingerprint([1u8; 32]);
        assert_eq!(cache.len(), 1);
        cache.retain_fingerprint([2u8; 32]);
        assert!(cache.is_empty());
    }
}
