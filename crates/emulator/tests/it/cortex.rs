//! Cortex REST (protocols §7): credential, role check, shapes, validation.

use serde_json::{json, Value};

use crate::harness::{answer, Answer, Emulator};

async fn cortex(
    emu: &Emulator,
    path: &str,
    token: Option<&str>,
    role: Option<&str>,
    body: &Value,
) -> Answer {
    let mut request = emu
        .client
        .post(format!("{}/api/v2/cortex/{path}", emu.url))
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token).header(
            "X-Snowflake-Authorization-Token-Type",
            "PROGRAMMATIC_ACCESS_TOKEN",
        );
    }
    if let Some(role) = role {
        request = request.header("X-Snowflake-Role", role);
    }
    answer(request.send().await.unwrap()).await
}

async fn cortex_text(
    emu: &Emulator,
    path: &str,
    token: &str,
    body: &Value,
) -> (u16, String, String) {
    let response = emu
        .client
        .post(format!("{}/api/v2/cortex/{path}", emu.url))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

fn hello() -> Value {
    json!({"model": "claude-sonnet-4-5",
           "messages": [{"role": "user", "content": "Hello from deployment 0001"}]})
}

#[tokio::test]
async fn protocols_7_2_complete_echoes_with_word_count_usage() {
    let emu = Emulator::start().await;
    let mut body = hello();
    body["stream"] = json!(false);
    let a = cortex(&emu, "inference:complete", Some(&emu.admin()), None, &body).await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(
        a.json["choices"][0]["message"]["content"],
        "Hello from deployment 0001"
    );
    assert_eq!(a.json["usage"]["prompt_tokens"], 4);
    assert_eq!(a.json["usage"]["completion_tokens"], 4);
    assert_eq!(a.json["usage"]["total_tokens"], 8);
    assert_eq!(a.json["model"], "claude-sonnet-4-5");
}

#[tokio::test]
async fn protocols_7_2_complete_streams_sse_by_default() {
    let emu = Emulator::start().await;
    let (status, content_type, text) =
        cortex_text(&emu, "inference:complete", &emu.admin(), &hello()).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/event-stream"));
    let events: Vec<Value> = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    let joined: String = events
        .iter()
        .map(|e| e["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(joined, "Hello from deployment 0001");
    assert_eq!(events.last().unwrap()["usage"]["total_tokens"], 8);
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(ids.len(), 1, "same id throughout");
}

#[tokio::test]
async fn protocols_7_3_and_7_4_compatible_shapes() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    let mut body = hello();
    body["max_tokens"] = json!(100);
    let a = cortex(&emu, "v1/messages", Some(&token), None, &body).await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["type"], "message");
    assert_eq!(a.json["content"][0]["text"], "Hello from deployment 0001");
    assert_eq!(a.json["usage"]["output_tokens"], 4);
    let a = cortex(&emu, "v1/chat/completions", Some(&token), None, &body).await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["object"], "chat.completion");
    assert_eq!(
        a.json["choices"][0]["message"]["content"],
        "Hello from deployment 0001"
    );
    body["stream"] = json!(true);
    let (status, _, text) = cortex_text(&emu, "v1/chat/completions", &token, &body).await;
    assert_eq!(status, 200);
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
}

#[tokio::test]
async fn protocols_7_1_credential_failures_are_401_with_the_rest_body() {
    let emu = Emulator::start().await;
    let a = cortex(&emu, "inference:complete", None, None, &hello()).await;
    assert_eq!(a.status, 401);
    for key in ["message", "code", "error_code", "request_id"] {
        assert!(a.json.get(key).is_some(), "{key}: {}", a.json);
    }
    assert_eq!(
        a.headers["x-snowflake-request-id"].to_str().unwrap(),
        a.json["request_id"].as_str().unwrap()
    );
    // The Anthropic SDK's x-api-key alone is not a Snowflake credential.
    let response = emu
        .client
        .post(format!("{}/api/v2/cortex/v1/messages", emu.url))
        .header("x-api-key", emu.admin())
        .json(&hello())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let a = cortex(
        &emu,
        "inference:complete",
        Some("not-a-token"),
        None,
        &hello(),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json["code"], "394400");
}

#[tokio::test]
async fn protocols_7_1_role_without_cortex_user_is_403() {
    let emu = Emulator::start().await;
    emu.admin_ok("REVOKE DATABASE ROLE SNOWFLAKE.CORTEX_USER FROM ROLE PUBLIC")
        .await;
    let token = emu.user_with_pat("NO_CORTEX", Some("NO_CORTEX_ROLE")).await;
    let a = cortex(
        &emu,
        "inference:complete",
        Some(&token),
        Some("NO_CORTEX_ROLE"),
        &hello(),
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.json);
    assert_eq!(a.json["message"], "Not Authorized");
    emu.admin_ok("GRANT DATABASE ROLE SNOWFLAKE.CORTEX_REST_API_USER TO ROLE NO_CORTEX_ROLE")
        .await;
    let mut body = hello();
    body["stream"] = json!(false);
    let a = cortex(
        &emu,
        "inference:complete",
        Some(&token),
        Some("NO_CORTEX_ROLE"),
        &body,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
}

#[tokio::test]
async fn protocols_7_2_bad_input_is_400() {
    let emu = Emulator::start().await;
    let token = emu.admin();
    for (path, body) in [
        (
            "inference:complete",
            json!({"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}),
        ),
        (
            "inference:complete",
            json!({"messages": [{"role": "user", "content": "x"}]}),
        ),
        (
            "inference:complete",
            json!({"model": "claude-sonnet-4-5", "messages": []}),
        ),
        (
            "inference:complete",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 99999, "messages": [{"role": "user", "content": "x"}]}),
        ),
        (
            "v1/messages",
            json!({"model": "llama3.1-8b", "messages": [{"role": "user", "content": "x"}]}),
        ),
        ("v1/chat/completions", json!("just a string")),
    ] {
        let a = cortex(&emu, path, Some(&token), None, &body).await;
        assert_eq!(a.status, 400, "{path} {body}: {}", a.json);
        assert!(a.json["message"].is_string());
    }
}

#[tokio::test]
async fn protocols_7_2_models_lists_the_catalogue() {
    let emu = Emulator::start().await;
    let response = emu
        .client
        .get(format!("{}/api/v2/cortex/models", emu.url))
        .bearer_auth(emu.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    let names: Vec<&str> = body["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"claude-sonnet-4-5"));
}
