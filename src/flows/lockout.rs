//! Account lockout after failed password sign-ins, whatever address they come from: after [`THRESHOLD`]
//! failures within [`WINDOW`], the account is locked for [`DURATION`], doubled for each lockout in a row (up
//! to [`MAX_DURATION`]). A locked
//! account answers exactly as a wrong password does (the password is still checked, so the timing matches),
//! so the lock tells nothing about whether the account exists or what its password is. A successful sign-in
//! forgets the failures; a reset by ticket, `hauth users unlock` and the admin API lift a lock.
use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::config::env::{Env, Setting};
use crate::db;
use crate::db::sign_in_lockouts::LockoutState;
use crate::domain::Email;
use crate::error::AuthError;
use crate::state::AppState;

pub const THRESHOLD: Setting = Setting::new(
    "AUTH_LOCKOUT_THRESHOLD",
    Some("10"),
    "failed password sign-ins on one account within the window that lock it (0: never)",
);
pub const WINDOW: Setting =
    Setting::new("AUTH_LOCKOUT_WINDOW", Some("900"), "seconds within which failed password sign-ins add up");
pub const DURATION: Setting = Setting::new(
    "AUTH_LOCKOUT_DURATION",
    Some("300"),
    "seconds the first lockout lasts; each lockout in a row lasts twice the one before",
);
pub const MAX_DURATION: Setting =
    Setting::new("AUTH_LOCKOUT_MAX_DURATION", Some("86400"), "the longest a lockout lasts, seconds");

pub const SETTINGS: &[&Setting] = &[&THRESHOLD, &WINDOW, &DURATION, &MAX_DURATION];

#[derive(Clone, Debug)]
pub struct LockoutConfig {
    pub threshold: i32,
    pub window_seconds: i64,
    pub duration_seconds: i64,
    pub max_duration_seconds: i64,
}

impl LockoutConfig {
    pub fn load(env: &mut Env) -> LockoutConfig {
        LockoutConfig {
            threshold: env.parsed(&THRESHOLD),
            window_seconds: env.parsed(&WINDOW),
            duration_seconds: env.parsed(&DURATION),
            max_duration_seconds: env.parsed(&MAX_DURATION),
        }
    }
}

/// The state after one more failure at `now`: a new window if the last one ran out, a lock at the threshold.
pub fn after_failure(config: &LockoutConfig, state: &LockoutState, now: DateTime<Utc>) -> LockoutState {
    let window_over = state.window_started_at + TimeDelta::seconds(config.window_seconds) <= now;
    let (window_started_at, failures) =
        if window_over { (now, 1) } else { (state.window_started_at, state.failures.saturating_add(1)) };
    if config.threshold > 0 && failures >= config.threshold {
        let doubling = 2_i64.saturating_pow(state.lockouts.clamp(0, 30) as u32);
        let seconds = config.duration_seconds.saturating_mul(doubling).min(config.max_duration_seconds);
        return LockoutState {
            window_started_at: now,
            failures: 0,
            lockouts: state.lockouts.saturating_add(1),
            locked_until: Some(now + TimeDelta::seconds(seconds)),
        };
    }
    LockoutState { window_started_at, failures, lockouts: state.lockouts, locked_until: state.locked_until }
}

/// Whether the account is locked now.
pub async fn is_locked(state: &AppState, client: &impl GenericClient, user_id: Uuid) -> Result<bool, AuthError> {
    if state.config.lockout.threshold <= 0 {
        return Ok(false);
    }
    Ok(db::sign_in_lockouts::locked_until(client, user_id, state.clock.now()).await?.is_some())
}

/// Counts a failed password sign-in on the account.
pub async fn record_failure(state: &AppState, user_id: Uuid) -> Result<(), AuthError> {
    if state.config.lockout.threshold <= 0 {
        return Ok(());
    }
    let now = state.clock.now();
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let current = db::sign_in_lockouts::lock_state(&transaction, user_id, now).await?;
    if current.locked_until.is_some_and(|until| until > now) {
        return Ok(());
    }
    let next = after_failure(&state.config.lockout, &current, now);
    db::sign_in_lockouts::update_state(&transaction, user_id, &next).await?;
    if let Some(until) = next.locked_until.filter(|_| next.lockouts > current.lockouts) {
        crate::flows::audit::record(
            state,
            &transaction,
            crate::flows::audit::Event {
                name: "account.locked",
                user_id: Some(user_id),
                provider: None,
                metadata: serde_json::json!({"lockedUntil": until, "lockouts": next.lockouts}),
            },
        )
        .await?;
        tracing::warn!(%user_id, %until, lockouts = next.lockouts, "too many failed sign-ins: account locked");
    }
    db::commit(transaction).await
}

/// Forgets the account's failures and lifts its lock (a successful sign-in, a reset by ticket, an admin).
pub async fn unlock(client: &impl GenericClient, user_id: Uuid) -> Result<bool, AuthError> {
    db::sign_in_lockouts::delete_state(client, user_id).await
}

/// `hauth users unlock <email>`: false when no account has that email.
pub async fn unlock_by_email(state: &AppState, email: &Email) -> Result<bool, AuthError> {
    let client = db::client(&state.pool).await?;
    let Some(credentials) = db::users::select_credentials_by_email(&client, email.as_str()).await? else {
        return Ok(false);
    };
    unlock(&client, credentials.user_id).await?;
    tracing::info!(user_id = %credentials.user_id, "account unlocked");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LockoutConfig {
        LockoutConfig { threshold: 3, window_seconds: 900, duration_seconds: 300, max_duration_seconds: 1000 }
    }

    #[test]
    fn the_threshold_locks_and_each_lockout_in_a_row_doubles_up_to_the_maximum() {
        let now = Utc::now();
        let mut state = LockoutState { window_started_at: now, failures: 0, lockouts: 0, locked_until: None };
        let mut lengths = Vec::new();
        for _ in 0..4 {
            for _ in 0..3 {
                state = after_failure(&config(), &state, now);
            }
            lengths.push((state.locked_until.unwrap_or_else(|| panic!("not locked")) - now).num_seconds());
        }
        assert_eq!(lengths, vec![300, 600, 1000, 1000]);
    }

    #[test]
    fn failures_outside_the_window_start_a_new_count() {
        let start = Utc::now();
        let mut state = LockoutState { window_started_at: start, failures: 0, lockouts: 0, locked_until: None };
        state = after_failure(&config(), &state, start);
        state = after_failure(&config(), &state, start);
        state = after_failure(&config(), &state, start + TimeDelta::seconds(901));
        assert_eq!((state.failures, state.locked_until), (1, None));
    }
}
