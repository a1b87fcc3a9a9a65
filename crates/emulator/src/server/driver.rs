//! The driver (connector) protocol of protocols §4: what `snowflake-connector-python`, the
//! Snowflake CLI and gosnowflake speak.
//!
//! | Path | Behaviour |
//! |---|---|
//! | `POST /session/v1/login-request` | §4.3: default (`PASSWORD`, a PAT there authenticates as a PAT, §6.6), `PROGRAMMATIC_ACCESS_TOKEN`, `SNOWFLAKE_JWT` and `OAUTH` (`TOKEN`); `roleName`, `databaseName`, `schemaName`, `warehouse` |
//! | `POST /queries/v1/query-request` | §4.4: JSON results, `MULTI_STATEMENT_COUNT` with `resultIds`, `asyncExec` (`333334`), errors as the §4.5 envelope |
//! | `GET /queries/{qid}/result` | a stored result (multi-statement children, async) |
//! | `GET /monitoring/queries/{qid}` | `data.queries[0].status` |
//! | `POST /queries/v1/abort-request` | statements finish before they are answered, so nothing is left to abort: `success:true` |
//! | `POST /session/token-request` | `RENEW` with the master token |
//! | `POST /session/heartbeat` | keep-alive |
//! | `POST /session?delete=true` | closes the session |
//! | `POST /telemetry/send` | `{"success":true}` |
//!
//! Every POST body may be gzip-compressed (`Content-Encoding: gzip`, §4.2). Every Snowflake
//! answer here is HTTP 200 with `success` true or false (§4.2: the connector retries 400, 403,
//! 408, 429 and 5xx, so credential and statement errors never use them); only an unreadable body
//! is 400.
//!
//! Session and master tokens are transport state, not account objects: minted here, kept in
//! memory as SHA-256 digests only, and valid for 3600 s and 14400 s of *real* time (§4.3). All
//! statements run through [`crate::engine::Account::execute`] with the session the login opened;
//! account rules use the account clock as on the SQL API.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use secrecy::SecretString;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use snowpat_sql::ast::Statement;
use snowpat_sql::lexer::split_statements;

use super::faults::Executed;
use super::log::LogLine;
use super::query;
use super::state::{lock, CommitError, Shared};
use super::wire::{self, json_response, peer_of};
use crate::engine::{
    AuthContext, AuthError, Cell, Channel, Credential, ResultSet, Session, SqlError, TokenType,
};

/// Session token lifetime (§4.3).
pub(crate) const SESSION_VALIDITY_SECS: u64 = 3600;
/// Master token lifetime (§4.3).
pub(crate) const MASTER_VALIDITY_SECS: u64 = 14400;
/// Stored query results kept per emulator (oldest forgotten first).
const MAX_RESULTS: usize = 10_000;
/// What the emulator reports as its version in the login answer.
const SERVER_VERSION: &str = "8.48.0";

/// One logged-in driver session.
struct Entry {
    id: u64,
    session: Session,
    token_expires: Instant,
    master_digest: String,
    master_expires: Instant,
}

/// A finished query, for `GET /queries/{qid}/result` and monitoring.
struct StoredQuery {
    user_id: u64,
    /// The whole answer (success or §4.5 envelope).
    body: Value,
    failed: bool,
}

#[derive(Default)]
struct Inner {
    /// By SHA-256 of the session token.
    sessions: HashMap<String, Entry>,
    /// SHA-256 of the master token → SHA-256 of the session token.
    masters: HashMap<String, String>,
    results: HashMap<String, StoredQuery>,
    order: VecDeque<String>,
    next_id: u64,
}

/// Driver sessions and stored results of one emulator.
#[derive(Default)]
pub(crate) struct Driver {
    inner: Mutex<Inner>,
}

impl Driver {
    pub(crate) fn new() -> Arc<Self> {
        let driver = Self::default();
        lock(&driver.inner).next_id = 1_172_562_260_498;
        Arc::new(driver)
    }

    fn store_result(&self, qid: &str, query: StoredQuery) {
        let mut inner = lock(&self.inner);
        if inner.results.insert(qid.to_owned(), query).is_none() {
            inner.order.push_back(qid.to_owned());
        }
        while inner.order.len() > MAX_RESULTS {
            if let Some(old) = inner.order.pop_front() {
                inner.results.remove(&old);
            }
        }
    }
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh random token (256 bits, base64url). Prefixed so that it is never mistaken for a PAT.
fn mint(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

// ---- envelopes ----

fn ok(data: Value) -> Value {
    json!({"data": data, "code": null, "message": null, "success": true})
}

/// `success:false` with `data` (never `null` on the query path: the connector reads
/// `data.errorMessage` from it).
fn failure(code: &str, message: &str, data: Value) -> Value {
    json!({"data": data, "code": code, "message": message, "success": false, "headers": null})
}

fn answer(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}

/// The login failure envelope of §4.3: PAT failures carry `nextAction`/`authnMethod PAT`, OAuth
/// failures `authnMethod OAUTH`, everything else `data: null`.
pub(crate) fn login_failure(error: &AuthError) -> Value {
    let data = match error.code.as_str() {
        "394400" => json!({"nextAction": "RETRY_LOGIN", "authnMethod": "PAT", "signInOptions": {}}),
        "390303" | "390318" => {
            json!({"nextAction": "RETRY_LOGIN", "authnMethod": "OAUTH", "signInOptions": {}})
        }
        _ => Value::Null,
    };
    failure(&error.code, &error.message, data)
}

fn session_gone() -> Value {
    failure(
        "390111",
        "Session no longer exists.  New login required to access the service.",
        json!({}),
    )
}

fn session_expired() -> Value {
    failure(
        "390112",
        "Your session has expired. Please login again.",
        json!({}),
    )
}

fn master_expired() -> Value {
    failure(
        "390114",
        "Authentication token has expired.  The user must authenticate again.",
        json!({}),
    )
}

/// 400 for a body that is not gzip/JSON of the expected shape.
fn bad_payload() -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &failure(
            "390142",
            "Incoming request does not contain a valid payload.",
            Value::Null,
        ),
    )
}

// ---- transport ----

/// Reads a body up to the configured limit, gunzipping it when `Content-Encoding: gzip`
/// (§4.2). `None`: too large, unreadable, or not valid gzip.
async fn read_body(shared: &Shared, request: Request) -> Option<Vec<u8>> {
    let limit = shared.config.max_body_bytes;
    let gzip = request
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let bytes = axum::body::to_bytes(request.into_body(), limit)
        .await
        .ok()?;
    if !gzip {
        return Some(bytes.to_vec());
    }
    let mut out = Vec::new();
    let decoder = flate2::read::GzDecoder::new(bytes.as_ref());
    // One byte over the limit tells a bomb from a body of exactly the limit.
    decoder.take(limit as u64 + 1).read_to_end(&mut out).ok()?;
    (out.len() <= limit).then_some(out)
}

/// A JSON object body (an empty body and `null` count as `{}`: the connector's heartbeat posts
/// none).
fn json_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Some(Map::new());
    }
    match serde_json::from_slice(bytes).ok()? {
        Value::Object(map) => Some(map),
        Value::Null => Some(Map::new()),
        _ => None,
    }
}

/// `Authorization: Snowflake Token="<token>"` (§4.2).
fn snowflake_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("snowflake") {
        return None;
    }
    let rest = rest.trim();
    let (key, quoted) = rest.split_once('=')?;
    if !key.trim().eq_ignore_ascii_case("token") {
        return None;
    }
    let token = quoted.trim().strip_prefix('"')?.strip_suffix('"')?;
    (!token.is_empty()).then(|| token.to_owned())
}

fn base_line(shared: &Shared, peer: IpAddr, endpoint: &str) -> LogLine {
    LogLine {
        at: wire::rfc3339(shared.account_now()),
        peer: peer.to_string(),
        endpoint: endpoint.to_owned(),
        status: 200,
        ..LogLine::default()
    }
}

fn with_session(mut line: LogLine, session: &Session) -> LogLine {
    line.user = Some(session.user_name.clone());
    line.role = Some(session.primary_role.clone());
    line.auth = Some(session.auth.log_name());
    line
}

/// Why a session token was not accepted.
enum Gone {
    Unknown,
    Expired,
}

/// The session of a session token: its id and a copy of the engine session.
fn session_of(driver: &Driver, token: Option<&str>) -> Result<(String, u64, Session), Gone> {
    let token = token.ok_or(Gone::Unknown)?;
    let key = digest(token);
    let inner = lock(&driver.inner);
    let entry = inner.sessions.get(&key).ok_or(Gone::Unknown)?;
    if Instant::now() >= entry.token_expires {
        return Err(Gone::Expired);
    }
    Ok((key, entry.id, entry.session.clone()))
}

fn gone_body(gone: &Gone) -> Value {
    match gone {
        Gone::Unknown => session_gone(),
        Gone::Expired => session_expired(),
    }
}

// ---- login ----

const LOGIN: &str = "POST /session/v1/login-request";

/// The credential and login name of a login body (§4.3 table).
fn login_credential(data: &Map<String, Value>) -> Result<(Credential, Option<String>), AuthError> {
    let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
    let login_name = text("LOGIN_NAME").filter(|s| !s.trim().is_empty());
    let authenticator = text("AUTHENTICATOR")
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    let token = || {
        text("TOKEN")
            .filter(|t| !t.is_empty())
            .map(SecretString::from)
    };
    let bearer = |token_type: TokenType, missing: fn() -> AuthError| {
        token()
            .map(|token| Credential::Bearer {
                token,
                token_type: Some(token_type),
            })
            .ok_or_else(missing)
    };
    let credential = match authenticator.as_str() {
        "" | "SNOWFLAKE" => {
            let password = text("PASSWORD")
                .filter(|p| !p.is_empty())
                .ok_or_else(bad_password)?;
            Credential::Password {
                password: SecretString::from(password),
            }
        }
        "PROGRAMMATIC_ACCESS_TOKEN" => bearer(TokenType::ProgrammaticAccessToken, || {
            AuthError::new(401, "394400", "Programmatic access token is invalid.")
        })?,
        "SNOWFLAKE_JWT" => bearer(TokenType::KeypairJwt, || {
            AuthError::new(401, "390144", "JWT token is invalid.")
        })?,
        "OAUTH" => bearer(TokenType::OAuth, || {
            AuthError::new(
                401,
                "390303",
                "Invalid OAuth access token. Please use a valid OAuth access token.",
            )
        })?,
        other => {
            return Err(AuthError::new(
                401,
                "390100",
                format!("Authenticator '{other}' is not supported by the emulator."),
            ))
        }
    };
    Ok((credential, login_name))
}

fn bad_password() -> AuthError {
    AuthError::new(
        401,
        "390100",
        "Incorrect username or password was specified.",
    )
}

struct Login {
    peer: IpAddr,
    credential: Credential,
    login_name: Option<String>,
    role: Option<String>,
    database: Option<String>,
    schema: Option<String>,
    warehouse: Option<String>,
}

/// `POST /session/v1/login-request` (§4.3).
pub(crate) async fn login(
    State(shared): State<Arc<Shared>>,
    Extension(driver): Extension<Arc<Driver>>,
    request: Request,
) -> Response {
    let peer = peer_of(&request);
    let line = base_line(&shared, peer, LOGIN);
    let pairs = query::parse(request.uri().query());
    let body = read_body(&shared, request).await;
    let (Some(pairs), Some(body)) = (pairs, body) else {
        shared.log(LogLine {
            code: Some("390142".into()),
            status: 400,
            ..line
        });
        return bad_payload();
    };
    let data = json_object(&body).and_then(|mut o| match o.remove("data") {
        Some(Value::Object(d)) => Some(d),
        _ => None,
    });
    let Some(data) = data else {
        shared.log(LogLine {
            code: Some("390142".into()),
            status: 400,
            ..line
        });
        return bad_payload();
    };
    let param = |key: &str| {
        query::get(&pairs, key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let line = LogLine {
        request_id: param("request_id"),
        ..line
    };
    let (credential, login_name) = match login_credential(&data) {
        Ok(pair) => pair,
        Err(error) => {
            shared.log(LogLine {
                code: Some(error.code.clone()),
                ..line
            });
            return answer(&login_failure(&error));
        }
    };
    let job = Login {
        peer,
        credential,
        login_name,
        role: param("roleName"),
        database: param("databaseName"),
        schema: param("schemaName"),
        warehouse: param("warehouse"),
    };
    super::jwks::prepare(&shared, &job.credential).await;
    let worker = shared.clone();
    tokio::task::spawn_blocking(move || login_blocking(&worker, &driver, job, line))
        .await
        .unwrap_or_else(|_| internal_error())
}

fn internal_error() -> Response {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &failure(
            "000603",
            "SQL execution internal error: the emulator could not complete the request; nothing was applied.",
            json!({}),
        ),
    )
}

fn login_blocking(shared: &Arc<Shared>, driver: &Driver, job: Login, line: LogLine) -> Response {
    let context = AuthContext {
        peer: job.peer,
        login_name: job.login_name.clone(),
        requested_role: job.role.clone(),
        channel: Channel::Driver,
        jwks: shared.jwks.snapshot(),
    };
    let authenticated = {
        let mut core = lock(&shared.core);
        let now = core.now();
        let result = core.account.authenticate(&job.credential, &context, now);
        // A login changes the account (last use, failed-login counters): keep it durable.
        if core.has_state_file() {
            if let Err(error) = core.persist() {
                tracing::error!(%error, "state file could not be written after a login");
            }
        }
        result
    };
    let mut session = match authenticated {
        Ok(session) => session,
        Err(error) => {
            shared.log(LogLine {
                code: Some(error.code.clone()),
                ..line
            });
            return answer(&login_failure(&error));
        }
    };
    session.database = job.database;
    session.schema = job.schema;
    session.warehouse = job.warehouse;
    let token = mint("ver:1-hint:");
    let master = mint("ver:1-master:");
    let now = Instant::now();
    let id = {
        let mut inner = lock(&driver.inner);
        inner.next_id += 1;
        let id = inner.next_id;
        // Forget expired sessions now and then (at login, so the map stays bounded).
        inner.sessions.retain(|_, e| now < e.master_expires);
        let live: std::collections::HashSet<String> = inner
            .sessions
            .values()
            .map(|e| e.master_digest.clone())
            .collect();
        inner.masters.retain(|m, _| live.contains(m));
        inner.sessions.insert(
            digest(&token),
            Entry {
                id,
                session: session.clone(),
                token_expires: now + Duration::from_secs(SESSION_VALIDITY_SECS),
                master_digest: digest(&master),
                master_expires: now + Duration::from_secs(MASTER_VALIDITY_SECS),
            },
        );
        inner.masters.insert(digest(&master), digest(&token));
        id
    };
    shared.log(with_session(line, &session));
    let display = session.user_name.clone();
    answer(&ok(json!({
        "masterToken": master,
        "token": token,
        "validityInSeconds": SESSION_VALIDITY_SECS,
        "masterValidityInSeconds": MASTER_VALIDITY_SECS,
        "displayUserName": display,
        "serverVersion": SERVER_VERSION,
        "firstLogin": false,
        "remMeToken": null,
        "remMeValidityInSeconds": 0,
        "healthCheckInterval": 45,
        "newClientForUpgrade": null,
        "sessionId": id,
        "parameters": session_parameters(&session),
        "sessionInfo": session_info(&session),
        "idToken": null,
        "idTokenValidityInSeconds": 0,
        "responseData": null,
        "mfaToken": null,
        "mfaTokenValidityInSeconds": 0,
    })))
}

fn session_info(session: &Session) -> Value {
    json!({
        "databaseName": session.database,
        "schemaName": session.schema,
        "warehouseName": session.warehouse,
        "roleName": session.primary_role,
    })
}

/// Session parameters as the connector reads them (`data.parameters`).
fn session_parameters(session: &Session) -> Value {
    let mut out = vec![
        json!({"name": "CLIENT_PREFETCH_THREADS", "value": 4}),
        json!({"name": "AUTOCOMMIT", "value": true}),
    ];
    let mut timezone = "America/Los_Angeles".to_owned();
    for (name, value) in &session.parameters {
        if name.eq_ignore_ascii_case("TIMEZONE") {
            timezone.clone_from(value);
        } else {
            out.push(json!({"name": name, "value": value}));
        }
    }
    out.push(json!({"name": "TIMEZONE", "value": timezone}));
    Value::Array(out)
}

// ---- query-request ----

const QUERY: &str = "POST /queries/v1/query-request";

struct QueryJob {
    token: Option<String>,
    request_id: Option<String>,
    text: String,
    asynchronous: bool,
    /// `describeOnly`: result metadata without running anything that could change the account.
    describe_only: bool,
    /// `MULTI_STATEMENT_COUNT` (absent: 1; 0: any number).
    desired: u64,
}

fn flag(body: &Map<String, Value>, key: &str) -> Option<bool> {
    match body.get(key) {
        None | Some(Value::Null) => Some(false),
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => None,
    }
}

fn parse_query(body: &Map<String, Value>) -> Option<(String, bool, bool, u64)> {
    let text = body.get("sqlText")?.as_str()?.to_owned();
    let asynchronous = flag(body, "asyncExec")?;
    let describe_only = flag(body, "describeOnly")?;
    let desired = match body.get("parameters") {
        None | Some(Value::Null) => 1,
        Some(Value::Object(parameters)) => match parameters
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("multi_statement_count"))
            .map(|(_, v)| v)
        {
            None | Some(Value::Null) => 1,
            Some(Value::String(s)) => s.trim().parse().ok()?,
            Some(Value::Number(n)) => n.as_u64()?,
            Some(_) => return None,
        },
        Some(_) => return None,
    };
    Some((text, asynchronous, describe_only, desired))
}

/// `POST /queries/v1/query-request` (§4.4).
pub(crate) async fn query_request(
    State(shared): State<Arc<Shared>>,
    Extension(driver): Extension<Arc<Driver>>,
    request: Request,
) -> Response {
    let peer = peer_of(&request);
    let line = base_line(&shared, peer, QUERY);
    let token = snowflake_token(request.headers());
    let request_id = query::parse(request.uri().query())
        .and_then(|pairs| query::get(&pairs, "requestId").map(str::to_owned));
    let parsed = read_body(&shared, request)
        .await
        .and_then(|b| json_object(&b))
        .and_then(|o| parse_query(&o));
    let Some((text, asynchronous, describe_only, desired)) = parsed else {
        shared.log(LogLine {
            code: Some("390142".into()),
            status: 400,
            request_id,
            ..line
        });
        return bad_payload();
    };
    let job = QueryJob {
        token,
        request_id,
        text,
        asynchronous,
        describe_only,
        desired,
    };
    let worker = shared.clone();
    tokio::task::spawn_blocking(move || query_blocking(&worker, &driver, job, line))
        .await
        .unwrap_or_else(|_| internal_error())
}

/// `statementTypeId`: SELECT `0x1000` (fixture 4096), session control `0x4000`, transactions
/// `0x5000`, everything else (DDL, DCL, SHOW, DESCRIBE) `0x6000`; never the DML range `0x3000`,
/// which the connector would read as row counts (§4.4).
fn statement_type_id(statement: &Statement) -> u64 {
    match statement {
        Statement::Select(_) => 0x1000,
        Statement::Use(_) | Statement::AlterSessionSet(_) | Statement::AlterSessionUnset(_) => {
            0x4000
        }
        Statement::Begin | Statement::Commit | Statement::Rollback => 0x5000,
        _ => 0x6000,
    }
}

/// Multi-statement (`0xA000`).
const MULTI_STATEMENT_TYPE: u64 = 0xA000;

/// One cell on the driver path: strings or null; booleans `"1"`/`"0"`; timestamps
/// `seconds.fraction` (§4.4).
pub(crate) fn driver_cell(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Text(text) | Cell::Number(text) => Value::String(text.clone()),
        Cell::Bool(b) => Value::String(if *b { "1" } else { "0" }.into()),
        Cell::Timestamp(at) => Value::String(wire::epoch_seconds(*at)),
    }
}

/// The `data` of a successful statement (§4.4 fixture shape).
pub(crate) fn result_data(
    result: &ResultSet,
    session: &Session,
    qid: &str,
    type_id: u64,
    now_ms: i64,
) -> Value {
    let rowset: Vec<Value> = result
        .rows
        .iter()
        .map(|row| Value::Array(row.iter().map(driver_cell).collect()))
        .collect();
    let total = rowset.len();
    json!({
        "parameters": session_parameters(session),
        "rowtype": result.columns.iter().map(wire::row_type).collect::<Vec<_>>(),
        "rowset": rowset,
        "total": total,
        "returned": total,
        "queryId": qid,
        "databaseProvider": null,
        "finalDatabaseName": session.database,
        "finalSchemaName": session.schema,
        "finalWarehouseName": session.warehouse,
        "finalRoleName": session.primary_role,
        "numberOfBinds": 0,
        "arrayBindSupported": false,
        "statementTypeId": type_id,
        "version": 1,
        "sendResultTime": now_ms,
        "queryResultFormat": "json",
        "queryContext": {"entries": []},
    })
}

/// The §4.5 envelope.
pub(crate) fn error_envelope(error: &SqlError, qid: &str) -> Value {
    failure(
        &error.code,
        &error.message,
        json!({
            "internalError": false,
            "unredactedFromSecureObject": false,
            "errorCode": error.code,
            "age": 0,
            "sqlState": error.sql_state,
            "queryId": qid,
            "line": -1,
            "pos": -1,
            "type": "COMPILATION",
        }),
    )
}

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

fn new_qid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Statements that only read: what `describeOnly` may run.
fn reads_only(statement: &Statement) -> bool {
    let kind = statement.kind();
    kind.starts_with("SELECT") || kind.starts_with("SHOW") || kind.starts_with("DESC")
}

/// Runs one statement through the engine (faults first), committing it durably. With
/// `describe_only`, reads run and answer no rows; anything else answers the `status` column
/// without running.
fn run_one(
    shared: &Arc<Shared>,
    session: &mut Session,
    text: &str,
    describe_only: bool,
    line: &mut LogLine,
) -> Result<(ResultSet, u64), Option<SqlError>> {
    let statement = snowpat_sql::parse_statement(text).map_err(|e| Some(syntax_error(&e)))?;
    let kind = statement.kind().to_owned();
    line.statement_kind = Some(kind.clone());
    line.object = statement.object();
    if describe_only && !reads_only(&statement) {
        let mut described = ResultSet::status("");
        described.rows.clear();
        described.changed = false;
        return Ok((described, statement_type_id(&statement)));
    }
    if let Some(error) = lock(&shared.faults).take(&kind) {
        return Err(Some(error));
    }
    let mut core = lock(&shared.core);
    let now = core.now();
    let mut probe = session.clone();
    let target = if describe_only { &mut probe } else { session };
    match core.execute_committed(target, &statement, now) {
        Ok(mut result) => {
            if describe_only {
                result.rows.clear();
            }
            Ok((result, statement_type_id(&statement)))
        }
        Err(CommitError::Sql(error)) => Err(Some(error)),
        Err(CommitError::Durability(error)) => {
            tracing::error!(%error, "state file could not be written; statement rolled back");
            Err(None)
        }
    }
}

fn query_blocking(shared: &Arc<Shared>, driver: &Driver, job: QueryJob, line: LogLine) -> Response {
    let line = LogLine {
        request_id: job.request_id.clone(),
        ..line
    };
    let (key, _id, mut session) = match session_of(driver, job.token.as_deref()) {
        Ok(found) => found,
        Err(gone) => {
            let body = gone_body(&gone);
            shared.log(LogLine {
                code: body["code"].as_str().map(str::to_owned),
                ..line
            });
            return answer(&body);
        }
    };
    let base = with_session(line, &session);
    let now_ms = shared.account_now().timestamp_millis();
    let qid = new_qid();
    let pieces = match split_statements(&job.text) {
        Ok(pieces) => pieces,
        Err(error) => {
            let error = syntax_error(&error);
            return finish_error(
                shared,
                driver,
                base,
                &session,
                &qid,
                &error,
                job.asynchronous,
            );
        }
    };
    if pieces.is_empty() {
        let error = SqlError::new("000900", "42000", "Empty SQL statement.");
        return finish_error(
            shared,
            driver,
            base,
            &session,
            &qid,
            &error,
            job.asynchronous,
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
        return finish_error(
            shared,
            driver,
            base,
            &session,
            &qid,
            &error,
            job.asynchronous,
        );
    }
    let multi = job.desired != 1;
    let mut children: Vec<(String, u64)> = Vec::new();
    let mut single: Option<Value> = None;
    let mut failure_body: Option<Value> = None;
    for text in &pieces {
        let child = if multi { new_qid() } else { qid.clone() };
        let mut line = LogLine {
            at: wire::rfc3339(shared.account_now()),
            statement_handle: Some(child.clone()),
            ..base.clone()
        };
        let outcome = run_one(shared, &mut session, text, job.describe_only, &mut line);
        line.role = Some(session.primary_role.clone());
        match outcome {
            Ok((result, type_id)) => {
                line.executed = result.changed;
                line.code = Some("090001".into());
                shared.log(line);
                let ms = shared.account_now().timestamp_millis();
                let body = ok(result_data(&result, &session, &child, type_id, ms));
                if multi {
                    driver.store_result(
                        &child,
                        StoredQuery {
                            user_id: session.user_id,
                            body,
                            failed: false,
                        },
                    );
                    children.push((child, type_id));
                } else {
                    single = Some(body);
                }
            }
            Err(Some(error)) => {
                line.code = Some(error.code.clone());
                shared.log(line);
                let body = error_envelope(&error, &child);
                if multi {
                    driver.store_result(
                        &child,
                        StoredQuery {
                            user_id: session.user_id,
                            body: body.clone(),
                            failed: true,
                        },
                    );
                }
                failure_body = Some(body);
                break;
            }
            Err(None) => {
                line.code = Some("000603".into());
                line.status = 500;
                shared.log(line);
                save_session(driver, &key, &session);
                return internal_error();
            }
        }
    }
    save_session(driver, &key, &session);
    let (body, failed) = match (failure_body, single) {
        (Some(body), _) => (body, true),
        (None, Some(body)) => (body, false),
        (None, None) => {
            let status = ResultSet {
                columns: vec![crate::engine::Column {
                    name: "multiple statement execution".into(),
                    ty: crate::engine::ColumnType::Text,
                    nullable: false,
                }],
                rows: vec![vec![Cell::Text(
                    "Multiple statements executed successfully.".into(),
                )]],
                changed: false,
                carries_secret: false,
            };
            let mut data = result_data(&status, &session, &qid, MULTI_STATEMENT_TYPE, now_ms);
            if let Some(map) = data.as_object_mut() {
                let ids: Vec<&str> = children.iter().map(|(id, _)| id.as_str()).collect();
                let types: Vec<String> = children.iter().map(|(_, t)| t.to_string()).collect();
                map.insert("resultIds".into(), json!(ids.join(",")));
                map.insert("resultTypes".into(), json!(types.join(",")));
            }
            (ok(data), false)
        }
    };
    driver.store_result(
        &qid,
        StoredQuery {
            user_id: session.user_id,
            body: body.clone(),
            failed,
        },
    );
    // Statements ran: `--drop-rate` may now close the connection without an answer.
    let mut response = if job.asynchronous {
        answer(&async_accepted(&qid))
    } else {
        answer(&body)
    };
    response.extensions_mut().insert(Executed);
    response
}

/// A failure before any statement ran (unsplittable text, empty text, count mismatch).
fn finish_error(
    shared: &Arc<Shared>,
    driver: &Driver,
    base: LogLine,
    session: &Session,
    qid: &str,
    error: &SqlError,
    asynchronous: bool,
) -> Response {
    shared.log(LogLine {
        code: Some(error.code.clone()),
        statement_handle: Some(qid.to_owned()),
        ..base
    });
    let body = error_envelope(error, qid);
    driver.store_result(
        qid,
        StoredQuery {
            user_id: session.user_id,
            body: body.clone(),
            failed: true,
        },
    );
    if asynchronous {
        return answer(&async_accepted(qid));
    }
    answer(&body)
}

fn async_accepted(qid: &str) -> Value {
    json!({
        "data": {"queryId": qid, "getResultUrl": format!("/queries/{qid}/result"),
                 "queryAbortsAfterSecs": 300, "progressDesc": null},
        "code": "333334",
        "message": "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
        "success": true,
    })
}

/// Writes the session back after statements (USE changes role, database, schema).
fn save_session(driver: &Driver, key: &str, session: &Session) {
    if let Some(entry) = lock(&driver.inner).sessions.get_mut(key) {
        entry.session = session.clone();
    }
}

// ---- results, monitoring, abort ----

/// The live session behind a request about query `qid` (`result`, `monitoring`) and its log line
/// carrying `qid`; or, when the session is gone, the logged answer saying so.
fn query_session(
    shared: &Shared,
    driver: &Driver,
    request: &Request,
    qid: &str,
) -> Result<(Session, LogLine), Box<Response>> {
    let peer = peer_of(request);
    let endpoint = wire::endpoint(request);
    let line = base_line(shared, peer, &endpoint);
    let token = snowflake_token(request.headers());
    let session = match session_of(driver, token.as_deref()) {
        Ok((_, _, session)) => session,
        Err(gone) => {
            let body = gone_body(&gone);
            shared.log(LogLine {
                code: body["code"].as_str().map(str::to_owned),
                ..line
            });
            return Err(Box::new(answer(&body)));
        }
    };
    let line = LogLine {
        statement_handle: Some(qid.to_owned()),
        ..with_session(line, &session)
    };
    Ok((session, line))
}

/// `GET /queries/{qid}/result`.
pub(crate) async fn result(
    State(shared): State<Arc<Shared>>,
    Extension(driver): Extension<Arc<Driver>>,
    Path(qid): Path<String>,
    request: Request,
) -> Response {
    let (session, line) = match query_session(&shared, &driver, &request, &qid) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let found = {
        let inner = lock(&driver.inner);
        inner
            .results
            .get(&qid)
            .filter(|q| q.user_id == session.user_id)
            .map(|q| q.body.clone())
    };
    let body = found.unwrap_or_else(|| not_found(&qid));
    shared.log(LogLine {
        code: Some(
            body["code"]
                .as_str()
                .map_or_else(|| "090001".to_owned(), str::to_owned),
        ),
        ..line
    });
    answer(&body)
}

fn not_found(qid: &str) -> Value {
    failure(
        "000709",
        &format!("Statement {qid} not found"),
        json!({"sqlState": "02000", "queryId": qid}),
    )
}

/// `GET /monitoring/queries/{qid}`: `SUCCESS` or `FAILED_WITH_ERROR` (statements finish before
/// they are answered, so never `RUNNING`).
pub(crate) async fn monitoring(
    State(shared): State<Arc<Shared>>,
    Extension(driver): Extension<Arc<Driver>>,
    Path(qid): Path<String>,
    request: Request,
) -> Response {
    let (session, line) = match query_session(&shared, &driver, &request, &qid) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let found = {
        let inner = lock(&driver.inner);
        inner
            .results
            .get(&qid)
            .filter(|q| q.user_id == session.user_id)
            .map(|q| (q.failed, q.body.clone()))
    };
    let body = match found {
        None => not_found(&qid),
        Some((failed, stored)) => {
            let mut query =
                json!({"id": qid, "status": if failed { "FAILED_WITH_ERROR" } else { "SUCCESS" }});
            if failed {
                query["errorCode"] = stored["code"].clone();
                query["errorMessage"] = stored["message"].clone();
            }
            ok(json!({"queries": [query]}))
        }
    };
    shared.log(LogLine {
        code: body["code"].as_str().map(str::to_owned),
        ..line
    });
    answer(&body)
}

/// Endpoints that only need a live session: abort, heartbeat, delete.
async fn session_call(
    shared: &Arc<Shared>,
    driver: &Driver,
    request: Request,
    endpoint: &str,
    act: impl FnOnce(&Driver, &str) -> Value,
) -> Response {
    let peer = peer_of(&request);
    let line = base_line(shared, peer, endpoint);
    let token = snowflake_token(request.headers());
    if read_body(shared, request)
        .await
        .and_then(|b| json_object(&b))
        .is_none()
    {
        shared.log(LogLine {
            code: Some("390142".into()),
            status: 400,
            ..line
        });
        return bad_payload();
    }
    match session_of(driver, token.as_deref()) {
        Ok((key, _, session)) => {
            let body = act(driver, &key);
            shared.log(with_session(line, &session));
            answer(&body)
        }
        Err(gone) => {
            let body = gone_body(&gone);
            shared.log(LogLine {
                code: body["code"].as_str().map(str::to_owned),
                ..line
            });
            answer(&body)
        }
    }
}

/// `POST /queries/v1/abort-request`.
pub(crate) async fn abort(
    State(shared): State<Arc<Shared>>,
    Extension(driver): Extension<Arc<Driver>>,
    request: Request,
) -> Response {
    session_call(
        &shared,
        &driver,
        request,
        "POST /queries/v1/abort-request",
        |_, _| ok(Value::Null),
    )
    .await
}

/// `POST /session/heartbeat`.
pub(crate) async fn heartbeat(
    State(shared): State<Arc<Shared>>,
    Extension(driver): Extension<Arc<Driver>>,
    request: Request,
) -> Response {
    session_call(
        &shared,
        &driver,
        request,
        "POST /session/heartbeat",
        |_, _| ok(Value::Null),
    )
    .await
}

/// `POST /session?delete=true`: the session and its master token are forgotten.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(driver): Extension<Arc<Driver>>,
    request: Request,
) -> Response {
    let delete = query::parse(request.uri().query())
        .and_then(|pairs| query::boolean(&pairs, "delete", false).ok())
        .unwrap_or(false);
    if !delete {
        shared.log(LogLine {
            code: Some("390142".into()),
            status: 400,
            ..base_line(&shared, peer_of(&request), "POST /session")
        });
        return bad_payload();
    }
    session_call(&shared, &driver, request, "POST /session", |driver, key| {
        let mut inner = lock(&driver.inner);
        if let Some(entry) = inner.sessions.remove(key) {
            inner.masters.remove(&entry.master_digest);
        }
        json!({"code": 200, "message": "done", "success": true})
    })
    .await
}

/// `POST /session/token-request`: `RENEW` with the master token answers a new session token;
/// the old one stops working.
pub(crate) async fn token_request(
    State(shared): State<Arc<Shared>>,
    Extension(driver): Extension<Arc<Driver>>,
    request: Request,
) -> Response {
    let peer = peer_of(&request);
    let line = base_line(&shared, peer, "POST /session/token-request");
    let master = snowflake_token(request.headers());
    let body = read_body(&shared, request)
        .await
        .and_then(|b| json_object(&b));
    let renew = body.as_ref().is_some_and(|b| {
        b.get("requestType")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("RENEW"))
    });
    if !renew {
        shared.log(LogLine {
            code: Some("390142".into()),
            status: 400,
            ..line
        });
        return bad_payload();
    }
    let Some(master) = master else {
        shared.log(LogLine {
            code: Some("390114".into()),
            ..line
        });
        return answer(&master_expired());
    };
    let master_key = digest(&master);
    let token = mint("ver:1-hint:");
    let now = Instant::now();
    let renewed = {
        let mut inner = lock(&driver.inner);
        match inner.masters.get(&master_key).cloned() {
            None => None,
            Some(old) => match inner.sessions.remove(&old) {
                Some(mut entry) if now < entry.master_expires => {
                    entry.token_expires = now + Duration::from_secs(SESSION_VALIDITY_SECS);
                    let remaining = entry.master_expires.saturating_duration_since(now);
                    let out = (entry.id, entry.session.clone(), remaining.as_secs());
                    inner.sessions.insert(digest(&token), entry);
                    inner.masters.insert(master_key.clone(), digest(&token));
                    Some(out)
                }
                Some(_) => {
                    inner.masters.remove(&master_key);
                    None
                }
                None => None,
            },
        }
    };
    match renewed {
        None => {
            shared.log(LogLine {
                code: Some("390114".into()),
                ..line
            });
            answer(&master_expired())
        }
        Some((id, session, master_left)) => {
            shared.log(with_session(line, &session));
            answer(&ok(json!({
                "sessionToken": token,
                "validityInSecondsST": SESSION_VALIDITY_SECS,
                "masterToken": master,
                "validityInSecondsMT": master_left,
                "masterValidityInSeconds": master_left,
                "sessionId": id,
            })))
        }
    }
}

/// `POST /telemetry/send` (§4.1: `{"success":true}`).
pub(crate) async fn telemetry(request: Request) -> Response {
    // The body is read and dropped; telemetry is not logged.
    let _ = axum::body::to_bytes(request.into_body(), 1 << 20).await;
    answer(&json!({"success": true}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflake_token_header_is_parsed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            "Snowflake Token=\"abc:def\"".parse().unwrap(),
        );
        assert_eq!(snowflake_token(&headers).as_deref(), Some("abc:def"));
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(snowflake_token(&headers), None);
        headers.insert(header::AUTHORIZATION, "Snowflake Token=".parse().unwrap());
        assert_eq!(snowflake_token(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            "Snowflake Token=\"None\"".parse().unwrap(),
        );
        assert_eq!(snowflake_token(&headers).as_deref(), Some("None"));
    }

    #[test]
    fn expired_session_token_answers_390112_and_unknown_390111() {
        let driver = Driver::new();
        let session = Session {
            user_id: 1,
            user_name: "U".into(),
            auth: crate::engine::AuthMethod::Password,
            primary_role: "PUBLIC".into(),
            secondary_roles_all: false,
            database: None,
            schema: None,
            warehouse: None,
            parameters: Vec::new(),
            oauth_integration: None,
        };
        let past = Instant::now()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        lock(&driver.inner).sessions.insert(
            digest("old"),
            Entry {
                id: 7,
                session,
                token_expires: past,
                master_digest: digest("m"),
                master_expires: Instant::now() + Duration::from_secs(60),
            },
        );
        match session_of(&driver, Some("old")) {
            Err(gone) => assert_eq!(gone_body(&gone)["code"], "390112"),
            Ok(_) => panic!("an expired session token was accepted"),
        }
        match session_of(&driver, Some("never-issued")) {
            Err(gone) => assert_eq!(gone_body(&gone)["code"], "390111"),
            Ok(_) => panic!("an unknown session token was accepted"),
        }
    }

    #[test]
    fn driver_cells_use_1_and_0_for_booleans() {
        assert_eq!(driver_cell(&Cell::Bool(true)), json!("1"));
        assert_eq!(driver_cell(&Cell::Bool(false)), json!("0"));
        assert_eq!(driver_cell(&Cell::Null), Value::Null);
    }
}
