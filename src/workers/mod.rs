//! Background work. Each worker is a `process_batch` function that does one round of work and returns a
//! [`BatchOutcome`] (tests call it directly), plus a `run` loop that only schedules it: a short pause after
//! work, a longer one when nothing was due, backoff on errors, and a clean exit when the shutdown token is
//! cancelled. Work is claimed with `for update skip locked`, so every replica can run every worker.
pub mod audit_retention;
pub mod mail_outbox;
pub mod provider_tokens;
pub mod rate_limits;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// What one round of a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Items attempted in this round, whether they succeeded or not.
    pub processed: usize,
    /// Of those, how many failed (and were rescheduled or given up on).
    pub failed: usize,
    /// Nothing was due.
    pub empty: bool,
}

/// Starts every worker; each ends with its name and how it ended once `shutdown` is cancelled.
pub fn spawn_all(state: &AppState, shutdown: &CancellationToken) -> JoinSet<(&'static str, anyhow::Result<()>)> {
    let mut workers = JoinSet::new();
    let (pool, mail, clock, stop) = (state.pool.clone(), state.mail.clone(), state.clock.clone(), shutdown.clone());
    workers.spawn(async move {
        mail_outbox::run(pool, mail, clock, stop).await;
        ("mail outbox", Ok(()))
    });
    let (audit_state, stop) = (state.clone(), shutdown.clone());
    workers.spawn(async move {
        audit_retention::run(audit_state, stop).await;
        ("audit retention", Ok(()))
    });
    if !state.providers.is_empty() {
        let (state, stop) = (state.clone(), shutdown.clone());
        workers.spawn(async move {
            provider_tokens::run(state, stop).await;
            ("provider token refresh", Ok(()))
        });
    }
    if state.rate_limiter.config.enabled && state.rate_limiter.config.redis_url.is_none() {
        let (pool, clock, stop) = (state.pool.clone(), state.clock.clone(), shutdown.clone());
        workers.spawn(async move {
            rate_limits::run(pool, clock, stop).await;
            ("rate limit pruning", Ok(()))
        });
    }
    workers
}
