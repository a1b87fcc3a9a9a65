//! `snowpat-testkit`: fixtures for snowpat's tests. A dev-dependency only, never a dependency of
//! shipped code.
//!
//! [`TestIdp`] is an identity provider of our own: RSA keys generated at start, a JWKS served over
//! plain http on 127.0.0.1 (so policies using it need `allow_http_loopback`), RS256 tokens minted
//! with any claims or header, key rotation, a counter of JWKS requests, and hostile variants (an
//! HS256 token keyed with the public key, an oversized JWKS body).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};
use sha2::Sha256;

struct Key {
    kid: String,
    private: RsaPrivateKey,
}

struct Shared {
    /// Published keys; the last one signs.
    keys: Mutex<Vec<Key>>,
    jwks_requests: AtomicUsize,
    /// Replaces the JWKS document when set.
    body_override: Mutex<Option<Vec<u8>>>,
}

/// A test identity provider serving `GET /jwks.json` on 127.0.0.1. Stops when dropped.
pub struct TestIdp {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn new_key(n: usize) -> Key {
    let private = tokio::task::spawn_blocking(|| {
        RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key generation")
    })
    .await
    .expect("key generation task");
    Key {
        kid: format!("testidp-{n}-{:08x}", rand::random::<u32>()),
        private,
    }
}

fn jwk(key: &Key) -> Value {
    let public = key.private.to_public_key();
    json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": key.kid,
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    })
}

async fn jwks(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.jwks_requests.fetch_add(1, Ordering::SeqCst);
    let body = match lock(&shared.body_override).clone() {
        Some(body) => body,
        None => {
            let keys: Vec<Value> = lock(&shared.keys).iter().map(jwk).collect();
            json!({ "keys": keys }).to_string().into_bytes()
        }
    };
    ([(CONTENT_TYPE, "application/json")], body)
}

/// Signs `header.claims` with `key` (RS256), whatever the header says.
fn sign(key: &RsaPrivateKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

impl TestIdp {
    /// Generates a 2048-bit key and serves the JWKS on an ephemeral port of 127.0.0.1.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            keys: Mutex::new(vec![new_key(1).await]),
            jwks_requests: AtomicUsize::new(0),
            body_override: Mutex::new(None),
        });
        let app = axum::Router::new()
            .route("/jwks.json", get(jwks))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            shared,
            addr,
            stop: Some(stop),
        }
    }

    /// `http://127.0.0.1:PORT`, the `iss` of minted tokens if the caller uses it.
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/jwks.json`.
    pub fn jwks_url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }

    /// The `kid` of the current signing key.
    pub fn kid(&self) -> String {
        lock(&self.shared.keys)
            .last()
            .map(|k| k.kid.clone())
            .unwrap_or_default()
    }

    /// An RS256 token with `{"alg":"RS256","typ":"JWT","kid":<current>}` and these claims.
    pub fn mint(&self, claims: Value) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid() });
        self.mint_with_header(header, claims)
    }

    /// Signs with the current key (RS256) under exactly this header, whatever its `alg` says.
    pub fn mint_with_header(&self, header: Value, claims: Value) -> String {
        let keys = lock(&self.shared.keys);
        let key = &keys.last().expect("a key").private;
        sign(key, &header, &claims)
    }

    /// The classic key-confusion attack: `alg: HS256`, HMAC keyed with the public key's PEM text.
    pub fn mint_hs256_with_public_key(&self, claims: Value) -> String {
        let header = json!({ "alg": "HS256", "typ": "JWT", "kid": self.kid() });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(self.public_key_pem().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(input.as_bytes());
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    fn public_key(&self) -> RsaPublicKey {
        lock(&self.shared.keys)
            .last()
            .expect("a key")
            .private
            .to_public_key()
    }

    /// The current public key as SPKI PEM.
    pub fn public_key_pem(&self) -> String {
        self.public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("PEM encoding")
    }

    /// The current public key as base64 SPKI DER (for `EXTERNAL_OAUTH_RSA_PUBLIC_KEY`).
    pub fn public_key_der_b64(&self) -> String {
        let der = self.public_key().to_public_key_der().expect("DER encoding");
        STANDARD.encode(der.as_bytes())
    }

    /// Generates a new signing key; the JWKS publishes it after the old ones, and `mint` uses it.
    pub async fn rotate_key(&self) {
        let n = lock(&self.shared.keys).len() + 1;
        let key = new_key(n).await;
        lock(&self.shared.keys).push(key);
    }

    /// Stops publishing every key but the current one.
    pub fn retire_old_keys(&self) {
        let mut keys = lock(&self.shared.keys);
        let len = keys.len();
        keys.drain(..len.saturating_sub(1));
    }

    /// Serves this body as the JWKS instead of the keys (`None`: back to the keys).
    pub fn set_jwks_body(&self, body: Option<Vec<u8>>) {
        *lock(&self.shared.body_override) = body;
    }

    /// How many `GET /jwks.json` requests were served.
    pub fn jwks_requests(&self) -> usize {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
