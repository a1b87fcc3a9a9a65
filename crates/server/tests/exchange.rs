//! End to end: an IdP JWT in over `POST /v1/token`, a role-restricted PAT out, used on the
//! emulator's MCP server (issue 6 "Must show"; protocols §5, §8; seed 003).

mod common;

use serde_json::json;

use common::{Env, ROLE};

#[tokio::test]
async fn as_user_exchange_mints_a_pat_restricted_to_r_that_runs_mcp_tools_call() {
    let env = Env::start().await;
    let service = env.serve(&env.exchange_config("as-user")).await;
    let mark = env.log_mark().await;
    let token = env.token_for("alice@example.com");
    let a = service.exchange(&env.http, &token, ROLE).await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["token_type"], "Bearer");
    assert_eq!(
        a.json["issued_token_type"],
        "urn:snowpat:token-type:snowflake-pat"
    );
    assert_eq!(a.headers["cache-control"], "no-store");
    let expires_in = a.json["expires_in"].as_u64().expect("expires_in");
    assert!(
        (86_000..=86_400).contains(&expires_in),
        "one day left: {expires_in}"
    );
    let pat = a.json["access_token"].as_str().expect("access_token");
    // The PAT runs tools/call on the MCP server and its session role is R.
    assert_eq!(
        env.mcp_sql(pat, "SELECT CURRENT_ROLE()").await,
        json!([{ "CURRENT_ROLE()": ROLE }])
    );
    assert_eq!(
        env.mcp_sql(pat, "SELECT CURRENT_USER()").await,
        json!([{ "CURRENT_USER()": "ALICE" }])
    );
    // One ADD, run in alice's own OAuth session (seed 003).
    let lines = env.log(mark).await;
    let adds: Vec<_> = lines
        .iter()
        .filter(|l| l["statement_kind"] == "ALTER USER ADD PAT" && l["executed"] == true)
        .collect();
    assert_eq!(adds.len(), 1, "{lines:?}");
    assert_eq!(adds[0]["auth"], "oauth", "{}", adds[0]);
    let show = env.admin_sql("SHOW USER PATS FOR USER alice").await;
    let row = show.first().expect("one token");
    assert_eq!(
        row.get::<String>("name").unwrap(),
        format!("SNOWPAT_{ROLE}")
    );
    assert_eq!(
        row.get::<Option<String>>("role_restriction")
            .unwrap()
            .as_deref(),
        Some(ROLE)
    );
    // A second request is answered from the cache: same token, nothing sent to Snowflake.
    let mark = env.log_mark().await;
    let b = service.exchange(&env.http, &token, ROLE).await;
    assert_eq!(b.status, 200, "{}", b.json);
    assert_eq!(b.json["access_token"], a.json["access_token"]);
    assert!(env.log(mark).await.is_empty(), "reuse sends nothing");
    // The audit log has both decisions, with the token's SHA-256 and never the token.
    let audit = service.audit.lines();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["decision"], "issued");
    assert_eq!(audit[0]["reason"], "created");
    assert_eq!(audit[1]["reason"], "reused");
    assert_eq!(audit[0]["subject"], "alice@example.com");
    assert_eq!(audit[0]["user"], "alice@example.com");
    assert_eq!(audit[0]["role"], ROLE);
    let sha = hex_sha256(pat);
    assert_eq!(audit[0]["token_sha256"], sha.as_str());
    assert!(!service.audit.text().contains(pat));
    assert!(!service.audit.text().contains(&token));
}

fn hex_sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
