//! Changing one's email: the new address gets a confirmation link; the change happens when it is followed.
//! Then every outstanding ticket and code of the user is burnt, and the old address gets a notice with a
//! link that undoes the change without signing in: it restores the old address and ends every session and
//! personal access token, since whoever made the change may hold one.
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::tickets::{self, LinkKind, LinkRequest};
use super::verification::redirect_policy;
use crate::db;
use crate::domain::Email;
use crate::domain::access::email_allowed;
use crate::error::AuthError;
use crate::jwt::VerifiedToken;
use crate::state::AppState;

/// `POST /user/email/change`.
pub async fn change_email(
    state: &AppState,
    bearer: &VerifiedToken,
    new_email: Email,
    redirect_to: Option<&str>,
) -> Result<(), AuthError> {
    if bearer.claims.is_anonymous {
        return Err(AuthError::ForbiddenAnonymous);
    }
    if !email_allowed(&state.config.access, &new_email) {
        return Err(AuthError::InvalidEmailPassword);
    }
    let redirect_to = redirect_policy(state).resolve(redirect_to)?;
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    if db::users::select_user_id_by_email(&transaction, new_email.as_str()).await?.is_some() {
        return Err(AuthError::EmailAlreadyInUse);
    }
    let user = db::users::select_user_by_id(&transaction, bearer.claims.user_id)
        .await?
        .ok_or(AuthError::Unauthenticated("the user of this token no longer exists"))?;
    super::session::check_account(state, &user)?;
    db::users::update_new_email(&transaction, user.id, new_email.as_str()).await?;
    let request = LinkRequest {
        kind: LinkKind::EmailConfirmChange,
        user: &user,
        to: new_email.as_str(),
        redirect_to: &redirect_to,
        new_email: Some(new_email.as_str()),
        old_email: None,
    };
    tickets::send_link(state, &transaction, request).await?;
    let details = serde_json::json!({"newEmail": new_email.as_str()});
    super::audit::record(state, &transaction, super::audit::Event::of("email.change_requested", user.id, details))
        .await?;
    db::commit(transaction).await
}

/// Following the confirmation link (inside the caller's transaction).
pub async fn confirm_change(
    state: &AppState,
    client: &impl GenericClient,
    user_id: Uuid,
    new_email: &str,
    redirect_to: &str,
) -> Result<(), AuthError> {
    db::users::lock_user(client, user_id).await?;
    let before = db::users::select_user_by_id(client, user_id).await?.ok_or(AuthError::InvalidTicket)?;
    db::users::confirm_new_email(client, user_id, new_email).await?;
    db::tickets::burn_all_user_codes(client, user_id, state.clock.now()).await?;
    let details = serde_json::json!({"newEmail": new_email, "oldEmail": before.email});
    super::audit::record(state, client, super::audit::Event::of("email.change", user_id, details)).await?;
    let Some(old_email) = before.email.as_deref().filter(|old| !old.eq_ignore_ascii_case(new_email)) else {
        return Ok(());
    };
    let request = LinkRequest {
        kind: LinkKind::EmailRevertChange,
        user: &before,
        to: old_email,
        redirect_to,
        new_email: Some(new_email),
        old_email: Some(old_email),
    };
    tickets::send_link(state, client, request).await?;
    tracing::info!(%user_id, "email changed; the old address was sent a link that undoes it");
    Ok(())
}

/// Following the link that undoes a change (inside the caller's transaction). A link for a change that was
/// since replaced by another is refused.
pub async fn revert_change(
    state: &AppState,
    client: &impl GenericClient,
    user_id: Uuid,
    payload: &serde_json::Value,
) -> Result<(), AuthError> {
    let (Some(old_email), Some(changed_to)) = (payload["oldEmail"].as_str(), payload["newEmail"].as_str()) else {
        return Err(AuthError::InvalidTicket);
    };
    db::users::lock_user(client, user_id).await?;
    let user = db::users::select_user_by_id(client, user_id).await?.ok_or(AuthError::InvalidTicket)?;
    if !user.email.as_deref().is_some_and(|current| current.eq_ignore_ascii_case(changed_to)) {
        return Err(AuthError::InvalidTicket);
    }
    db::users::revert_email(client, user_id, old_email).await?;
    let ended = db::refresh_tokens::delete_user_refresh_tokens(client, user_id).await?;
    db::tickets::burn_all_user_codes(client, user_id, state.clock.now()).await?;
    tracing::warn!(%user_id, ended_tokens = ended, "email change undone from the old address");
    Ok(())
}
