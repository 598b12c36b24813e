//! Queries on `auth.one_time_codes`: hashed, single-use, expiring tickets (emailed links) and OTPs.
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{GenericClient, internal};
use crate::error::AuthError;

pub const INSERT_ONE_TIME_CODE: &str = include_str!("sql/tickets/insert_one_time_code.sql");
pub const BURN_USER_CODES: &str = include_str!("sql/tickets/burn_user_codes.sql");
pub const BURN_ALL_USER_CODES: &str = include_str!("sql/tickets/burn_all_user_codes.sql");
pub const SELECT_CODE_BY_HASH: &str = include_str!("sql/tickets/select_code_by_hash.sql");
pub const SELECT_CODE_BY_HASH_FOR_UPDATE: &str = include_str!("sql/tickets/select_code_by_hash_for_update.sql");
pub const SELECT_ACTIVE_CODE_FOR_UPDATE: &str = include_str!("sql/tickets/select_active_code_for_update.sql");
pub const MARK_CODE_USED: &str = include_str!("sql/tickets/mark_code_used.sql");
pub const RECORD_FAILED_ATTEMPT: &str = include_str!("sql/tickets/record_failed_attempt.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("tickets/insert_one_time_code", INSERT_ONE_TIME_CODE),
    ("tickets/burn_user_codes", BURN_USER_CODES),
    ("tickets/burn_all_user_codes", BURN_ALL_USER_CODES),
    ("tickets/select_code_by_hash", SELECT_CODE_BY_HASH),
    ("tickets/select_code_by_hash_for_update", SELECT_CODE_BY_HASH_FOR_UPDATE),
    ("tickets/select_active_code_for_update", SELECT_ACTIVE_CODE_FOR_UPDATE),
    ("tickets/mark_code_used", MARK_CODE_USED),
    ("tickets/record_failed_attempt", RECORD_FAILED_ATTEMPT),
];

/// A code to store.
#[derive(Debug)]
pub struct NewCode<'a> {
    pub user_id: Uuid,
    pub kind: &'a str,
    pub code_hash: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// A stored code.
#[derive(Debug, Clone)]
pub struct StoredCode {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub failed_attempts: i32,
    pub payload: serde_json::Value,
}

impl TryFrom<&Row> for StoredCode {
    type Error = tokio_postgres::Error;
    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(StoredCode {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            kind: row.try_get("kind")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            failed_attempts: row.try_get("failed_attempts")?,
            payload: row.try_get::<_, super::StoredJson>("payload")?.0,
        })
    }
}

/// Stores a code; returns its row id.
pub async fn insert_one_time_code(client: &impl GenericClient, code: &NewCode<'_>) -> Result<Uuid, AuthError> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&code.user_id, &code.kind, &code.code_hash, &code.created_at, &code.expires_at, &code.payload];
    let row = super::query_opt(client, INSERT_ONE_TIME_CODE, &params)
        .await?
        .ok_or_else(|| AuthError::internal("the code insert returned no row"))?;
    row.try_get("id").map_err(internal)
}

/// Retires every unused code of one kind for a user (a new one replaces them).
pub async fn burn_user_codes(
    client: &impl GenericClient,
    user_id: Uuid,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    super::execute(client, BURN_USER_CODES, &[&user_id, &kind, &now]).await.map(|_| ())
}

/// Retires every unused ticket and code of a user (after a password or email change).
pub async fn burn_all_user_codes(
    client: &impl GenericClient,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, AuthError> {
    super::execute(client, BURN_ALL_USER_CODES, &[&user_id, &now]).await
}

async fn select_one(client: &impl GenericClient, sql: &str, hash: &str) -> Result<Option<StoredCode>, AuthError> {
    let row = super::query_opt(client, sql, &[&hash]).await?;
    row.as_ref().map(StoredCode::try_from).transpose().map_err(internal)
}

/// Looks a ticket up without locking or consuming it (to show a confirmation page).
pub async fn select_code_by_hash(client: &impl GenericClient, hash: &str) -> Result<Option<StoredCode>, AuthError> {
    select_one(client, SELECT_CODE_BY_HASH, hash).await
}

/// Looks a ticket up and locks it until the transaction ends, so it can be consumed once.
pub async fn select_code_by_hash_for_update(
    client: &impl GenericClient,
    hash: &str,
) -> Result<Option<StoredCode>, AuthError> {
    select_one(client, SELECT_CODE_BY_HASH_FOR_UPDATE, hash).await
}

/// The newest live code of a kind for a user, locked, with its hash (OTPs are checked against it).
pub async fn select_active_code_for_update(
    client: &impl GenericClient,
    user_id: Uuid,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<Option<(StoredCode, String)>, AuthError> {
    let row = super::query_opt(client, SELECT_ACTIVE_CODE_FOR_UPDATE, &[&user_id, &kind, &now]).await?;
    row.map(|row| Ok((StoredCode::try_from(&row)?, row.try_get("code_hash")?))).transpose().map_err(internal)
}

pub async fn mark_code_used(client: &impl GenericClient, id: Uuid, now: DateTime<Utc>) -> Result<bool, AuthError> {
    Ok(super::execute(client, MARK_CODE_USED, &[&id, &now]).await? == 1)
}

/// Counts a wrong guess; the code is burnt once `max_attempts` is reached. Returns the attempts so far.
pub async fn record_failed_attempt(
    client: &impl GenericClient,
    id: Uuid,
    max_attempts: i32,
    now: DateTime<Utc>,
) -> Result<i32, AuthError> {
    let row = super::query_opt(client, RECORD_FAILED_ATTEMPT, &[&id, &max_attempts, &now])
        .await?
        .ok_or_else(|| AuthError::internal("no code to count an attempt on"))?;
    row.try_get(0).map_err(internal)
}
