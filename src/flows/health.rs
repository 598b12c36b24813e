//! Readiness and the gauges `/metrics` reads when scraped: whether the database answers and carries every
//! migration this version knows, how the connection pool is used, how deep the mail outbox is, and the
//! provider refresh queue's rows by state and lag.
use crate::db;
use crate::error::AuthError;
use crate::state::AppState;

/// Ready when the database answers and is fully migrated; `DatabaseUnavailable` otherwise.
pub async fn ready(state: &AppState) -> Result<(), AuthError> {
    let client = db::client(&state.pool).await?;
    let applied = db::applied_version(&client).await?;
    let expected = db::migrate::latest_version();
    if applied < expected {
        tracing::warn!(applied, expected, "not ready: migrations pending");
        return Err(AuthError::DatabaseUnavailable);
    }
    Ok(())
}

/// Sets the gauges that are read rather than counted. Without the database the outbox and queue gauges keep
/// their last values: metrics keep answering during an outage.
pub async fn refresh_gauges(state: &AppState) {
    let metrics = &state.metrics;
    let pool = state.pool.status();
    metrics.db_pool.with_label_values(&["size"]).set(pool.size as i64);
    metrics.db_pool.with_label_values(&["available"]).set(pool.available as i64);
    metrics.db_pool.with_label_values(&["max"]).set(pool.max_size as i64);
    let Ok(client) = db::client(&state.pool).await else { return };
    if let Ok(depth) = db::outbox::count_waiting(&client).await {
        metrics.mail_outbox_depth.set(depth);
    }
    let now = state.clock.now();
    if let Ok(queue) = db::refresh_queue::select_queue_status(&client, now).await {
        let rows = [
            ("waiting", queue.depth),
            ("due", queue.due),
            ("in-flight", queue.in_flight),
            ("retrying", queue.retrying),
            ("exhausted", queue.exhausted),
            ("not-refreshable", queue.not_refreshable),
        ];
        for (label, count) in rows {
            metrics.provider_refresh_queue.with_label_values(&[label]).set(count);
        }
        let lag = queue.oldest_due_at.map_or(0, |at| (now - at).num_seconds().max(0));
        metrics.provider_refresh_lag.set(lag);
    }
}
