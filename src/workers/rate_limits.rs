//! Prunes spent rate-limit state from `auth.rate_limits`: a key whose theoretical arrival time has passed
//! would allow a full burst anyway, so its row carries nothing. Any number of replicas may run it.
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::BatchOutcome;
use crate::clock::Clock;
use crate::db::Pool;
use crate::error::AuthError;
use crate::flows::rate_limit::RateLimiter;

/// How often spent keys are deleted.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// One round: deletes every spent key.
pub async fn process_batch(pool: &Pool, clock: &Clock) -> Result<BatchOutcome, AuthError> {
    let pruned = RateLimiter::prune(pool, clock.now()).await? as usize;
    Ok(BatchOutcome { processed: pruned, failed: 0, empty: pruned == 0 })
}

/// Prunes every minute until `shutdown` is cancelled.
pub async fn run(pool: Pool, clock: Clock, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        if let Err(error) = process_batch(&pool, &clock).await {
            tracing::warn!(error = %error, "pruning rate limits failed");
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(PRUNE_INTERVAL) => {}
        }
    }
}
