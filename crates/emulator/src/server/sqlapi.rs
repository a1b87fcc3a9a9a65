//! SQL API v2 (protocols §2): submit, status and partitions, cancel, idempotent resubmission.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use snowpat_sql::ast::Statement;
use snowpat_sql::lexer::split_statements;

use super::bindings;
use super::faults::Executed;
use super::log::LogLine;
use super::query;
use super::state::{
    lock, CommitError, Core, HandleEntry, HandleState, IdemEntry, IdemOutcome, Pending, Shared,
    StoredReply, StoredResult,
};
use super::wire::{self, code_body, json_response, peer_of};
use crate::engine::{
    AuthContext, Channel, Column, ColumnType, Credential, Session, SqlError, TokenType,
};

const SUBMIT: &str = "POST /api/v2/statements";

/// `Authorization: Bearer <token>` plus `X-Snowflake-Authorization-Token-Type` (protocols §1.2).
/// Anything else is "missing or malformed".
pub(crate) fn bearer_credential(headers: &HeaderMap) -> Result<Credential, ()> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(())?
        .to_str()
        .map_err(|_| ())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(())?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.contains(char::is_whitespace)
    {
        return Err(());
    }
    let token_type = match headers.get("x-snowflake-authorization-token-type") {
        None => None,
        Some(value) => {
            let text = value.to_str().map_err(|_| ())?.trim().to_ascii_uppercase();
            Some(match text.as_str() {
                "KEYPAIR_JWT" => TokenType::KeypairJwt,
                "OAUTH" => TokenType::OAuth,
                "PROGRAMMATIC_ACCESS_TOKEN" => TokenType::ProgrammaticAccessToken,
                _ => return Err(()),
            })
        }
    };
    Ok(Credential::Bearer {
        token: SecretString::from(token.to_owned()),
        token_type,
    })
}

/// 401 `099922`.
pub(crate) fn malformed_authorization() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        &code_body("099922", "Missing or malformed Authorization header."),
    )
}

fn new_handle() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A validated submission.
struct Submission {
    peer: IpAddr,
    credential: Credential,
    request_id: String,
    request_id_given: bool,
    retry: bool,
    asynchronous: bool,
    nullable: bool,
    text: String,
    role: Option<String>,
    database: Option<String>,
    schema: Option<String>,
    warehouse: Option<String>,
    /// `MULTI_STATEMENT_COUNT` (absent: 1).
    desired: u64,
    /// `bindings` (protocols §2.4), when present and not empty.
    bindings: Option<serde_json::Map<String, Value>>,
}

impl Submission {
    fn line(&self, at: &str) -> LogLine {
        LogLine {
            at: at.to_owned(),
            peer: self.peer.to_string(),
            endpoint: SUBMIT.into(),
            request_id: Some(self.request_id.clone()),
            retry: self.retry,
            ..LogLine::default()
        }
    }
}

fn user_line(mut line: LogLine, session: &Session) -> LogLine {
    line.user = Some(session.user_name.clone());
    line.role = Some(session.primary_role.clone());
    line.auth = Some(session.auth.log_name());
    line
}

/// `POST /api/v2/statements`.
pub(crate) async fn submit(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let peer = peer_of(&request);
    let early_line = |status: u16, code: &str| LogLine {
        at: wire::rfc3339(shared.account_now()),
        peer: peer.to_string(),
        endpoint: SUBMIT.into(),
        code: Some(code.into()),
        status,
        ..LogLine::default()
    };
    let Ok(credential) = bearer_credential(request.headers()) else {
        shared.log(early_line(401, "099922"));
        return malformed_authorization();
    };
    match request.headers().get(header::CONTENT_TYPE) {
        None => {
            // Observed: a request without a JSON Content-Type is answered 400 (protocols §2.2).
            shared.log(early_line(400, "390142"));
            return wire::invalid_payload();
        }
        Some(value) => {
            let is_json = value
                .to_str()
                .map(|v| {
                    let essence = v.split(';').next().unwrap_or("").trim();
                    essence.eq_ignore_ascii_case("application/json")
                        || essence.to_ascii_lowercase().ends_with("+json")
                })
                .unwrap_or(false);
            if !is_json {
                shared.log(early_line(415, "390142"));
                return json_response(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    &code_body(
                        "390142",
                        "Unsupported Content-Type: the SQL API accepts application/json.",
                    ),
                );
            }
        }
    }
    let Some(pairs) = query::parse(request.uri().query()) else {
        shared.log(early_line(400, "390142"));
        return wire::invalid_payload();
    };
    let limit = shared.config.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &code_body(
                "390142",
                &format!("Request body exceeds the maximum of {limit} bytes."),
            ),
        )
    };
    if declared.is_some_and(|n| n > limit as u64) {
        shared.log(early_line(413, "390142"));
        return too_large();
    }
    // Any failure to read the body (over the limit, or the client went away) answers 413.
    let Ok(bytes) = axum::body::to_bytes(request.into_body(), limit).await else {
        shared.log(early_line(413, "390142"));
        return too_large();
    };
    let Some(submission) = parse_submission(&pairs, &bytes, peer, credential) else {
        shared.log(early_line(400, "390142"));
        return wire::invalid_payload();
    };
    super::jwks::prepare(&shared, &submission.credential).await;
    let worker = shared.clone();
    match tokio::task::spawn_blocking(move || submit_blocking(&worker, submission)).await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "statement task failed");
            internal_error()
        }
    }
}

fn internal_error() -> Response {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &json!({"code": "000603", "sqlState": "XX000",
                "message": "SQL execution internal error: the emulator could not complete the request; nothing was applied."}),
    )
}

/// Body and query parameters → a submission; `None` → 400 `390142`.
fn parse_submission(
    pairs: &[(String, String)],
    bytes: &[u8],
    peer: IpAddr,
    credential: Credential,
) -> Option<Submission> {
    let (request_id, request_id_given) = match query::get(pairs, "requestId") {
        Some(id) => (uuid::Uuid::parse_str(id).ok()?.to_string(), true),
        None => (uuid::Uuid::new_v4().to_string(), false),
    };
    let retry = query::boolean(pairs, "retry", false).ok()?;
    let asynchronous = query::boolean(pairs, "async", false).ok()?;
    let nullable = query::boolean(pairs, "nullable", true).ok()?;
    let body: Value = serde_json::from_slice(bytes).ok()?;
    let object = body.as_object()?;
    let text = object.get("statement")?.as_str()?.to_owned();
    let optional = |key: &str| -> Option<Option<String>> {
        match object.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s.is_empty() => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => None,
        }
    };
    let role = optional("role")?;
    let database = optional("database")?;
    let schema = optional("schema")?;
    let warehouse = optional("warehouse")?;
    let desired = match object.get("parameters") {
        None | Some(Value::Null) => 1,
        Some(Value::Object(parameters)) => {
            match parameters
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("multi_statement_count"))
                .map(|(_, v)| v)
            {
                None => 1,
                Some(Value::String(s)) => s.trim().parse().ok()?,
                Some(Value::Number(n)) => n.as_u64()?,
                Some(_) => return None,
            }
        }
        Some(_) => return None,
    };
    let bindings = match object.get("bindings") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) if map.is_empty() => None,
        Some(Value::Object(map)) => Some(map.clone()),
        Some(_) => return None,
    };
    Some(Submission {
        peer,
        credential,
        request_id,
        request_id_given,
        retry,
        asynchronous,
        nullable,
        text,
        role,
        database,
        schema,
        warehouse,
        desired,
        bindings,
    })
}

/// Everything after the body is parsed, under the account lock.
fn submit_blocking(shared: &Arc<Shared>, job: Submission) -> Response {
    let mut core = lock(&shared.core);
    let now = core.now();
    let now_ms = now.account.timestamp_millis();
    let at = wire::rfc3339(now.account);
    core.purge(now_ms);
    let context = AuthContext {
        peer: job.peer,
        login_name: None,
        requested_role: job.role.clone(),
        channel: Channel::SqlApi,
        jwks: shared.jwks.snapshot(),
    };
    let mut session = match core.account.authenticate(&job.credential, &context, now) {
        Ok(session) => session,
        Err(error) => {
            drop(core);
            let status =
                StatusCode::from_u16(error.http_status).unwrap_or(StatusCode::UNAUTHORIZED);
            let mut line = job.line(&at);
            line.code = Some(error.code.clone());
            line.status = status.as_u16();
            shared.log(line);
            return json_response(status, &code_body(&error.code, &error.message));
        }
    };
    if job.database.is_some() {
        session.database.clone_from(&job.database);
    }
    if job.schema.is_some() {
        session.schema.clone_from(&job.schema);
    }
    if job.warehouse.is_some() {
        session.warehouse.clone_from(&job.warehouse);
    }
    let base = user_line(job.line(&at), &session);
    let text_digest = digest(&job.text);
    let key = (session.user_id, job.request_id.clone());

    // Idempotent resubmission (protocols §2.8).
    if job.retry && job.request_id_given {
        if let Some(entry) = core.idempotency.get(&key) {
            if entry.digest != text_digest {
                let handle = new_handle();
                let error = SqlError::new(
                    "099947",
                    "22000",
                    "Request ID reused for a different statement.",
                );
                let body = wire::error_body(&error, &handle, now_ms);
                drop(core);
                shared.log(LogLine {
                    code: Some(error.code),
                    status: 422,
                    statement_handle: Some(handle),
                    ..base
                });
                return json_response(StatusCode::UNPROCESSABLE_ENTITY, &body);
            }
            match &entry.outcome {
                IdemOutcome::Succeeded(reply) => {
                    let reply = reply.clone();
                    let handle = entry.handle.clone();
                    drop(core);
                    shared.log(LogLine {
                        code: reply
                            .body
                            .get("code")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        status: reply.status,
                        statement_handle: Some(handle),
                        ..base
                    });
                    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
                    let mut response = wire::ok_with_link(&reply.body, reply.link.as_deref());
                    *response.status_mut() = status;
                    return response;
                }
                IdemOutcome::Running => {
                    let handle = entry.handle.clone();
                    drop(core);
                    shared.log(LogLine {
                        code: Some("333334".into()),
                        status: 202,
                        statement_handle: Some(handle.clone()),
                        ..base
                    });
                    return accepted(&handle);
                }
                IdemOutcome::Failed => {}
            }
        }
    }

    let handle = new_handle();
    // Bind variables (protocols §2.4): not in multi-statement requests (§2.6).
    let bound;
    let text = match &job.bindings {
        None => &job.text,
        Some(_) if job.desired != 1 => {
            let error = SqlError::new(
                "000002",
                "0A000",
                "Unsupported feature 'bind variables in a multi-statement request'.",
            );
            return fail_early(
                shared,
                core,
                &job,
                base,
                session.user_id,
                &handle,
                now_ms,
                &error,
            );
        }
        Some(map) => match bindings::substitute(&job.text, map) {
            Ok(t) => {
                bound = t;
                &bound
            }
            Err(bindings::BindError::NotRecognized(error)) => {
                return fail_early(
                    shared,
                    core,
                    &job,
                    base,
                    session.user_id,
                    &handle,
                    now_ms,
                    &error,
                );
            }
            Err(bindings::BindError::Malformed) => {
                drop(core);
                shared.log(LogLine {
                    code: Some("390142".into()),
                    status: 400,
                    ..base
                });
                return wire::invalid_payload();
            }
        },
    };
    let pieces = match split_statements(text) {
        Ok(pieces) => pieces,
        Err(error) => {
            let error = syntax_error(&error);
            return fail_early(
                shared,
                core,
                &job,
                base,
                session.user_id,
                &handle,
                now_ms,
                &error,
            );
        }
    };
    if pieces.is_empty() {
        drop(core);
        shared.log(LogLine {
            code: Some("000900".into()),
            status: 400,
            ..base
        });
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"code": "000900", "message": "Empty SQL statement.", "sqlState": "42000",
                    "statementHandle": handle}),
        );
    }
    if job.desired != 0 && job.desired != pieces.len() as u64 {
        let error = SqlError::new(
            "000008",
            "0A000",
            format!(
                "Actual statement count {} did not match the desired statement count {}.",
                pieces.len(),
                job.desired
            ),
        );
        return fail_early(
            shared,
            core,
            &job,
            base,
            session.user_id,
            &handle,
            now_ms,
            &error,
        );
    }

    let run = Run {
        handle: handle.clone(),
        request_id: job.request_id.clone(),
        request_id_given: job.request_id_given,
        digest: text_digest,
        user_id: session.user_id,
        created_on_ms: now_ms,
        multi: job.desired != 1,
        nullable: job.nullable,
        base,
    };
    if job.asynchronous {
        core.insert_handle(
            handle.clone(),
            HandleEntry {
                user_id: session.user_id,
                request_id: job.request_id.clone(),
                created_on_ms: now_ms,
                carries_secret: false,
                state: HandleState::Running,
            },
        );
        if job.request_id_given {
            core.idempotency.insert(
                key,
                IdemEntry {
                    user_id: session.user_id,
                    request_id: job.request_id.clone(),
                    digest: run.digest.clone(),
                    handle: handle.clone(),
                    created_on_ms: now_ms,
                    carries_secret: false,
                    outcome: IdemOutcome::Running,
                },
            );
        }
        drop(core);
        let worker = shared.clone();
        tokio::task::spawn_blocking(move || {
            let mut core = lock(&worker.core);
            if matches!(
                core.handles.get(&run.handle).map(|h| &h.state),
                Some(HandleState::Cancelled)
            ) {
                core.idempotency
                    .remove(&(run.user_id, run.request_id.clone()));
                return;
            }
            let _ = run_statements(&worker, &mut core, &run, &mut session, &pieces);
        });
        let mut response = accepted(&handle);
        response.extensions_mut().insert(Executed);
        return response;
    }
    let mut response = run_statements(shared, &mut core, &run, &mut session, &pieces);
    response.extensions_mut().insert(Executed);
    response
}

/// 202 `333334` (protocols §2.5).
fn accepted(handle: &str) -> Response {
    json_response(
        StatusCode::ACCEPTED,
        &json!({
            "code": "333334",
            "message": "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
            "statementHandle": handle,
            "statementStatusUrl": wire::status_url(handle, None),
        }),
    )
}

/// `001003` from a parser error (§9).
fn syntax_error(error: &snowpat_sql::ParseError) -> SqlError {
    SqlError::new(
        "001003",
        "42000",
        format!(
            "SQL compilation error:\nsyntax error line {} at position {} unexpected '{}'.",
            error.line, error.position, error.unexpected
        ),
    )
}

/// A 422 before any statement ran (count mismatch, unsplittable text): the handle is still
/// registered so a GET answers the same error.
#[expect(
    clippy::too_many_arguments,
    reason = "one call shape, used twice; a struct would only rename the arguments"
)]
fn fail_early(
    shared: &Arc<Shared>,
    mut core: std::sync::MutexGuard<'_, Core>,
    job: &Submission,
    base: LogLine,
    user_id: u64,
    handle: &str,
    now_ms: i64,
    error: &SqlError,
) -> Response {
    let body = wire::error_body(error, handle, now_ms);
    core.insert_handle(
        handle.to_owned(),
        HandleEntry {
            user_id,
            request_id: job.request_id.clone(),
            created_on_ms: now_ms,
            carries_secret: false,
            state: HandleState::Failed(body.clone()),
        },
    );
    drop(core);
    shared.log(LogLine {
        code: Some(error.code.clone()),
        status: 422,
        statement_handle: Some(handle.to_owned()),
        ..base
    });
    json_response(StatusCode::UNPROCESSABLE_ENTITY, &body)
}

/// Everything about one execution that outlives the lock between the async phases.
struct Run {
    handle: String,
    request_id: String,
    request_id_given: bool,
    digest: String,
    user_id: u64,
    created_on_ms: i64,
    multi: bool,
    nullable: bool,
    base: LogLine,
}

/// Statements a single-statement request may not contain (protocols §2.6): the SQL API's name
/// for them.
fn session_only(statement: &Statement) -> Option<&'static str> {
    match statement {
        Statement::Use(_) => Some("USE"),
        Statement::AlterSessionSet(_) | Statement::AlterSessionUnset(_) => Some("ALTER_SESSION"),
        Statement::Begin => Some("TRANSACTION_BEGIN"),
        Statement::Commit => Some("TRANSACTION_COMMIT"),
        Statement::Rollback => Some("TRANSACTION_ROLLBACK"),
        _ => None,
    }
}

/// Runs the statements of one request in order, stopping at the first failure; stores handles,
/// the idempotency entry and log lines; answers 200 or 422.
fn run_statements(
    shared: &Arc<Shared>,
    core: &mut Core,
    run: &Run,
    session: &mut Session,
    pieces: &[String],
) -> Response {
    let mut children = Vec::new();
    let mut failure: Option<SqlError> = None;
    let mut single: Option<(StoredResult, bool)> = None;
    let mut changed_any = false;
    // A single statement with a client requestId is written together with its idempotency
    // entry (one write), so a retry after a crash finds the answer whenever the change survived.
    let defer = !run.multi && run.request_id_given;
    let mut pending: Option<(Pending, LogLine)> = None;
    for text in pieces {
        let now = core.now();
        let child = if run.multi {
            new_handle()
        } else {
            run.handle.clone()
        };
        let mut line = LogLine {
            at: wire::rfc3339(now.account),
            statement_handle: Some(child.clone()),
            ..run.base.clone()
        };
        let outcome = match snowpat_sql::parse_statement(text) {
            Err(error) => Err(syntax_error(&error)),
            Ok(statement) => {
                let kind = statement.kind().to_owned();
                line.statement_kind = Some(kind.clone());
                line.object = statement.object();
                if let (false, Some(name)) = (run.multi, session_only(&statement)) {
                    Err(SqlError::new(
                        "391911",
                        "0A000",
                        format!("Command not supported by SQL API: {name}"),
                    ))
                } else if let Some(error) = lock(&shared.faults).take(&kind) {
                    Err(error)
                } else {
                    let executed = if defer {
                        core.execute_pending(session, &statement, now)
                            .map(|(result, p)| {
                                pending = Some((p, LogLine::default()));
                                result
                            })
                    } else {
                        core.execute_committed(session, &statement, now)
                    };
                    match executed {
                        Ok(result) => Ok(result),
                        Err(CommitError::Sql(error)) => Err(error),
                        Err(CommitError::Durability(error)) => {
                            tracing::error!(%error, "state file could not be written; statement rolled back");
                            line.status = 500;
                            line.code = Some("000603".into());
                            shared.log(line);
                            return internal_error();
                        }
                    }
                }
            }
        };
        line.role = Some(session.primary_role.clone());
        children.push(child.clone());
        match outcome {
            Ok(result) => {
                line.executed = result.changed;
                changed_any |= result.changed;
                line.code = Some("090001".into());
                line.status = 200;
                match pending.as_mut() {
                    // Logged once durable.
                    Some((_, deferred)) => *deferred = line,
                    None => shared.log(line),
                }
                let stored = wire::stored_result(&result, run.nullable);
                if run.multi {
                    core.insert_handle(
                        child,
                        HandleEntry {
                            user_id: run.user_id,
                            request_id: run.request_id.clone(),
                            created_on_ms: now.account.timestamp_millis(),
                            carries_secret: result.carries_secret,
                            state: HandleState::Done(Arc::new(stored)),
                        },
                    );
                } else {
                    single = Some((stored, result.carries_secret));
                }
            }
            Err(error) => {
                line.code = Some(error.code.clone());
                line.status = 422;
                shared.log(line);
                if run.multi {
                    let body = wire::error_body(&error, &child, now.account.timestamp_millis());
                    core.insert_handle(
                        child,
                        HandleEntry {
                            user_id: run.user_id,
                            request_id: run.request_id.clone(),
                            created_on_ms: now.account.timestamp_millis(),
                            carries_secret: false,
                            state: HandleState::Failed(body),
                        },
                    );
                }
                failure = Some(error);
                break;
            }
        }
    }

    let (status, body, link, carries_secret, state) = if let Some(error) = failure {
        let mut body = wire::error_body(&error, &run.handle, run.created_on_ms);
        if let (true, Some(map)) = (run.multi, body.as_object_mut()) {
            map.insert("statementHandles".into(), json!(children));
        }
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            body.clone(),
            None,
            false,
            HandleState::Failed(body),
        )
    } else {
        let (stored, carries_secret) = match single {
            Some(pair) if !run.multi => pair,
            _ => (
                StoredResult {
                    row_type: vec![wire::row_type(&Column {
                        name: "multiple statement execution".into(),
                        ty: ColumnType::Text,
                        nullable: false,
                    })],
                    rows: vec![json!(["Multiple statements executed successfully."])],
                    statement_handles: Some(children),
                },
                false,
            ),
        };
        let body = wire::result_body(&stored, &run.handle, &run.request_id, run.created_on_ms);
        let link = wire::link_header(&run.handle, &run.request_id, 0, stored.partition_count());
        (
            StatusCode::OK,
            body,
            Some(link),
            carries_secret,
            HandleState::Done(Arc::new(stored)),
        )
    };
    core.insert_handle(
        run.handle.clone(),
        HandleEntry {
            user_id: run.user_id,
            request_id: run.request_id.clone(),
            created_on_ms: run.created_on_ms,
            carries_secret,
            state,
        },
    );
    if run.request_id_given {
        let outcome = if status == StatusCode::OK {
            IdemOutcome::Succeeded(StoredReply {
                status: status.as_u16(),
                body: body.clone(),
                link: link.clone(),
            })
        } else {
            IdemOutcome::Failed
        };
        core.idempotency.insert(
            (run.user_id, run.request_id.clone()),
            IdemEntry {
                user_id: run.user_id,
                request_id: run.request_id.clone(),
                digest: run.digest.clone(),
                handle: run.handle.clone(),
                created_on_ms: run.created_on_ms,
                carries_secret,
                outcome,
            },
        );
        // The stored answer must be as durable as the change it reports, so that a retry after
        // a dropped connection or a crash still finds it.
        if let Some((p, mut line)) = pending.take() {
            if let Err(error) = core.commit(p) {
                tracing::error!(%error, "state file could not be written; statement rolled back");
                core.idempotency
                    .remove(&(run.user_id, run.request_id.clone()));
                core.handles.remove(&run.handle);
                line.executed = false;
                line.status = 500;
                line.code = Some("000603".into());
                shared.log(line);
                return internal_error();
            }
            shared.log(line);
        } else if changed_any && core.has_state_file() {
            if let Err(error) = core.persist() {
                tracing::error!(%error, "state file could not be written after the idempotency entry");
            }
        }
    }
    if status == StatusCode::OK {
        wire::ok_with_link(&body, link.as_deref())
    } else {
        json_response(status, &body)
    }
}

/// The common start of GET and cancel: credential, authentication, handle lookup.
enum Lookup {
    Answer(Response),
    /// The handle exists and belongs to the caller; the log line so far.
    Found(Box<LogLine>),
}

fn lookup(
    shared: &Arc<Shared>,
    core: &mut Core,
    credential: &Credential,
    peer: IpAddr,
    endpoint: &str,
    handle: &str,
    unknown_status: StatusCode,
) -> Lookup {
    let now = core.now();
    core.purge(now.account.timestamp_millis());
    let mut line = LogLine {
        at: wire::rfc3339(now.account),
        peer: peer.to_string(),
        endpoint: endpoint.to_owned(),
        statement_handle: Some(handle.to_owned()),
        ..LogLine::default()
    };
    let context = AuthContext {
        peer,
        login_name: None,
        requested_role: None,
        channel: Channel::SqlApi,
        jwks: shared.jwks.snapshot(),
    };
    let session = match core.account.authenticate(credential, &context, now) {
        Ok(session) => session,
        Err(error) => {
            let status =
                StatusCode::from_u16(error.http_status).unwrap_or(StatusCode::UNAUTHORIZED);
            line.code = Some(error.code.clone());
            line.status = status.as_u16();
            shared.log(line);
            return Lookup::Answer(json_response(
                status,
                &code_body(&error.code, &error.message),
            ));
        }
    };
    let line = user_line(line, &session);
    let known = core
        .handles
        .get(handle)
        .is_some_and(|h| h.user_id == session.user_id);
    if !known {
        // Another user's handle answers exactly as an unknown one (protocols §2.8).
        shared.log(LogLine {
            code: Some("000709".into()),
            status: unknown_status.as_u16(),
            ..line
        });
        return Lookup::Answer(json_response(
            unknown_status,
            &json!({"code": "000709", "message": format!("Statement {handle} not found"),
                    "sqlState": "02000", "statementHandle": handle}),
        ));
    }
    Lookup::Found(Box::new(line))
}

/// The peer, endpoint and bearer credential of a request about a statement handle (status,
/// cancel); or, when the Authorization header is missing or malformed, the logged 401.
fn handle_credential(
    shared: &Shared,
    request: &Request,
) -> Result<(IpAddr, String, Credential), Box<Response>> {
    let peer = peer_of(request);
    let endpoint = wire::endpoint(request);
    let Ok(credential) = bearer_credential(request.headers()) else {
        shared.log(LogLine {
            at: wire::rfc3339(shared.account_now()),
            peer: peer.to_string(),
            endpoint,
            code: Some("099922".into()),
            status: 401,
            ..LogLine::default()
        });
        return Err(Box::new(malformed_authorization()));
    };
    Ok((peer, endpoint, credential))
}

/// `GET /api/v2/statements/{handle}[?partition=N]`.
pub(crate) async fn status(
    State(shared): State<Arc<Shared>>,
    Path(handle): Path<String>,
    request: Request,
) -> Response {
    let (peer, endpoint, credential) = match handle_credential(&shared, &request) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    super::jwks::prepare(&shared, &credential).await;
    let pairs = query::parse(request.uri().query());
    let partition = match pairs.as_deref() {
        Some(pairs) if query::get(pairs, "nullable").is_none() => {
            match query::get(pairs, "partition") {
                None => Ok(None),
                Some(text) => text.parse::<usize>().map(Some).map_err(|_| ()),
            }
        }
        _ => Err(()),
    };
    let worker = shared.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut core = lock(&worker.core);
        let line = match lookup(
            &worker,
            &mut core,
            &credential,
            peer,
            &endpoint,
            &handle,
            StatusCode::BAD_REQUEST,
        ) {
            Lookup::Answer(response) => return response,
            Lookup::Found(line) => *line,
        };
        let Ok(partition) = partition else {
            worker.log(LogLine {
                code: Some("390142".into()),
                status: 400,
                ..line
            });
            return wire::invalid_payload();
        };
        let Some(entry) = core.handles.get(&handle) else {
            return wire::invalid_payload();
        };
        let (status, code, response) = match &entry.state {
            HandleState::Running => (202, "333334".to_owned(), accepted(&handle)),
            HandleState::Cancelled => {
                let body = json!({"code": "000604", "message": "SQL execution canceled",
                                  "sqlState": "57014", "statementHandle": handle,
                                  "statementStatusUrl": wire::status_url(&handle, None)});
                (
                    422,
                    "000604".to_owned(),
                    json_response(StatusCode::UNPROCESSABLE_ENTITY, &body),
                )
            }
            HandleState::Failed(body) => (
                422,
                body.get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                json_response(StatusCode::UNPROCESSABLE_ENTITY, body),
            ),
            HandleState::Done(result) => {
                let count = result.partition_count();
                match partition {
                    None | Some(0) => {
                        let body = wire::result_body(
                            result,
                            &handle,
                            &entry.request_id,
                            entry.created_on_ms,
                        );
                        let link = wire::link_header(&handle, &entry.request_id, 0, count);
                        (200, "090001".to_owned(), wire::ok_with_link(&body, Some(&link)))
                    }
                    Some(n) if n < count => {
                        let link = wire::link_header(&handle, &entry.request_id, n, count);
                        (
                            200,
                            "090001".to_owned(),
                            wire::gzip_partition(result.partition(n), &link),
                        )
                    }
                    Some(n) => (
                        400,
                        "391922".to_owned(),
                        json_response(
                            StatusCode::BAD_REQUEST,
                            &json!({"code": "391922",
                                    "message": format!("Partition number {n} is out of range: the result has {count} partition(s)."),
                                    "sqlState": "22023", "statementHandle": handle}),
                        ),
                    ),
                }
            }
        };
        drop(core);
        worker.log(LogLine {
            code: Some(code),
            status,
            ..line
        });
        response
    })
    .await;
    answer.unwrap_or_else(|_| internal_error())
}

/// `POST /api/v2/statements/{handle}/cancel` (protocols §2.9).
pub(crate) async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(handle): Path<String>,
    request: Request,
) -> Response {
    let (peer, endpoint, credential) = match handle_credential(&shared, &request) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    super::jwks::prepare(&shared, &credential).await;
    let worker = shared.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut core = lock(&worker.core);
        let line = match lookup(
            &worker,
            &mut core,
            &credential,
            peer,
            &endpoint,
            &handle,
            StatusCode::UNPROCESSABLE_ENTITY,
        ) {
            Lookup::Answer(response) => return response,
            Lookup::Found(line) => *line,
        };
        if let Some(entry) = core.handles.get_mut(&handle) {
            if matches!(entry.state, HandleState::Running) {
                entry.state = HandleState::Cancelled;
            }
        }
        drop(core);
        worker.log(LogLine {
            code: Some("000604".into()),
            status: 200,
            ..line
        });
        json_response(
            StatusCode::OK,
            &json!({"code": "000604", "sqlState": "57014", "message": "SQL execution canceled",
                    "statementHandle": handle,
                    "statementStatusUrl": wire::status_url(&handle, None)}),
        )
    })
    .await;
    answer.unwrap_or_else(|_| internal_error())
}
