//! The HTTP surface (`interfaces.md` "snowpat.toml", `POST /v1/token`):
//!
//! | route | answers |
//! |---|---|
//! | `POST /v1/token` | RFC 8693 token exchange: form body in; 200 `{access_token, issued_token_type, token_type, expires_in}` or an RFC 6749 error body |
//! | `GET /healthz` | `ok` |
//! | `GET /metrics` | Prometheus text (no per-subject labels) |
//! | `GET /openapi.json` | the OpenAPI 3.1 document checked in at `crates/server/openapi.json` |
//!
//! No route edits or reloads the configuration. Error codes (RFC 6749 §5.2, RFC 8693 §2.2.2):
//! `invalid_request` (400: malformed form, missing or repeated parameter, wrong token type,
//! oversized body: 413), `unsupported_grant_type` (400), `invalid_grant` (400: the token, and
//! `user_mismatch` when Snowflake signs the token in as another user than the policy maps),
//! `invalid_scope` (400), `unauthorized_client` (403: no policy matches; Snowflake refused the
//! mint), `temporarily_unavailable` (429 rate limited; 503 JWKS or Snowflake unavailable, a
//! rotation too soon, a busy mint lock; with `Retry-After`), `server_error` (500). Every
//! `error_description` starts with the stable reason (`expired: ...`, `user_mismatch: ...`) that
//! the audit event and the metrics carry.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use snowpat_core::exchange::{parse_scope, ExchangeError, Grant, Verifier};
use snowpat_core::store::Store;
use snowpat_core::tenants::secret_sha256;

use crate::audit::{AuditLog, Event};
use crate::cache::Identity;
use crate::metrics::Metrics;
use crate::mint::{Issued, MintError, MintRequest, Minter};
use crate::ratelimit::Limiter;

/// RFC 8693 grant type.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The only accepted subject token type.
pub const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// What is issued.
pub const PAT_TYPE: &str = "urn:snowpat:token-type:snowflake-pat";
/// The checked-in OpenAPI document.
pub const OPENAPI: &str = include_str!("../openapi.json");
/// Default time a request body may take to arrive.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default request body limit (a JWT is at most 16 KiB by the verifier's rule).
pub const DEFAULT_MAX_BODY: usize = 32 * 1024;

/// Everything the routes share.
pub struct AppState<S: Store> {
    pub verifier: Verifier,
    pub minter: Arc<Minter<S>>,
    pub limiter: Limiter,
    pub audit: Arc<AuditLog>,
    pub metrics: Arc<Metrics>,
    pub max_body: usize,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
}

/// The router.
pub fn router<S: Store>(state: Arc<AppState<S>>) -> Router {
    Router::new()
        .route("/v1/token", post(token::<S>))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics::<S>))
        .route("/openapi.json", get(openapi))
        .with_state(state)
}

async fn metrics<S: Store>(State(state): State<Arc<AppState<S>>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

/// An RFC 6749 refusal.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    pub reason: String,
    pub retry_after: Option<Duration>,
}

impl Refusal {
    fn request(reason: &str, description: impl std::fmt::Display) -> Self {
        Self {
            status: 400,
            error: "invalid_request",
            description: format!("{reason}: {description}"),
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// From the verifier's refusal.
    #[must_use]
    pub fn from_exchange(e: &ExchangeError) -> Self {
        Self {
            status: e.http_status(),
            error: e.oauth_error(),
            description: e.to_string(),
            reason: e.reason().to_owned(),
            retry_after: matches!(e, ExchangeError::Unavailable(_))
                .then_some(Duration::from_secs(5)),
        }
    }

    /// From the minting engine's refusal.
    #[must_use]
    pub fn from_mint(e: &MintError) -> Self {
        let text = e.to_string();
        let description = if text.starts_with(&format!("{}:", e.reason())) {
            text
        } else {
            format!("{}: {text}", e.reason())
        };
        Self {
            status: e.http_status(),
            error: e.oauth_error(),
            description,
            reason: e.reason().to_owned(),
            retry_after: e.retry_after(),
        }
    }

    fn into_response(self) -> Response {
        let mut response = (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST),
            axum::Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(after) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

/// The parsed form of `POST /v1/token`.
pub struct TokenForm {
    pub subject_token: SecretString,
    pub role: String,
}

/// Parses and checks the RFC 8693 form (RFC 6749 §3.2: no parameter more than once).
pub fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<TokenForm, Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/x-www-form-urlencoded" {
        return Err(Refusal::request(
            "bad_content_type",
            "the body must be application/x-www-form-urlencoded (RFC 8693 §2.1)",
        ));
    }
    let mut grant_type = None;
    let mut subject_token: Option<SecretString> = None;
    let mut subject_token_type = None;
    let mut scope = None;
    let mut requested_token_type = None;
    for (name, value) in form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "grant_type" => &mut grant_type,
            "subject_token_type" => &mut subject_token_type,
            "scope" => &mut scope,
            "requested_token_type" => &mut requested_token_type,
            "subject_token" => {
                if subject_token.is_some() {
                    return Err(Refusal::request(
                        "repeated_parameter",
                        "subject_token is given more than once",
                    ));
                }
                subject_token = Some(SecretString::from(value.into_owned()));
                continue;
            }
            // RFC 8693 optional parameters this service does not use.
            "resource" | "audience" | "actor_token" | "actor_token_type" | "client_id" => continue,
            _ => continue,
        };
        if slot.is_some() {
            return Err(Refusal::request(
                "repeated_parameter",
                format!("{name} is given more than once"),
            ));
        }
        *slot = Some(value.into_owned());
    }
    match grant_type.as_deref() {
        None => {
            return Err(Refusal::request(
                "missing_parameter",
                "grant_type is missing",
            ))
        }
        Some(GRANT_TYPE) => {}
        Some(_) => {
            return Err(Refusal {
                status: 400,
                error: "unsupported_grant_type",
                description: format!("unsupported_grant_type: grant_type must be {GRANT_TYPE}"),
                reason: "unsupported_grant_type".into(),
                retry_after: None,
            })
        }
    }
    let subject_token = subject_token
        .filter(|t| !t.expose_secret().is_empty())
        .ok_or_else(|| Refusal::request("missing_parameter", "subject_token is missing"))?;
    match subject_token_type.as_deref() {
        Some(JWT_TYPE) => {}
        None => {
            return Err(Refusal::request(
                "missing_parameter",
                "subject_token_type is missing",
            ))
        }
        Some(_) => {
            return Err(Refusal::request(
                "unsupported_token_type",
                format!("subject_token_type must be {JWT_TYPE}"),
            ))
        }
    }
    if let Some(t) = requested_token_type.as_deref() {
        if t != PAT_TYPE {
            return Err(Refusal::request(
                "unsupported_token_type",
                format!("requested_token_type, when given, must be {PAT_TYPE}"),
            ));
        }
    }
    let scope = scope.ok_or_else(|| Refusal {
        status: 400,
        error: "invalid_scope",
        description: "missing_scope: ask for session:role:ROLE".into(),
        reason: "missing_scope".into(),
        retry_after: None,
    })?;
    let role = parse_scope(&scope).map_err(|e| Refusal::from_exchange(&e))?;
    Ok(TokenForm {
        subject_token,
        role,
    })
}

/// The identity a grant names (the single-flight and cache key).
#[must_use]
pub fn identity(grant: &Grant) -> Identity {
    Identity {
        policy: grant.policy.clone(),
        issuer: grant.issuer.clone(),
        subject: grant.subject.clone(),
        user: grant.user.clone(),
        role: grant.role.clone(),
    }
}

/// The success body (RFC 8693 §2.2.1) with `Cache-Control: no-store` (RFC 6749 §5.1).
#[must_use]
pub fn success(issued: &Issued) -> Response {
    let mut response = axum::Json(json!({
        "access_token": issued.secret.expose_secret(),
        "issued_token_type": PAT_TYPE,
        "token_type": "Bearer",
        "expires_in": issued.expires_in.as_secs(),
    }))
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn token<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    request: axum::extract::Request,
) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let remote = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let mut event = Event {
        event: "exchange",
        remote,
        mode: Some(state.minter.settings().mode.as_str().to_owned()),
        ..Event::default()
    };
    let outcome = exchange(&state, &headers, body, &mut event).await;
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(issued) => {
            event.decision = "issued";
            event.reason = issued.action.as_str().to_owned();
            event.token_name = Some(issued.token_name.clone());
            event.token_sha256 = Some(secret_sha256(&issued.secret));
            event.expires_in = Some(issued.expires_in.as_secs());
            state
                .metrics
                .request("issued", issued.action.as_str(), seconds);
            state.audit.emit(event);
            success(&issued)
        }
        Err(refusal) => {
            event.decision = "refused";
            event.reason = refusal.reason.clone();
            state.metrics.request("refused", &refusal.reason, seconds);
            state.audit.emit(event);
            refusal.into_response()
        }
    }
}

async fn exchange<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    body: Body,
    event: &mut Event,
) -> Result<Issued, Refusal> {
    // A slow client may not hold the request open: the whole body within the body timeout.
    let bytes: Bytes = tokio::time::timeout(
        state.body_timeout,
        axum::body::to_bytes(body, state.max_body),
    )
    .await
    .map_err(|_| Refusal::request("body_timeout", "the request body did not arrive in time"))?
    .map_err(|_| Refusal {
        status: 413,
        error: "invalid_request",
        description: format!("the request body exceeds {} bytes", state.max_body),
        reason: "body_too_large".into(),
        retry_after: None,
    })?;
    let form = parse_form(headers, &bytes)?;
    event.role = Some(form.role.clone());
    let grant = state
        .verifier
        .verify(&form.subject_token, &form.role, SystemTime::now())
        .await
        .map_err(|e| Refusal::from_exchange(&e))?;
    event.policy = Some(grant.policy.clone());
    event.issuer = Some(grant.issuer.clone());
    event.subject = Some(grant.subject.clone());
    event.user = Some(grant.user.clone());
    if let Err(wait) = state.limiter.check(&grant.issuer, &grant.subject) {
        return Err(Refusal {
            status: 429,
            error: "temporarily_unavailable",
            description: "rate_limited: too many requests for this subject; retry later".into(),
            reason: "rate_limited".into(),
            retry_after: Some(wait),
        });
    }
    let request = MintRequest {
        identity: identity(&grant),
        max_lifetime: grant.max_lifetime,
    };
    // The mint runs in its own task: a client that disconnects mid-mint does not abort it
    // halfway (a secret minted and lost); its result lands in the cache for the retry.
    let minter = Arc::clone(&state.minter);
    let subject_token = form.subject_token;
    let minted = tokio::spawn(async move { minter.exchange(&request, &subject_token).await }).await;
    match minted {
        Ok(result) => result.map_err(|e| Refusal::from_mint(&e)),
        Err(_) => Err(Refusal::from_mint(&MintError::Internal(
            "the mint task ended abnormally".into(),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        h
    }

    #[test]
    fn rfc_8693_form_rules() {
        let good = format!(
            "grant_type={}&subject_token=a.b.c&subject_token_type={}&scope=session%3Arole%3Aanalyst",
            GRANT_TYPE, JWT_TYPE
        );
        let form = parse_form(&form_headers(), good.as_bytes()).expect("accepted");
        assert_eq!(form.role, "ANALYST");
        assert_eq!(form.subject_token.expose_secret(), "a.b.c");
        let refused = |body: &str| parse_form(&form_headers(), body.as_bytes()).err();
        let e = refused(&good.replace(GRANT_TYPE, "password")).expect("refused");
        assert_eq!(e.error, "unsupported_grant_type");
        let e = refused(&format!("{good}&subject_token=x.y.z")).expect("refused");
        assert_eq!(
            (e.error, e.reason.as_str()),
            ("invalid_request", "repeated_parameter")
        );
        let e = refused(&format!("{good}&requested_token_type=urn:x")).expect("refused");
        assert_eq!(e.reason, "unsupported_token_type");
        let e = refused(&good.replace("&scope=session%3Arole%3Aanalyst", "")).expect("refused");
        assert_eq!(e.error, "invalid_scope");
        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let e = parse_form(&json, good.as_bytes()).err().expect("refused");
        assert_eq!(e.reason, "bad_content_type");
    }

    proptest! {
        /// No input panics the parser; whatever it accepts names one folded role and a token.
        #[test]
        fn any_body_is_answered_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(form) = parse_form(&form_headers(), &body) {
                prop_assert!(!form.role.is_empty());
                prop_assert_eq!(form.role.to_ascii_uppercase(), form.role.clone());
                prop_assert!(!form.subject_token.expose_secret().is_empty());
            }
        }

        #[test]
        fn any_field_values_are_answered_without_panicking(
            token in ".{0,64}", kind in ".{0,40}", scope in ".{0,40}", grant in ".{0,40}"
        ) {
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", &grant)
                .append_pair("subject_token", &token)
                .append_pair("subject_token_type", &kind)
                .append_pair("scope", &scope)
                .finish();
            let _ = parse_form(&form_headers(), body.as_bytes());
        }
    }
}
