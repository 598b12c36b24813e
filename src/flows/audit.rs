//! The audit log: one row in `auth.audit_log` per security event (sign-ins by method and their failures,
//! second-factor challenges, sign-ups, refresh-token reuse, changes to passwords, emails, second factors and
//! personal access tokens, sessions ended, provider links and unlinks), naming the request that caused it
//! (its id, the client's address and user agent). Events of a change are written in the change's
//! transaction; failures, which roll back, are written on their own and never fail the request. Users read
//! their own recent events, administrators everyone's; rows older than the retention period are pruned by
//! a worker.
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::config::env::{Env, Setting};
use crate::db;
use crate::error::AuthError;
use crate::state::AppState;
use crate::telemetry::current_request;

pub const RETENTION_DAYS: Setting =
    Setting::new("AUTH_AUDIT_RETENTION_DAYS", Some("90"), "days security events are kept in `auth.audit_log`");

pub const SETTINGS: &[&Setting] = &[&RETENTION_DAYS];

#[derive(Clone, Debug)]
pub struct AuditConfig {
    pub retention_days: i64,
}

impl AuditConfig {
    pub fn load(env: &mut Env) -> AuditConfig {
        AuditConfig { retention_days: env.parsed::<i64>(&RETENTION_DAYS).max(1) }
    }
}

/// The most events one page lists.
pub const PAGE_LIMIT: i64 = 100;

/// One event.
pub struct Event<'a> {
    pub name: &'a str,
    pub user_id: Option<Uuid>,
    pub provider: Option<&'a str>,
    pub metadata: serde_json::Value,
}

/// Records `event` in the caller's transaction.
pub async fn record(state: &AppState, client: &impl GenericClient, event: Event<'_>) -> Result<(), AuthError> {
    let request = current_request();
    db::audit_log::insert_event(
        client,
        &db::audit_log::NewEvent {
            at: state.clock.now(),
            event: event.name,
            user_id: event.user_id,
            provider: event.provider,
            ip: request.ip.as_deref(),
            user_agent: request.user_agent.as_deref(),
            request_id: &request.id,
            metadata: &event.metadata,
        },
    )
    .await
}

/// Records `event` on its own connection; a failure to record is logged, not returned.
pub async fn record_detached(state: &AppState, event: Event<'_>) {
    let name = event.name.to_string();
    let written = async {
        let client = db::client(&state.pool).await?;
        record(state, &client, event).await
    };
    if let Err(error) = written.await {
        tracing::error!(event = %name, error = ?error, "cannot write the audit log");
    }
}

impl<'a> Event<'a> {
    /// An event of a user, with details.
    pub fn of(name: &'a str, user_id: Uuid, metadata: serde_json::Value) -> Self {
        Event { name, user_id: Some(user_id), provider: None, metadata }
    }
}

/// A user's recent events (`GET /user/security-events`), or everyone's (the admin route) when `user_id` is
/// `None`; newest first, before `before`.
pub async fn list(
    state: &AppState,
    user_id: Option<Uuid>,
    before: Option<chrono::DateTime<chrono::Utc>>,
    limit: i64,
) -> Result<Vec<db::audit_log::StoredEvent>, AuthError> {
    let client = db::client(&state.pool).await?;
    db::audit_log::select_events(&client, user_id, before, limit.clamp(1, PAGE_LIMIT)).await
}

/// Rows deleted at most per statement when pruning, so no statement holds many locks for long.
const PRUNE_BATCH: i64 = 1000;

/// Deletes one batch of events older than the retention period; returns how many went.
pub async fn prune_batch(state: &AppState) -> Result<u64, AuthError> {
    let cutoff = state.clock.now() - chrono::TimeDelta::days(state.config.audit.retention_days);
    let client = db::client(&state.pool).await?;
    db::audit_log::delete_older_than(&client, cutoff, PRUNE_BATCH).await
}
