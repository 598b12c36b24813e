//! Forgotten and changed passwords. A reset request answers the same whether or not the address exists
//! (the lookup and the mail happen after the answer). Setting a new password ends the user's other sessions
//! and personal access tokens: all sessions after a reset by ticket, all but the caller's own after a change
//! with a bearer token.
use secrecy::SecretString;

use super::tickets::{self, LinkKind, LinkRequest};
use super::verification::redirect_policy;
use crate::db;
use crate::domain::Email;
use crate::error::AuthError;
use crate::jwt::VerifiedToken;
use crate::mail::{OutgoingEmail, Template, TemplateVariables};
use crate::state::AppState;

/// `POST /user/password/reset`.
pub fn request_password_reset(state: &AppState, email: Email, redirect_to: Option<&str>) -> Result<(), AuthError> {
    let redirect_to = redirect_policy(state).resolve(redirect_to)?;
    let background = state.clone();
    state
        .background
        .spawn("password reset email", async move { send_reset_link(&background, email, redirect_to).await });
    Ok(())
}

async fn send_reset_link(state: &AppState, email: Email, redirect_to: String) -> Result<(), AuthError> {
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let Some(user) = tickets::enabled_user_by_email(&transaction, email.as_str()).await? else {
        return Ok(());
    };
    let to = user.email.clone().unwrap_or_default();
    let request = LinkRequest {
        kind: LinkKind::PasswordReset,
        user: &user,
        to: &to,
        redirect_to: &redirect_to,
        new_email: None,
        old_email: None,
    };
    tickets::send_link(state, &transaction, request).await?;
    db::commit(transaction).await
}

/// Who is allowed to set the password.
pub enum PasswordChange {
    /// A signed-in user (their other sessions end).
    Bearer(VerifiedToken),
    /// A `passwordReset:` ticket from the reset email (every session ends).
    Ticket(String),
}

/// `POST /user/password`. The new password ends the user's other sessions and their personal access
/// tokens, burns every outstanding ticket and code, and sends a notice to the user's address.
pub async fn change_password(
    state: &AppState,
    by: PasswordChange,
    new_password: SecretString,
) -> Result<(), AuthError> {
    super::signup::check_password_policy(state, &new_password).await?;
    let hash = state.passwords.hash(&new_password).await?;
    let now = state.clock.now();
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let (user_id, keep) = match by {
        PasswordChange::Ticket(ticket) => {
            if !ticket.starts_with("passwordReset:") {
                return Err(AuthError::InvalidTicket);
            }
            let (_, code) = tickets::consume_link(&transaction, &ticket, now).await?;
            super::lockout::unlock(&transaction, code.user_id).await?;
            (code.user_id, None)
        }
        PasswordChange::Bearer(bearer) => {
            if bearer.claims.is_anonymous {
                return Err(AuthError::ForbiddenAnonymous);
            }
            (bearer.claims.user_id, bearer.session_id)
        }
    };
    db::users::lock_user(&transaction, user_id).await?;
    let user = db::users::select_user_by_id(&transaction, user_id)
        .await?
        .ok_or(AuthError::Unauthenticated("the user of this token no longer exists"))?;
    db::users::update_password_hash(&transaction, user_id, &hash).await?;
    let ended = db::refresh_tokens::delete_other_sessions(&transaction, user_id, keep).await?;
    db::tickets::burn_all_user_codes(&transaction, user_id, now).await?;
    if let Some(email) = &user.email {
        let notice = OutgoingEmail {
            to: email.clone(),
            template: Template::PasswordChanged,
            locale: user.locale.clone(),
            variables: TemplateVariables {
                display_name: user.display_name.clone(),
                email: email.clone(),
                locale: user.locale.clone(),
                server_url: state.config.http.server_url.to_string(),
                client_url: state.config.http.client_url.as_ref().map(|u| u.to_string()).unwrap_or_default(),
                ..Default::default()
            },
            headers: vec![("X-Email-Template".into(), Template::PasswordChanged.dir_name().into())],
        };
        state.mail.enqueue(&transaction, &notice, now).await?;
    }
    let how = if keep.is_some() { "password.change" } else { "password.reset" };
    super::audit::record(state, &transaction, super::audit::Event::of(how, user_id, serde_json::json!({}))).await?;
    db::commit(transaction).await?;
    tracing::info!(%user_id, ended_tokens = ended, "password changed");
    Ok(())
}
