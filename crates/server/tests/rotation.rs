//! Rotation (snowflake-behaviour §6.4): a token with less than `reuse_while` left is rotated with
//! EXPIRE_ROTATED_TOKEN_AFTER_HOURS = the grace, so agents holding the old secret keep working
//! for the grace; a process without the secret never rotates sooner than the grace; expired
//! `_ROTATED_` objects are removed; the service's routes and OpenAPI document.

mod common;

use serde_json::json;

use common::{Env, ROLE};

async fn works(env: &Env, pat: &str) -> bool {
    let response = env
        .http
        .post(format!("{}{}", env.url, common::MCP_PATH))
        .bearer_auth(pat)
        .header(
            "X-Snowflake-Authorization-Token-Type",
            "PROGRAMMATIC_ACCESS_TOKEN",
        )
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .send()
        .await
        .expect("mcp");
    response.status().as_u16() == 200
}

#[tokio::test]
async fn rotation_keeps_the_old_secret_for_the_grace_and_is_never_sooner_than_the_grace() {
    let env = Env::start().await;
    let cfg = env.exchange_config("as-user");
    let token = env.token_for("alice@example.com");
    let first = env.serve(&cfg).await;
    let a = first.exchange(&env.http, &token, ROLE).await;
    assert_eq!(a.status, 200, "{}", a.json);
    let old = a.json["access_token"].as_str().expect("pat").to_owned();
    drop(first);

    // 19 hours later (server time) the token has 5h left, under reuse_while = 6h: a fresh
    // process rotates it with a one-hour grace.
    env.advance_clock(19 * 3600).await;
    let second = env.serve(&cfg).await;
    let mark = env.log_mark().await;
    let b = second.exchange(&env.http, &token, ROLE).await;
    assert_eq!(b.status, 200, "{}", b.json);
    let new = b.json["access_token"].as_str().expect("pat").to_owned();
    assert_ne!(new, old);
    let lines = env.log(mark).await;
    let rotates: Vec<_> = lines
        .iter()
        .filter(|l| l["statement_kind"] == "ALTER USER ROTATE PAT" && l["executed"] == true)
        .collect();
    assert_eq!(rotates.len(), 1, "{lines:?}");
    assert!(
        works(&env, &old).await,
        "the old secret lives through the grace"
    );
    assert!(works(&env, &new).await);
    let expires_in = b.json["expires_in"].as_u64().expect("expires_in");
    assert!((86_000..=86_400).contains(&expires_in), "{expires_in}");

    // A third process right away holds no secret: it must not rotate again within the grace.
    let third = env.serve(&cfg).await;
    let mark = env.log_mark().await;
    let c = third.exchange(&env.http, &token, ROLE).await;
    assert_eq!(c.status, 503, "{}", c.json);
    assert_eq!(c.json["error"], "temporarily_unavailable");
    assert!(c.json["error_description"]
        .as_str()
        .unwrap_or_default()
        .contains("grace"));
    let retry: u64 = c.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("seconds");
    assert!((3000..=3600).contains(&retry), "{retry}");
    assert_eq!(env.mints_since(mark).await, 0);
    assert_eq!(third.audit.lines()[0]["reason"], "rotation_too_soon");
    // The process that rotated still hands out its fresh token.
    let again = second.exchange(&env.http, &token, ROLE).await;
    assert_eq!(again.json["access_token"], new.as_str());

    // After the grace the old secret is dead, and the next mint (after the spacing) removes the
    // expired _ROTATED_ object and rotates once more.
    env.advance_clock(19 * 3600).await;
    assert!(!works(&env, &old).await, "the grace is over");
    let show = env.admin_sql("SHOW USER PATS FOR USER alice").await;
    assert_eq!(show.len(), 2, "the token and its expired rotated object");
    let fourth = env.serve(&cfg).await;
    let d = fourth.exchange(&env.http, &token, ROLE).await;
    assert_eq!(d.status, 200, "{}", d.json);
    let show = env.admin_sql("SHOW USER PATS FOR USER alice").await;
    let names: Vec<String> = show
        .rows()
        .iter()
        .map(|r| r.get::<String>("name").unwrap())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "{names:?}: the token and the newest rotated object"
    );
    assert!(names.contains(&format!("SNOWPAT_{ROLE}")));
}

#[tokio::test]
async fn routes_healthz_metrics_and_the_checked_in_openapi_document() {
    let env = Env::start().await;
    let service = env.serve(&env.exchange_config("as-user")).await;
    let get = |path: &str| {
        let url = format!("{}{path}", service.url);
        let http = env.http.clone();
        async move { http.get(url).send().await.expect("get") }
    };
    let health = get("/healthz").await;
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let metrics = get("/metrics").await;
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(metrics
        .text()
        .await
        .unwrap()
        .contains("# TYPE snowpat_exchange_requests_total counter"));
    let served = get("/openapi.json").await;
    assert_eq!(served.headers()["content-type"], "application/json");
    let served: serde_json::Value = served.json().await.expect("json");
    let checked_in: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
            .expect("crates/server/openapi.json"),
    )
    .expect("checked-in JSON");
    assert_eq!(served, checked_in);
    assert_eq!(served["openapi"], "3.1.0");
    for path in ["/v1/token", "/healthz", "/metrics", "/openapi.json"] {
        assert!(served["paths"].get(path).is_some(), "{path} documented");
    }
    // Only POST mints; nothing edits or reloads configuration.
    let put = env
        .http
        .put(format!("{}/v1/token", service.url))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 405);
    for path in ["/v1/config", "/v1/reload", "/admin"] {
        assert_eq!(
            env.http
                .post(format!("{}{path}", service.url))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            404,
            "{path}"
        );
    }
}

#[tokio::test]
async fn as_user_without_a_service_connection_removes_a_token_past_its_deadline_at_the_next_exchange(
) {
    let env = Env::start().await;
    let mut cfg = env.exchange_config("as-user");
    cfg.policy[0].max_lifetime = "2h".into();
    let token = env.token_for("alice@example.com");
    let first = env.serve(&cfg).await;
    let a = first.exchange(&env.http, &token, ROLE).await;
    assert_eq!(a.status, 200, "{}", a.json);
    let old = a.json["access_token"].as_str().expect("pat").to_owned();
    let expires_in = a.json["expires_in"].as_u64().expect("expires_in");
    assert!((7000..=7200).contains(&expires_in), "{expires_in}");
    drop(first);
    // Past the deadline (server time); the next exchange, in alice's own session, removes the
    // journalled token first, then mints anew.
    env.advance_clock(2 * 3600 + 60).await;
    let second = env.serve(&cfg).await;
    let mark = env.log_mark().await;
    let b = second.exchange(&env.http, &token, ROLE).await;
    assert_eq!(b.status, 200, "{}", b.json);
    let kinds: Vec<String> = env
        .log(mark)
        .await
        .iter()
        .filter(|l| l["executed"] == true)
        .filter_map(|l| l["statement_kind"].as_str().map(str::to_owned))
        .filter(|k| k.contains("PAT"))
        .collect();
    assert_eq!(
        kinds,
        vec!["ALTER USER REMOVE PAT", "ALTER USER ADD PAT"],
        "removed at the deadline, then added"
    );
    assert!(!works(&env, &old).await, "the removed secret is dead");
    assert!(works(&env, b.json["access_token"].as_str().unwrap()).await);
}
