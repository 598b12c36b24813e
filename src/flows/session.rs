//! Sessions: issuing an access token with a refresh token, rotating refresh tokens with reuse detection,
//! signing out, and authenticating a bearer access token.
//!
//! Every sign-in starts a token *family*. `POST /token` locks the presented token's row, marks it rotated
//! and inserts its child in the same family. A rotated token presented again:
//! - within `AUTH_REFRESH_TOKEN_REUSE_GRACE_PERIOD` seconds of its rotation yields a sibling in the same
//!   family (two tabs refreshing at once both stay signed in);
//! - after that window is treated as stolen: the whole family is revoked and the caller gets 401.
//!
//! Because rotation holds the row lock, concurrent refreshes of one token run one after another and all
//! land in the one family.
use chrono::TimeDelta;
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::app::AppState;
use crate::db;
use crate::db::refresh_tokens::NewRefreshToken;
use crate::domain::access::email_allowed;
use crate::domain::claims::postgres_array_literal;
use crate::domain::user::User;
use crate::domain::{Email, RefreshToken};
use crate::error::AuthError;
use crate::jwt::{HasuraClaims, VerifiedToken};

/// What a successful sign-in or refresh hands to the client.
pub struct Session {
    pub access_token: String,
    pub access_token_expires_in: i64,
    pub refresh_token: RefreshToken,
    pub refresh_token_id: Uuid,
    pub user: User,
}

/// The Hasura claims for a user: the built-in four, the organisation, the roles' permissions (when enabled)
/// and the configured custom claims, all read from the database in the same transaction.
pub async fn claims_for(state: &AppState, client: &impl GenericClient, user: &User) -> Result<HasuraClaims, AuthError> {
    let mut allowed_roles = user.roles.clone();
    if !allowed_roles.contains(&user.default_role) {
        allowed_roles.push(user.default_role.clone());
    }
    let mut extra = Vec::new();
    if let Some(organisation_id) = user.organisation_id {
        extra.push(("x-hasura-organisation-id".to_string(), organisation_id.to_string()));
    }
    if state.config.jwt.permissions_claim {
        let permissions = db::claims::select_role_permissions(client, &allowed_roles).await?;
        extra.push(("x-hasura-permissions".to_string(), postgres_array_literal(permissions.into_iter().map(Some))));
    }
    let custom = &state.config.jwt.custom_claims;
    if !custom.is_empty() {
        let document = db::claims::select_user_claims_document(client, user.id)
            .await?
            .ok_or_else(|| AuthError::internal("user vanished while issuing a token"))?;
        for (key, value) in custom.evaluate(&document) {
            if !extra.iter().any(|(existing, _)| existing == &key) {
                extra.push((key, value));
            }
        }
    }
    Ok(HasuraClaims {
        user_id: user.id,
        default_role: user.default_role.clone(),
        allowed_roles,
        is_anonymous: user.is_anonymous,
        extra,
    })
}

/// Refuses accounts that may not hold a session: disabled, an email now outside the access-control lists,
/// or (when required) an unverified email. Users without an email (anonymous, phone-only) have none to
/// verify.
pub fn check_account(state: &AppState, user: &User) -> Result<(), AuthError> {
    if user.disabled {
        return Err(AuthError::DisabledUser);
    }
    let Some(email) = &user.email else { return Ok(()) };
    if let Ok(email) = Email::parse(email)
        && !email_allowed(&state.config.access, &email)
    {
        return Err(AuthError::InvalidEmailPassword);
    }
    if state.config.users.email_verified_required && !user.email_verified {
        return Err(AuthError::UnverifiedUser);
    }
    Ok(())
}

/// Issues an access token and a refresh token in `family` (a new family when `None`).
async fn issue(
    state: &AppState,
    client: &impl GenericClient,
    user: User,
    family: Option<(Uuid, Uuid)>,
) -> Result<Session, AuthError> {
    let now = state.clock.now();
    let refresh_token = RefreshToken::generate();
    let id = Uuid::new_v4();
    let (family_id, parent_id) = match family {
        Some((family_id, parent_id)) => (family_id, Some(parent_id)),
        None => (id, None),
    };
    let hash = refresh_token.hash();
    db::refresh_tokens::insert_refresh_token(
        client,
        &NewRefreshToken {
            id,
            user_id: user.id,
            hash: &hash,
            created_at: now,
            expires_at: now + TimeDelta::seconds(state.config.session.refresh_token_expires_in),
            family_id,
            parent_id,
        },
    )
    .await?;
    db::users::update_last_seen(client, user.id, now).await?;
    let expires_in = state.config.jwt.access_token_expires_in;
    let claims = claims_for(state, client, &user).await?;
    let access_token = state.keys.issue(&claims, Some(family_id), now, expires_in)?;
    Ok(Session { access_token, access_token_expires_in: expires_in, refresh_token, refresh_token_id: id, user })
}

/// Starts a new session (a new token family) for a user who just proved who they are.
pub async fn start(state: &AppState, client: &impl GenericClient, user: User) -> Result<Session, AuthError> {
    issue(state, client, user, None).await
}

/// `POST /token`: exchanges a refresh token for a new session.
pub async fn refresh(state: &AppState, presented: &str) -> Result<Session, AuthError> {
    let token = RefreshToken::parse(presented).ok_or(AuthError::InvalidRefreshToken)?;
    let now = state.clock.now();
    let mut client = db::client(&state.pool).await?;
    let transaction = client.transaction().await.map_err(db::internal)?;
    let stored = db::refresh_tokens::select_refresh_token_for_update(&transaction, &token.hash())
        .await?
        .ok_or(AuthError::InvalidRefreshToken)?;
    if stored.token_type != "regular" || stored.revoked_at.is_some() || stored.expires_at <= now {
        return Err(AuthError::InvalidRefreshToken);
    }
    match stored.rotated_at {
        Some(rotated_at) if now - rotated_at > TimeDelta::seconds(state.config.session.reuse_grace_period) => {
            let revoked = db::refresh_tokens::revoke_refresh_token_family(&transaction, stored.family_id, now).await?;
            transaction.commit().await.map_err(db::internal)?;
            tracing::warn!(
                user_id = %stored.user_id,
                family_id = %stored.family_id,
                revoked,
                "refresh token reused after rotation: token family revoked"
            );
            return Err(AuthError::InvalidRefreshToken);
        }
        Some(_) => {} // inside the grace window: a sibling in the same family
        None => db::refresh_tokens::mark_refresh_token_rotated(&transaction, stored.id, now).await?,
    }
    let user =
        db::users::select_user_by_id(&transaction, stored.user_id).await?.ok_or(AuthError::InvalidRefreshToken)?;
    check_account(state, &user)?;
    let session = issue(state, &transaction, user, Some((stored.family_id, stored.id))).await?;
    transaction.commit().await.map_err(db::internal)?;
    Ok(session)
}

/// `POST /signout`: ends the session of `refresh_token`, or with `all` every session of the authenticated
/// user (`signed_in_user`, from a bearer token or Hasura's session variables).
pub async fn sign_out(
    state: &AppState,
    refresh_token: Option<&str>,
    all: bool,
    signed_in_user: Option<Uuid>,
) -> Result<(), AuthError> {
    let client = db::client(&state.pool).await?;
    if all {
        let user_id =
            signed_in_user.ok_or(AuthError::Unauthenticated("signing out of all sessions needs a bearer token"))?;
        db::refresh_tokens::delete_user_refresh_tokens(&client, user_id).await?;
        return Ok(());
    }
    let presented = refresh_token.ok_or_else(|| AuthError::InvalidRequest("refreshToken is required".into()))?;
    let token = RefreshToken::parse(presented)
        .ok_or_else(|| AuthError::InvalidRequest("refreshToken is not a refresh token".into()))?;
    // An unknown token is already signed out: answer OK, as nhost does.
    db::refresh_tokens::delete_refresh_token_family(&client, &token.hash()).await?;
    Ok(())
}

/// Verifies a bearer access token (signature, algorithm, expiry, issuer); no database query.
pub fn authenticate(state: &AppState, token: &str) -> Result<VerifiedToken, AuthError> {
    state.keys.verify_access_token(token, state.clock.now()).map_err(|rejected| {
        tracing::debug!(%rejected, "access token refused");
        AuthError::Unauthenticated("invalid or expired access token")
    })
}
