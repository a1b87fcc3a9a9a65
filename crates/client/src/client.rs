//! The SQL API v2 client (protocols §2): submission with a fresh `requestId`, retries that reuse
//! it with `retry=true` (§2.8, §9), 202 polling, result partitions (§2.7), multi-statement
//! requests (§2.6), cancel (§2.9).
//!
//! Logging: `requestId`, statement handle, HTTP status and attempt number only. Statement text is
//! never logged at any level (it can hold a secret: `CREATE SECRET ... SECRET_STRING`), nor is any
//! token or result cell.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;
use tracing::{debug, trace, warn};
use uuid::Uuid;

use crate::account::BaseUrl;
use crate::auth::{Credential, TOKEN_TYPE_HEADER};
use crate::error::{ApiError, ConfigError, Error, ErrorKind};
use crate::limiter::AimdLimiter;
use crate::result::{to_rows, ResultSet, WirePartition, WirePartitionData, WireResponse};
use crate::retry::{overload_status, retryable_status, retryable_transport, RetryPolicy};

/// The `User-Agent` sent (protocols §2.2: `applicationName/applicationVersion`).
pub const USER_AGENT: &str = concat!("snowpat/", env!("CARGO_PKG_VERSION"));

/// One statement (or a batch of statements for a multi-statement request) and its request
/// options. `Debug` never shows the text.
#[derive(Clone)]
pub struct Statement {
    text: SecretString,
    count: u32,
    asynchronous: bool,
    timeout: Option<u64>,
    database: Option<String>,
    schema: Option<String>,
    warehouse: Option<String>,
    role: Option<String>,
    parameters: Map<String, Value>,
    request_id: Option<Uuid>,
    resubmission: bool,
}

impl Statement {
    /// One statement.
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: SecretString::from(text.into()),
            count: 1,
            asynchronous: false,
            timeout: None,
            database: None,
            schema: None,
            warehouse: None,
            role: None,
            parameters: Map::new(),
            request_id: None,
            resubmission: false,
        }
    }

    /// Several statements sent as one multi-statement request (protocols §2.6), with
    /// `MULTI_STATEMENT_COUNT` set to their number. Trailing semicolons are dropped; the texts are
    /// joined with `;`.
    #[must_use]
    pub fn multi<I, S>(statements: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let parts: Vec<String> = statements
            .into_iter()
            .map(|s| s.as_ref().trim().trim_end_matches(';').to_owned())
            .collect();
        let count = u32::try_from(parts.len()).unwrap_or(u32::MAX);
        let mut statement = Self::new(parts.join(";\n"));
        statement.count = count;
        statement
    }

    /// Number of statements (1 unless built by [`Statement::multi`]).
    #[must_use]
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Submit with `async=true`: Snowflake answers 202 at once and the client polls the handle
    /// (protocols §2.3, §2.5).
    #[must_use]
    pub fn asynchronous(mut self) -> Self {
        self.asynchronous = true;
        self
    }

    /// Role for this request (case-sensitive, protocols §2.4).
    #[must_use]
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// Warehouse for this request.
    #[must_use]
    pub fn warehouse(mut self, warehouse: impl Into<String>) -> Self {
        self.warehouse = Some(warehouse.into());
        self
    }

    /// Database for this request.
    #[must_use]
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// Schema for this request.
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Statement timeout in seconds (0: the maximum).
    #[must_use]
    pub fn timeout_seconds(mut self, seconds: u64) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// A session parameter (`query_tag`, ...).
    #[must_use]
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }

    /// Send with this `requestId` instead of a fresh one, so a caller that recorded it before
    /// sending (a journal) can resubmit the same request after a crash (protocols §2.8).
    #[must_use]
    pub fn request_id(mut self, request_id: Uuid) -> Self {
        self.request_id = Some(request_id);
        self
    }

    /// Mark even the first attempt `retry=true`: Snowflake answers with the original result of
    /// the `requestId` if it already ran, instead of running it again (protocols §2.8).
    #[must_use]
    pub fn resubmission(mut self) -> Self {
        self.resubmission = true;
        self
    }

    /// The `requestId` set by [`Statement::request_id`], if any.
    #[must_use]
    pub fn fixed_request_id(&self) -> Option<Uuid> {
        self.request_id
    }

    /// The request body (protocols §2.4).
    fn body(&self, defaults: &Context) -> Value {
        let mut body = Map::new();
        body.insert(
            "statement".into(),
            Value::String(self.text.expose_secret().to_owned()),
        );
        let pick = |own: &Option<String>, default: &Option<String>| own.clone().or(default.clone());
        for (key, value) in [
            ("database", pick(&self.database, &defaults.database)),
            ("schema", pick(&self.schema, &defaults.schema)),
            ("warehouse", pick(&self.warehouse, &defaults.warehouse)),
            ("role", pick(&self.role, &defaults.role)),
        ] {
            if let Some(value) = value {
                body.insert(key.into(), Value::String(value));
            }
        }
        if let Some(timeout) = self.timeout {
            body.insert("timeout".into(), json!(timeout));
        }
        let mut parameters = self.parameters.clone();
        if self.count != 1 {
            parameters.insert(
                "MULTI_STATEMENT_COUNT".into(),
                Value::String(self.count.to_string()),
            );
        }
        if !parameters.is_empty() {
            body.insert("parameters".into(), Value::Object(parameters));
        }
        Value::Object(body)
    }
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement")
            .field("count", &self.count)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// Defaults applied to requests that do not set their own.
#[derive(Clone, Debug, Default)]
struct Context {
    database: Option<String>,
    schema: Option<String>,
    warehouse: Option<String>,
    role: Option<String>,
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    base: BaseUrl,
    credential: Credential,
    retry: RetryPolicy,
    context: Context,
    request_timeout: Duration,
    connect_timeout: Duration,
    poll_timeout: Duration,
    poll_interval: Duration,
    poll_max_interval: Duration,
    limiter: Option<Arc<AimdLimiter>>,
}

impl ClientBuilder {
    /// Retry policy (attempt budget and backoff).
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Default role for requests that name none.
    #[must_use]
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.context.role = Some(role.into());
        self
    }

    /// Default warehouse.
    #[must_use]
    pub fn warehouse(mut self, warehouse: impl Into<String>) -> Self {
        self.context.warehouse = Some(warehouse.into());
        self
    }

    /// Default database.
    #[must_use]
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.context.database = Some(database.into());
        self
    }

    /// Default schema.
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.context.schema = Some(schema.into());
        self
    }

    /// Per-HTTP-request timeout (default 90 s; the SQL API holds a POST up to 45 s before 202).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// TCP connect timeout (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long to poll a statement answered 202 before giving up (default 1 hour).
    #[must_use]
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = timeout;
        self
    }

    /// First poll interval; it doubles up to 5 s (default 50 ms).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// An adaptive limiter every HTTP attempt takes a permit from.
    #[must_use]
    pub fn limiter(mut self, limiter: Arc<AimdLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Builds the client (one connection pool, reused by every request).
    pub fn build(self) -> Result<Client, Error> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .use_rustls_tls()
            .gzip(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(ConfigError::Http)?;
        let statements_url = self.base.join("api/v2/statements")?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base: self.base,
                statements_url,
                credential: self.credential,
                retry: self.retry,
                context: self.context,
                poll_timeout: self.poll_timeout,
                poll_interval: self.poll_interval,
                poll_max_interval: self.poll_max_interval,
                limiter: self.limiter,
            }),
        })
    }
}

/// A SQL API v2 client. Cheap to clone; clones share the connection pool and the credential.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: BaseUrl,
    statements_url: Url,
    credential: Credential,
    retry: RetryPolicy,
    context: Context,
    poll_timeout: Duration,
    poll_interval: Duration,
    poll_max_interval: Duration,
    limiter: Option<Arc<AimdLimiter>>,
}

/// The bookkeeping of one logical call, across its HTTP attempts.
struct Call {
    request_id: Uuid,
    started: Instant,
    retries: u32,
    reauthenticated: bool,
}

impl Call {
    fn new() -> Self {
        Self {
            request_id: Uuid::new_v4(),
            started: Instant::now(),
            retries: 0,
            reauthenticated: false,
        }
    }

    fn fail(&self, kind: ErrorKind) -> Error {
        Error::new(kind).with_context(Some(self.request_id), self.retries, self.started.elapsed())
    }
}

/// A final (non-retried) HTTP answer.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl Client {
    /// A builder for requests to `base` authenticated by `credential`.
    #[must_use]
    pub fn builder(base: BaseUrl, credential: Credential) -> ClientBuilder {
        ClientBuilder {
            base,
            credential,
            retry: RetryPolicy::default(),
            context: Context::default(),
            request_timeout: Duration::from_secs(90),
            connect_timeout: Duration::from_secs(10),
            poll_timeout: Duration::from_secs(3600),
            poll_interval: Duration::from_millis(50),
            poll_max_interval: Duration::from_secs(5),
            limiter: None,
        }
    }

    /// A client for the same account and settings, sharing this one's connection pool and
    /// limiter, authenticated by another credential (e.g. to prove a freshly minted PAT works).
    #[must_use]
    pub fn with_credential(&self, credential: Credential) -> Self {
        let inner = &*self.inner;
        Self {
            inner: Arc::new(Inner {
                http: inner.http.clone(),
                base: inner.base.clone(),
                statements_url: inner.statements_url.clone(),
                credential,
                retry: inner.retry.clone(),
                context: inner.context.clone(),
                poll_timeout: inner.poll_timeout,
                poll_interval: inner.poll_interval,
                poll_max_interval: inner.poll_max_interval,
                limiter: inner.limiter.clone(),
            }),
        }
    }

    /// The base URL requests go to.
    #[must_use]
    pub fn base_url(&self) -> &BaseUrl {
        &self.inner.base
    }

    /// The attached limiter, if any.
    #[must_use]
    pub fn limiter(&self) -> Option<&Arc<AimdLimiter>> {
        self.inner.limiter.as_ref()
    }

    /// Runs one statement (or, for [`Statement::multi`], the whole batch, returning the parent
    /// result whose [`ResultSet::statement_handles`] name the children) and returns its complete
    /// result: 202 answers are polled, later partitions fetched.
    pub async fn execute(&self, statement: &Statement) -> Result<ResultSet, Error> {
        let mut call = Call::new();
        if let Some(request_id) = statement.request_id {
            call.request_id = request_id;
        }
        let resubmission = statement.resubmission;
        let body = serde_json::to_vec(&statement.body(&self.inner.context))
            .map_err(|e| call.fail(ErrorKind::Decode(format!("cannot encode the request: {e}"))))?;
        let url = self.inner.statements_url.clone();
        let request_id = call.request_id.to_string();
        let asynchronous = statement.asynchronous;
        let answer = self
            .send(&mut call, |http, retry| {
                let mut query = vec![("requestId", request_id.as_str())];
                if retry || resubmission {
                    query.push(("retry", "true"));
                }
                if asynchronous {
                    query.push(("async", "true"));
                }
                http.post(url.clone())
                    .query(&query)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        self.complete(&mut call, answer).await
    }

    /// Runs a multi-statement request (protocols §2.6) and fetches every child result, in order.
    pub async fn execute_multi(&self, statement: &Statement) -> Result<Vec<ResultSet>, Error> {
        let parent = self.execute(statement).await?;
        if parent.statement_handles.is_empty() {
            return Ok(vec![parent]);
        }
        let mut results = Vec::with_capacity(parent.statement_handles.len());
        for handle in &parent.statement_handles {
            results.push(self.fetch(handle).await?);
        }
        Ok(results)
    }

    /// The result of a statement by handle (GET, polling while it runs, all partitions).
    pub async fn fetch(&self, statement_handle: &str) -> Result<ResultSet, Error> {
        let mut call = Call::new();
        let answer = self.get_handle(&mut call, statement_handle, None).await?;
        self.complete(&mut call, answer).await
    }

    /// Cancels a statement (protocols §2.9).
    pub async fn cancel(&self, statement_handle: &str) -> Result<(), Error> {
        let mut call = Call::new();
        let url = self.handle_url(&call, statement_handle, Some("cancel"))?;
        let request_id = call.request_id.to_string();
        let answer = self
            .send(&mut call, |http, _| {
                http.post(url.clone())
                    .query(&[("requestId", request_id.as_str())])
                    .header(CONTENT_TYPE, "application/json")
                    .body("{}")
            })
            .await?;
        if answer.status == StatusCode::OK {
            Ok(())
        } else {
            Err(call.fail(ErrorKind::Api(api_error(answer.status, &answer.body))))
        }
    }

    /// Runs many statements concurrently, at most `concurrency` at once; with a limiter attached
    /// ([`ClientBuilder::limiter`]) the number actually on the wire adapts to 429s. Results come
    /// back in the order of `statements`.
    pub async fn execute_all(
        &self,
        statements: Vec<Statement>,
        concurrency: usize,
    ) -> Vec<Result<ResultSet, Error>> {
        let gate = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        let total = statements.len();
        for (index, statement) in statements.into_iter().enumerate() {
            let client = self.clone();
            let gate = Arc::clone(&gate);
            tasks.spawn(async move {
                let _slot = gate.acquire_owned().await;
                (index, client.execute(&statement).await)
            });
        }
        let mut results: Vec<Option<Result<ResultSet, Error>>> = (0..total).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, result)) => {
                    if let Some(slot) = results.get_mut(index) {
                        *slot = Some(result);
                    }
                }
                Err(e) => warn!(error = %e, "a bulk statement task ended abnormally"),
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::new(ErrorKind::Decode(
                        "the statement's task ended without a result".into(),
                    )))
                })
            })
            .collect()
    }

    /// Turns a final answer into a result: 200 → rows (and partitions), 202 → poll, else error.
    async fn complete(&self, call: &mut Call, answer: Answer) -> Result<ResultSet, Error> {
        let mut answer = answer;
        let mut interval = self.inner.poll_interval;
        loop {
            match answer.status {
                StatusCode::OK => return self.decode_result(call, &answer.body).await,
                StatusCode::ACCEPTED => {
                    let wire: WireResponse =
                        serde_json::from_slice(&answer.body).map_err(|_| {
                            call.fail(ErrorKind::Decode("a 202 body that is not JSON".into()))
                        })?;
                    let handle = wire.statement_handle.ok_or_else(|| {
                        call.fail(ErrorKind::Decode(
                            "a 202 answer without statementHandle".into(),
                        ))
                    })?;
                    let waited = call.started.elapsed();
                    if waited >= self.inner.poll_timeout {
                        return Err(call.fail(ErrorKind::PollTimeout {
                            statement_handle: handle,
                            waited,
                        }));
                    }
                    debug!(request_id = %call.request_id, handle = %handle, "statement still running; polling");
                    tokio::time::sleep(interval).await;
                    interval = (interval * 2).min(self.inner.poll_max_interval);
                    answer = self.get_handle(call, &handle, None).await?;
                }
                status => return Err(call.fail(ErrorKind::Api(api_error(status, &answer.body)))),
            }
        }
    }

    async fn decode_result(&self, call: &mut Call, body: &[u8]) -> Result<ResultSet, Error> {
        let wire: WireResponse = serde_json::from_slice(body).map_err(|_| {
            call.fail(ErrorKind::Decode(
                "a 200 body that is not a ResultSet".into(),
            ))
        })?;
        let (mut result, meta) = wire
            .into_result_set()
            .map_err(|what| call.fail(ErrorKind::Decode(what)))?;
        let partitions = meta.partition_info;
        check_rows(call, &partitions, 0, result.rows.len())?;
        for index in 1..partitions.len() {
            let answer = self
                .get_handle(call, &result.statement_handle.clone(), Some(index))
                .await?;
            if answer.status != StatusCode::OK {
                return Err(call.fail(ErrorKind::Api(api_error(answer.status, &answer.body))));
            }
            let data: WirePartitionData = serde_json::from_slice(&answer.body).map_err(|_| {
                call.fail(ErrorKind::Decode(format!(
                    "partition {index} is not {{\"data\": [...]}}"
                )))
            })?;
            let rows = to_rows(&result.columns, data.data).map_err(|what| {
                call.fail(ErrorKind::Decode(format!("partition {index}: {what}")))
            })?;
            check_rows(call, &partitions, index, rows.len())?;
            result.rows.extend(rows);
        }
        if let Some(expected) = meta.num_rows {
            if u64::try_from(result.rows.len()).ok() != Some(expected) {
                return Err(call.fail(ErrorKind::Decode(format!(
                    "{} rows received, numRows says {expected}",
                    result.rows.len()
                ))));
            }
        }
        debug!(
            request_id = %call.request_id,
            handle = %result.statement_handle,
            rows = result.rows.len(),
            partitions = partitions.len().max(1),
            retries = call.retries,
            "statement succeeded"
        );
        Ok(result)
    }

    fn handle_url(&self, call: &Call, handle: &str, suffix: Option<&str>) -> Result<Url, Error> {
        if handle.is_empty()
            || !handle
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(call.fail(ErrorKind::Decode(
                "a statement handle with unexpected characters".into(),
            )));
        }
        let path = match suffix {
            Some(suffix) => format!("api/v2/statements/{handle}/{suffix}"),
            None => format!("api/v2/statements/{handle}"),
        };
        self.inner
            .base
            .join(&path)
            .map_err(|e| call.fail(ErrorKind::Config(e)))
    }

    async fn get_handle(
        &self,
        call: &mut Call,
        handle: &str,
        partition: Option<usize>,
    ) -> Result<Answer, Error> {
        let url = self.handle_url(call, handle, None)?;
        let request_id = call.request_id.to_string();
        let partition = partition.map(|p| p.to_string());
        self.send(call, |http, _| {
            let mut query = vec![("requestId", request_id.as_str())];
            if let Some(p) = &partition {
                query.push(("partition", p.as_str()));
            }
            http.get(url.clone()).query(&query)
        })
        .await
    }

    /// Sends one request with retries (protocols §9). `build(http, retry)` makes the request;
    /// `retry` is true from the second attempt. Returns the first answer that is not retried.
    async fn send(
        &self,
        call: &mut Call,
        build: impl Fn(&reqwest::Client, bool) -> RequestBuilder,
    ) -> Result<Answer, Error> {
        let inner = &*self.inner;
        let max_attempts = inner.retry.max_attempts.max(1);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let retry = call.retries > 0;
            let token = inner
                .credential
                .bearer()
                .map_err(|e| call.fail(ErrorKind::Auth(e)))?;
            let mut permit = match &inner.limiter {
                Some(limiter) => Some(limiter.acquire().await),
                None => None,
            };
            trace!(request_id = %call.request_id, attempt, retry, "sending");
            let outcome = authorize(
                build(&inner.http, retry),
                &token,
                inner.credential.token_type(),
            )
            .header(ACCEPT, "application/json")
            .send()
            .await;
            drop(token);
            let failure = match outcome {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers());
                    match response.bytes().await {
                        Ok(body) => {
                            if let Some(limiter) = &inner.limiter {
                                if overload_status(status) {
                                    limiter.on_overload();
                                } else {
                                    limiter.on_success();
                                }
                            }
                            permit = None;
                            debug!(request_id = %call.request_id, attempt, status = status.as_u16(), "answer");
                            if status == StatusCode::UNAUTHORIZED
                                && inner.credential.renewable()
                                && !call.reauthenticated
                            {
                                // Re-authenticate once (protocols §9): sign a new JWT.
                                inner.credential.invalidate();
                                call.reauthenticated = true;
                                call.retries += 1;
                                continue;
                            }
                            if !retryable_status(status) {
                                return Ok(Answer {
                                    status,
                                    body: body.to_vec(),
                                });
                            }
                            Failure::Status(status, body.to_vec(), retry_after)
                        }
                        Err(e) => Failure::Transport(e),
                    }
                }
                Err(e) => Failure::Transport(e),
            };
            // No slot is held through the backoff.
            drop(permit);
            let (retryable, floor) = match &failure {
                Failure::Transport(e) => {
                    debug!(request_id = %call.request_id, attempt, kind = transport_kind(e), "transport failure");
                    (retryable_transport(e), None)
                }
                Failure::Status(status, _, retry_after) => {
                    debug!(request_id = %call.request_id, attempt, status = status.as_u16(), "retryable status");
                    (true, *retry_after)
                }
            };
            if !retryable || attempt >= max_attempts {
                let kind = match failure {
                    Failure::Transport(e) => ErrorKind::Transport(e.without_url()),
                    Failure::Status(status, body, _) => ErrorKind::Api(api_error(status, &body)),
                };
                let error = call.fail(kind);
                if !retryable {
                    return Err(error);
                }
                warn!(request_id = %call.request_id, attempts = attempt, "retry budget exhausted");
                return Err(error.exhausted());
            }
            call.retries += 1;
            let delay = inner.retry.delay(attempt, floor);
            tokio::time::sleep(delay).await;
        }
    }
}

/// The one place a bearer token is exposed: reqwest's `bearer_auth` marks the header sensitive.
fn authorize(
    request: RequestBuilder,
    token: &SecretString,
    token_type: &'static str,
) -> RequestBuilder {
    request
        .bearer_auth(token.expose_secret())
        .header(TOKEN_TYPE_HEADER, token_type)
}

enum Failure {
    Transport(reqwest::Error),
    Status(StatusCode, Vec<u8>, Option<Duration>),
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_connect() {
        "connect"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "connection closed"
    }
}

/// An [`ApiError`] from an error answer; a body that is not JSON leaves the fields empty.
fn api_error(status: StatusCode, body: &[u8]) -> ApiError {
    let wire: WireResponse = serde_json::from_slice(body).unwrap_or_default();
    ApiError {
        status: status.as_u16(),
        code: wire.code.map(|c| crate::codes::normalize(&c)),
        sql_state: wire.sql_state,
        message: wire.message,
        statement_handle: wire.statement_handle,
    }
}

/// Rows of partition `index` must match `partitionInfo[index].rowCount` when it is given.
fn check_rows(
    call: &Call,
    partitions: &[WirePartition],
    index: usize,
    rows: usize,
) -> Result<(), Error> {
    let expected = partitions.get(index).and_then(|p| p.row_count);
    match expected {
        Some(expected) if u64::try_from(rows).ok() != Some(expected) => {
            Err(call.fail(ErrorKind::Decode(format!(
                "partition {index} has {rows} rows, partitionInfo says {expected}"
            ))))
        }
        _ => Ok(()),
    }
}
