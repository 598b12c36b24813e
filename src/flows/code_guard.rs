//! Code guessing, counted per account identifier (an email address or a phone number) across every code
//! sent to it, so asking for a fresh code never restarts the count. After the configured number of wrong
//! guesses within the lockout window, the current code is burnt and, for a window, no code is
//! sent to or accepted for that identifier: `429 too-many-requests` with `Retry-After`.
//!
//! Guesses at addresses and numbers without an account count the same way, so a lockout tells nothing
//! about whether an account exists.
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::tickets::CodeKind;
use crate::db;
use crate::domain::Email;
use crate::domain::phone::PhoneNumber;
use crate::error::AuthError;
use crate::state::AppState;

/// The key guesses are counted under.
pub fn email_identifier(email: &Email) -> String {
    format!("email:{}", email.as_str().to_lowercase())
}

pub fn phone_identifier(phone: &PhoneNumber) -> String {
    format!("phone:{}", phone.as_str())
}

/// Refuses with `TooManyRequests` while `identifier` is locked.
pub async fn ensure_unlocked(state: &AppState, client: &impl GenericClient, identifier: &str) -> Result<(), AuthError> {
    let now = state.clock.now();
    match db::code_guards::select_lock(client, identifier, now).await? {
        Some(until) => Err(AuthError::TooManyRequests { retry_after: (until - now).num_seconds().max(1) as u64 }),
        None => Ok(()),
    }
}

/// Counts a wrong guess. When it locks the identifier, the code the guesses were aimed at (the user's live
/// code of `kind`, if there is a user) is burnt.
pub async fn wrong_guess(
    state: &AppState,
    client: &impl GenericClient,
    identifier: &str,
    code: Option<(Uuid, CodeKind)>,
) -> Result<(), AuthError> {
    let now = state.clock.now();
    let codes = &state.config.codes;
    let locked =
        db::code_guards::record_wrong_guess(client, identifier, now, codes.otp_lockout_window, codes.otp_max_attempts)
            .await?;
    let user_id = code.map(|(user_id, _)| user_id);
    let details = serde_json::json!({"identifier": identifier, "lockedUntil": locked});
    let event = super::audit::Event { name: "code.failure", user_id, provider: None, metadata: details };
    super::audit::record(state, client, event).await?;
    if let Some(until) = locked {
        if let Some((user_id, kind)) = code {
            db::tickets::burn_user_codes(client, user_id, kind.as_str(), now).await?;
        }
        tracing::warn!(%until, "too many wrong one-time codes: the address or number is locked");
    }
    Ok(())
}

/// A right guess forgets the earlier wrong ones.
pub async fn right_guess(state: &AppState, client: &impl GenericClient, identifier: &str) -> Result<(), AuthError> {
    db::code_guards::clear_guard(client, identifier, state.clock.now()).await
}
