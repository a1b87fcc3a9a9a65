//! Audit events: one JSON line per decision (subject, issuer, user, role, decision, reason and
//! the SHA-256 of the issued token, never the token) to a file (created 0600, appended) or stderr.

use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

/// One event.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Event {
    pub time: String,
    /// `exchange` (HTTP), `exchange-once` (the CLI), `removal`, `rotation`.
    pub event: &'static str,
    pub decision: &'static str,
    pub reason: String,
    pub policy: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub user: Option<String>,
    pub role: Option<String>,
    pub token_name: Option<String>,
    pub token_sha256: Option<String>,
    pub expires_in: Option<u64>,
    pub mode: Option<String>,
    pub remote: Option<String>,
}

/// Where events go.
pub struct AuditLog {
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

impl AuditLog {
    /// JSON lines on stderr.
    #[must_use]
    pub fn stderr() -> Self {
        Self {
            out: Mutex::new(Box::new(std::io::stderr())),
        }
    }

    /// Any writer (tests).
    #[must_use]
    pub fn writer(w: Box<dyn Write + Send>) -> Self {
        Self { out: Mutex::new(w) }
    }

    /// Appends to `path`, created 0600.
    pub fn file(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        Ok(Self {
            out: Mutex::new(Box::new(file)),
        })
    }

    /// Writes one event (failures are logged, never fatal to the request).
    pub fn emit(&self, mut event: Event) {
        event.time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let Ok(mut line) = serde_json::to_vec(&event) else {
            return;
        };
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = out.write_all(&line).and_then(|()| out.flush()) {
            tracing::warn!("cannot write an audit event: {e}");
        }
    }
}
