//! Faults: random ones (`--latency-ms`, `--fault-rate`, `--drop-rate`, seeded by `--seed`) on
//! every Snowflake-facing request, and scripted ones (`POST /emulator/v1/faults`) on statements.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::log::LogLine;
use super::state::{lock, Shared};
use super::wire::{self, peer_of};
use super::ConnectionKiller;
use crate::engine::SqlError;

/// Marks a response whose request ran something (a statement, an inference): only those may be
/// dropped by `--drop-rate`.
#[derive(Clone, Copy)]
pub(crate) struct Executed;

/// A scripted fault: the next `times` statements of `statement_kind` fail with `code`.
pub(crate) struct ScriptedFault {
    pub statement_kind: String,
    pub code: String,
    pub times: u32,
}

pub(crate) struct FaultState {
    rng: StdRng,
    scripted: Vec<ScriptedFault>,
}

/// What the generator decided for one request.
struct Draw {
    fault: Option<StatusCode>,
    drop: bool,
}

impl FaultState {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            scripted: Vec::new(),
        }
    }

    /// Draws in a fixed order (fault, 429-or-503, drop) so one seed gives one sequence.
    fn draw(&mut self, fault_rate: f64, drop_rate: f64) -> Draw {
        let fault = if fault_rate > 0.0 && self.rng.gen::<f64>() < fault_rate {
            Some(if self.rng.gen_bool(0.5) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            })
        } else {
            None
        };
        let drop = drop_rate > 0.0 && self.rng.gen::<f64>() < drop_rate;
        Draw { fault, drop }
    }

    pub(crate) fn add(&mut self, fault: ScriptedFault) {
        self.scripted.push(fault);
    }

    /// Consumes one matching scripted fault, if any, as the error the statement fails with.
    pub(crate) fn take(&mut self, statement_kind: &str) -> Option<SqlError> {
        let index = self
            .scripted
            .iter()
            .position(|f| f.times > 0 && f.statement_kind.eq_ignore_ascii_case(statement_kind))?;
        let fault = &mut self.scripted[index];
        fault.times -= 1;
        let error = scripted_error(&fault.code);
        if fault.times == 0 {
            self.scripted.remove(index);
        }
        Some(error)
    }
}

/// The error for a scripted code: sqlState and message of `snowflake-behaviour.md` §9 where the
/// code is listed (placeholders filled generically), else a generic message.
pub(crate) fn scripted_error(code: &str) -> SqlError {
    let (state, message) = match code {
        "000904" => ("42000", "SQL compilation error: error line 1 at position 0\ninvalid identifier 'INJECTED'"),
        "001003" => ("42000", "SQL compilation error:\nsyntax error line 1 at position 0 unexpected 'INJECTED'."),
        "002002" => ("42710", "SQL compilation error:\nObject 'INJECTED' already exists."),
        "002003" => ("42S02", "SQL compilation error:\nObject 'INJECTED' does not exist or not authorized."),
        "003001" => ("42501", "SQL access control error:\nInsufficient privileges to operate on object 'INJECTED'"),
        "003013" => ("42501", "SQL access control error:\nRequested role 'INJECTED' is not assigned to the executing user.  Specify another role to activate."),
        "099413" => ("42501", "Programmatic access tokens cannot be modified in a session authenticated with a programmatic access token for the same user."),
        "099420" => ("42501", "Programmatic access tokens created in an OAuth session require a role restriction."),
        "099901" => ("42710", "Programmatic access token INJECTED already exists."),
        "099902" => ("02000", "Programmatic access token INJECTED not found"),
        "099903" => ("54000", "Maximum number of programmatic access tokens (15) reached for user INJECTED."),
        "099904" => ("22023", "Role restriction is required when creating a programmatic access token"),
        "099911" => ("42501", "Network policy is required."),
        "000630" => ("57014", "Statement reached its statement or warehouse timeout of 0 second(s) and was canceled."),
        "000604" => ("57014", "SQL execution canceled"),
        "000603" => ("XX000", "SQL execution internal error: Processing aborted due to error 300005:0; incident 0."),
        _ => ("P0000", "Injected fault."),
    };
    SqlError::new(code, state, message)
}

/// The middleware on Snowflake-facing routes.
pub(crate) async fn layer(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let config = &shared.config;
    let draw = lock(&shared.faults).draw(config.fault_rate, config.drop_rate);
    if config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(config.latency_ms)).await;
    }
    if let Some(status) = draw.fault {
        let (code, message) = if status == StatusCode::TOO_MANY_REQUESTS {
            ("390505", "Too many requests.")
        } else {
            ("390503", "Service temporarily unavailable.")
        };
        shared.log(LogLine {
            at: wire::rfc3339(shared.account_now()),
            peer: peer_of(&request).to_string(),
            endpoint: wire::endpoint(&request),
            code: Some(code.into()),
            status: status.as_u16(),
            ..LogLine::default()
        });
        return (
            status,
            axum::Json(json!({"code": code, "message": message})),
        )
            .into_response();
    }
    let killer = request.extensions().get::<ConnectionKiller>().cloned();
    let response = next.run(request).await;
    if draw.drop && response.extensions().get::<Executed>().is_some() {
        if let Some(killer) = killer {
            killer.kill();
            // The connection task drops this future together with the connection.
            std::future::pending::<()>().await;
        }
    }
    response
}
