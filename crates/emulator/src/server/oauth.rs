//! Snowflake OAuth endpoints (protocols §6): `GET /oauth/authorize` and
//! `POST /oauth/token-request`. Every rule lives in the engine ([`Account::oauth_authorize`],
//! [`Account::oauth_token`]); this module parses the HTTP request, turns the end user's
//! `Authorization` header into a [`Credential`], makes the change durable and shapes the answer.
//!
//! * Authorize: `Authorization: Basic user:password` (a password login of that user) or
//!   `Bearer <PAT | key-pair JWT>`, as the emulator's stand-in for the login page (protocols
//!   §6.1 [E]); success is `302 Location: <redirect_uri>?code=…&state=…`.
//! * Token: `Authorization: Basic base64(client_id:client_secret)` (each part form-encoded, RFC
//!   6749 §2.3.1), or `client_id` in the body for a PUBLIC client; the body is
//!   `application/x-www-form-urlencoded`. Errors use the envelope of protocols §6.2.
//!
//! [`Account::oauth_authorize`]: crate::engine::Account::oauth_authorize
//! [`Account::oauth_token`]: crate::engine::Account::oauth_token

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use secrecy::SecretString;

use super::log::LogLine;
use super::sqlapi::bearer_credential;
use super::state::{lock, Core, Shared};
use super::wire::{self, json_response, peer_of};
use crate::engine::{
    percent_decode, Account, AuthContext, AuthorizeRequest, Channel, Credential, OAuthError,
    TokenRequest,
};

const AUTHORIZE: &str = "GET /oauth/authorize";
const TOKEN: &str = "POST /oauth/token-request";

/// `application/x-www-form-urlencoded` (also query strings): `+` is a space, `%XX` escapes.
/// A repeated name keeps its first value; a bad escape fails the whole form.
pub(crate) fn parse_form(text: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(&k.replace('+', " "))?;
        let v = percent_decode(&v.replace('+', " "))?;
        out.entry(k).or_insert(v);
    }
    Some(out)
}

fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let parsed = (|| {
        let text = value.to_str().map_err(|_| ())?.trim();
        let (scheme, data) = text.split_once(' ').ok_or(())?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(());
        }
        let bytes = STANDARD.decode(data.trim()).map_err(|_| ())?;
        let text = String::from_utf8(bytes).map_err(|_| ())?;
        let (user, password) = text.split_once(':').ok_or(())?;
        Ok((user.to_owned(), password.to_owned()))
    })();
    Some(parsed)
}

fn is_basic(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
}

fn error_response(error: &OAuthError) -> Response {
    let status = StatusCode::from_u16(error.http_status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json_response(status, &error.body());
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Runs an OAuth change on the account and makes it durable; a failed write rolls it back.
fn durable<T>(
    core: &mut Core,
    change: impl FnOnce(&mut Account) -> Result<T, OAuthError>,
) -> Result<T, OAuthError> {
    let snapshot = if core.has_state_file() {
        serde_json::to_vec(&core.account).ok()
    } else {
        None
    };
    // Failures change state too (a spent code, a revoked family), so both outcomes are written.
    let outcome = change(&mut core.account);
    if let Err(error) = core.persist() {
        tracing::error!(%error, "cannot write the state file after an OAuth request");
        if let Some(account) = snapshot.and_then(|b| serde_json::from_slice(&b).ok()) {
            core.account = account;
        }
        return Err(OAuthError {
            http_status: 503,
            error: "temporarily_unavailable",
            message: "The state could not be written.".into(),
        });
    }
    outcome
}

/// `GET /oauth/authorize` (protocols §6.1).
pub(crate) async fn authorize(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let peer = peer_of(&request);
    let mut line = LogLine {
        at: wire::rfc3339(shared.account_now()),
        peer: peer.to_string(),
        endpoint: AUTHORIZE.into(),
        ..LogLine::default()
    };
    let query = request.uri().query().unwrap_or("");
    let Some(form) = parse_form(query) else {
        let error = OAuthError {
            http_status: 400,
            error: "invalid_request",
            message: "The query string is malformed.".into(),
        };
        line.status = 400;
        shared.log(line);
        return error_response(&error);
    };
    let get = |k: &str| form.get(k).cloned();
    let ask = AuthorizeRequest {
        client_id: get("client_id"),
        response_type: get("response_type"),
        redirect_uri: get("redirect_uri"),
        state: get("state"),
        scope: get("scope"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        login_hint: get("login_hint"),
    };
    let headers = request.headers();
    let mut login_name = None;
    let credential = if headers.get(header::AUTHORIZATION).is_none() {
        None
    } else if is_basic(headers) {
        match basic_credentials(headers) {
            Some(Ok((user, password))) => {
                login_name = Some(user);
                Some(Credential::Password {
                    password: SecretString::from(password),
                })
            }
            _ => None,
        }
    } else {
        bearer_credential(headers).ok()
    };
    let context = AuthContext {
        peer,
        login_name,
        requested_role: None,
        channel: Channel::Rest,
        jwks: shared.jwks.snapshot(),
    };
    let outcome = {
        let mut core = lock(&shared.core);
        let now = core.now();
        durable(&mut core, |account| {
            account.oauth_authorize(&ask, credential.as_ref(), &context, now)
        })
    };
    match outcome {
        Ok(location) => {
            line.status = 302;
            // A new authorization code is account state.
            line.executed = true;
            shared.log(line);
            let mut response = StatusCode::FOUND.into_response();
            match HeaderValue::from_str(&location) {
                Ok(value) => {
                    response.headers_mut().insert(header::LOCATION, value);
                    response
                }
                Err(_) => error_response(&OAuthError {
                    http_status: 400,
                    error: "invalid_request",
                    message: "The redirect_uri cannot be used in a Location header.".into(),
                }),
            }
        }
        Err(error) => {
            line.status = error.http_status;
            shared.log(line);
            error_response(&error)
        }
    }
}

/// `POST /oauth/token-request` (protocols §6.2).
pub(crate) async fn token_request(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let peer = peer_of(&request);
    let mut line = LogLine {
        at: wire::rfc3339(shared.account_now()),
        peer: peer.to_string(),
        endpoint: TOKEN.into(),
        ..LogLine::default()
    };
    let basic = match basic_credentials(request.headers()) {
        None => Ok(None),
        Some(Ok((id, secret))) => match (percent_decode(&id), percent_decode(&secret)) {
            (Some(id), Some(secret)) => Ok(Some((id, SecretString::from(secret)))),
            _ => Err(()),
        },
        Some(Err(())) => Err(()),
    };
    let limit = shared.config.max_body_bytes;
    let bytes = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            line.status = 413;
            shared.log(line);
            return error_response(&OAuthError {
                http_status: 413,
                error: "invalid_request",
                message: "The request body is too large.".into(),
            });
        }
    };
    let outcome = match (basic, std::str::from_utf8(&bytes).ok().and_then(parse_form)) {
        (Err(()), _) => Err(OAuthError {
            http_status: 401,
            error: "invalid_client",
            message: "This is an invalid client.".into(),
        }),
        (_, None) => Err(OAuthError {
            http_status: 400,
            error: "invalid_request",
            message: "The request body is not a valid form.".into(),
        }),
        (Ok(basic), Some(form)) => {
            let ask = TokenRequest { basic, form };
            let mut core = lock(&shared.core);
            let now = core.now();
            durable(&mut core, |account| account.oauth_token(&ask, now))
        }
    };
    match outcome {
        Ok(body) => {
            line.status = 200;
            line.executed = true;
            line.auth = Some("oauth");
            line.user = body["username"].as_str().map(str::to_owned);
            shared.log(line);
            let mut response = json_response(StatusCode::OK, &body);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            line.status = error.http_status;
            shared.log(line);
            error_response(&error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_and_escapes() {
        let f = parse_form("a=1+2&b=%2Fx&c&a=9").expect("form");
        assert_eq!(f["a"], "1 2");
        assert_eq!(f["b"], "/x");
        assert_eq!(f["c"], "");
        assert!(parse_form("a=%G1").is_none());
    }
}
