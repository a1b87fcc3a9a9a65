//! Delegated minting: the service's own connection (the automation identity holding MODIFY
//! PROGRAMMATIC AUTHENTICATION METHODS on service users) mints for the policy-mapped user; the
//! request External Secrets Operator's Webhook generator sends, replayed byte for byte; a policy
//! lifetime shorter than one day honoured by a journalled removal.

mod common;

use std::sync::Arc;

use serde_json::{json, Value};
use snowpat_core::store::{SqliteStore, Store};
use snowpat_server::audit::AuditLog;
use snowpat_server::scheduler::Scheduler;

use common::{answer, Env, ROLE};

#[tokio::test]
async fn delegated_exchange_mints_for_the_mapped_service_user_and_the_pat_runs_mcp() {
    let env = Env::start().await.with_automation().await;
    let service = env.serve(&env.exchange_config("delegated")).await;
    let mark = env.log_mark().await;
    let a = service
        .exchange(&env.http, &env.token_for("svc_agent"), ROLE)
        .await;
    assert_eq!(a.status, 200, "{}", a.json);
    let pat = a.json["access_token"].as_str().expect("access_token");
    assert_eq!(
        env.mcp_sql(pat, "SELECT CURRENT_ROLE(), CURRENT_USER()")
            .await,
        json!([{ "CURRENT_ROLE()": ROLE, "CURRENT_USER()": "SVC_AGENT" }])
    );
    // The ADD ran as the automation identity, for SVC_AGENT, never with the subject token.
    let lines = env.log(mark).await;
    let adds: Vec<&Value> = lines
        .iter()
        .filter(|l| l["statement_kind"] == "ALTER USER ADD PAT" && l["executed"] == true)
        .collect();
    assert_eq!(adds.len(), 1, "{lines:?}");
    assert_eq!(adds[0]["user"], "AUTOMATION_USER", "{}", adds[0]);
    assert!(lines.iter().all(|l| l["auth"] != "oauth"), "{lines:?}");
    let show = env.admin_sql("SHOW USER PATS FOR USER SVC_AGENT").await;
    let row = show.first().expect("token");
    assert_eq!(row.get::<String>("name").unwrap(), "SNOWPAT_ANALYST_ROLE");
    assert_eq!(
        row.get::<Option<String>>("role_restriction")
            .unwrap()
            .as_deref(),
        Some(ROLE)
    );
}

/// Evaluates the JSONPath forms ESO's `result.jsonPath` uses here: `$` and `$.key`.
fn json_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    match path {
        "$" => Some(value),
        p => value.get(p.strip_prefix("$.")?),
    }
}

/// External Secrets Operator's Webhook generator (generators.external-secrets.io/v1alpha1,
/// kind Webhook) sends `spec.method` to `spec.url` with `spec.headers` and the templated
/// `spec.body` as is (Go's net/http client: Host, User-Agent Go-http-client/1.1, Content-Length,
/// the configured headers, Accept-Encoding gzip), then reads the answer with `spec.result.jsonPath`
/// and exports the object's keys as Secret keys. This manifest:
///
/// ```yaml
/// spec:
///   url: "https://snowpat.example/v1/token"
///   method: POST
///   headers:
///     Content-Type: application/x-www-form-urlencoded
///   body: "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token={{ .auth.token }}&subject_token_type=urn:ietf:params:oauth:token-type:jwt&scope=session:role:ANALYST_ROLE"
///   result:
///     jsonPath: "$"
///   secrets:
///   - name: auth
///     secretRef: { name: idp-token }
/// ```
#[tokio::test]
async fn external_secrets_operator_webhook_generator_request_is_answered_in_a_readable_shape() {
    let env = Env::start().await.with_automation().await;
    let service = env.serve(&env.exchange_config("delegated")).await;
    let token = env.token_for("svc_agent");
    // The body exactly as ESO's template renders it: no URL-encoding of the values.
    let body = format!(
        "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token={token}\
         &subject_token_type=urn:ietf:params:oauth:token-type:jwt&scope=session:role:{ROLE}"
    );
    let addr = service.url.trim_start_matches("http://").to_owned();
    let raw = format!(
        "POST /v1/token HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: Go-http-client/1.1\r\n\
         Content-Length: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Accept-Encoding: gzip\r\n\r\n{body}",
        body.len()
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    stream.write_all(raw.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&response);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if rest.len() >= length {
                break;
            }
        }
    }
    let text = String::from_utf8(response).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let value: Value = serde_json::from_str(body).expect("a JSON object");
    // `$`: an object whose every value ESO can turn into Secret data (strings and a number).
    let object = json_path(&value, "$")
        .and_then(Value::as_object)
        .expect("object");
    assert!(object.values().all(|v| v.is_string() || v.is_u64()));
    // `$.access_token`: the PAT, which works.
    let pat = json_path(&value, "$.access_token")
        .and_then(Value::as_str)
        .expect("string");
    assert_eq!(
        env.mcp_sql(pat, "SELECT CURRENT_ROLE()").await,
        json!([{ "CURRENT_ROLE()": ROLE }])
    );
    // ESO refreshes on its interval: the next identical request gets the same, still-fresh token.
    let again = answer(
        env.http
            .post(format!("{}/v1/token", service.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("User-Agent", "Go-http-client/1.1")
            .body(body_again(&token))
            .send()
            .await
            .expect("second request"),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(again.json["access_token"], value["access_token"]);
}

fn body_again(token: &str) -> String {
    format!(
        "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token={token}\
         &subject_token_type=urn:ietf:params:oauth:token-type:jwt&scope=session:role:{ROLE}"
    )
}

#[tokio::test]
async fn policy_lifetime_under_a_day_removes_the_token_at_its_deadline_even_after_a_restart() {
    let env = Env::start().await.with_automation().await;
    let mut cfg = env.exchange_config("delegated");
    cfg.policy[0].max_lifetime = "2h".into();
    let service = env.serve(&cfg).await;
    let a = service
        .exchange(&env.http, &env.token_for("svc_agent"), ROLE)
        .await;
    assert_eq!(a.status, 200, "{}", a.json);
    let expires_in = a.json["expires_in"].as_u64().expect("expires_in");
    assert!(
        (7000..=7200).contains(&expires_in),
        "the policy's 2h, not Snowflake's one day: {expires_in}"
    );
    let pat = a.json["access_token"].as_str().expect("pat").to_owned();
    drop(service);
    // A restarted service (new process state, same store) still knows the deadline.
    let store = Arc::new(
        SqliteStore::open_path(&env.dir.path().join("state/snowpat.db"))
            .await
            .expect("store"),
    );
    let pending = store.pending_removals().await.expect("removals");
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].object_name, "SNOWPAT_ANALYST_ROLE");
    let restarted = env.serve(&cfg).await;
    let scheduler = Scheduler {
        minter: Arc::clone(&restarted.state.minter),
        tenants: None,
        margin: std::time::Duration::from_secs(7 * 86_400),
        interval: std::time::Duration::from_secs(300),
        audit: Arc::new(AuditLog::writer(Box::new(std::io::sink()))),
        metrics: Arc::clone(&restarted.state.metrics),
    };
    // Before the deadline nothing is removed.
    let mark = env.log_mark().await;
    assert_eq!(scheduler.pass().await.removed_at_deadline, 0);
    assert_eq!(
        env.mcp_sql(&pat, "SELECT CURRENT_ROLE()").await,
        json!([{ "CURRENT_ROLE()": ROLE }])
    );
    assert!(env
        .log(mark)
        .await
        .iter()
        .all(|l| l["statement_kind"] != "ALTER USER REMOVE PAT"));
    // Past it (server time), the pass removes the token.
    env.advance_clock(2 * 3600 + 60).await;
    let pass = scheduler.pass().await;
    assert_eq!(pass.removed_at_deadline, 1, "{pass:?}");
    assert_eq!(pass.failures, 0, "{pass:?}");
    let show = env.admin_sql("SHOW USER PATS FOR USER SVC_AGENT").await;
    assert!(show.is_empty(), "removed");
    assert!(store.pending_removals().await.expect("removals").is_empty());
    // The removed PAT no longer authenticates.
    let refused = env
        .http
        .post(format!("{}{}", env.url, common::MCP_PATH))
        .bearer_auth(&pat)
        .header(
            "X-Snowflake-Authorization-Token-Type",
            "PROGRAMMATIC_ACCESS_TOKEN",
        )
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .send()
        .await
        .expect("mcp");
    assert_eq!(refused.status().as_u16(), 401);
}
