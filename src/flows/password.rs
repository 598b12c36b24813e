//! Forgotten and changed passwords. A reset request answers the same whether or not the address exists
//! (the lookup and the mail happen after the answer). Setting a new password ends the user's other sessions:
//! all of them after a reset by ticket, all but the caller's own after a change with a bearer token.
use secrecy::SecretString;

use super::tickets::{self, LinkKind, LinkRequest};
use super::verification::{in_background, redirect_policy};
use crate::app::AppState;
use crate::db;
use crate::domain::Email;
use crate::error::AuthError;
use crate::jwt::VerifiedToken;

/// `POST /user/password/reset`.
pub fn request_password_reset(state: &AppState, email: Email, redirect_to: Option<&str>) -> Result<(), AuthError> {
    let redirect_to = redirect_policy(state).resolve(redirect_to)?;
    let background = state.clone();
    in_background(state, "password reset email", async move { send_reset_link(&background, email, redirect_to).await });
    Ok(())
}

async fn send_reset_link(state: &AppState, email: Email, redirect_to: String) -> Result<(), AuthError> {
    let mut client = db::client(&state.pool).await?;
    let transaction = client.transaction().await.map_err(db::internal)?;
    let Some(user) = tickets::enabled_user_by_email(&transaction, email.as_str()).await? else {
        return Ok(());
    };
    let to = user.email.clone().unwrap_or_default();
    let request =
        LinkRequest { kind: LinkKind::PasswordReset, user: &user, to: &to, redirect_to: &redirect_to, new_email: None };
    tickets::send_link(state, &transaction, request).await?;
    transaction.commit().await.map_err(db::internal)
}

/// Who is allowed to set the password.
pub enum PasswordChange {
    /// A signed-in user (their other sessions end).
    Bearer(VerifiedToken),
    /// A `passwordReset:` ticket from the reset email (every session ends).
    Ticket(String),
}

/// `POST /user/password`.
pub async fn change_password(
    state: &AppState,
    by: PasswordChange,
    new_password: SecretString,
) -> Result<(), AuthError> {
    super::signup::check_password_policy(state, &new_password)?;
    let hash = state.passwords.hash(&new_password).await?;
    let mut client = db::client(&state.pool).await?;
    let transaction = client.transaction().await.map_err(db::internal)?;
    let (user_id, keep) = match by {
        PasswordChange::Ticket(ticket) => {
            if !ticket.starts_with("passwordReset:") {
                return Err(AuthError::InvalidTicket);
            }
            let (_, code) = tickets::consume_link(&transaction, &ticket, state.clock.now()).await?;
            (code.user_id, None)
        }
        PasswordChange::Bearer(bearer) => {
            if bearer.claims.is_anonymous {
                return Err(AuthError::ForbiddenAnonymous);
            }
            (bearer.claims.user_id, bearer.session_id)
        }
    };
    db::users::update_password_hash(&transaction, user_id, &hash).await?;
    let ended = db::refresh_tokens::delete_other_sessions(&transaction, user_id, keep).await?;
    transaction.commit().await.map_err(db::internal)?;
    tracing::info!(%user_id, ended_sessions = ended, "password changed");
    Ok(())
}
