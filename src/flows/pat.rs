//! Personal access tokens (PATs): long-lived secrets a signed-in user creates for scripts and services.
//! A PAT is 128 random bits in the UUID-like shape of a refresh token, stored only as its hash in
//! `auth.refresh_tokens` with `type = 'pat'`, its own family, and the expiry the user chose.
//!
//! - `POST /pat` creates one (anonymous users may not);
//! - `POST /signin/pat` exchanges one for a session with a new *regular* refresh token (the PAT itself
//!   never rotates, and `POST /token` refuses it);
//! - the Hasura webhook accepts one as a bearer token ([`authenticate`]).
//!
//! - `GET /user/pats` lists the caller's PATs and `DELETE /user/pats/{id}` revokes one.
//!
//! A PAT lives at most the configured maximum. Signing out of all sessions, a password change
//! and a reset by ticket delete a user's PATs too.
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::db;
use crate::db::pat::{NewPat, PatSummary};
use crate::domain::OpaqueToken;
use crate::error::AuthError;
use crate::flows::Session;
use crate::flows::session::{SigninMethod, complete_signin};
use crate::jwt::HasuraClaims;
use crate::state::AppState;

/// A newly created PAT: the only time the secret is seen.
pub struct CreatedPat {
    pub id: Uuid,
    pub token: OpaqueToken,
}

/// `POST /pat`: creates a PAT for the signed-in user, expiring at `expires_at`.
pub async fn create(
    state: &AppState,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    metadata: Option<serde_json::Value>,
) -> Result<CreatedPat, AuthError> {
    let now = state.clock.now();
    if expires_at <= now {
        return Err(AuthError::InvalidRequest("expiresAt must be in the future".into()));
    }
    let max_expires_in = state.config.session.pat_max_expires_in;
    if expires_at > now + TimeDelta::seconds(max_expires_in) {
        return Err(AuthError::InvalidRequest(format!(
            "expiresAt must be at most {max_expires_in} seconds from now ({})",
            super::config::PAT_MAX_EXPIRES_IN.name
        )));
    }
    let metadata = crate::domain::user::optional_metadata(metadata)?;
    let client = db::client(&state.pool).await?;
    let user = db::users::select_user_by_id(&client, user_id)
        .await?
        .ok_or(AuthError::Unauthenticated("the user of the access token no longer exists"))?;
    super::session::check_account(state, &user)?;
    if user.is_anonymous {
        return Err(AuthError::ForbiddenAnonymous);
    }
    let token = OpaqueToken::generate(&state.random);
    let id = state.random.uuid();
    let hash = token.hash();
    db::pat::insert_pat(
        &client,
        &NewPat { id, user_id, hash: &hash, created_at: now, expires_at, metadata: metadata.as_ref() },
    )
    .await?;
    let details = serde_json::json!({"patId": id, "expiresAt": expires_at});
    super::audit::record(state, &client, super::audit::Event::of("pat.create", user_id, details)).await?;
    tracing::info!(%user_id, pat_id = %id, %expires_at, "personal access token created");
    Ok(CreatedPat { id, token })
}

/// `GET /user/pats`: the signed-in user's personal access tokens (never the tokens themselves).
pub async fn list(state: &AppState, user_id: Uuid) -> Result<Vec<PatSummary>, AuthError> {
    let client = db::client(&state.pool).await?;
    db::pat::select_user_pats(&client, user_id).await
}

/// `DELETE /user/pats/{id}`: revokes one of the signed-in user's personal access tokens.
pub async fn revoke(state: &AppState, user_id: Uuid, id: Uuid) -> Result<(), AuthError> {
    let client = db::client(&state.pool).await?;
    if !db::pat::delete_user_pat(&client, id, user_id).await? {
        return Err(AuthError::NotFound("no personal access token with this id"));
    }
    let details = serde_json::json!({"patId": id});
    super::audit::record(state, &client, super::audit::Event::of("pat.revoke", user_id, details)).await?;
    tracing::info!(%user_id, pat_id = %id, "personal access token revoked");
    Ok(())
}

/// `POST /signin/pat`: a session (with a new regular refresh token) for the owner of a live PAT.
pub async fn signin(state: &AppState, presented: &str) -> Result<Session, AuthError> {
    let token = OpaqueToken::parse(presented).ok_or(AuthError::InvalidPat)?;
    let now = state.clock.now();
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let pat = db::pat::select_live_pat_user(&transaction, &token.hash(), now).await?.ok_or(AuthError::InvalidPat)?;
    let session =
        complete_signin(state, &transaction, pat.user, SigninMethod::PersonalAccessToken).await?.into_session()?;
    db::commit(transaction).await?;
    tracing::info!(user_id = %session.user.id, pat_id = %pat.id, "signed in with a personal access token");
    Ok(session)
}

/// The Hasura claims a live PAT stands for, and when it expires: one indexed query (plus the claims
/// queries that permissions or custom claims need, when configured). Unknown, expired or revoked PATs
/// and accounts that may not hold a session are `Unauthenticated`.
pub async fn authenticate(state: &AppState, token: &OpaqueToken) -> Result<(HasuraClaims, DateTime<Utc>), AuthError> {
    let now = state.clock.now();
    let client = db::client(&state.pool).await?;
    let pat = db::pat::select_live_pat_user(&client, &token.hash(), now)
        .await?
        .ok_or(AuthError::Unauthenticated("invalid or expired personal access token"))?;
    super::session::check_account(state, &pat.user).map_err(|refused| {
        tracing::debug!(user_id = %pat.user.id, %refused, "personal access token refused");
        AuthError::Unauthenticated("the account of the personal access token may not sign in")
    })?;
    let claims = super::session::claims_for(state, &client, &pat.user).await?;
    Ok((claims, pat.expires_at))
}
