//! Queries on `auth.code_guards`: wrong one-time-code guesses counted per email address or phone number,
//! across every code sent to it. One atomic upsert counts a guess, restarts an expired window, and sets the
//! lock once the limit is reached, so concurrent guesses (and replicas) all count.
use chrono::{DateTime, Utc};

use super::{GenericClient, execute, internal, query_opt};
use crate::error::AuthError;

pub const SELECT_LOCK: &str = include_str!("sql/code_guards/select_lock.sql");
pub const RECORD_WRONG_GUESS: &str = include_str!("sql/code_guards/record_wrong_guess.sql");
pub const CLEAR_GUARD: &str = include_str!("sql/code_guards/clear_guard.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("code_guards/select_lock", SELECT_LOCK),
    ("code_guards/record_wrong_guess", RECORD_WRONG_GUESS),
    ("code_guards/clear_guard", CLEAR_GUARD),
];

/// When the lock on `identifier` ends, if it is locked at `now`.
pub async fn select_lock(
    client: &impl GenericClient,
    identifier: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, AuthError> {
    let row = query_opt(client, SELECT_LOCK, &[&identifier, &now]).await?;
    row.map(|row| row.try_get(0)).transpose().map_err(internal)
}

/// Counts a wrong guess within a window of `window_seconds`; at `max_failures` the identifier is locked for
/// a window. Returns the lock's end when it is locked.
pub async fn record_wrong_guess(
    client: &impl GenericClient,
    identifier: &str,
    now: DateTime<Utc>,
    window_seconds: i64,
    max_failures: i32,
) -> Result<Option<DateTime<Utc>>, AuthError> {
    let window = window_seconds as f64;
    let row = query_opt(client, RECORD_WRONG_GUESS, &[&identifier, &now, &window, &max_failures])
        .await?
        .ok_or_else(|| AuthError::internal("the code guard upsert returned no row"))?;
    let locked_until: Option<DateTime<Utc>> = row.try_get("locked_until").map_err(internal)?;
    Ok(locked_until.filter(|until| *until > now))
}

/// Forgets the wrong guesses of an identifier after a right one (a lock in force stays).
pub async fn clear_guard(client: &impl GenericClient, identifier: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
    execute(client, CLEAR_GUARD, &[&identifier, &now]).await.map(|_| ())
}
