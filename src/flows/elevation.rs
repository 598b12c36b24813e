//! Elevation (nhost's elevated claim): sensitive changes may demand a recent proof of presence on top of
//! the session. `POST /elevate/password`, `/elevate/totp` and `/elevate/sms` (after `/elevate/sms/send`)
//! answer a fresh access token carrying `x-hasura-auth-elevated: <user id>`, short-lived (its own
//! setting); the refresh token is unchanged. With `required`, password and email changes, personal access
//! tokens, second-factor changes, provider unlinks and ending a session refuse a token without that claim
//! (403 `elevated-claim-required`); with `recommended`, only for users who have a second factor (as nhost
//! asks it only of users who have security keys).
use secrecy::SecretString;

use crate::config::env::{Env, Setting};
use crate::db;
use crate::error::AuthError;
use crate::jwt::VerifiedToken;
use crate::state::AppState;

pub const REQUIRE_ELEVATED_CLAIM: Setting = Setting::new(
    "AUTH_REQUIRE_ELEVATED_CLAIM",
    Some("disabled"),
    "`disabled`, `recommended` (elevation demanded of users with a second factor) or `required` (of everyone) \
     before sensitive changes",
);
pub const ELEVATED_CLAIM_EXPIRES_IN: Setting =
    Setting::new("AUTH_ELEVATED_CLAIM_EXPIRES_IN", Some("300"), "lifetime of an elevated access token, seconds");

pub const SETTINGS: &[&Setting] = &[&REQUIRE_ELEVATED_CLAIM, &ELEVATED_CLAIM_EXPIRES_IN];

/// The session variable an elevated token carries (the user's id).
pub const ELEVATED_CLAIM: &str = "x-hasura-auth-elevated";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    Disabled,
    Recommended,
    Required,
}

#[derive(Clone, Debug)]
pub struct ElevationConfig {
    pub requirement: Requirement,
    pub expires_in: i64,
}

impl ElevationConfig {
    pub fn load(env: &mut Env) -> ElevationConfig {
        let requirement = match env.string(&REQUIRE_ELEVATED_CLAIM).as_str() {
            "disabled" => Requirement::Disabled,
            "recommended" => Requirement::Recommended,
            "required" => Requirement::Required,
            other => {
                env.problem(
                    &REQUIRE_ELEVATED_CLAIM,
                    format!("{other:?} is not one of `disabled`, `recommended`, `required`"),
                );
                Requirement::Disabled
            }
        };
        let expires_in = env.parsed::<i64>(&ELEVATED_CLAIM_EXPIRES_IN).clamp(1, 3600);
        ElevationConfig { requirement, expires_in }
    }
}

/// A fresh access token, elevated.
pub struct Elevated {
    pub access_token: String,
    pub access_token_expires_in: i64,
}

/// Whether `token` carries a live elevated claim for its own user.
fn is_elevated(token: &VerifiedToken) -> bool {
    token.claims.extra.iter().any(|(key, value)| key == ELEVATED_CLAIM && *value == token.claims.user_id.to_string())
}

/// Refuses a sensitive change made with a token that is not elevated, when elevation is demanded.
pub async fn ensure(state: &AppState, token: &VerifiedToken) -> Result<(), AuthError> {
    let demanded = match state.config.elevation.requirement {
        Requirement::Disabled => false,
        Requirement::Required => true,
        Requirement::Recommended => {
            let client = db::client(&state.pool).await?;
            db::users::select_user_by_id(&client, token.claims.user_id)
                .await?
                .is_some_and(|user| user.active_mfa_type.as_deref().is_some_and(|kind| !kind.is_empty()))
        }
    };
    if demanded && !is_elevated(token) {
        tracing::info!(user_id = %token.claims.user_id, "a sensitive change without an elevated token: refused");
        return Err(AuthError::ElevatedClaimRequired);
    }
    Ok(())
}

/// The elevated access token for the token's user, issued in the same session.
async fn issue(state: &AppState, token: &VerifiedToken) -> Result<Elevated, AuthError> {
    let client = db::client(&state.pool).await?;
    let user = db::users::select_user_by_id(&client, token.claims.user_id)
        .await?
        .ok_or(AuthError::Unauthenticated("the user is gone"))?;
    super::session::check_account(state, &user)?;
    let mut claims = super::session::claims_for(state, &client, &user).await?;
    claims.extra.retain(|(key, _)| key != ELEVATED_CLAIM);
    claims.extra.push((ELEVATED_CLAIM.to_string(), user.id.to_string()));
    let expires_in = state.config.elevation.expires_in;
    let access_token = state.keys.issue(&claims, token.session_id, state.clock.now(), expires_in)?;
    tracing::info!(user_id = %user.id, "access token elevated");
    Ok(Elevated { access_token, access_token_expires_in: expires_in })
}

/// `POST /elevate/password`.
pub async fn with_password(
    state: &AppState,
    token: &VerifiedToken,
    password: SecretString,
) -> Result<Elevated, AuthError> {
    crate::domain::password::check_presented_password(&password)?;
    let client = db::client(&state.pool).await?;
    let hash = db::users::select_password_hash(&client, token.claims.user_id).await?;
    let verification = state.passwords.verify(&password, hash.as_deref()).await?;
    if !verification.matches {
        return Err(AuthError::InvalidEmailPassword);
    }
    issue(state, token).await
}

/// `POST /elevate/sms`: the code `POST /elevate/sms/send` sent to the user's SMS factor.
pub async fn with_sms(state: &AppState, token: &VerifiedToken, otp: &str) -> Result<Elevated, AuthError> {
    super::mfa::sms::check_elevation_code(state, token.claims.user_id, otp).await?;
    issue(state, token).await
}

/// `POST /elevate/totp`.
pub async fn with_totp(state: &AppState, token: &VerifiedToken, otp: &str) -> Result<Elevated, AuthError> {
    super::mfa::check_current_code(state, token.claims.user_id, otp).await?;
    issue(state, token).await
}
