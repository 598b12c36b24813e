//! Turning an anonymous user into a regular one, keeping the id and the data attached to it. The anonymous
//! sessions end (their tokens say "anonymous"); the user signs in again with the new credentials, after
//! verifying the email when that is required, or through the magic link for the passwordless method.
use secrecy::SecretString;

use super::tickets::{self, LinkKind, LinkRequest};
use super::verification::redirect_policy;
use crate::db;
use crate::domain::Email;
use crate::domain::access::email_allowed;
use crate::domain::user::{NewUser, SignupOptions};
use crate::error::AuthError;
use crate::jwt::VerifiedToken;
use crate::state::AppState;

pub enum SignInMethod {
    EmailPassword(SecretString),
    Passwordless,
}

/// `POST /user/deanonymize`.
pub async fn deanonymize(
    state: &AppState,
    bearer: &VerifiedToken,
    email: Email,
    method: SignInMethod,
    options: SignupOptions,
) -> Result<(), AuthError> {
    if !bearer.claims.is_anonymous {
        return Err(AuthError::UserNotAnonymous);
    }
    if !email_allowed(&state.config.access, &email) {
        return Err(AuthError::InvalidEmailPassword);
    }
    let redirect_to = redirect_policy(state).resolve(options.redirect_to.as_deref())?;
    let profile = options.resolve(&state.config.users, Some(&email))?;
    let password_hash = match &method {
        SignInMethod::EmailPassword(password) => {
            super::signup::check_password_policy(state, password).await?;
            Some(state.passwords.hash(password).await?)
        }
        SignInMethod::Passwordless => None,
    };
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let user_id = bearer.claims.user_id;
    db::users::lock_user(&transaction, user_id).await?;
    let upgraded = NewUser::from_profile(user_id, Some(email.clone()), password_hash, profile, false);
    if !db::users::deanonymize_user(&transaction, &upgraded).await? {
        return Err(AuthError::UserNotAnonymous);
    }
    db::refresh_tokens::delete_other_sessions(&transaction, user_id, None).await?;
    let link = match method {
        SignInMethod::Passwordless => Some(LinkKind::PasswordlessEmail),
        SignInMethod::EmailPassword(_) if state.config.users.email_verified_required => Some(LinkKind::VerifyEmail),
        SignInMethod::EmailPassword(_) => None,
    };
    if let Some(kind) = link {
        let user = db::users::select_user_by_id(&transaction, user_id).await?.ok_or(AuthError::UserNotAnonymous)?;
        let request = LinkRequest {
            kind,
            user: &user,
            to: email.as_str(),
            redirect_to: &redirect_to,
            new_email: None,
            old_email: None,
        };
        tickets::send_link(state, &transaction, request).await?;
    }
    db::commit(transaction).await?;
    tracing::info!(%user_id, "anonymous user upgraded");
    Ok(())
}
