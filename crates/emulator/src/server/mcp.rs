//! The Snowflake-managed MCP server (protocols §8, `snowflake-behaviour.md` §5.21):
//! `POST /api/v2/databases/{db}/schemas/{schema}/mcp-servers/{name}`, JSON-RPC 2.0 over one POST,
//! tools only.
//!
//! * Credential: bearer PAT, key-pair JWT or OAuth through the engine (`Channel::Rest`, optional
//!   `X-Snowflake-Role`); a missing or invalid credential is HTTP 401 with
//!   `WWW-Authenticate: Bearer resource_metadata="<url>"` [E].
//! * Authorisation: the session's roles must hold USAGE (or OWNERSHIP) on the MCP SERVER object;
//!   otherwise HTTP 200 with a JSON-RPC error `-32603` [O].
//! * Methods: `initialize` (protocol `2025-11-25`, capabilities `{"tools":{}}`), `tools/list`
//!   (the tools of the object's specification), `tools/call` of a `SYSTEM_EXECUTE_SQL` tool
//!   (argument `sql`), run through the engine in the caller's session. With `read_only` (the
//!   default) only SELECT, SHOW and DESCRIBE run. Statement failures are tool results with
//!   `isError: true`. Requests without an `id` (notifications) are answered 202 with no body.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::faults::Executed;
use super::log::LogLine;
use super::sqlapi::bearer_credential;
use super::state::{lock, CommitError, Shared};
use super::wire::{self, json_response, peer_of};
use crate::engine::{AuthContext, Cell, Channel, Credential, ResultSet, Session};

/// MCP protocol revision (protocols §8).
pub(crate) const PROTOCOL_VERSION: &str = "2025-11-25";

/// JSON-RPC internal error, used for authorisation failures (protocols §8).
const INTERNAL_ERROR: i64 = -32603;

/// One tool of an MCP server specification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tool {
    pub name: String,
    pub tool_type: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub read_only: bool,
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(v);
    v.to_owned()
}

/// The tools of a `FROM SPECIFICATION` text: the block-style YAML of Snowflake's examples
/// (`tools:` then `- name: ...` items with `type`, `title`, `description`, `config: read_only`).
/// Anything else in the text is ignored.
pub(crate) fn parse_tools(spec: &str) -> Vec<Tool> {
    let mut tools: Vec<Tool> = Vec::new();
    for raw in spec.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (starts_item, body) = match line.strip_prefix('-') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        if starts_item {
            tools.push(Tool {
                read_only: true,
                ..Tool::default()
            });
        }
        let Some(tool) = tools.last_mut() else {
            continue;
        };
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        let value = unquote(value);
        match key.trim().to_ascii_lowercase().as_str() {
            "name" => tool.name = value,
            "type" => tool.tool_type = value.to_ascii_uppercase(),
            "title" => tool.title = Some(value),
            "description" => tool.description = Some(value),
            "read_only" => tool.read_only = !value.eq_ignore_ascii_case("false"),
            _ => {}
        }
    }
    tools.retain(|t| !t.name.is_empty());
    tools
}

fn tool_json(tool: &Tool) -> Value {
    let mut out = json!({
        "name": tool.name,
        "description": tool.description.clone().unwrap_or_else(|| format!("{} tool", tool.tool_type)),
    });
    if let Some(title) = &tool.title {
        out["title"] = json!(title);
    }
    out["inputSchema"] = if tool.tool_type == "SYSTEM_EXECUTE_SQL" {
        json!({"type": "object", "properties": {"sql": {"type": "string", "description": "The SQL statement to run"}}, "required": ["sql"]})
    } else {
        json!({"type": "object", "properties": {}})
    };
    out
}

fn rpc_result(id: &Value, result: Value) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"jsonrpc": "2.0", "id": id, "result": result}),
    )
}

fn rpc_error(id: &Value, code: i64, message: &str) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    )
}

fn tool_text(text: String, is_error: bool) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": is_error})
}

/// 401 with the protected-resource metadata pointer (RFC 9728) [E].
fn unauthorized(request_path: &str, host: &str, code: Option<&str>, message: &str) -> Response {
    let metadata = format!("http://{host}/.well-known/oauth-protected-resource{request_path}");
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"message": message, "code": code, "error_code": code, "request_id": request_id}),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer resource_metadata=\"{metadata}\"")) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert("x-snowflake-request-id", value);
    }
    response
}

/// A cell as JSON for the tool's text result.
fn cell_json(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Text(t) | Cell::Number(t) => Value::String(t.clone()),
        Cell::Bool(b) => Value::Bool(*b),
        Cell::Timestamp(at) => Value::String(wire::rfc3339(*at)),
    }
}

/// Rows as an array of `{column: value}` objects.
fn rows_json(result: &ResultSet) -> Value {
    Value::Array(
        result
            .rows
            .iter()
            .map(|row| {
                let mut object = Map::new();
                for (column, cell) in result.columns.iter().zip(row) {
                    object.insert(column.name.clone(), cell_json(cell));
                }
                Value::Object(object)
            })
            .collect(),
    )
}

struct Call {
    peer: IpAddr,
    credential: Credential,
    role: Option<String>,
    path: (String, String, String),
    body: Map<String, Value>,
    line: LogLine,
}

enum Outcome {
    Unauthorized(Option<String>, String),
    Answer(Response),
}

/// `POST /api/v2/databases/{db}/schemas/{schema}/mcp-servers/{name}`.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((database, schema, name)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let peer = peer_of(&request);
    let endpoint = wire::endpoint(&request);
    let request_path = request.uri().path().to_owned();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| "127.0.0.1".to_owned(), str::to_owned);
    let line = LogLine {
        at: wire::rfc3339(shared.account_now()),
        peer: peer.to_string(),
        endpoint,
        ..LogLine::default()
    };
    let Ok(credential) = bearer_credential(request.headers()) else {
        shared.log(LogLine {
            code: Some("099922".into()),
            status: 401,
            ..line
        });
        return unauthorized(
            &request_path,
            &host,
            Some("099922"),
            "Missing or malformed Authorization header.",
        );
    };
    let role = wire::requested_role(&request);
    let bytes = match axum::body::to_bytes(request.into_body(), shared.config.max_body_bytes).await
    {
        Ok(bytes) => bytes,
        Err(_) => {
            shared.log(LogLine {
                status: 413,
                ..line
            });
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"message": "request body too large", "code": null}),
            );
        }
    };
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => map,
        _ => {
            shared.log(LogLine {
                status: 200,
                ..line
            });
            return rpc_error(&Value::Null, -32700, "Parse error");
        }
    };
    let call = Call {
        peer,
        credential,
        role,
        path: (database, schema, name),
        body,
        line,
    };
    super::jwks::prepare(&shared, &call.credential).await;
    let worker = shared.clone();
    match tokio::task::spawn_blocking(move || dispatch(&worker, call)).await {
        Ok(Outcome::Answer(response)) => response,
        Ok(Outcome::Unauthorized(code, message)) => {
            unauthorized(&request_path, &host, code.as_deref(), &message)
        }
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"message": "Internal error", "code": null}),
        ),
    }
}

fn dispatch(shared: &Arc<Shared>, call: Call) -> Outcome {
    let Call {
        peer,
        credential,
        role,
        path,
        body,
        mut line,
    } = call;
    let id = body.get("id").cloned();
    let method = body
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let valid = body.get("jsonrpc").and_then(Value::as_str) == Some("2.0") && !method.is_empty();
    let mut core = lock(&shared.core);
    let now = core.now();
    let context = AuthContext {
        peer,
        login_name: None,
        requested_role: role,
        channel: Channel::Rest,
        jwks: shared.jwks.snapshot(),
    };
    let mut session = match core.account.authenticate(&credential, &context, now) {
        Ok(session) => session,
        Err(error) if error.http_status == 401 => {
            drop(core);
            line.code = Some(error.code.clone());
            line.status = 401;
            shared.log(line);
            return Outcome::Unauthorized(Some(error.code), error.message);
        }
        Err(error) => {
            drop(core);
            line.code = Some(error.code.clone());
            line.status = 200;
            shared.log(line);
            let id = id.unwrap_or(Value::Null);
            return Outcome::Answer(rpc_error(&id, INTERNAL_ERROR, &error.message));
        }
    };
    line = user_line(line, &session);
    line.status = 200;
    let id_value = id.clone().unwrap_or(Value::Null);
    if !valid {
        drop(core);
        shared.log(line);
        return Outcome::Answer(rpc_error(&id_value, -32600, "Invalid Request"));
    }
    let spec = match core
        .account
        .mcp_server_specification(&session, &path.0, &path.1, &path.2)
    {
        Ok(spec) => spec,
        Err(error) => {
            drop(core);
            line.code = Some("003001".into());
            shared.log(line);
            return Outcome::Answer(rpc_error(&id_value, INTERNAL_ERROR, &error.message()));
        }
    };
    if id.is_none() {
        // A notification (e.g. `notifications/initialized`): nothing to answer.
        drop(core);
        shared.log(line);
        return Outcome::Answer(StatusCode::ACCEPTED.into_response());
    }
    let tools = parse_tools(&spec);
    let params = body.get("params").cloned().unwrap_or(Value::Null);
    let answer = match method.as_str() {
        "initialize" => rpc_result(
            &id_value,
            json!({
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": path.2, "version": "1.0.0"},
            }),
        ),
        "ping" => rpc_result(&id_value, json!({})),
        "tools/list" => rpc_result(
            &id_value,
            json!({"tools": tools.iter().map(tool_json).collect::<Vec<_>>()}),
        ),
        "tools/call" => {
            let name = params.get("name").and_then(Value::as_str).unwrap_or("");
            match tools.iter().find(|t| t.name == name) {
                None => rpc_error(&id_value, -32602, &format!("Unknown tool: {name}")),
                Some(tool) if tool.tool_type != "SYSTEM_EXECUTE_SQL" => rpc_error(
                    &id_value,
                    -32602,
                    &format!(
                        "Tool {name} of type {} is not supported by the emulator.",
                        tool.tool_type
                    ),
                ),
                Some(tool) => {
                    match params
                        .get("arguments")
                        .and_then(|a| a.get("sql"))
                        .and_then(Value::as_str)
                    {
                        None => rpc_error(&id_value, -32602, "Missing required argument: sql"),
                        Some(sql) => {
                            let (result, executed) =
                                run_sql(shared, &mut core, &mut session, tool, sql, &mut line);
                            let mut response = rpc_result(&id_value, result);
                            if executed {
                                response.extensions_mut().insert(Executed);
                            }
                            response
                        }
                    }
                }
            }
        }
        other => rpc_error(&id_value, -32601, &format!("Method not found: {other}")),
    };
    drop(core);
    shared.log(line);
    Outcome::Answer(answer)
}

fn user_line(mut line: LogLine, session: &Session) -> LogLine {
    line.user = Some(session.user_name.clone());
    line.role = Some(session.primary_role.clone());
    line.auth = Some(session.auth.log_name());
    line
}

/// Runs the `sql` argument: one statement, read-only unless the tool says otherwise.
fn run_sql(
    shared: &Shared,
    core: &mut super::state::Core,
    session: &mut Session,
    tool: &Tool,
    sql: &str,
    line: &mut LogLine,
) -> (Value, bool) {
    let statement = match snowpat_sql::parse_statement(sql) {
        Ok(statement) => statement,
        Err(error) => {
            line.code = Some("001003".into());
            return (
                tool_text(
                    format!(
                        "SQL compilation error:\nsyntax error line {} at position {} unexpected '{}'.",
                        error.line, error.position, error.unexpected
                    ),
                    true,
                ),
                false,
            );
        }
    };
    let kind = statement.kind();
    line.statement_kind = Some(kind.to_owned());
    line.object = statement.object();
    let reads = kind.starts_with("SELECT") || kind.starts_with("SHOW") || kind.starts_with("DESC");
    if tool.read_only && !reads {
        line.code = Some("003001".into());
        return (
            tool_text(
                format!(
                    "Statement {kind} is not allowed: tool {} is read-only.",
                    tool.name
                ),
                true,
            ),
            false,
        );
    }
    if let Some(error) = lock(&shared.faults).take(kind) {
        line.code = Some(error.code.clone());
        return (tool_text(error.message, true), false);
    }
    let now = core.now();
    match core.execute_committed(session, &statement, now) {
        Ok(result) => {
            line.code = Some("090001".into());
            line.executed = result.changed;
            line.role = Some(session.primary_role.clone());
            let text = serde_json::to_string(&rows_json(&result)).unwrap_or_default();
            (tool_text(text, false), true)
        }
        Err(CommitError::Sql(error)) => {
            line.code = Some(error.code.clone());
            (tool_text(error.message, true), false)
        }
        Err(CommitError::Durability(error)) => {
            tracing::error!(%error, "state file could not be written; statement rolled back");
            line.code = Some("000603".into());
            (
                tool_text(
                    "SQL execution internal error: nothing was applied.".into(),
                    true,
                ),
                false,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_are_read_from_a_block_yaml_specification() {
        let spec = r#"
tools:
  - name: "sql_exec"
    type: "SYSTEM_EXECUTE_SQL"
    title: "SQL"
    description: "Runs SQL"
    config:
      read_only: false
  - name: search
    type: CORTEX_SEARCH_SERVICE_QUERY
"#;
        let tools = parse_tools(spec);
        assert_eq!(tools.len(), 2);
        assert_eq!(tools[0].name, "sql_exec");
        assert_eq!(tools[0].tool_type, "SYSTEM_EXECUTE_SQL");
        assert!(!tools[0].read_only);
        assert_eq!(tools[1].name, "search");
        assert!(tools[1].read_only, "read_only defaults to true");
    }
}
