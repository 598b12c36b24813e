//! Queries on `auth.audit_log`: security events, each with the request that caused it.
use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{GenericClient, execute};
use crate::error::AuthError;

pub const INSERT_EVENT: &str = include_str!("sql/audit_log/insert_event.sql");

pub const SELECT_EVENTS: &str = include_str!("sql/audit_log/select_events.sql");
pub const DELETE_OLDER_THAN: &str = include_str!("sql/audit_log/delete_older_than.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("audit_log/insert_event", INSERT_EVENT),
    ("audit_log/select_events", SELECT_EVENTS),
    ("audit_log/delete_older_than", DELETE_OLDER_THAN),
];

/// A recorded event.
#[derive(Debug)]
pub struct StoredEvent {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub event: String,
    pub user_id: Option<Uuid>,
    pub provider: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub metadata: serde_json::Value,
}

/// Events, newest first: of one user or of everyone, before `before` (the page's cursor), at most `limit`.
pub async fn select_events(
    client: &impl GenericClient,
    user_id: Option<Uuid>,
    before: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<StoredEvent>, AuthError> {
    let rows = super::query(client, SELECT_EVENTS, &[&user_id, &before, &limit]).await?;
    rows.iter()
        .map(|row| {
            Ok(StoredEvent {
                id: row.try_get("id")?,
                at: row.try_get("created_at")?,
                event: row.try_get("event")?,
                user_id: row.try_get("user_id")?,
                provider: row.try_get("provider")?,
                ip: row.try_get("ip")?,
                user_agent: row.try_get("user_agent")?,
                request_id: row.try_get("request_id")?,
                metadata: row
                    .try_get::<_, Option<super::StoredJson>>("metadata")?
                    .map(|json| json.0)
                    .unwrap_or_default(),
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(super::internal)
}

/// Deletes up to `batch` events older than `cutoff`; returns how many.
pub async fn delete_older_than(
    client: &impl GenericClient,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> Result<u64, AuthError> {
    execute(client, DELETE_OLDER_THAN, &[&cutoff, &batch]).await
}

pub struct NewEvent<'a> {
    pub at: DateTime<Utc>,
    pub event: &'a str,
    pub user_id: Option<Uuid>,
    pub provider: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: &'a str,
    pub metadata: &'a serde_json::Value,
}

pub async fn insert_event(client: &impl GenericClient, event: &NewEvent<'_>) -> Result<(), AuthError> {
    let params: [&(dyn ToSql + Sync); 8] = [
        &event.at,
        &event.event,
        &event.user_id,
        &event.provider,
        &event.ip,
        &event.user_agent,
        &event.request_id,
        &event.metadata,
    ];
    execute(client, INSERT_EVENT, &params).await.map(|_| ())
}
