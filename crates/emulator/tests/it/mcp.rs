//! The Snowflake-managed MCP server endpoint (protocols §8, snowflake-behaviour.md §5.21):
//! JSON-RPC `initialize`, `tools/list`, `tools/call` of `SYSTEM_EXECUTE_SQL` in the caller's
//! session, USAGE on the MCP SERVER object, 401 with `WWW-Authenticate` for bad credentials.

use serde_json::{json, Value};

use crate::harness::{answer, Answer, Emulator};

const SPEC: &str = r#"tools:
  - name: "sql"
    type: "SYSTEM_EXECUTE_SQL"
    title: "SQL"
    description: "Runs SQL in the caller's session"
  - name: "sql_rw"
    type: "SYSTEM_EXECUTE_SQL"
    config:
      read_only: false
"#;

const PATH: &str = "/api/v2/databases/MCPDB/schemas/TOOLS/mcp-servers/ASSISTANT";

/// Database, schema, MCP server, role R with USAGE on it, and user U with a PAT restricted to R.
async fn setup(emu: &Emulator) -> String {
    emu.admin_ok("CREATE DATABASE MCPDB").await;
    emu.admin_ok("CREATE SCHEMA MCPDB.TOOLS").await;
    emu.admin_ok(&format!(
        "CREATE MCP SERVER MCPDB.TOOLS.ASSISTANT FROM SPECIFICATION $${SPEC}$$"
    ))
    .await;
    let pat = emu.user_with_pat("U", Some("R")).await;
    emu.admin_ok("GRANT USAGE ON MCP SERVER MCPDB.TOOLS.ASSISTANT TO ROLE R")
        .await;
    pat
}

async fn rpc(emu: &Emulator, path: &str, token: Option<&str>, body: &Value) -> Answer {
    let mut request = emu
        .client
        .post(format!("{}{path}", emu.url))
        .header("Content-Type", "application/json")
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token).header(
            "X-Snowflake-Authorization-Token-Type",
            "PROGRAMMATIC_ACCESS_TOKEN",
        );
    }
    answer(request.send().await.expect("request sent")).await
}

fn call(id: u64, tool: &str, sql: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": {"sql": sql}}})
}

/// The JSON rows of a successful `tools/call`.
#[track_caller]
fn rows(a: &Answer) -> Value {
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["result"]["isError"], false, "{}", a.json);
    let text = a.json["result"]["content"][0]["text"]
        .as_str()
        .expect("text content");
    serde_json::from_str(text).expect("rows as JSON")
}

#[tokio::test]
async fn protocols_8_restricted_pat_calls_sql_and_gets_its_restriction_role() {
    let emu = Emulator::start().await;
    let pat = setup(&emu).await;
    let a = rpc(
        &emu,
        PATH,
        Some(&pat),
        &call(7, "sql", "SELECT CURRENT_ROLE()"),
    )
    .await;
    assert_eq!(a.json["jsonrpc"], "2.0");
    assert_eq!(a.json["id"], 7);
    assert_eq!(rows(&a), json!([{"CURRENT_ROLE()": "R"}]));
    let line = emu.control_log(0).await.pop().expect("logged");
    assert_eq!(line["user"], "U");
    assert_eq!(line["role"], "R");
    assert_eq!(line["auth"], "pat");
    assert_eq!(line["statement_kind"], "SELECT");
}

#[tokio::test]
async fn protocols_8_initialize_and_tools_list() {
    let emu = Emulator::start().await;
    let pat = setup(&emu).await;
    let a = rpc(
        &emu,
        PATH,
        Some(&pat),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {}}}),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["result"]["protocolVersion"], "2025-11-25");
    assert_eq!(a.json["result"]["capabilities"], json!({"tools": {}}));
    let a = rpc(
        &emu,
        PATH,
        Some(&pat),
        &json!({"jsonrpc": "2.0", "id": "two", "method": "tools/list", "params": {}}),
    )
    .await;
    assert_eq!(a.json["id"], "two");
    let tools = a.json["result"]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, vec!["sql", "sql_rw"]);
    assert_eq!(tools[0]["inputSchema"]["required"], json!(["sql"]));
    assert_eq!(tools[0]["description"], "Runs SQL in the caller's session");
    // Notifications get no JSON-RPC answer.
    let a = rpc(
        &emu,
        PATH,
        Some(&pat),
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(a.status, 202);
}

#[tokio::test]
async fn protocols_8_role_without_usage_gets_json_rpc_32603() {
    let emu = Emulator::start().await;
    setup(&emu).await;
    let other = emu.user_with_pat("V", Some("NOUSAGE")).await;
    let a = rpc(&emu, PATH, Some(&other), &call(3, "sql", "SELECT 1")).await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["id"], 3);
    assert_eq!(a.json["error"]["code"], -32603, "{}", a.json);
    assert!(a.json.get("result").is_none());
    // Revoking USAGE takes effect at once.
    let pat = emu
        .admin_ok("ALTER USER U ADD PAT SECOND ROLE_RESTRICTION = 'R'")
        .await;
    let pat = crate::harness::secret_of(&pat);
    emu.admin_ok("REVOKE USAGE ON MCP SERVER MCPDB.TOOLS.ASSISTANT FROM ROLE R")
        .await;
    let a = rpc(&emu, PATH, Some(&pat), &call(4, "sql", "SELECT 1")).await;
    assert_eq!(a.json["error"]["code"], -32603, "{}", a.json);
    // An MCP server that does not exist answers the same way.
    let a = rpc(
        &emu,
        "/api/v2/databases/MCPDB/schemas/TOOLS/mcp-servers/NOPE",
        Some(&emu.admin()),
        &call(5, "sql", "SELECT 1"),
    )
    .await;
    assert_eq!(a.json["error"]["code"], -32603, "{}", a.json);
}

#[tokio::test]
async fn protocols_8_missing_or_invalid_credential_is_401_with_resource_metadata() {
    let emu = Emulator::start().await;
    setup(&emu).await;
    for token in [None, Some("not-a-token")] {
        let a = rpc(&emu, PATH, token, &call(1, "sql", "SELECT 1")).await;
        assert_eq!(a.status, 401, "{token:?}: {}", a.json);
        let challenge = a
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .expect("WWW-Authenticate");
        assert!(
            challenge.starts_with("Bearer resource_metadata=\"http://"),
            "{challenge}"
        );
        assert!(challenge.contains("/.well-known/oauth-protected-resource"));
    }
}

#[tokio::test]
async fn protocols_8_read_only_tool_refuses_writes_and_sql_errors_are_tool_errors() {
    let emu = Emulator::start().await;
    setup(&emu).await;
    let admin = emu.admin();
    let a = rpc(
        &emu,
        PATH,
        Some(&admin),
        &call(1, "sql", "CREATE ROLE FROM_MCP"),
    )
    .await;
    assert_eq!(a.json["result"]["isError"], true, "{}", a.json);
    let (_, body) = emu.sql(&admin, "SHOW ROLES LIKE 'FROM_MCP'").await;
    assert_eq!(body["data"], json!([]));
    // The read-write tool runs it through the engine.
    let a = rpc(
        &emu,
        PATH,
        Some(&admin),
        &call(2, "sql_rw", "CREATE ROLE FROM_MCP"),
    )
    .await;
    assert_eq!(a.json["result"]["isError"], false, "{}", a.json);
    let (_, body) = emu.sql(&admin, "SHOW ROLES LIKE 'FROM_MCP'").await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1));
    // Statement errors are tool results with isError.
    let a = rpc(&emu, PATH, Some(&admin), &call(3, "sql", "SELEKT")).await;
    assert_eq!(a.json["result"]["isError"], true, "{}", a.json);
    // Unknown tools and methods are JSON-RPC errors.
    let a = rpc(&emu, PATH, Some(&admin), &call(4, "nope", "SELECT 1")).await;
    assert_eq!(a.json["error"]["code"], -32602, "{}", a.json);
    let a = rpc(
        &emu,
        PATH,
        Some(&admin),
        &json!({"jsonrpc": "2.0", "id": 5, "method": "resources/list"}),
    )
    .await;
    assert_eq!(a.json["error"]["code"], -32601, "{}", a.json);
    // Not JSON at all.
    let response = emu
        .client
        .post(format!("{}{PATH}", emu.url))
        .bearer_auth(&admin)
        .body("{nope")
        .send()
        .await
        .expect("sent");
    let a = answer(response).await;
    assert_eq!(a.json["error"]["code"], -32700, "{}", a.json);
}
