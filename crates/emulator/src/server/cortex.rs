//! Cortex REST (protocols §7): credential (bearer, `Channel::Rest`, `X-Snowflake-Role`), the
//! `CORTEX_USER`/`CORTEX_REST_API_USER` check, input validation, and a deterministic echo of the
//! last user message with word counts as token usage.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::faults::Executed;
use super::log::LogLine;
use super::sqlapi::bearer_credential;
use super::state::{lock, Shared};
use super::wire::{self, json_response, peer_of, rest_error};
use crate::engine::{AuthContext, Channel, Credential, Session};

/// The emulator's model catalogue.
const MODELS: &[&str] = &[
    "claude-sonnet-4-5",
    "claude-4-sonnet",
    "claude-4-opus",
    "claude-3-7-sonnet",
    "claude-3-5-sonnet",
    "claude-haiku-4-5",
    "openai-gpt-4.1",
    "openai-gpt-5",
    "llama3.1-8b",
    "llama3.1-70b",
    "llama3.1-405b",
    "llama3.3-70b",
    "llama4-maverick",
    "mistral-large2",
    "mistral-7b",
    "mixtral-8x7b",
    "deepseek-r1",
    "snowflake-arctic",
    "snowflake-llama-3.3-70b",
];

const MAX_TOKENS_LIMIT: u64 = 16_384;

#[derive(Clone, Copy, Eq, PartialEq)]
enum Flavor {
    /// `/api/v2/cortex/inference:complete`
    Inference,
    /// `/api/v2/cortex/v1/messages` (Anthropic)
    Anthropic,
    /// `/api/v2/cortex/v1/chat/completions` (OpenAI)
    OpenAi,
}

pub(crate) async fn complete(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    handle(shared, request, Some(Flavor::Inference)).await
}

pub(crate) async fn messages(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    handle(shared, request, Some(Flavor::Anthropic)).await
}

pub(crate) async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Response {
    handle(shared, request, Some(Flavor::OpenAi)).await
}

/// `GET /api/v2/cortex/models`.
pub(crate) async fn models(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    handle(shared, request, None).await
}

async fn handle(shared: Arc<Shared>, request: Request, flavor: Option<Flavor>) -> Response {
    let peer = peer_of(&request);
    let mut line = LogLine {
        at: wire::rfc3339(shared.account_now()),
        peer: peer.to_string(),
        endpoint: wire::endpoint(&request),
        ..LogLine::default()
    };
    let credential = match bearer_credential(request.headers()) {
        Ok(credential) => credential,
        Err(()) => {
            // Includes `x-api-key` alone: Snowflake expects a bearer token (protocols §7.1).
            line.code = Some("099922".into());
            line.status = 401;
            shared.log(line);
            return rest_error(
                StatusCode::UNAUTHORIZED,
                Some("099922"),
                "Missing or malformed Authorization header.",
            );
        }
    };
    let requested_role = wire::requested_role(&request);
    let bytes = match axum::body::to_bytes(request.into_body(), shared.config.max_body_bytes).await
    {
        Ok(bytes) => bytes,
        Err(_) => {
            line.status = 413;
            shared.log(line);
            return rest_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                "request body too large",
            );
        }
    };
    super::jwks::prepare(&shared, &credential).await;
    let worker = shared.clone();
    let auth =
        tokio::task::spawn_blocking(move || authorize(&worker, &credential, peer, requested_role))
            .await;
    let session = match auth {
        Ok(Ok(session)) => session,
        Ok(Err((status, code, message))) => {
            line.code = code.clone();
            line.status = status.as_u16();
            shared.log(line);
            return rest_error(status, code.as_deref(), &message);
        }
        Err(_) => {
            line.status = 500;
            shared.log(line);
            return rest_error(StatusCode::INTERNAL_SERVER_ERROR, None, "Internal error");
        }
    };
    line.user = Some(session.user_name.clone());
    line.role = Some(session.primary_role.clone());
    line.auth = Some(session.auth.log_name());
    let now = shared.account_now();
    let mut response = match flavor {
        None => json_response(
            StatusCode::OK,
            &json!({"models": MODELS.iter().map(|m| json!({"name": m})).collect::<Vec<_>>()}),
        ),
        Some(flavor) => match answer(flavor, &bytes, now.timestamp()) {
            Ok(response) => {
                let mut response = response;
                response.extensions_mut().insert(Executed);
                response
            }
            Err(message) => rest_error(StatusCode::BAD_REQUEST, None, &message),
        },
    };
    line.status = response.status().as_u16();
    shared.log(line);
    if let Ok(value) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response
            .headers_mut()
            .insert("x-snowflake-request-id", value);
    }
    response
}

type Refusal = (StatusCode, Option<String>, String);

fn authorize(
    shared: &Shared,
    credential: &Credential,
    peer: std::net::IpAddr,
    requested_role: Option<String>,
) -> Result<Session, Refusal> {
    let mut core = lock(&shared.core);
    let now = core.now();
    let context = AuthContext {
        peer,
        login_name: None,
        requested_role,
        channel: Channel::Rest,
        jwks: shared.jwks.snapshot(),
    };
    let session = core
        .account
        .authenticate(credential, &context, now)
        .map_err(|e| {
            (
                StatusCode::from_u16(e.http_status).unwrap_or(StatusCode::UNAUTHORIZED),
                Some(e.code),
                e.message,
            )
        })?;
    if !core.account.cortex_allowed(&session) {
        return Err((StatusCode::FORBIDDEN, None, "Not Authorized".into()));
    }
    Ok(session)
}

/// The text of a message's `content`: a string, or the `text` of its text items
/// (`content_list` for Cortex, content blocks for Anthropic, content parts for OpenAI).
fn content_text(message: &Value) -> Option<String> {
    let content = message
        .get("content")
        .or_else(|| message.get("content_list"))?;
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|item| item.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// A validated request.
struct Ask {
    model: String,
    stream: bool,
    prompt_tokens: u64,
    reply: String,
}

fn validate(flavor: Flavor, bytes: &[u8]) -> Result<Ask, String> {
    let body: Value =
        serde_json::from_slice(bytes).map_err(|_| "invalid options object".to_owned())?;
    let object = body
        .as_object()
        .ok_or_else(|| "invalid options object".to_owned())?;
    let model = object
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| "schema validation failed: model is required".to_owned())?;
    if !MODELS.contains(&model) || (flavor == Flavor::Anthropic && !model.starts_with("claude")) {
        return Err(format!("unknown model {model}"));
    }
    if let Some(max) = object.get("max_tokens") {
        match max.as_u64() {
            Some(n) if (1..=MAX_TOKENS_LIMIT).contains(&n) => {}
            Some(n) if n > MAX_TOKENS_LIMIT => return Err(format!("max tokens of {n} exceeded")),
            _ => return Err("invalid options object".to_owned()),
        }
    }
    let stream = match object.get("stream") {
        None | Some(Value::Null) => flavor == Flavor::Inference,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("invalid options object".to_owned()),
    };
    let messages = object
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| "schema validation failed: messages is required".to_owned())?;
    let mut prompt_tokens = 0;
    let mut last_user = None;
    for (index, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| "schema validation failed: every message needs a role".to_owned())?;
        let allowed = match (flavor, role) {
            (_, "user" | "assistant") => true,
            (Flavor::Inference, "system") => index == 0,
            (Flavor::OpenAi, "system" | "developer" | "tool") => true,
            _ => false,
        };
        if !allowed {
            return Err(format!(
                "schema validation failed: unexpected role {role} at message {index}"
            ));
        }
        let text = content_text(message).ok_or_else(|| {
            format!("schema validation failed: message {index} has no valid content")
        })?;
        prompt_tokens += words(&text);
        if role == "user" {
            last_user = Some(text);
        }
    }
    if flavor == Flavor::Anthropic {
        if let Some(system) = object.get("system") {
            let text = content_text(&json!({ "content": system })).unwrap_or_default();
            prompt_tokens += words(&text);
        }
    }
    let last_role = messages
        .last()
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str);
    if flavor != Flavor::OpenAi && last_role != Some("user") {
        return Err("schema validation failed: the last message must come from the user".into());
    }
    let reply = last_user.ok_or_else(|| "schema validation failed: no user message".to_owned())?;
    Ok(Ask {
        model: model.to_owned(),
        stream,
        prompt_tokens,
        reply,
    })
}

/// The reply split into stream chunks: words with their leading space.
fn chunks(reply: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, word) in reply.split_whitespace().enumerate() {
        out.push(if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        });
    }
    out
}

fn sse(events: &[String]) -> Response {
    let mut body = String::new();
    for event in events {
        body.push_str(event);
        body.push_str("\n\n");
    }
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

fn data(value: &Value) -> String {
    format!("data: {value}")
}

fn answer(flavor: Flavor, bytes: &[u8], created: i64) -> Result<Response, String> {
    let ask = validate(flavor, bytes)?;
    let completion_tokens = words(&ask.reply);
    let total = ask.prompt_tokens + completion_tokens;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let model = ask.model.as_str();
    let response = match (flavor, ask.stream) {
        (Flavor::Inference, false) => json_response(
            StatusCode::OK,
            &json!({"id": id, "created": created, "model": model,
                    "choices": [{"message": {"content": ask.reply,
                                             "content_list": [{"type": "text", "text": ask.reply}]},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": ask.prompt_tokens,
                              "completion_tokens": completion_tokens, "total_tokens": total}}),
        ),
        (Flavor::Inference, true) => {
            let mut events: Vec<String> = chunks(&ask.reply)
                .into_iter()
                .map(|c| {
                    data(&json!({"id": id, "created": created, "model": model,
                                 "choices": [{"delta": {"content": c,
                                                        "content_list": [{"type": "text", "text": c}]}}],
                                 "usage": {}}))
                })
                .collect();
            events.push(data(&json!({"id": id, "created": created, "model": model,
                                     "choices": [{"delta": {"content": "", "content_list": []},
                                                  "finish_reason": "stop"}],
                                     "usage": {"prompt_tokens": ask.prompt_tokens,
                                               "completion_tokens": completion_tokens,
                                               "total_tokens": total}})));
            sse(&events)
        }
        (Flavor::Anthropic, false) => json_response(
            StatusCode::OK,
            &json!({"id": format!("msg_emu_{id}"), "type": "message", "role": "assistant",
                    "model": model, "content": [{"type": "text", "text": ask.reply}],
                    "stop_reason": "end_turn", "stop_sequence": null,
                    "usage": {"input_tokens": ask.prompt_tokens,
                              "output_tokens": completion_tokens}}),
        ),
        (Flavor::Anthropic, true) => {
            let message_id = format!("msg_emu_{id}");
            let mut events = vec![
                format!(
                    "event: message_start\n{}",
                    data(&json!({"type": "message_start",
                    "message": {"id": message_id, "type": "message", "role": "assistant",
                                "model": model, "content": [], "stop_reason": null,
                                "stop_sequence": null,
                                "usage": {"input_tokens": ask.prompt_tokens, "output_tokens": 0}}}))
                ),
                format!(
                    "event: content_block_start\n{}",
                    data(&json!({"type": "content_block_start",
                    "index": 0, "content_block": {"type": "text", "text": ""}}))
                ),
            ];
            for chunk in chunks(&ask.reply) {
                events.push(format!(
                    "event: content_block_delta\n{}",
                    data(&json!({
                    "type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": chunk}}))
                ));
            }
            events.push(format!(
                "event: content_block_stop\n{}",
                data(&json!({"type": "content_block_stop", "index": 0}))
            ));
            events.push(format!(
                "event: message_delta\n{}",
                data(&json!({"type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"output_tokens": completion_tokens}}))
            ));
            events.push(format!(
                "event: message_stop\n{}",
                data(&json!({"type": "message_stop"}))
            ));
            sse(&events)
        }
        (Flavor::OpenAi, false) => json_response(
            StatusCode::OK,
            &json!({"id": format!("chatcmpl-emu-{id}"), "object": "chat.completion",
                    "created": created, "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": ask.reply},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": ask.prompt_tokens,
                              "completion_tokens": completion_tokens, "total_tokens": total}}),
        ),
        (Flavor::OpenAi, true) => {
            let chunk_id = format!("chatcmpl-emu-{id}");
            let mut events: Vec<String> = chunks(&ask.reply)
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    let delta = if i == 0 {
                        json!({"role": "assistant", "content": c})
                    } else {
                        json!({"content": c})
                    };
                    data(&json!({"id": chunk_id, "object": "chat.completion.chunk",
                                 "created": created, "model": model,
                                 "choices": [{"index": 0, "delta": delta, "finish_reason": null}]}))
                })
                .collect();
            events.push(data(&json!({"id": chunk_id, "object": "chat.completion.chunk",
                                     "created": created, "model": model,
                                     "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                     "usage": {"prompt_tokens": ask.prompt_tokens,
                                               "completion_tokens": completion_tokens,
                                               "total_tokens": total}})));
            events.push("data: [DONE]".to_owned());
            sse(&events)
        }
    };
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors() {
        let bad = |flavor, body: &str| validate(flavor, body.as_bytes()).err().unwrap();
        assert_eq!(bad(Flavor::Inference, "{"), "invalid options object");
        assert_eq!(
            bad(
                Flavor::Inference,
                r#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#
            ),
            "unknown model nope"
        );
        assert_eq!(
            bad(
                Flavor::Anthropic,
                r#"{"model":"llama3.1-8b","messages":[{"role":"user","content":"x"}]}"#
            ),
            "unknown model llama3.1-8b"
        );
        assert_eq!(
            bad(
                Flavor::Inference,
                r#"{"model":"claude-sonnet-4-5","max_tokens":20000,"messages":[{"role":"user","content":"x"}]}"#
            ),
            "max tokens of 20000 exceeded"
        );
        assert!(bad(
            Flavor::Inference,
            r#"{"model":"claude-sonnet-4-5","messages":[]}"#
        )
        .starts_with("schema validation failed"));
    }

    #[test]
    fn echo_and_word_counts() {
        let ask = validate(
            Flavor::Inference,
            br#"{"model":"claude-sonnet-4-5","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Hello from deployment 0001"}]}"#,
        )
        .unwrap();
        assert_eq!(ask.reply, "Hello from deployment 0001");
        assert_eq!(ask.prompt_tokens, 6);
        assert!(
            ask.stream,
            "inference:complete streams unless told otherwise"
        );
    }
}
