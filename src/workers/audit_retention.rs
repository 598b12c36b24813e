//! Prunes the audit log: events older than the retention period are deleted a batch at a time,
//! right away while there are more, then hourly. Every replica may run it; deleting is idempotent.
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::BatchOutcome;
use crate::flows::audit;
use crate::state::AppState;

const PAUSE_AFTER_WORK: Duration = Duration::from_millis(100);
const IDLE: Duration = Duration::from_secs(3600);

/// One round: one batch of expired events deleted.
pub async fn process_batch(state: &AppState) -> anyhow::Result<BatchOutcome> {
    let deleted = audit::prune_batch(state).await.map_err(|error| anyhow::anyhow!("{error:?}"))?;
    let processed = usize::try_from(deleted).unwrap_or(usize::MAX);
    Ok(BatchOutcome { processed, failed: 0, empty: processed == 0 })
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let pause = match process_batch(&state).await {
            Ok(outcome) if !outcome.empty => {
                tracing::info!(deleted = outcome.processed, "old audit events pruned");
                PAUSE_AFTER_WORK
            }
            Ok(_) => IDLE,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "pruning the audit log failed");
                IDLE
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
}
