//! Queries on `auth.audit_log`: security events, each with the request that caused it.
use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{GenericClient, execute};
use crate::error::AuthError;

pub const INSERT_EVENT: &str = include_str!("sql/audit_log/insert_event.sql");

pub const STATEMENTS: &[(&str, &str)] = &[("audit_log/insert_event", INSERT_EVENT)];

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
