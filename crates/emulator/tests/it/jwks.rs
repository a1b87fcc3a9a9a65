//! External OAuth with `EXTERNAL_OAUTH_JWS_KEYS_URL` (protocols §5.4 steps 1 and 3): the
//! emulator fetches loopback JWKS URLs only, selects keys by `kid`, accepts RS256/384/512 and
//! ES256/384/512 and refuses `none` and HMAC, picks up an identity provider's key rotation, caps
//! the JWKS body at 64 KiB, and never contacts a non-loopback URL. Every refusal is 401 `390303`
//! with nothing executed in the request log.
//!
//! The identity provider lives in this file: RSA and EC key pairs generated per test, a JWKS
//! served by a tiny axum server on loopback, and JWTs signed here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

use snowpat_emulator::server::JwksTimings;

use crate::harness::{answer, Answer, Emulator};

const ISSUER: &str = "https://idp.jwks.example";
const AUDIENCE: &str = "https://emulator.snowflakecomputing.com";
const USER: &str = "analyst@example.com";

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now_secs() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit")
}

// ------------------------------------------------------------------------------------------------
// Test identity provider: keys, JWKs, signing.

/// One signing key of the test identity provider.
enum Key {
    Rsa(Box<RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

struct IdpKey {
    kid: String,
    key: Key,
}

impl IdpKey {
    fn rsa(kid: &str) -> Self {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key");
        Self {
            kid: kid.into(),
            key: Key::Rsa(Box::new(key)),
        }
    }

    fn p256(kid: &str) -> Self {
        Self {
            kid: kid.into(),
            key: Key::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
        }
    }

    fn p384(kid: &str) -> Self {
        Self {
            kid: kid.into(),
            key: Key::P384(p384::ecdsa::SigningKey::random(&mut OsRng)),
        }
    }

    fn p521(kid: &str) -> Self {
        Self {
            kid: kid.into(),
            key: Key::P521(p521::ecdsa::SigningKey::random(&mut OsRng)),
        }
    }

    /// The public JWK (RFC 7517/7518 §6): RSA `n`, `e`; EC `crv`, `x`, `y`.
    fn jwk(&self) -> Value {
        let ec = |crv: &str, point: &[u8], len: usize| {
            json!({
                "kty": "EC", "use": "sig", "kid": self.kid, "crv": crv,
                "x": b64url(&point[1..=len]), "y": b64url(&point[1 + len..]),
            })
        };
        match &self.key {
            Key::Rsa(k) => json!({
                "kty": "RSA", "use": "sig", "kid": self.kid,
                "n": b64url(&k.n().to_bytes_be()), "e": b64url(&k.e().to_bytes_be()),
            }),
            Key::P256(k) => ec(
                "P-256",
                k.verifying_key().to_encoded_point(false).as_bytes(),
                32,
            ),
            Key::P384(k) => ec(
                "P-384",
                k.verifying_key().to_encoded_point(false).as_bytes(),
                48,
            ),
            Key::P521(k) => {
                let vk = p521::ecdsa::VerifyingKey::from(k);
                ec("P-521", vk.to_encoded_point(false).as_bytes(), 66)
            }
        }
    }

    /// The natural algorithm of this key.
    fn alg(&self) -> &'static str {
        match self.key {
            Key::Rsa(_) => "RS256",
            Key::P256(_) => "ES256",
            Key::P384(_) => "ES384",
            Key::P521(_) => "ES512",
        }
    }

    /// A JWT with header `{alg, kid}` signed by this key; `alg` in the header may differ from
    /// what the key signs with (`sign_as`) to forge mismatches.
    fn sign_as(&self, header_alg: &str, kid: Option<&str>, claims: &Value) -> String {
        let mut header = json!({ "alg": header_alg, "typ": "JWT" });
        if let Some(kid) = kid {
            header["kid"] = kid.into();
        }
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let msg = input.as_bytes();
        let signature: Vec<u8> = match (&self.key, header_alg) {
            (Key::Rsa(k), "RS384") => SigningKey::<Sha384>::new((**k).clone()).sign(msg).to_vec(),
            (Key::Rsa(k), "RS512") => SigningKey::<Sha512>::new((**k).clone()).sign(msg).to_vec(),
            (Key::Rsa(k), _) => SigningKey::<Sha256>::new((**k).clone()).sign(msg).to_vec(),
            (Key::P256(k), _) => {
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_bytes().to_vec()
            }
            (Key::P384(k), _) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_bytes().to_vec()
            }
            (Key::P521(k), _) => {
                let s: p521::ecdsa::Signature = k.sign_with_rng(&mut OsRng, msg);
                s.to_bytes().to_vec()
            }
        };
        format!("{input}.{}", b64url(&signature))
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.alg(), Some(&self.kid), claims)
    }
}

fn jwks_of(keys: &[&IdpKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() }).to_string()
}

/// Claims for [`USER`] with role ANALYST, valid now for an hour.
fn claims() -> Value {
    claims_for(ISSUER)
}

fn claims_for(issuer: &str) -> Value {
    let now = now_secs();
    json!({
        "iss": issuer, "aud": AUDIENCE, "iat": now, "exp": now + 3600,
        "scp": ["session:role:ANALYST"], "name": USER,
    })
}

/// HMAC-SHA256 (RFC 2104), for forged HS256 tokens.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > 64 {
        Sha256::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::digest([ipad.as_slice(), message].concat());
    Sha256::digest([opad.as_slice(), inner.as_slice()].concat()).to_vec()
}

// ------------------------------------------------------------------------------------------------
// A JWKS server on loopback (or wherever the test binds it), counting its hits.

struct JwksServer {
    port: u16,
    body: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(bind: &str, body: String) -> Self {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .expect("JWKS listener");
        let port = listener.local_addr().expect("local addr").port();
        let body = Arc::new(Mutex::new(body));
        let hits = Arc::new(AtomicUsize::new(0));
        let (b, h) = (body.clone(), hits.clone());
        let app = Router::new().route(
            "/jwks.json",
            get(move || {
                let (b, h) = (b.clone(), h.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let text = b.lock().expect("body lock").clone();
                    ([("content-type", "application/json")], text)
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { port, body, hits }
    }

    async fn loopback(body: String) -> Self {
        Self::start("127.0.0.1:0", body).await
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/jwks.json", self.port)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn serve(&self, body: String) {
        *self.body.lock().expect("body lock") = body;
    }
}

// ------------------------------------------------------------------------------------------------
// Emulator side.

/// An integration named `name` trusting `issuer` with keys at `url`.
async fn integration(emu: &Emulator, name: &str, issuer: &str, url: &str) {
    emu.admin_ok(&format!(
        "CREATE SECURITY INTEGRATION {name} TYPE = EXTERNAL_OAUTH ENABLED = TRUE \
         EXTERNAL_OAUTH_TYPE = CUSTOM EXTERNAL_OAUTH_ISSUER = '{issuer}' \
         EXTERNAL_OAUTH_JWS_KEYS_URL = '{url}' \
         EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM = 'name' \
         EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE = 'LOGIN_NAME'"
    ))
    .await;
}

/// An emulator with user ANALYST_USER (LOGIN_NAME [`USER`]) holding role ANALYST, and one
/// integration for [`ISSUER`] with keys at `url`.
async fn setup(url: &str) -> Emulator {
    setup_with(url, JwksTimings::default()).await
}

/// [`setup`] with the emulator's JWKS timeout and refetch throttle set, so a test can make
/// throttling observable without racing the wall clock.
async fn setup_with(url: &str, timings: JwksTimings) -> Emulator {
    let emu = Emulator::start_with(|c| c.jwks = timings).await;
    for statement in [
        "CREATE USER analyst_user LOGIN_NAME = 'analyst@example.com' TYPE = PERSON",
        "CREATE ROLE analyst",
        "GRANT ROLE analyst TO USER analyst_user",
    ] {
        emu.admin_ok(statement).await;
    }
    integration(&emu, "idp", ISSUER, url).await;
    emu
}

async fn sql(emu: &Emulator, token: &str, statement: &str) -> Answer {
    answer(
        emu.client
            .post(format!("{}/api/v2/statements", emu.url))
            .bearer_auth(token)
            .header("X-Snowflake-Authorization-Token-Type", "OAUTH")
            .json(&json!({ "statement": statement }))
            .send()
            .await
            .expect("request sent"),
    )
    .await
}

/// `SELECT CURRENT_USER(), CURRENT_ROLE()` answers ANALYST_USER / ANALYST.
#[track_caller]
fn assert_analyst(a: &Answer, what: &str) {
    assert_eq!(a.status, 200, "{what}: {}", a.json);
    assert_eq!(
        a.json["data"],
        json!([["ANALYST_USER", "ANALYST"]]),
        "{what}"
    );
}

const WHO: &str = "SELECT CURRENT_USER(), CURRENT_ROLE()";

/// 401 `390303`, and every request-log line since `mark` is a refusal that executed nothing.
async fn assert_refused(emu: &Emulator, a: &Answer, mark: u64, what: &str) {
    assert_eq!(a.status, 401, "{what}: {}", a.json);
    assert_eq!(a.json["code"], "390303", "{what}: {}", a.json);
    let lines = emu.control_log(mark).await;
    assert!(!lines.is_empty(), "{what}: a refusal is logged");
    for line in &lines {
        assert_eq!(line["executed"], false, "{what}: {line}");
        assert_eq!(line["code"], "390303", "{what}: {line}");
        assert_eq!(line["status"], 401, "{what}: {line}");
    }
}

// ------------------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn protocols_5_4_loopback_jwks_keys_verify_rs_and_es_algorithms_selected_by_kid() {
    let rsa = IdpKey::rsa("rsa-1");
    let (e256, e384, e521) = (
        IdpKey::p256("ec-256"),
        IdpKey::p384("ec-384"),
        IdpKey::p521("ec-521"),
    );
    let jwks = JwksServer::loopback(jwks_of(&[&rsa, &e256, &e384, &e521])).await;
    let emu = setup(&jwks.url()).await;
    let c = claims();
    for alg in ["RS256", "RS384", "RS512"] {
        let a = sql(&emu, &rsa.sign_as(alg, Some("rsa-1"), &c), WHO).await;
        assert_analyst(&a, alg);
    }
    for key in [&e256, &e384, &e521] {
        let a = sql(&emu, &key.sign(&c), WHO).await;
        assert_analyst(&a, key.alg());
    }
    // No `kid`: every key of the set is tried.
    let a = sql(&emu, &e384.sign_as("ES384", None, &c), WHO).await;
    assert_analyst(&a, "ES384 without kid");
    // One fetch served all of these (the cache), and the log names no token.
    assert_eq!(jwks.hits(), 1);
    let log = serde_json::to_string(&emu.control_log(0).await).expect("log JSON");
    assert!(!log.contains(&rsa.sign(&c)[..40]));

    // Refusals, each 390303 with nothing executed (protocols §5.4 step 1 and step 3).
    let mark = emu.log_mark().await;
    // A kid that names another key than the one that signed.
    let a = sql(&emu, &e256.sign_as("ES256", Some("ec-384"), &c), WHO).await;
    assert_refused(&emu, &a, mark, "kid of another key").await;
    // ES384 header over a P-256 signature.
    let mark = emu.log_mark().await;
    let a = sql(&emu, &e256.sign_as("ES384", Some("ec-256"), &c), WHO).await;
    assert_refused(&emu, &a, mark, "alg/curve mismatch").await;
    // `none` with an empty or a junk signature.
    let header = b64url(
        json!({"alg": "none", "kid": "rsa-1"})
            .to_string()
            .as_bytes(),
    );
    let payload = b64url(c.to_string().as_bytes());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}.{}", b64url(b"x")),
    ] {
        let mark = emu.log_mark().await;
        let a = sql(&emu, &token, WHO).await;
        assert_refused(&emu, &a, mark, "alg none").await;
    }
    // HS256 keyed with the RSA modulus published in the JWKS (key confusion).
    let header = b64url(
        json!({"alg": "HS256", "kid": "rsa-1"})
            .to_string()
            .as_bytes(),
    );
    let input = format!("{header}.{payload}");
    let n = match &rsa.key {
        Key::Rsa(k) => k.n().to_bytes_be(),
        _ => Vec::new(),
    };
    let token = format!("{input}.{}", b64url(&hmac_sha256(&n, input.as_bytes())));
    let mark = emu.log_mark().await;
    let a = sql(&emu, &token, WHO).await;
    assert_refused(&emu, &a, mark, "HS256").await;
    // A key the JWKS does not hold.
    let stranger = IdpKey::p256("ec-256");
    let mark = emu.log_mark().await;
    let a = sql(&emu, &stranger.sign(&c), WHO).await;
    assert_refused(&emu, &a, mark, "foreign key with a known kid").await;
}

/// Driver login body of protocols §4.3 for `AUTHENTICATOR: OAUTH`.
async fn driver_login(emu: &Emulator, token: &str) -> Answer {
    let body = json!({"data": {
        "CLIENT_APP_ID": "PythonConnector", "CLIENT_APP_VERSION": "3.18.0",
        "ACCOUNT_NAME": "EMULATOR", "LOGIN_NAME": "", "AUTHENTICATOR": "OAUTH", "TOKEN": token,
        "CLIENT_ENVIRONMENT": {"APPLICATION": "PythonConnector"},
        "SESSION_PARAMETERS": {"AUTOCOMMIT": true},
    }});
    answer(
        emu.client
            .post(format!(
                "{}/session/v1/login-request?request_id={}",
                emu.url,
                uuid::Uuid::new_v4()
            ))
            .header("Content-Type", "application/json")
            .header("Accept", "application/snowflake")
            .header("Authorization", "Snowflake Token=\"None\"")
            .json(&body)
            .send()
            .await
            .expect("request sent"),
    )
    .await
}

async fn cortex(emu: &Emulator, token: &str) -> Answer {
    answer(
        emu.client
            .post(format!("{}/api/v2/cortex/inference:complete", emu.url))
            .bearer_auth(token)
            .header("X-Snowflake-Authorization-Token-Type", "OAUTH")
            .json(&json!({"model": "claude-sonnet-4-5", "stream": false,
                          "messages": [{"role": "user", "content": "hello jwks"}]}))
            .send()
            .await
            .expect("request sent"),
    )
    .await
}

const MCP_PATH: &str = "/api/v2/databases/MCPDB/schemas/TOOLS/mcp-servers/ASSISTANT";

async fn mcp(emu: &Emulator, token: &str) -> Answer {
    answer(
        emu.client
            .post(format!("{}{MCP_PATH}", emu.url))
            .bearer_auth(token)
            .header("X-Snowflake-Authorization-Token-Type", "OAUTH")
            .json(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                          "params": {"name": "sql", "arguments": {"sql": WHO}}}))
            .send()
            .await
            .expect("request sent"),
    )
    .await
}

#[tokio::test]
async fn protocols_5_4_jwks_token_is_accepted_by_sql_api_driver_cortex_and_mcp() {
    let key = IdpKey::p256("door-key");
    let jwks = JwksServer::loopback(jwks_of(&[&key])).await;
    let emu = setup(&jwks.url()).await;
    emu.admin_ok("CREATE DATABASE MCPDB").await;
    emu.admin_ok("CREATE SCHEMA MCPDB.TOOLS").await;
    emu.admin_ok(
        "CREATE MCP SERVER MCPDB.TOOLS.ASSISTANT FROM SPECIFICATION $$tools:\n  - name: \"sql\"\n    type: \"SYSTEM_EXECUTE_SQL\"\n$$",
    )
    .await;
    emu.admin_ok("GRANT USAGE ON MCP SERVER MCPDB.TOOLS.ASSISTANT TO ROLE analyst")
        .await;
    let token = key.sign(&claims());
    let stranger = IdpKey::p256("door-key").sign(&claims());

    // SQL API.
    assert_analyst(&sql(&emu, &token, WHO).await, "SQL API");

    // Driver login (protocols §5.1: AUTHENTICATOR OAUTH, TOKEN).
    let a = driver_login(&emu, &token).await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["success"], true, "{}", a.json);
    assert_eq!(a.json["data"]["sessionInfo"]["roleName"], "ANALYST");
    let a = driver_login(&emu, &stranger).await;
    assert_eq!(a.json["success"], false, "{}", a.json);
    assert_eq!(a.json["code"], "390303", "{}", a.json);

    // Cortex (protocols §7.1).
    let a = cortex(&emu, &token).await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["choices"][0]["message"]["content"], "hello jwks");
    let mark = emu.log_mark().await;
    let a = cortex(&emu, &stranger).await;
    assert_refused(&emu, &a, mark, "Cortex").await;

    // MCP (protocols §8): the tool runs in the OAuth session.
    let a = mcp(&emu, &token).await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["result"]["isError"], false, "{}", a.json);
    let text = a.json["result"]["content"][0]["text"]
        .as_str()
        .expect("text content");
    let rows: Value = serde_json::from_str(text).expect("rows");
    assert_eq!(
        rows,
        json!([{"CURRENT_USER()": "ANALYST_USER", "CURRENT_ROLE()": "ANALYST"}])
    );
    let a = mcp(&emu, &stranger).await;
    assert_eq!(a.status, 401, "{}", a.json);
    // The cached set served every door.
    assert_eq!(jwks.hits(), 1);
}

#[tokio::test]
async fn protocols_5_4_unknown_kid_inside_the_refetch_interval_is_refused_without_a_fetch() {
    let old = IdpKey::rsa("2026-01");
    let new = IdpKey::p256("2026-02");
    let jwks = JwksServer::loopback(jwks_of(&[&old])).await;
    // A throttle far longer than the test: every fetch below would be a throttle violation.
    let timings = JwksTimings {
        min_refetch: Duration::from_secs(600),
        ..JwksTimings::default()
    };
    let emu = setup_with(&jwks.url(), timings).await;
    let c = claims();
    assert_analyst(&sql(&emu, &old.sign(&c), WHO).await, "old key");
    assert_eq!(jwks.hits(), 1);
    // The IdP rotates: only the new key is published.
    jwks.serve(jwks_of(&[&new]));
    // A known kid is served from the cache: no fetch.
    assert_analyst(&sql(&emu, &old.sign(&c), WHO).await, "cached old key");
    assert_eq!(jwks.hits(), 1);
    // Right after a fetch, an unknown kid does not refetch (throttle) and is refused, however
    // often it is presented.
    for _ in 0..5 {
        let mark = emu.log_mark().await;
        let a = sql(&emu, &new.sign(&c), WHO).await;
        assert_refused(&emu, &a, mark, "unknown kid inside the refetch interval").await;
    }
    assert_eq!(jwks.hits(), 1);
}

#[tokio::test]
async fn protocols_5_4_unknown_kid_after_key_rotation_refetches_once_the_interval_has_passed() {
    let old = IdpKey::rsa("2026-01");
    let new = IdpKey::p256("2026-02");
    let jwks = JwksServer::loopback(jwks_of(&[&old])).await;
    let timings = JwksTimings {
        min_refetch: Duration::from_millis(200),
        ..JwksTimings::default()
    };
    let emu = setup_with(&jwks.url(), timings).await;
    let c = claims();
    assert_analyst(&sql(&emu, &old.sign(&c), WHO).await, "old key");
    assert_eq!(jwks.hits(), 1);
    jwks.serve(jwks_of(&[&new]));
    // Past the interval the unknown kid triggers exactly one refetch and the new key verifies;
    // a known kid afterwards needs no fetch.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_analyst(&sql(&emu, &new.sign(&c), WHO).await, "rotated key");
    assert_eq!(jwks.hits(), 2);
    assert_analyst(&sql(&emu, &new.sign(&c), WHO).await, "rotated key again");
    assert_eq!(jwks.hits(), 2);
    // The old key left the set: its tokens now fail, refetch or not.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mark = emu.log_mark().await;
    let a = sql(&emu, &old.sign(&c), WHO).await;
    assert_refused(&emu, &a, mark, "retired key").await;
}

#[tokio::test]
async fn protocols_5_4_non_loopback_jwks_urls_are_never_contacted_and_refuse() {
    let key = IdpKey::p256("k");
    // Reachable from here, but not loopback by the rule (0.0.0.0 and an IPv4-mapped address).
    let wildcard = JwksServer::start("0.0.0.0:0", jwks_of(&[&key])).await;
    let local = JwksServer::loopback(jwks_of(&[&key])).await;
    let emu = setup(&format!("http://0.0.0.0:{}/jwks.json", wildcard.port)).await;
    let mapped_issuer = "https://mapped.idp.example";
    integration(
        &emu,
        "mapped",
        mapped_issuer,
        &format!("http://[::ffff:127.0.0.1]:{}/jwks.json", local.port),
    )
    .await;
    let remote_issuer = "https://remote.idp.example";
    integration(
        &emu,
        "remote",
        remote_issuer,
        "https://login.idp.example/jwks.json",
    )
    .await;
    for issuer in [ISSUER, mapped_issuer, remote_issuer] {
        let mark = emu.log_mark().await;
        let a = sql(&emu, &key.sign(&claims_for(issuer)), WHO).await;
        assert_refused(&emu, &a, mark, issuer).await;
    }
    assert_eq!(wildcard.hits(), 0, "0.0.0.0 was contacted");
    assert_eq!(local.hits(), 0, "::ffff:127.0.0.1 was contacted");
    // The same key from a loopback URL works (the refusals were about the URL only), `localhost`
    // included.
    let ok_issuer = "https://ok.idp.example";
    integration(
        &emu,
        "ok",
        ok_issuer,
        &format!("http://localhost:{}/jwks.json", local.port),
    )
    .await;
    assert_analyst(
        &sql(&emu, &key.sign(&claims_for(ok_issuer)), WHO).await,
        "localhost",
    );
    assert_eq!(local.hits(), 1);
}

#[tokio::test]
async fn protocols_5_4_jwks_over_64_kib_refuses() {
    let key = IdpKey::p384("k");
    let mut doc: Value = serde_json::from_str(&jwks_of(&[&key])).expect("JWKS JSON");
    doc["padding"] = "x".repeat(64 * 1024).into();
    let big = JwksServer::loopback(doc.to_string()).await;
    let small = JwksServer::loopback(jwks_of(&[&key])).await;
    let emu = setup(&big.url()).await;
    let mark = emu.log_mark().await;
    let a = sql(&emu, &key.sign(&claims()), WHO).await;
    assert_refused(&emu, &a, mark, "JWKS over the cap").await;
    assert_eq!(big.hits(), 1, "the loopback URL was fetched");
    // The same oversized set without a Content-Length (read until the connection closes).
    let streamed = raw_http_server(doc.to_string()).await;
    let streamed_issuer = "https://streamed.idp.example";
    integration(
        &emu,
        "streamed",
        streamed_issuer,
        &format!("http://127.0.0.1:{}/jwks.json", streamed.0),
    )
    .await;
    let mark = emu.log_mark().await;
    let a = sql(&emu, &key.sign(&claims_for(streamed_issuer)), WHO).await;
    assert_refused(&emu, &a, mark, "streamed JWKS over the cap").await;
    assert_eq!(streamed.1.load(Ordering::SeqCst), 1, "streamed URL fetched");
    // The same key set under the cap verifies the same kind of token.
    let small_issuer = "https://small.idp.example";
    integration(&emu, "small", small_issuer, &small.url()).await;
    assert_analyst(
        &sql(&emu, &key.sign(&claims_for(small_issuer)), WHO).await,
        "JWKS under the cap",
    );
}

#[tokio::test]
async fn protocols_5_4_ec_keys_come_from_a_jwks_never_from_the_rsa_public_key_property() {
    let key = IdpKey::p256("k");
    let Key::P256(sk) = &key.key else {
        return;
    };
    // SubjectPublicKeyInfo of a P-256 key: the fixed id-ecPublicKey/prime256v1 prefix + point.
    let mut spki = hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    spki.extend_from_slice(sk.verifying_key().to_encoded_point(false).as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
    let emu = Emulator::start().await;
    let (status, body) = emu
        .sql(
            &emu.admin(),
            &format!(
                "CREATE SECURITY INTEGRATION ec_prop TYPE = EXTERNAL_OAUTH ENABLED = TRUE \
                 EXTERNAL_OAUTH_TYPE = CUSTOM EXTERNAL_OAUTH_ISSUER = '{ISSUER}' \
                 EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '{b64}' \
                 EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM = 'name' \
                 EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE = 'LOGIN_NAME'"
            ),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099946", "{body}");
    let (_, show) = emu.sql(&emu.admin(), "SHOW INTEGRATIONS").await;
    assert!(!show.to_string().contains("EC_PROP"), "{show}");
}

fn hex_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[tokio::test]
async fn protocols_5_4_a_jwks_server_that_never_answers_times_out_and_refuses() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "{}"
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let timings = JwksTimings {
        fetch_timeout: Duration::from_secs(1),
        min_refetch: Duration::from_secs(600),
    };
    let emu = setup_with(&format!("http://127.0.0.1:{port}/jwks.json"), timings).await;
    let key = IdpKey::p256("k");
    let mark = emu.log_mark().await;
    let started = std::time::Instant::now();
    let a = sql(&emu, &key.sign(&claims()), WHO).await;
    let waited = started.elapsed();
    assert_refused(&emu, &a, mark, "JWKS fetch timed out").await;
    // It gave up at the timeout, not at the IdP's 60 s.
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(30),
        "{waited:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // Inside the refetch interval the next token is refused without contacting the IdP again.
    let mark = emu.log_mark().await;
    let a = sql(&emu, &key.sign(&claims()), WHO).await;
    assert_refused(&emu, &a, mark, "JWKS unavailable, throttled").await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

/// A bare HTTP/1.1 server answering every request with `body` and no Content-Length (the body
/// ends when the connection closes); its port and hit counter.
async fn raw_http_server(body: String) -> (u16, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
                let _ = socket.write_all(head.as_bytes()).await;
                for chunk in body.as_bytes().chunks(8192) {
                    if socket.write_all(chunk).await.is_err() {
                        return;
                    }
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    (port, hits)
}
