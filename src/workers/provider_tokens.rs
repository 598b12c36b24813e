//! The provider-token refresh worker: keeps the access tokens of linked identities fresh before they
//! expire, so applications calling provider APIs on their users' behalf always find a usable token. A round
//! claims due rows of `auth.oauth_token_refresh_queue` with a lease in one short statement (`for update skip
//! locked`, so every replica can run it and none claims another's rows), refreshes each through the provider
//! adapter, a bounded number at once and without holding any row lock across the provider call, then
//! records each outcome in its own short transaction ([`crate::flows::token_refresh`]). A worker that dies
//! mid-round leaves its rows leased; they are offered again when the lease ends.
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::BatchOutcome;
use crate::config::{Env, Setting};
use crate::db;
use crate::flows::token_refresh::{self, LEASE, Outcome};
use crate::state::AppState;

pub const INTERVAL: Setting = Setting::new(
    "AUTH_PROVIDER_TOKEN_REFRESH_INTERVAL",
    Some("30"),
    "seconds the provider-token refresh worker sleeps when nothing is due",
);
pub const BATCH_SIZE: Setting = Setting::new(
    "AUTH_PROVIDER_TOKEN_REFRESH_BATCH_SIZE",
    Some("100"),
    "provider tokens one round of the refresh worker claims",
);
pub const CONCURRENCY: Setting = Setting::new(
    "AUTH_PROVIDER_TOKEN_REFRESH_CONCURRENCY",
    Some("8"),
    "provider token refreshes in flight at once, per replica",
);

pub const SETTINGS: &[&Setting] = &[&INTERVAL, &BATCH_SIZE, &CONCURRENCY];

/// Pause between rounds while tokens keep coming due.
const PAUSE_AFTER_WORK: Duration = Duration::from_millis(10);
/// Longest pause after repeated errors (database down).
const MAX_ERROR_PAUSE: Duration = Duration::from_secs(30);
/// First pause after a failed round; doubled after each further one.
const FIRST_ERROR_PAUSE: Duration = Duration::from_millis(250);

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub interval: Duration,
    pub batch_size: u32,
    pub concurrency: u32,
}

impl WorkerConfig {
    pub fn load(env: &mut Env) -> WorkerConfig {
        let interval = env.parsed::<u32>(&INTERVAL);
        let batch_size = env.parsed::<u32>(&BATCH_SIZE);
        let concurrency = env.parsed::<u32>(&CONCURRENCY);
        for (setting, value) in [(&INTERVAL, interval), (&BATCH_SIZE, batch_size), (&CONCURRENCY, concurrency)] {
            if value == 0 {
                env.problem(setting, "must be at least 1");
            }
        }
        WorkerConfig {
            interval: Duration::from_secs(u64::from(interval.max(1))),
            batch_size: batch_size.max(1),
            concurrency: concurrency.max(1),
        }
    }
}

/// One round: claims up to a batch of due rows and refreshes each once, at most the configured number at
/// once. `failed` counts refreshes that failed (refused, or an outage) and rows that could not be recorded.
pub async fn process_batch(state: &AppState) -> anyhow::Result<BatchOutcome> {
    let settings = &state.config.token_refresh_worker;
    let now = state.clock.now();
    let claimed = {
        let client = state.pool.get().await.context("provider tokens: no database connection")?;
        db::refresh_queue::claim_due_refreshes(
            &client,
            now,
            now + LEASE,
            state.random.uuid(),
            i64::from(settings.batch_size),
        )
        .await
        .context("provider tokens: claim")?
    };
    let mut outcome = BatchOutcome { processed: claimed.len(), failed: 0, empty: claimed.is_empty() };
    let permits = Arc::new(Semaphore::new(usize::try_from(settings.concurrency).unwrap_or(1)));
    let mut refreshes = JoinSet::new();
    for lease in claimed {
        let permit = permits.clone().acquire_owned().await.context("provider tokens: concurrency limit")?;
        let state = state.clone();
        refreshes.spawn(async move {
            let _permit = permit;
            let result = token_refresh::refresh_leased(&state, &lease, true).await;
            (lease, result)
        });
    }
    while let Some(joined) = refreshes.join_next().await {
        match joined {
            Ok((_, Ok(Outcome::Refreshed { .. } | Outcome::NotRefreshable | Outcome::Abandoned))) => {}
            Ok((_, Ok(Outcome::Refused { .. } | Outcome::Failed { .. }))) => outcome.failed += 1,
            Ok((lease, Err(error))) => {
                outcome.failed += 1;
                tracing::error!(identity_id = %lease.identity_id, error = ?error,
                    "provider token refresh could not be recorded; retried when its lease ends");
            }
            Err(error) => {
                outcome.failed += 1;
                tracing::error!(%error, "a provider token refresh crashed");
            }
        }
    }
    Ok(outcome)
}

/// Rounds until nothing is due (the work of `hauth oauth refresh once`).
pub async fn process_due(state: &AppState) -> anyhow::Result<BatchOutcome> {
    let mut total = BatchOutcome { processed: 0, failed: 0, empty: true };
    loop {
        let round = process_batch(state).await?;
        if round.empty {
            return Ok(total);
        }
        total.processed += round.processed;
        total.failed += round.failed;
        total.empty = false;
    }
}

/// The worker loop: runs [`process_batch`] until `shutdown` is cancelled, pausing briefly after work, for the
/// configured interval when nothing was due, and longer and longer after errors (the database is down: it
/// is logged, and the worker goes back to work when it answers again). A round in progress is finished
/// before exiting, so no outcome is left unrecorded.
pub async fn run(state: AppState, shutdown: CancellationToken) {
    let settings = state.config.token_refresh_worker.clone();
    tracing::info!(
        concurrency = settings.concurrency,
        batch_size = settings.batch_size,
        "provider token refresh worker started"
    );
    let mut consecutive_errors: u32 = 0;
    while !shutdown.is_cancelled() {
        let pause = match process_batch(&state).await {
            Ok(outcome) => {
                if consecutive_errors > 0 {
                    tracing::info!("provider token refresh worker recovered");
                }
                consecutive_errors = 0;
                if outcome.processed > 0 {
                    tracing::debug!(processed = outcome.processed, failed = outcome.failed, "provider token round");
                }
                if outcome.empty { settings.interval } else { PAUSE_AFTER_WORK }
            }
            Err(e) => {
                consecutive_errors = consecutive_errors.saturating_add(1);
                tracing::error!(error = format!("{e:#}"), consecutive_errors, "provider token refresh round failed");
                FIRST_ERROR_PAUSE.saturating_mul(2u32.saturating_pow(consecutive_errors.min(16))).min(MAX_ERROR_PAUSE)
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    tracing::info!("provider token refresh worker stopped");
}
