//! The JWKS cache: keys only from configured URLs, fetched with a timeout and a body cap, cached
//! with a TTL, refetched on an unknown `kid` at most once per `min_refetch_interval` per URL, with
//! concurrent fetches of one URL coalesced (one fetch lock per URL; waiters re-read the result).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::{BigUint, RsaPublicKey};
use serde_json::Value;

use super::verify::JwksOptions;
use super::ExchangeError;

/// Smallest accepted RSA modulus.
const MIN_RSA_BITS: usize = 2048;
/// Most keys kept from one JWKS document.
const MAX_KEYS: usize = 64;

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, RsaPublicKey>,
    fetched_at: Option<Instant>,
}

#[derive(Default)]
struct FetchState {
    last_attempt: Option<Instant>,
}

#[derive(Default)]
struct UrlEntry {
    keys: RwLock<Arc<KeySet>>,
    fetch: tokio::sync::Mutex<FetchState>,
}

pub(crate) struct JwksCache {
    /// For https URLs (honours the proxy environment).
    client: Result<reqwest::Client, String>,
    /// For loopback URLs (never through a proxy).
    direct: Result<reqwest::Client, String>,
    opts: JwksOptions,
    entries: Mutex<HashMap<String, Arc<UrlEntry>>>,
}

impl JwksCache {
    pub(crate) fn new(opts: JwksOptions) -> Self {
        let builder = || {
            reqwest::Client::builder()
                .timeout(opts.timeout)
                .connect_timeout(opts.timeout)
                .redirect(reqwest::redirect::Policy::none())
        };
        let client = builder().build().map_err(|e| e.to_string());
        let direct = builder().no_proxy().build().map_err(|e| e.to_string());
        Self {
            client,
            direct,
            opts,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entry(&self, url: &str) -> Arc<UrlEntry> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.entry(url.to_string()).or_default().clone()
    }

    fn snapshot(entry: &UrlEntry) -> Arc<KeySet> {
        entry
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn fresh(&self, set: &KeySet, now: Instant) -> bool {
        set.fetched_at
            .is_some_and(|at| now.saturating_duration_since(at) < self.opts.cache_ttl)
    }

    /// The key `kid` of the JWKS at `url`.
    pub(crate) async fn key(&self, url: &str, kid: &str) -> Result<RsaPublicKey, ExchangeError> {
        let entry = self.entry(url);
        let set = Self::snapshot(&entry);
        if self.fresh(&set, Instant::now()) {
            if let Some(k) = set.keys.get(kid) {
                return Ok(k.clone());
            }
        }
        // Coalesce: one fetch per URL at a time; whoever waited re-reads what it fetched.
        let mut state = entry.fetch.lock().await;
        let now = Instant::now();
        let set = Self::snapshot(&entry);
        let fresh = self.fresh(&set, now);
        if fresh {
            if let Some(k) = set.keys.get(kid) {
                return Ok(k.clone());
            }
        }
        let throttled = state
            .last_attempt
            .is_some_and(|at| now.saturating_duration_since(at) < self.opts.min_refetch_interval);
        if throttled {
            return Err(if fresh {
                unknown_kid(kid)
            } else {
                ExchangeError::unavailable(format!(
                    "the JWKS at {url} could not be fetched recently; retry later"
                ))
            });
        }
        state.last_attempt = Some(now);
        let keys = self.fetch(url).await?;
        let new = Arc::new(KeySet {
            keys,
            fetched_at: Some(Instant::now()),
        });
        *entry
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = new.clone();
        drop(state);
        new.keys.get(kid).cloned().ok_or_else(|| unknown_kid(kid))
    }

    async fn fetch(&self, url: &str) -> Result<HashMap<String, RsaPublicKey>, ExchangeError> {
        super::policy::url_allowed(url, self.opts.allow_http_loopback)
            .map_err(ExchangeError::unavailable)?;
        let loopback = reqwest::Url::parse(url).is_ok_and(|u| u.scheme() == "http");
        let client = if loopback { &self.direct } else { &self.client };
        let client = client
            .as_ref()
            .map_err(|e| ExchangeError::unavailable(format!("no HTTP client: {e}")))?;
        tracing::debug!(url, "fetching JWKS");
        let mut resp = client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| ExchangeError::unavailable(format!("GET {url}: {e}")))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(ExchangeError::unavailable(format!(
                "GET {url} answered {}",
                resp.status()
            )));
        }
        let max = self.opts.max_bytes;
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(over_cap(url, max));
        }
        let mut body = Vec::new();
        loop {
            let chunk = resp
                .chunk()
                .await
                .map_err(|e| ExchangeError::unavailable(format!("GET {url}: {e}")))?;
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > max {
                return Err(over_cap(url, max));
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body).map_err(|m| ExchangeError::unavailable(format!("the JWKS at {url} {m}")))
    }
}

fn over_cap(url: &str, max: usize) -> ExchangeError {
    ExchangeError::unavailable(format!("the JWKS at {url} is over {max} bytes; refused"))
}

fn unknown_kid(kid: &str) -> ExchangeError {
    let shown: String = kid.chars().take(64).collect();
    ExchangeError::grant(
        "unknown_kid",
        format!("no key {shown:?} in the policy's JWKS"),
    )
}

/// The RSA signing keys of a JWKS document, by `kid`. Keys that are not RSA, are for encryption,
/// name another alg, have no `kid` or are under 2048 bits are skipped.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<HashMap<String, RsaPublicKey>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| "is not JSON".to_string())?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "has no \"keys\" array".to_string())?;
    let mut out = HashMap::new();
    for jwk in keys.iter().take(MAX_KEYS) {
        let s = |k: &str| jwk.get(k).and_then(Value::as_str);
        if s("kty") != Some("RSA") {
            continue;
        }
        if s("use").is_some_and(|u| u != "sig") || s("alg").is_some_and(|a| a != "RS256") {
            continue;
        }
        let (Some(kid), Some(n), Some(e)) = (s("kid"), s("n"), s("e")) else {
            continue;
        };
        let (Ok(n), Ok(e)) = (URL_SAFE_NO_PAD.decode(n), URL_SAFE_NO_PAD.decode(e)) else {
            continue;
        };
        let n = BigUint::from_bytes_be(&n);
        if n.bits() < MIN_RSA_BITS {
            continue;
        }
        if let Ok(key) = RsaPublicKey::new(n, BigUint::from_bytes_be(&e)) {
            out.insert(kid.to_string(), key);
        }
    }
    Ok(out)
}
