//! JWKS fetching for External OAuth integrations (protocols §5.4 step 3: "the emulator does not
//! fetch JWKS URLs except loopback URLs").
//!
//! The engine stays synchronous and never fetches: before a bearer credential is authenticated,
//! [`prepare`] asks the account for the `EXTERNAL_OAUTH_JWS_KEYS_URL` values of the integrations
//! whose issuer is the token's (unverified) `iss`, fetches the loopback ones here, and the request
//! hands a [`JwksKeys`] snapshot to the engine in its `AuthContext`.
//!
//! * Only `http`/`https` URLs whose host is `localhost`, an address in 127.0.0.0/8 or `::1` are
//!   fetched; `localhost` is pinned to 127.0.0.1 (no name resolution), no proxy, no redirects.
//!   Any other URL is never contacted, so its tokens fail as `390303`.
//! * Each fetch has a [`FETCH_TIMEOUT`] and a [`MAX_JWKS_BYTES`] body cap; a set over the cap, a
//!   non-200 answer or a document with no usable key leaves the previous set (if any) in place.
//! * Sets are cached per URL and refetched when older than [`MAX_AGE`] or when a JWT names a
//!   `kid` the cached set lacks (IdP key rotation), at most once per URL per [`MIN_REFETCH`].
//! * The log line names the URL and the number of keys, never token contents.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;

use super::state::{lock, Shared};
use crate::engine::{jwt_kid, parse_jwks, Credential, Jwk, JwksKeys, TokenType};

/// Largest JWKS body accepted (64 KiB).
pub(crate) const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Whole-fetch timeout.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// At most one fetch per URL in this interval (counted from the end of the previous attempt).
pub(crate) const MIN_REFETCH: Duration = Duration::from_secs(3);
/// A cached set is refetched (subject to [`MIN_REFETCH`]) once it is this old.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(300);

/// Why a JWKS was not (re)loaded; logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("body larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Keys(#[from] crate::engine::JwksError),
}

/// One URL's cache entry.
#[derive(Default)]
struct Entry {
    keys: Option<Arc<Vec<Jwk>>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// The per-server JWKS cache.
pub(crate) struct JwksCache {
    client: Option<reqwest::Client>,
    /// Fetch timeout and refetch throttle (defaults [`FETCH_TIMEOUT`], [`MIN_REFETCH`]).
    timings: JwksTimings,
    /// Per-URL entries; the async lock serialises fetches of one URL.
    entries: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<Entry>>>>,
    /// What the engine sees (every URL with a loaded set).
    published: Mutex<JwksKeys>,
}

/// How long a JWKS fetch may take and how often one URL may be fetched (`Config::jwks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JwksTimings {
    /// Each fetch's timeout (connect included).
    pub fetch_timeout: Duration,
    /// At most one fetch per URL per this interval, counted from the end of the previous attempt.
    pub min_refetch: Duration,
}

impl Default for JwksTimings {
    fn default() -> Self {
        Self {
            fetch_timeout: FETCH_TIMEOUT,
            min_refetch: MIN_REFETCH,
        }
    }
}

impl Default for JwksCache {
    fn default() -> Self {
        Self::new(JwksTimings::default())
    }
}

impl JwksCache {
    pub(crate) fn new(timings: JwksTimings) -> Self {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timings.fetch_timeout)
            .connect_timeout(timings.fetch_timeout)
            .resolve("localhost", SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .build();
        let client = match client {
            Ok(c) => Some(c),
            Err(error) => {
                tracing::error!(%error, "no HTTP client for JWKS fetching; JWKS URLs will not verify");
                None
            }
        };
        Self {
            client,
            timings,
            entries: Mutex::new(BTreeMap::new()),
            published: Mutex::new(JwksKeys::default()),
        }
    }
}

/// Whether `url` may be fetched: `http`/`https` on `localhost`, 127.0.0.0/8 or `::1`.
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return false;
    }
    let Some(host) = parsed.host_str() else {
        return false;
    };
    // IPv6 hosts come bracketed; the URL parser has already normalised IPv4 forms.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl JwksCache {
    /// The key sets loaded so far, for one authentication.
    pub(crate) fn snapshot(&self) -> JwksKeys {
        lock(&self.published).clone()
    }

    fn entry(&self, url: &str) -> Arc<tokio::sync::Mutex<Entry>> {
        lock(&self.entries)
            .entry(url.to_owned())
            .or_default()
            .clone()
    }

    /// Makes sure the set of `url` is loaded and fresh enough for a JWT naming `kid`.
    async fn refresh(&self, url: &str, kid: Option<&str>) {
        if !is_loopback_url(url) {
            tracing::debug!(
                url,
                "JWKS URL is not loopback: not fetched (protocols §5.4)"
            );
            return;
        }
        let Some(client) = &self.client else {
            return;
        };
        let entry = self.entry(url);
        let mut entry = entry.lock().await;
        let now = Instant::now();
        let stale = entry
            .fetched_at
            .is_none_or(|t| now.duration_since(t) >= MAX_AGE);
        let kid_missing = kid.is_some_and(|kid| {
            entry
                .keys
                .as_ref()
                .is_none_or(|keys| !keys.iter().any(|k| k.kid() == Some(kid)))
        });
        let throttled = entry
            .last_attempt
            .is_some_and(|t| now.duration_since(t) < self.timings.min_refetch);
        if !(stale || kid_missing) || throttled {
            return;
        }
        let result = fetch(client, url).await;
        // The interval counts from the end of the attempt, so a slow or hanging server is not
        // asked again as soon as its timeout expires.
        entry.last_attempt = Some(Instant::now());
        match result {
            Ok(keys) => {
                tracing::info!(url, keys = keys.len(), "fetched JWKS");
                let keys = Arc::new(keys);
                entry.keys = Some(keys.clone());
                entry.fetched_at = Some(Instant::now());
                lock(&self.published).insert(url, keys);
            }
            Err(error) => {
                tracing::warn!(url, %error, "JWKS not loaded; the previous key set (if any) stays");
            }
        }
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<Jwk>, FetchError> {
    let mut response = client
        .get(url)
        .header("Accept", "application/json")
        .send()
        .await?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(FetchError::Status(status));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(parse_jwks(&body)?)
}

/// Before authenticating `credential`: loads the JWKS of the External OAuth integrations the
/// token's issuer names, when the token can be an External OAuth JWT.
pub(crate) async fn prepare(shared: &Shared, credential: &Credential) {
    let Credential::Bearer { token, token_type } = credential else {
        return;
    };
    if matches!(
        token_type,
        Some(TokenType::ProgrammaticAccessToken | TokenType::KeypairJwt)
    ) {
        return;
    }
    let token = token.expose_secret();
    if token.split('.').count() != 3 {
        return;
    }
    let urls = lock(&shared.core).account.external_oauth_jwks_urls(token);
    if urls.is_empty() {
        return;
    }
    let kid = jwt_kid(token);
    for url in urls {
        shared.jwks.refresh(&url, kid.as_deref()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_are_fetchable() {
        for ok in [
            "http://127.0.0.1:9/jwks.json",
            "https://127.8.9.10/keys",
            "http://[::1]:8080/jwks",
            "http://localhost:1/jwks",
            "https://LOCALHOST/jwks",
        ] {
            assert!(is_loopback_url(ok), "{ok}");
        }
        for no in [
            "https://idp.example/jwks.json",
            "http://10.0.0.1/jwks",
            "http://[::2]/jwks",
            "ftp://127.0.0.1/jwks",
            "http://localhost.idp.example/jwks",
            "http://127.0.0.1.nip.io/jwks",
            "not a url",
        ] {
            assert!(!is_loopback_url(no), "{no}");
        }
    }
}
