//! Queries on `auth.sign_in_lockouts`: failed password sign-ins per account and its lockout. A failure locks
//! the account's row, so concurrent failures (on any replica) each count once.
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{GenericClient, execute, internal, query_opt};
use crate::error::AuthError;

pub const ENSURE_ROW: &str = include_str!("sql/sign_in_lockouts/ensure_row.sql");
pub const SELECT_FOR_UPDATE: &str = include_str!("sql/sign_in_lockouts/select_for_update.sql");
pub const UPDATE_STATE: &str = include_str!("sql/sign_in_lockouts/update_state.sql");
pub const SELECT_LOCKED_UNTIL: &str = include_str!("sql/sign_in_lockouts/select_locked_until.sql");
pub const DELETE_STATE: &str = include_str!("sql/sign_in_lockouts/delete_state.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("sign_in_lockouts/ensure_row", ENSURE_ROW),
    ("sign_in_lockouts/select_for_update", SELECT_FOR_UPDATE),
    ("sign_in_lockouts/update_state", UPDATE_STATE),
    ("sign_in_lockouts/select_locked_until", SELECT_LOCKED_UNTIL),
    ("sign_in_lockouts/delete_state", DELETE_STATE),
];

/// An account's failures and lockouts.
#[derive(Debug, Clone, PartialEq)]
pub struct LockoutState {
    pub window_started_at: DateTime<Utc>,
    pub failures: i32,
    pub lockouts: i32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// The account's state, its row locked until the transaction ends (created empty if missing).
pub async fn lock_state(
    client: &impl GenericClient,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<LockoutState, AuthError> {
    execute(client, ENSURE_ROW, &[&user_id, &now]).await?;
    let row = query_opt(client, SELECT_FOR_UPDATE, &[&user_id])
        .await?
        .ok_or_else(|| AuthError::internal("the lockout row vanished"))?;
    Ok(LockoutState {
        window_started_at: row.try_get("window_started_at").map_err(internal)?,
        failures: row.try_get("failures").map_err(internal)?,
        lockouts: row.try_get("lockouts").map_err(internal)?,
        locked_until: row.try_get("locked_until").map_err(internal)?,
    })
}

pub async fn update_state(client: &impl GenericClient, user_id: Uuid, state: &LockoutState) -> Result<(), AuthError> {
    execute(
        client,
        UPDATE_STATE,
        &[&user_id, &state.window_started_at, &state.failures, &state.lockouts, &state.locked_until],
    )
    .await
    .map(|_| ())
}

/// When the account's lock ends, if it is locked at `now`.
pub async fn locked_until(
    client: &impl GenericClient,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, AuthError> {
    let row = query_opt(client, SELECT_LOCKED_UNTIL, &[&user_id, &now]).await?;
    row.map(|row| row.try_get(0)).transpose().map_err(internal)
}

/// Forgets the account's failures and lock; true if there was anything to forget.
pub async fn delete_state(client: &impl GenericClient, user_id: Uuid) -> Result<bool, AuthError> {
    execute(client, DELETE_STATE, &[&user_id]).await.map(|deleted| deleted > 0)
}
