//! Snowflake OAuth for a person at a terminal (`protocols.md` §6, issue 6): the authorization
//! code grant with PKCE (S256) against the account's `/oauth/authorize` and
//! `/oauth/token-request`, a one-shot redirect listener on 127.0.0.1, and the token cache.
//!
//! * [`Pkce`] and [`new_state`]: RFC 7636 verifier/challenge and the CSRF `state`.
//! * [`OAuthClient`]: the authorization URL, the code exchange and the refresh (RFC 6749 §4.1,
//!   §6). Single-use refresh tokens are always requested (`enable_single_use_refresh_tokens`,
//!   §6.4), so a stolen refresh token works at most once and a replay kills the whole grant.
//! * [`RedirectListener`]: binds 127.0.0.1 at the registered redirect port, accepts exactly one
//!   request, checks its path and `state` (constant time), answers a small page and closes.
//! * [`TokenCache`]: the tokens of one grant in a JSON file created 0600 and replaced atomically
//!   (temp file, fsync, rename, directory fsync) after every rotation; the access and refresh
//!   tokens are `SecretString`s, never in Debug output or logs.
//!
//! A refused refresh token is [`OAuthError::RefreshRefused`], whose text names the cause and the
//! fix (`snowpat oauth login` again).

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why an OAuth step failed. Texts name the cause and the fix; none holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Bad input (URL, redirect URI, client id): nothing was sent.
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {addr} for the OAuth redirect: {message}; fix: free that port, or register another loopback redirect URI on the integration and pass it with --redirect-uri")]
    Listen { addr: String, message: String },
    #[error("the redirect's state does not match this login (a forged, stale or foreign redirect); no code was exchanged; fix: run `snowpat oauth login` again")]
    StateMismatch,
    #[error("the redirect is not a valid authorization response: {0}; no code was exchanged; fix: run `snowpat oauth login` again")]
    BadRedirect(String),
    #[error("Snowflake refused the authorization: {error}{}; fix: check the integration, the user's roles and the scope, then run `snowpat oauth login` again", description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied {
        error: String,
        description: Option<String>,
    },
    #[error("no redirect arrived within {0:?}; fix: open the printed URL in a browser and sign in, then run `snowpat oauth login` again")]
    Timeout(Duration),
    #[error("{url}: {message}")]
    Http { url: String, message: String },
    /// The token endpoint refused a code exchange or a request.
    #[error("the token endpoint refused the request ({status} {error}: {message})")]
    Token {
        status: u16,
        error: String,
        message: String,
    },
    /// The token endpoint refused the refresh token (spent, revoked, expired).
    #[error("the refresh token was refused ({error}: {message}): it was already used by an earlier refresh, revoked, or expired (with single-use refresh tokens, replaying a spent one also invalidates the newer ones); fix: run `snowpat oauth login` again")]
    RefreshRefused { error: String, message: String },
    #[error("the cached grant has no refresh token (the integration issues none, or the refresh_token scope was not granted); fix: run `snowpat oauth login` again")]
    NoRefreshToken,
    #[error("token cache {path}: {message}")]
    Cache { path: String, message: String },
}

/// A PKCE pair (RFC 7636 §4.1–4.2, method S256).
pub struct Pkce {
    verifier: SecretString,
    challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl Pkce {
    /// 48 random bytes → a 64-character verifier; challenge = BASE64URL(SHA256(verifier)).
    pub fn new() -> Self {
        let mut bytes = [0u8; 48];
        rand::thread_rng().fill_bytes(&mut bytes);
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier: SecretString::from(verifier),
            challenge,
        }
    }

    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// A fresh random `state` (32 bytes, base64url).
pub fn new_state() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 3986 unreserved characters stay; everything else is `%XX` (RFC 6749 §2.3.1 encoding).
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A token endpoint answer.
pub struct TokenResponse {
    pub access_token: SecretString,
    pub expires_in: u64,
    /// Present on the code exchange and, with rotation, on every refresh.
    pub refresh_token: Option<SecretString>,
    pub refresh_token_expires_in: Option<u64>,
    pub scope: Option<String>,
    /// Only on the code exchange.
    pub username: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "****"),
            )
            .field("scope", &self.scope)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// One Snowflake OAuth client (a security integration of TYPE = OAUTH).
pub struct OAuthClient {
    base: reqwest::Url,
    client_id: String,
    client_secret: Option<SecretString>,
    redirect_uri: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("base", &self.base.as_str())
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// `base_url` is the account URL (`https://ORG-ACCOUNT.snowflakecomputing.com` or the
    /// emulator's); `client_secret` is `None` for a PUBLIC client.
    pub fn new(
        base_url: &str,
        client_id: &str,
        client_secret: Option<SecretString>,
        redirect_uri: &str,
    ) -> Result<Self, OAuthError> {
        let mut base = reqwest::Url::parse(base_url)
            .map_err(|e| OAuthError::Config(format!("the account URL {base_url:?}: {e}")))?;
        if !matches!(base.scheme(), "https" | "http") {
            return Err(OAuthError::Config(format!(
                "the account URL {base_url:?} is not http(s)"
            )));
        }
        base.set_query(None);
        base.set_fragment(None);
        if client_id.trim().is_empty() {
            return Err(OAuthError::Config(
                "no OAuth client id: pass --client-id (OAUTH_CLIENT_ID of SYSTEM$SHOW_OAUTH_CLIENT_SECRETS)".into(),
            ));
        }
        parse_redirect(redirect_uri)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OAuthError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            base,
            client_id: client_id.to_string(),
            client_secret,
            redirect_uri: redirect_uri.to_string(),
            http,
        })
    }

    fn endpoint(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let joined = format!("{}{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The account URL.
    pub fn base_url(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_string()
    }

    /// `GET /oauth/authorize?client_id&response_type=code&redirect_uri&state&scope&code_challenge&code_challenge_method=S256`
    /// (§6.1): the URL the person opens in a browser.
    pub fn authorize_url(&self, state: &str, pkce: &Pkce, scope: &str) -> String {
        let mut url = self.endpoint("/oauth/authorize");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("state", state);
            if !scope.trim().is_empty() {
                q.append_pair("scope", scope.trim());
            }
            q.append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256");
        }
        url.to_string()
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse, OAuthError> {
        let url = self.endpoint("/oauth/token-request");
        let mut body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect();
        let mut request = self.http.post(url.clone()).header(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        );
        match &self.client_secret {
            Some(secret) => {
                let pair = format!(
                    "{}:{}",
                    form_encode(&self.client_id),
                    form_encode(secret.expose_secret())
                );
                let header = SecretString::from(format!("Basic {}", STANDARD.encode(pair)));
                let mut value = reqwest::header::HeaderValue::from_str(header.expose_secret())
                    .map_err(|_| OAuthError::Config("the client secret is not ASCII".into()))?;
                value.set_sensitive(true);
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            None => body.push(format!("client_id={}", form_encode(&self.client_id))),
        }
        let response = request
            .body(body.join("&"))
            .send()
            .await
            .map_err(|e| OAuthError::Http {
                url: url.to_string(),
                message: e.without_url().to_string(),
            })?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| OAuthError::Http {
            url: url.to_string(),
            message: e.without_url().to_string(),
        })?;
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status != 200 {
            let error = json["error"]
                .as_str()
                .unwrap_or("unknown_error")
                .to_string();
            let message = json["message"]
                .as_str()
                .or(json["error_description"].as_str())
                .unwrap_or("no message")
                .chars()
                .take(300)
                .collect();
            return Err(OAuthError::Token {
                status,
                error,
                message,
            });
        }
        let access_token = json["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::Http {
                url: url.to_string(),
                message: "the answer has no access_token".into(),
            })?;
        Ok(TokenResponse {
            access_token: SecretString::from(access_token.to_string()),
            expires_in: json["expires_in"].as_u64().unwrap_or(600),
            refresh_token: json["refresh_token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(|t| SecretString::from(t.to_string())),
            refresh_token_expires_in: json["refresh_token_expires_in"].as_u64(),
            scope: json["scope"].as_str().map(str::to_string),
            username: json["username"].as_str().map(str::to_string),
        })
    }

    /// The code exchange (§6.2), asking for single-use refresh tokens (§6.4).
    pub async fn exchange_code(
        &self,
        code: &SecretString,
        pkce: &Pkce,
    ) -> Result<TokenResponse, OAuthError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code.expose_secret()),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", pkce.verifier.expose_secret()),
            ("enable_single_use_refresh_tokens", "true"),
        ])
        .await
    }

    /// `grant_type=refresh_token` (§6.2); `invalid_grant` becomes [`OAuthError::RefreshRefused`].
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenResponse, OAuthError> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ])
        .await
        .map_err(|e| match e {
            OAuthError::Token { error, message, .. } if error == "invalid_grant" => {
                OAuthError::RefreshRefused { error, message }
            }
            other => other,
        })
    }
}

/// The registered loopback redirect: `http://127.0.0.1:PORT/PATH` (or `localhost`), the port
/// given explicitly. Returns the port and path.
fn parse_redirect(redirect_uri: &str) -> Result<(u16, String), OAuthError> {
    let bad = |why: &str| {
        OAuthError::Config(format!(
            "--redirect-uri {redirect_uri:?} {why}; fix: register a loopback redirect such as http://127.0.0.1:8651/callback on the integration (OAUTH_REDIRECT_URI, with OAUTH_ALLOW_NON_TLS_REDIRECT_URI = TRUE) and pass the same URI"
        ))
    };
    let url = reqwest::Url::parse(redirect_uri).map_err(|_| bad("is not a URL"))?;
    if url.scheme() != "http" {
        return Err(bad("is not an http loopback URI"));
    }
    if !matches!(url.host_str(), Some("127.0.0.1") | Some("localhost")) {
        return Err(bad("is not on 127.0.0.1"));
    }
    let port = url.port().ok_or_else(|| bad("has no explicit port"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("has a query or fragment"));
    }
    Ok((port, url.path().to_string()))
}

/// Equal lengths and bytes, in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The one-shot redirect listener on 127.0.0.1 at the registered port.
#[derive(Debug)]
pub struct RedirectListener {
    listener: tokio::net::TcpListener,
    path: String,
}

/// Largest redirect request read (request line and headers).
const MAX_REDIRECT_REQUEST: usize = 8 * 1024;

impl RedirectListener {
    /// Binds 127.0.0.1 at the redirect URI's port (before the browser is sent anywhere).
    pub async fn bind(redirect_uri: &str) -> Result<Self, OAuthError> {
        let (port, path) = parse_redirect(redirect_uri)?;
        let addr = format!("127.0.0.1:{port}");
        let listener =
            tokio::net::TcpListener::bind(&addr)
                .await
                .map_err(|e| OAuthError::Listen {
                    addr: addr.clone(),
                    message: e.to_string(),
                })?;
        Ok(Self { listener, path })
    }

    /// Accepts exactly one request (then stops listening), checks its path and `state`, and
    /// returns the authorization code. The browser gets a short page either way.
    pub async fn wait_for_code(
        self,
        expected_state: &str,
        timeout: Duration,
    ) -> Result<SecretString, OAuthError> {
        let (mut stream, _) = tokio::time::timeout(timeout, self.listener.accept())
            .await
            .map_err(|_| OAuthError::Timeout(timeout))?
            .map_err(|e| OAuthError::BadRedirect(format!("accept: {e}")))?;
        // One request only: nobody else gets to connect.
        drop(self.listener);
        let outcome =
            match tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream)).await {
                Ok(Ok(head)) => judge_redirect(&head, &self.path, expected_state),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(OAuthError::BadRedirect("the request did not arrive".into())),
            };
        let (status, text) = match &outcome {
            Ok(_) => (
                "200 OK",
                "snowpat: signed in. You can close this window and return to the terminal.",
            ),
            Err(OAuthError::StateMismatch) => (
                "400 Bad Request",
                "snowpat: this redirect does not belong to the pending login (state mismatch). Nothing was exchanged.",
            ),
            Err(_) => (
                "400 Bad Request",
                "snowpat: sign-in failed; see the terminal.",
            ),
        };
        let page = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\"><title>snowpat</title></head><body><p>{text}</p></body></html>"
        );
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        outcome
    }
}

async fn read_head(stream: &mut tokio::net::TcpStream) -> Result<String, OAuthError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| OAuthError::BadRedirect(format!("read: {e}")))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if buf.len() > MAX_REDIRECT_REQUEST {
            return Err(OAuthError::BadRedirect("the request is too large".into()));
        }
    }
    String::from_utf8(buf).map_err(|_| OAuthError::BadRedirect("the request is not UTF-8".into()))
}

/// `GET <path>?code=…&state=…` → the code, after the state check.
fn judge_redirect(
    head: &str,
    path: &str,
    expected_state: &str,
) -> Result<SecretString, OAuthError> {
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(OAuthError::BadRedirect("no request line".into()));
    };
    if method != "GET" {
        return Err(OAuthError::BadRedirect(format!(
            "method {method}, expected GET"
        )));
    }
    let url = reqwest::Url::parse(&format!("http://127.0.0.1{target}"))
        .map_err(|_| OAuthError::BadRedirect("the request target is not a URL path".into()))?;
    if url.path() != path {
        return Err(OAuthError::BadRedirect(format!(
            "path {:?}, expected {path:?}",
            url.path()
        )));
    }
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in url.query_pairs() {
        let slot = match k.as_ref() {
            "code" => &mut code,
            "state" => &mut state,
            "error" => &mut error,
            "error_description" => &mut description,
            _ => continue,
        };
        if slot.is_some() {
            return Err(OAuthError::BadRedirect(format!("{k} is repeated")));
        }
        *slot = Some(v.into_owned());
    }
    let state_ok = state
        .as_deref()
        .is_some_and(|s| constant_time_eq(s.as_bytes(), expected_state.as_bytes()));
    if !state_ok {
        return Err(OAuthError::StateMismatch);
    }
    if let Some(error) = error {
        return Err(OAuthError::Denied {
            error: error.chars().take(100).collect(),
            description: description.map(|d| d.chars().take(300).collect()),
        });
    }
    let code = code
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or_else(|| OAuthError::BadRedirect("no code".into()))?;
    Ok(SecretString::from(code))
}

/// The tokens of one grant, as kept in the cache file.
pub struct TokenCache {
    /// The account URL.
    pub url: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// The Snowflake user (`username` of the code exchange).
    pub user: Option<String>,
    pub scope: Option<String>,
    pub access_token: SecretString,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: Option<SecretString>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// When the tokens were last obtained.
    pub updated_at: DateTime<Utc>,
    /// How many refreshes this grant has had.
    pub refreshes: u64,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("user", &self.user)
            .field("scope", &self.scope)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    version: u32,
    url: String,
    client_id: String,
    redirect_uri: String,
    user: Option<String>,
    scope: Option<String>,
    access_token: SecretString,
    access_expires_at: DateTime<Utc>,
    refresh_token: Option<SecretString>,
    refresh_expires_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    refreshes: u64,
}

fn seconds(n: u64) -> chrono::Duration {
    chrono::Duration::seconds(
        i64::try_from(n)
            .unwrap_or(i64::MAX / 1000)
            .min(10 * 365 * 86_400),
    )
}

impl TokenCache {
    /// The cache of a fresh grant (after the code exchange).
    pub fn from_login(client: &OAuthClient, t: TokenResponse, now: DateTime<Utc>) -> Self {
        Self {
            url: client.base_url(),
            client_id: client.client_id.clone(),
            redirect_uri: client.redirect_uri.clone(),
            user: t.username,
            scope: t.scope,
            access_expires_at: now + seconds(t.expires_in),
            access_token: t.access_token,
            refresh_expires_at: t
                .refresh_token
                .as_ref()
                .and(t.refresh_token_expires_in)
                .map(|s| now + seconds(s)),
            refresh_token: t.refresh_token,
            updated_at: now,
            refreshes: 0,
        }
    }

    /// Takes a refresh answer: a new access token and, with rotation, a new refresh token
    /// (without rotation the old one stays).
    pub fn apply_refresh(&mut self, t: TokenResponse, now: DateTime<Utc>) {
        self.access_token = t.access_token;
        self.access_expires_at = now + seconds(t.expires_in);
        if let Some(r) = t.refresh_token {
            self.refresh_token = Some(r);
            if let Some(s) = t.refresh_token_expires_in {
                self.refresh_expires_at = Some(now + seconds(s));
            }
        }
        if t.scope.is_some() {
            self.scope = t.scope;
        }
        self.updated_at = now;
        self.refreshes += 1;
    }

    /// Refreshes through `client` and writes the cache to `path` at once (the old refresh token
    /// is spent as soon as the answer arrives).
    pub async fn refresh(
        &mut self,
        client: &OAuthClient,
        path: &Path,
        now: impl Fn() -> DateTime<Utc>,
    ) -> Result<(), OAuthError> {
        let token = self
            .refresh_token
            .as_ref()
            .ok_or(OAuthError::NoRefreshToken)?;
        let answer = client.refresh(token).await?;
        self.apply_refresh(answer, now());
        self.save(path)
    }

    /// When `--keep` should refresh next: `margin` before the access token expires, and never
    /// sooner than two seconds from now (a margin as long as the token's life cannot spin).
    pub fn next_refresh(&self, margin: Duration, now: DateTime<Utc>) -> DateTime<Utc> {
        let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
        let at = self
            .access_expires_at
            .checked_sub_signed(margin)
            .unwrap_or(now);
        at.max(now + chrono::Duration::seconds(2))
    }

    /// Reads the cache file (refusing one that others can read or write).
    pub fn load(path: &Path) -> Result<Self, OAuthError> {
        let shown = path.display().to_string();
        let err = |message: String| OAuthError::Cache {
            path: shown.clone(),
            message,
        };
        let meta = std::fs::symlink_metadata(path).map_err(|e| {
            err(format!(
                "{e}; fix: run `snowpat oauth login` (or pass the right --cache)"
            ))
        })?;
        if meta.file_type().is_symlink() {
            return Err(err("is a symlink; refusing to follow it".into()));
        }
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(err(format!(
                    "mode {mode:04o} lets others read the tokens; fix: chmod 600 it, and consider the tokens leaked (run `snowpat oauth login` again)"
                )));
            }
        }
        let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let file: CacheFile = serde_json::from_slice(&text)
            .map_err(|e| err(format!("not a snowpat OAuth cache ({e})")))?;
        if file.version != 1 {
            return Err(err(format!("unknown version {}", file.version)));
        }
        Ok(Self {
            url: file.url,
            client_id: file.client_id,
            redirect_uri: file.redirect_uri,
            user: file.user,
            scope: file.scope,
            access_token: file.access_token,
            access_expires_at: file.access_expires_at,
            refresh_token: file.refresh_token,
            refresh_expires_at: file.refresh_expires_at,
            updated_at: file.updated_at,
            refreshes: file.refreshes,
        })
    }

    /// Writes the cache atomically: a 0600 temp file (O_EXCL, O_NOFOLLOW) in the same directory,
    /// fsynced, renamed over `path`, directory fsynced. The directory is created 0700 if missing.
    pub fn save(&self, path: &Path) -> Result<(), OAuthError> {
        let shown = path.display().to_string();
        let err = |message: String| OAuthError::Cache {
            path: shown.clone(),
            message,
        };
        let mut text = serde_json::to_vec_pretty(&json!({
            "version": 1,
            "url": self.url,
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "user": self.user,
            "scope": self.scope,
            "access_token": self.access_token.expose_secret(),
            "access_expires_at": self.access_expires_at,
            "refresh_token": self.refresh_token.as_ref().map(|t| t.expose_secret().to_string()),
            "refresh_expires_at": self.refresh_expires_at,
            "updated_at": self.updated_at,
            "refreshes": self.refreshes,
        }))
        .map_err(|e| err(e.to_string()))?;
        text.push(b'\n');
        let result = write_private_atomic(path, &text).map_err(err);
        zeroize::Zeroize::zeroize(&mut text);
        result
    }
}

impl TokenCache {
    /// Writes the access token alone (and a newline) to `path`, 0600 and atomically, for tools
    /// that read a token file.
    pub fn write_access_token(&self, path: &Path) -> Result<(), OAuthError> {
        let mut text = format!("{}\n", self.access_token.expose_secret()).into_bytes();
        let result = write_private_atomic(path, &text).map_err(|message| OAuthError::Cache {
            path: path.display().to_string(),
            message,
        });
        zeroize::Zeroize::zeroize(&mut text);
        result
    }
}

/// Creates a missing cache directory (0700), then writes through the sinks' one writer of
/// secret-bearing files (its file rules included).
fn write_private_atomic(path: &Path, content: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    let dir: PathBuf = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    crate::sinks::write_private_file(path, content).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_is_s256_of_the_verifier() {
        let p = Pkce::new();
        let v = p.verifier.expose_secret();
        assert!(v.len() >= 43 && v.len() <= 128);
        assert_eq!(
            p.challenge,
            URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
        );
        assert_ne!(Pkce::new().challenge, p.challenge);
        assert!(!format!("{p:?}").contains(v));
    }

    #[test]
    fn redirect_uris_must_be_loopback_with_a_port() {
        assert_eq!(
            parse_redirect("http://127.0.0.1:8651/callback").unwrap(),
            (8651, "/callback".to_string())
        );
        for bad in [
            "https://127.0.0.1:8651/cb",
            "http://10.0.0.1:8651/cb",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:1/cb?x=1",
            "nonsense",
        ] {
            assert!(
                matches!(parse_redirect(bad), Err(OAuthError::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn redirect_judgement() {
        let ok = judge_redirect(
            "GET /cb?code=abc%2F1&state=s1 HTTP/1.1\r\n\r\n",
            "/cb",
            "s1",
        )
        .unwrap();
        assert_eq!(ok.expose_secret(), "abc/1");
        let e = |head: &str| judge_redirect(head, "/cb", "s1").unwrap_err();
        assert!(matches!(
            e("GET /cb?code=a&state=s2 HTTP/1.1"),
            OAuthError::StateMismatch
        ));
        assert!(matches!(
            e("GET /cb?code=a HTTP/1.1"),
            OAuthError::StateMismatch
        ));
        assert!(matches!(
            e("GET /cb?code=a&state=s1&state=s2 HTTP/1.1"),
            OAuthError::BadRedirect(_)
        ));
        assert!(matches!(
            e("GET /other?code=a&state=s1 HTTP/1.1"),
            OAuthError::BadRedirect(_)
        ));
        assert!(matches!(
            e("POST /cb?code=a&state=s1 HTTP/1.1"),
            OAuthError::BadRedirect(_)
        ));
        assert!(matches!(
            e("GET /cb?state=s1 HTTP/1.1"),
            OAuthError::BadRedirect(_)
        ));
        assert!(matches!(
            e("GET /cb?error=access_denied&state=s1 HTTP/1.1"),
            OAuthError::Denied { .. }
        ));
    }

    #[test]
    fn next_refresh_honours_the_margin_but_never_spins() {
        let now = Utc::now();
        let cache = TokenCache {
            url: "u".into(),
            client_id: "c".into(),
            redirect_uri: "r".into(),
            user: None,
            scope: None,
            access_token: SecretString::from("a"),
            access_expires_at: now + chrono::Duration::seconds(600),
            refresh_token: None,
            refresh_expires_at: None,
            updated_at: now,
            refreshes: 0,
        };
        let at = cache.next_refresh(Duration::from_secs(60), now);
        assert_eq!((at - now).num_seconds(), 540);
        let at = cache.next_refresh(Duration::from_secs(3600), now);
        assert_eq!((at - now).num_seconds(), 2);
        let at = cache.next_refresh(Duration::from_secs(u64::MAX), now);
        assert_eq!((at - now).num_seconds(), 2);
        assert!(!format!("{cache:?}").contains("access_token: "));
    }

    #[test]
    fn cache_round_trip_is_0600_and_refuses_loose_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let path = dir.path().join("sub").join("oauth.json");
        let now = Utc::now();
        let cache = TokenCache {
            url: "http://127.0.0.1:1".into(),
            client_id: "cid".into(),
            redirect_uri: "http://127.0.0.1:2/cb".into(),
            user: Some("ALICE".into()),
            scope: Some("refresh_token".into()),
            access_token: SecretString::from("acc"),
            access_expires_at: now,
            refresh_token: Some(SecretString::from("ref")),
            refresh_expires_at: Some(now),
            updated_at: now,
            refreshes: 2,
        };
        cache.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = TokenCache::load(&path).unwrap();
        assert_eq!(back.access_token.expose_secret(), "acc");
        assert_eq!(back.refresh_token.unwrap().expose_secret(), "ref");
        assert_eq!(back.refreshes, 2);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(TokenCache::load(&path)
            .unwrap_err()
            .to_string()
            .contains("chmod 600"));
    }
}
