//! Queries on `auth.oauth_token_refresh_queue`, the schedule of provider-token refreshes: one row per linked
//! identity, (re)scheduled when tokens are stored, leased to whoever refreshes it (a worker round or an
//! on-demand refresh), and the outcome recorded by the lease holder only.
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::user_providers::StoredIdentity;
use super::{GenericClient, execute, internal, query, query_opt};
use crate::error::AuthError;

pub const SCHEDULE_REFRESH: &str = include_str!("sql/refresh_queue/schedule_refresh.sql");
pub const CLAIM_DUE_REFRESHES: &str = include_str!("sql/refresh_queue/claim_due_refreshes.sql");
pub const TAKE_LEASE: &str = include_str!("sql/refresh_queue/take_lease.sql");
pub const COMPLETE_REFRESH: &str = include_str!("sql/refresh_queue/complete_refresh.sql");
pub const RECORD_REFRESH_FAILURE: &str = include_str!("sql/refresh_queue/record_refresh_failure.sql");
pub const RELEASE_LEASE: &str = include_str!("sql/refresh_queue/release_lease.sql");
pub const RETRY_FAILED: &str = include_str!("sql/refresh_queue/retry_failed.sql");
pub const SELECT_QUEUE_STATUS: &str = include_str!("sql/refresh_queue/select_queue_status.sql");
pub const SELECT_IDENTITY_FOR_REFRESH: &str = include_str!("sql/refresh_queue/select_identity_for_refresh.sql");
pub const SELECT_USER_ACCOUNTS: &str = include_str!("sql/refresh_queue/select_user_accounts.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("refresh_queue/schedule_refresh", SCHEDULE_REFRESH),
    ("refresh_queue/claim_due_refreshes", CLAIM_DUE_REFRESHES),
    ("refresh_queue/take_lease", TAKE_LEASE),
    ("refresh_queue/complete_refresh", COMPLETE_REFRESH),
    ("refresh_queue/record_refresh_failure", RECORD_REFRESH_FAILURE),
    ("refresh_queue/release_lease", RELEASE_LEASE),
    ("refresh_queue/retry_failed", RETRY_FAILED),
    ("refresh_queue/select_queue_status", SELECT_QUEUE_STATUS),
    ("refresh_queue/select_identity_for_refresh", SELECT_IDENTITY_FOR_REFRESH),
    ("refresh_queue/select_user_accounts", SELECT_USER_ACCOUNTS),
];

/// A queue row leased to one refresher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub queue_id: Uuid,
    pub identity_id: Uuid,
    pub lease_id: Uuid,
    /// Attempts since the last success, this one included when a worker claimed it.
    pub attempts: i32,
    pub max_attempts: i32,
}

impl TryFrom<&Row> for Lease {
    type Error = tokio_postgres::Error;
    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(Lease {
            queue_id: row.try_get("id")?,
            identity_id: row.try_get("user_provider_id")?,
            lease_id: row.try_get("lease_id")?,
            attempts: row.try_get("attempts")?,
            max_attempts: row.try_get("max_attempts")?,
        })
    }
}

/// The queue as `hauth oauth refresh status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStatus {
    /// Rows waiting for their next refresh (neither exhausted nor stopped).
    pub depth: i64,
    /// Of those, due now.
    pub due: i64,
    pub oldest_due_at: Option<DateTime<Utc>>,
    /// Rows leased right now (a refresh in flight).
    pub in_flight: i64,
    /// Rows waiting to retry after a transient failure.
    pub retrying: i64,
    /// Rows whose attempts ran out (see `retry-failed`).
    pub exhausted: i64,
    /// Identities with nothing to refresh with (no refresh token, or re-authentication needed).
    pub not_refreshable: i64,
    pub last_run_at: Option<DateTime<Utc>>,
    pub refreshed_last_hour: i64,
    pub failed_last_hour: i64,
}

/// One linked provider of a user, with its refresh state.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRow {
    pub user_id: Uuid,
    pub user_email: Option<String>,
    pub provider: String,
    pub provider_user_id: String,
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub needs_reauthentication: bool,
    pub refresh_scheduled_at: Option<DateTime<Utc>>,
    pub refreshable: Option<bool>,
    pub refresh_attempts: Option<i32>,
    pub refresh_max_attempts: Option<i32>,
    pub refresh_error: Option<String>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
}

/// (Re)schedules the refresh of `identity_id` at `scheduled_at` (never, when not `refreshable`).
pub async fn schedule_refresh(
    client: &impl GenericClient,
    identity_id: Uuid,
    scheduled_at: DateTime<Utc>,
    refreshable: bool,
    max_attempts: i32,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    execute(client, SCHEDULE_REFRESH, &[&identity_id, &scheduled_at, &refreshable, &max_attempts, &now])
        .await
        .map(|_| ())
}

/// Leases up to `limit` due rows to the round `lease_id` until `lease_until`.
pub async fn claim_due_refreshes(
    client: &impl GenericClient,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    lease_id: Uuid,
    limit: i64,
) -> Result<Vec<Lease>, AuthError> {
    let rows = query(client, CLAIM_DUE_REFRESHES, &[&now, &lease_until, &lease_id, &limit]).await?;
    rows.iter().map(Lease::try_from).collect::<Result<_, _>>().map_err(internal)
}

/// Takes the lease of one identity's row; `None` while someone else holds it.
pub async fn take_lease(
    client: &impl GenericClient,
    identity_id: Uuid,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    lease_id: Uuid,
) -> Result<Option<Lease>, AuthError> {
    let row = query_opt(client, TAKE_LEASE, &[&identity_id, &now, &lease_until, &lease_id]).await?;
    row.as_ref().map(Lease::try_from).transpose().map_err(internal)
}

/// Records a success; false when the lease was lost.
pub async fn complete_refresh(
    client: &impl GenericClient,
    lease: &Lease,
    next_at: DateTime<Utc>,
    refreshable: bool,
    now: DateTime<Utc>,
) -> Result<bool, AuthError> {
    let params: [&(dyn ToSql + Sync); 5] = [&lease.queue_id, &lease.lease_id, &next_at, &refreshable, &now];
    Ok(execute(client, COMPLETE_REFRESH, &params).await? == 1)
}

/// Records a failure; false when the lease was lost.
pub async fn record_refresh_failure(
    client: &impl GenericClient,
    lease: &Lease,
    retry_at: DateTime<Utc>,
    refreshable: bool,
    error: &str,
    now: DateTime<Utc>,
) -> Result<bool, AuthError> {
    let params: [&(dyn ToSql + Sync); 6] = [&lease.queue_id, &lease.lease_id, &retry_at, &refreshable, &error, &now];
    Ok(execute(client, RECORD_REFRESH_FAILURE, &params).await? == 1)
}

pub async fn release_lease(client: &impl GenericClient, lease: &Lease) -> Result<(), AuthError> {
    execute(client, RELEASE_LEASE, &[&lease.queue_id, &lease.lease_id]).await.map(|_| ())
}

/// Resets the exhausted rows, due at `now`; returns how many.
pub async fn retry_failed(client: &impl GenericClient, now: DateTime<Utc>) -> Result<u64, AuthError> {
    execute(client, RETRY_FAILED, &[&now]).await
}

pub async fn select_queue_status(client: &impl GenericClient, now: DateTime<Utc>) -> Result<QueueStatus, AuthError> {
    let row = query_opt(client, SELECT_QUEUE_STATUS, &[&now]).await?;
    let Some(row) = row else { return Ok(QueueStatus::default()) };
    let read = || -> Result<QueueStatus, tokio_postgres::Error> {
        Ok(QueueStatus {
            depth: row.try_get("depth")?,
            due: row.try_get("due")?,
            oldest_due_at: row.try_get("oldest_due_at")?,
            in_flight: row.try_get("in_flight")?,
            retrying: row.try_get("retrying")?,
            exhausted: row.try_get("exhausted")?,
            not_refreshable: row.try_get("not_refreshable")?,
            last_run_at: row.try_get("last_run_at")?,
            refreshed_last_hour: row.try_get("refreshed_last_hour")?,
            failed_last_hour: row.try_get("failed_last_hour")?,
        })
    };
    read().map_err(internal)
}

/// An identity by id, as the refresher reads it (no lock).
pub async fn select_identity_for_refresh(
    client: &impl GenericClient,
    identity_id: Uuid,
) -> Result<Option<StoredIdentity>, AuthError> {
    let row = query_opt(client, SELECT_IDENTITY_FOR_REFRESH, &[&identity_id]).await?;
    row.as_ref().map(StoredIdentity::try_from).transpose().map_err(internal)
}

/// The linked providers of the user whose id or email is `user`.
pub async fn select_user_accounts(client: &impl GenericClient, user: &str) -> Result<Vec<AccountRow>, AuthError> {
    let rows = query(client, SELECT_USER_ACCOUNTS, &[&user]).await?;
    rows.iter()
        .map(|row| {
            Ok(AccountRow {
                user_id: row.try_get("user_id")?,
                user_email: row.try_get("user_email")?,
                provider: row.try_get("provider_id")?,
                provider_user_id: row.try_get("provider_user_id")?,
                email: row.try_get("email")?,
                linked_at: row.try_get("created_at")?,
                token_expires_at: row.try_get("access_token_expires_at")?,
                needs_reauthentication: row.try_get("needs_reauthentication")?,
                refresh_scheduled_at: row.try_get("scheduled_at")?,
                refreshable: row.try_get("refreshable")?,
                refresh_attempts: row.try_get("attempts")?,
                refresh_max_attempts: row.try_get("max_attempts")?,
                refresh_error: row.try_get("error_message")?,
                last_refreshed_at: row.try_get("last_refreshed_at")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(internal)
}
