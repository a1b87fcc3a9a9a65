//! The request log behind `GET /emulator/v1/log`: what was asked, by whom, and whether it changed
//! the account. Never a literal, never a secret: statements appear as their kind and object name.

use std::collections::VecDeque;

use serde::Serialize;

/// Lines kept in memory; older ones are forgotten (their `seq` numbers are never reused).
const MAX_LINES: usize = 500_000;

/// One line of the request log (`interfaces.md`, control API).
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct LogLine {
    /// Assigned by [`RequestLog::push`], from 1.
    pub seq: u64,
    /// Account clock, RFC 3339.
    pub at: String,
    /// TCP peer address.
    pub peer: String,
    /// `POST /api/v2/statements`, `GET /api/v2/statements/{handle}`, ...
    pub endpoint: String,
    pub user: Option<String>,
    pub role: Option<String>,
    /// `pat`, `keypair`, `oauth`, `password`, `internal`.
    pub auth: Option<&'static str>,
    pub request_id: Option<String>,
    pub retry: bool,
    pub statement_kind: Option<String>,
    pub object: Option<String>,
    /// Whether the account changed.
    pub executed: bool,
    /// Snowflake code of the answer (`090001`, `394400`, ...), if it had one.
    pub code: Option<String>,
    /// HTTP status of the answer.
    pub status: u16,
    pub statement_handle: Option<String>,
}

#[derive(Default)]
pub(crate) struct RequestLog {
    lines: VecDeque<LogLine>,
    next_seq: u64,
}

impl RequestLog {
    pub(crate) fn push(&mut self, mut line: LogLine) {
        self.next_seq += 1;
        line.seq = self.next_seq;
        tracing::info!(
            seq = line.seq,
            endpoint = %line.endpoint,
            user = line.user.as_deref().unwrap_or("-"),
            kind = line.statement_kind.as_deref().unwrap_or("-"),
            object = line.object.as_deref().unwrap_or("-"),
            executed = line.executed,
            code = line.code.as_deref().unwrap_or("-"),
            status = line.status,
            "request"
        );
        if self.lines.len() == MAX_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// Lines with `seq > since`, as JSON lines.
    pub(crate) fn since(&self, since: u64) -> String {
        let mut out = String::new();
        // Lines are in seq order; skip the prefix quickly.
        let start = self.lines.partition_point(|l| l.seq <= since);
        for line in self.lines.range(start..) {
            if let Ok(json) = serde_json::to_string(line) {
                out.push_str(&json);
                out.push('\n');
            }
        }
        out
    }
}
