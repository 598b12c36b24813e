//! Changing one's email: the new address gets a confirmation link; the change happens when it is followed.
use super::tickets::{self, LinkKind, LinkRequest};
use super::verification::redirect_policy;
use crate::app::AppState;
use crate::db;
use crate::domain::Email;
use crate::domain::access::email_allowed;
use crate::error::AuthError;
use crate::jwt::VerifiedToken;

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
    let transaction = client.transaction().await.map_err(db::internal)?;
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
    };
    tickets::send_link(state, &transaction, request).await?;
    transaction.commit().await.map_err(db::internal)
}
