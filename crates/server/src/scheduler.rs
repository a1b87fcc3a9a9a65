//! The rotation scheduler inside `serve` (`[scheduler] margin`, `interval`): each pass, with the
//! service's own connection and server time (`SELECT CURRENT_TIMESTAMP()`, snowflake-behaviour
//! §6.9),
//!
//! 1. removes tokens whose policy deadline passed (journalled in the store, so a restart still
//!    removes them);
//! 2. removes expired `_ROTATED_` objects of the delegated tokens the exchange minted;
//! 3. rotates every managed tenant PAT expiring within `margin`, with grace
//!    (`snowpat_core::tenants::Tenants::rotate_due`: grace = min(H, hours left)), delivering the
//!    new secret to the tenant's sink.
//!
//! Exchange tokens themselves are rotated on demand (a fresh secret nobody asked for would reach
//! no one); their lifetime is bounded by `[exchange] days`.

use std::sync::Arc;
use std::time::Duration;

use snowpat_core::store::Store;
use snowpat_core::tenants::Tenants;

use crate::audit::{AuditLog, Event};
use crate::metrics::Metrics;
use crate::mint::Minter;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub removed_at_deadline: usize,
    pub rotated_objects_removed: usize,
    pub tenants_rotated: usize,
    pub failures: usize,
}

/// The scheduler.
pub struct Scheduler<S: Store> {
    pub minter: Arc<Minter<S>>,
    pub tenants: Option<Tenants<S>>,
    pub margin: Duration,
    pub interval: Duration,
    pub audit: Arc<AuditLog>,
    pub metrics: Arc<Metrics>,
}

impl<S: Store> Scheduler<S> {
    /// One pass; failures are logged and counted, never fatal.
    pub async fn pass(&self) -> Pass {
        let mut pass = Pass::default();
        self.metrics.scheduler_run();
        match self.minter.run_due_removals().await {
            Ok(n) => pass.removed_at_deadline = n,
            Err(e) => {
                pass.failures += 1;
                tracing::warn!("deadline removals failed: {e}");
            }
        }
        match self.minter.clean_rotated().await {
            Ok(n) => pass.rotated_objects_removed = n,
            Err(e) => {
                pass.failures += 1;
                tracing::warn!("rotated-token cleanup failed: {e}");
            }
        }
        if let Some(tenants) = &self.tenants {
            match tenants.rotate_due(self.margin).await {
                Ok(results) => {
                    for (id, result) in results {
                        let mut event = Event {
                            event: "rotation",
                            subject: Some(format!("tenant:{id}")),
                            ..Event::default()
                        };
                        match result {
                            Ok(outcome) => {
                                pass.tenants_rotated += 1;
                                event.decision = "rotated";
                                event.reason = outcome.action.clone();
                                event.user = Some(outcome.user.clone());
                                event.role = Some(outcome.role.clone());
                                event.token_name = Some(outcome.token_name.clone());
                                event.token_sha256 = outcome.secret_sha256.clone();
                            }
                            Err(e) => {
                                pass.failures += 1;
                                event.decision = "failed";
                                event.reason = e.to_string();
                            }
                        }
                        self.audit.emit(event);
                    }
                }
                Err(e) => {
                    pass.failures += 1;
                    tracing::warn!("rotate-due failed: {e}");
                }
            }
        }
        pass
    }

    /// Runs passes every `interval` until `stop` fires.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let pass = self.pass().await;
            tracing::info!(?pass, "scheduler pass");
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
