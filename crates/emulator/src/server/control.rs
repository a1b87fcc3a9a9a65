//! The control API (`interfaces.md`): loopback peers only, `Authorization: Bearer <control
//! token>` compared in constant time; disabled (404) without `--control-token-file`. Errors use
//! the house body `{"request_id", "error_code", "message"}`; internal detail is logged, not sent.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::faults::ScriptedFault;
use super::state::{lock, write_secret, Shared};
use super::wire::{self, json_response, peer_of};
use super::{bootstrap, query};

/// Control requests are small; anything larger is refused.
const MAX_CONTROL_BODY: usize = 64 * 1024;

fn control_error(status: StatusCode, error_code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"request_id": uuid::Uuid::new_v4().to_string(), "error_code": error_code,
                "message": message}),
    )
}

/// Checks enablement, peer and token; `Some` is the refusal to send.
fn refusal(shared: &Shared, request: &Request) -> Option<Response> {
    let Some(expected) = &shared.control_token else {
        return Some(json_response(
            StatusCode::NOT_FOUND,
            &json!({"code": null, "message": format!("Not found: {}", request.uri().path())}),
        ));
    };
    if !peer_of(request).is_loopback() {
        return Some(control_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "the control API answers loopback peers only",
        ));
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .unwrap_or_default();
    let ok: bool = presented
        .as_bytes()
        .ct_eq(expected.expose_secret().as_bytes())
        .into();
    (!ok).then(|| {
        control_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a valid control token is required",
        )
    })
}

async fn json_body(request: Request) -> Result<Value, Response> {
    let bytes = axum::body::to_bytes(request.into_body(), MAX_CONTROL_BODY)
        .await
        .map_err(|_| {
            control_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                "request body too large",
            )
        })?;
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes).map_err(|_| {
        control_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "the body is not valid JSON",
        )
    })
}

/// `GET /emulator/v1/healthz`.
pub(crate) async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

/// `POST /emulator/v1/clock` `{"advance_seconds": N}` → `{"now": "<RFC 3339>"}`.
pub(crate) async fn clock(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if let Some(response) = refusal(&shared, &request) {
        return response;
    }
    let body = match json_body(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(seconds) = body
        .get("advance_seconds")
        .and_then(Value::as_i64)
        .filter(|s| (0..=100 * 365 * 86_400).contains(s))
    else {
        return control_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "advance_seconds must be a non-negative integer (the clock only moves forward)",
        );
    };
    let worker = shared.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut core = lock(&worker.core);
        core.clock_offset_ms += seconds * 1000;
        if let Err(error) = core.persist() {
            core.clock_offset_ms -= seconds * 1000;
            tracing::error!(%error, "state file could not be written; clock not moved");
            return control_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                "Internal Server Error",
            );
        }
        let now = core.now().account;
        tracing::info!(advance_seconds = seconds, now = %wire::rfc3339(now), "account clock moved");
        json_response(StatusCode::OK, &json!({"now": wire::rfc3339(now)}))
    })
    .await;
    answer.unwrap_or_else(|_| {
        control_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal",
            "Internal Server Error",
        )
    })
}

/// `POST /emulator/v1/admin-token` → `{"token": "..."}`: rotates `EMULATOR_ADMIN` with
/// `EXPIRE_ROTATED_TOKEN_AFTER_HOURS = 0` and rewrites the admin token file.
pub(crate) async fn admin_token(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if let Some(response) = refusal(&shared, &request) {
        return response;
    }
    let worker = shared.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let secret = {
            let mut core = lock(&worker.core);
            bootstrap::rotate_or_add_admin_pat(&mut core)
        };
        let secret = match secret {
            Ok(secret) => secret,
            Err(error) => {
                tracing::error!(%error, "admin token rotation failed");
                return control_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal",
                    "Internal Server Error",
                );
            }
        };
        if let Some(path) = &worker.config.admin_token_file {
            if let Err(error) = write_secret(path, &secret) {
                tracing::error!(%error, "admin token file could not be written");
                return control_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal",
                    "Internal Server Error",
                );
            }
        }
        worker.set_admin_token(secret.clone());
        json_response(StatusCode::OK, &json!({"token": secret.expose_secret()}))
    })
    .await;
    answer.unwrap_or_else(|_| {
        control_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal",
            "Internal Server Error",
        )
    })
}

/// `GET /emulator/v1/log?since=SEQ` → JSON lines.
pub(crate) async fn log(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if let Some(response) = refusal(&shared, &request) {
        return response;
    }
    let since = match query::parse(request.uri().query()) {
        Some(pairs) => match query::get(&pairs, "since") {
            None => Some(0),
            Some(text) => text.parse::<u64>().ok(),
        },
        None => None,
    };
    let Some(since) = since else {
        return control_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "since must be a non-negative integer",
        );
    };
    let text = lock(&shared.log).since(since);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        )],
        text,
    )
        .into_response()
}

/// `POST /emulator/v1/faults` `{"statement_kind", "code", "times"}`.
pub(crate) async fn faults(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if let Some(response) = refusal(&shared, &request) {
        return response;
    }
    let body = match json_body(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let kind = body
        .get("statement_kind")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let code = body
        .get("code")
        .and_then(Value::as_str)
        .filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()));
    let times = match body.get("times") {
        None => Some(1),
        Some(value) => value.as_u64().and_then(|t| u32::try_from(t).ok()),
    };
    let (Some(kind), Some(code), Some(times)) = (kind, code, times) else {
        return control_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "expected {\"statement_kind\": \"CREATE USER\", \"code\": \"003001\", \"times\": 1}",
        );
    };
    let fault = ScriptedFault {
        statement_kind: kind.split_whitespace().collect::<Vec<_>>().join(" "),
        code: code.to_owned(),
        times,
    };
    let echo = json!({"statement_kind": fault.statement_kind, "code": fault.code, "times": times});
    lock(&shared.faults).add(fault);
    json_response(StatusCode::OK, &echo)
}
