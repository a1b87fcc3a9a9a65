//! Never break a running agent (issue 6): 100 concurrent exchanges for one subject and role
//! share one mint; two `serve` processes on one store never both rotate; every token handed out
//! still works afterwards; no secret reaches a log line or an audit event.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::json;
use tokio::task::JoinSet;

use common::{Captured, Env, ROLE};

/// Every tracing line of this test binary, at TRACE.
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured(Arc::new(Mutex::new(Vec::new())));
        let writer = captured.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .try_init();
        captured
    })
}

async fn burst(
    env: &Env,
    services: &[&common::Service],
    token: &str,
    n: usize,
) -> Vec<common::Answer> {
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let http = env.http.clone();
        let url = services[i % services.len()].url.clone();
        let token = token.to_owned();
        tasks.spawn(async move {
            common::answer(
                http.post(format!("{url}/v1/token"))
                    .form(&[
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:token-exchange",
                        ),
                        ("subject_token", token.as_str()),
                        ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
                        ("scope", &format!("session:role:{ROLE}")),
                    ])
                    .send()
                    .await
                    .expect("request"),
            )
            .await
        });
    }
    let mut answers = Vec::new();
    while let Some(a) = tasks.join_next().await {
        answers.push(a.expect("task"));
    }
    answers
}

async fn assert_secret_free(env: &Env, secrets: &[String], audit: &[&Captured]) {
    let text = logs().text();
    assert!(!text.is_empty(), "tracing captured lines");
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret reached a log line"
        );
        for a in audit {
            assert!(
                !a.text().contains(secret.as_str()),
                "a secret in an audit line"
            );
        }
    }
    let _ = env;
}

#[tokio::test]
async fn hundred_concurrent_exchanges_share_one_mint_and_every_token_works() {
    logs();
    let env = Env::start().await;
    let service = env.serve(&env.exchange_config("as-user")).await;
    let token = env.token_for("alice@example.com");
    let mark = env.log_mark().await;
    let answers = burst(&env, &[&service], &token, 100).await;
    let mut tokens = BTreeSet::new();
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.json);
        tokens.insert(a.json["access_token"].as_str().expect("pat").to_owned());
    }
    assert!(
        env.mints_since(mark).await <= 1,
        "at most one ADD or ROTATE for 100 requests"
    );
    assert_eq!(env.mints_since(mark).await, 1, "exactly the first ADD");
    // Every token handed out still works now that all have finished.
    for pat in &tokens {
        assert_eq!(
            env.mcp_sql(pat, "SELECT CURRENT_ROLE()").await,
            json!([{ "CURRENT_ROLE()": ROLE }])
        );
    }
    let audit = service.audit.lines();
    assert_eq!(audit.len(), 100);
    let created = audit.iter().filter(|l| l["reason"] == "created").count();
    assert_eq!(
        created, 1,
        "one request minted; the others shared or reused"
    );
    assert!(audit
        .iter()
        .all(|l| l["reason"] == "created" || l["reason"] == "shared" || l["reason"] == "reused"));
    // /metrics counts them without naming the subject.
    let metrics = env
        .http
        .get(format!("{}/metrics", service.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("snowpat_exchange_snowflake_statements_total{action=\"add\"} 1"));
    assert!(!metrics.contains("alice"), "no per-subject labels");
    let mut secrets: Vec<String> = tokens.into_iter().collect();
    secrets.push(token.clone());
    assert_secret_free(&env, &secrets, &[&service.audit]).await;
}

#[tokio::test]
async fn two_processes_on_one_store_never_both_rotate() {
    logs();
    let env = Env::start().await.with_automation().await;
    let cfg = env.exchange_config("delegated");
    // Two independent services (own caches, own lock holders) on one store file.
    let a = env.serve(&cfg).await;
    let b = env.serve(&cfg).await;
    let token = env.token_for("svc_agent");
    let mark = env.log_mark().await;
    let answers = burst(&env, &[&a, &b], &token, 100).await;
    assert_eq!(
        env.mints_since(mark).await,
        1,
        "one ADD across both processes"
    );
    let mut tokens = BTreeSet::new();
    let mut too_soon = 0;
    for answer in &answers {
        match answer.status {
            200 => {
                tokens.insert(
                    answer.json["access_token"]
                        .as_str()
                        .expect("pat")
                        .to_owned(),
                );
            }
            503 => {
                // The process that did not mint holds no secret and must not rotate the other's
                // fresh token: it says when to come back.
                assert_eq!(answer.json["error"], "temporarily_unavailable");
                assert!(answer.headers.contains_key("retry-after"));
                too_soon += 1;
            }
            other => panic!("unexpected {other}: {}", answer.json),
        }
    }
    assert_eq!(tokens.len(), 1, "one secret handed out");
    assert!(too_soon < 100);
    for pat in &tokens {
        assert_eq!(
            env.mcp_sql(pat, "SELECT CURRENT_ROLE()").await,
            json!([{ "CURRENT_ROLE()": ROLE }])
        );
    }
    let secrets: Vec<String> = tokens.into_iter().chain([token]).collect();
    assert_secret_free(&env, &secrets, &[&a.audit, &b.audit]).await;
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_mint_does_not_cost_a_second_mint() {
    let env = Env::start().await;
    let service = env.serve(&env.exchange_config("as-user")).await;
    let token = env.token_for("alice@example.com");
    let mark = env.log_mark().await;
    // Give up long before the mint can finish (it needs several round trips to Snowflake).
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(10))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(format!("{}/v1/token", service.url))
        .form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", token.as_str()),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ("scope", &format!("session:role:{ROLE}")),
        ])
        .send()
        .await;
    assert!(gave_up.is_err(), "the client hung up");
    // The retry gets the token the abandoned request minted (or mints it, once).
    let a = service.exchange(&env.http, &token, ROLE).await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(env.mints_since(mark).await, 1, "one ADD, no ROTATE");
    let pat = a.json["access_token"].as_str().unwrap();
    assert_eq!(
        env.mcp_sql(pat, "SELECT CURRENT_ROLE()").await,
        json!([{ "CURRENT_ROLE()": ROLE }])
    );
}
