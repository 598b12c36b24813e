//! Sign-up with email and password. The user and their roles are inserted in one transaction, so a refused
//! sign-up stores nothing. When new users are disabled or a verified email is required, no session is
//! returned (the user verifies their email first).
use secrecy::SecretString;

use crate::db;
use crate::domain::Email;
use crate::domain::user::{NewUser, SignupOptions};
use crate::error::AuthError;
use crate::flows::Session;
use crate::flows::session::{SigninMethod, complete_signin};
use crate::state::AppState;

/// Checks a new password against the configured policy; every path that sets a password calls this.
pub async fn check_password_policy(state: &AppState, password: &SecretString) -> Result<(), AuthError> {
    crate::domain::password::check_new_password(password, state.config.passwords.min_length)?;
    super::breached_passwords::refuse_breached(state, password).await
}

pub async fn signup_email_password(
    state: &AppState,
    email: Email,
    password: SecretString,
    options: SignupOptions,
) -> Result<Option<Session>, AuthError> {
    let users = &state.config.users;
    if users.disable_signup {
        return Err(AuthError::SignupDisabled);
    }
    if !crate::domain::access::email_allowed(&state.config.access, &email) {
        return Err(AuthError::InvalidEmailPassword);
    }
    check_password_policy(state, &password).await?;
    let profile = options.resolve(users, Some(&email))?;
    // The redirect a verification email will carry must be allowed even if no email is sent now.
    let redirect_to = super::verification::redirect_policy(state).resolve(options.redirect_to.as_deref())?;
    let password_hash = state.passwords.hash(&password).await?;
    let new_user =
        NewUser::from_profile(state.random.uuid(), Some(email), Some(password_hash), profile, users.disable_new_users);
    let now = state.clock.now();
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    db::users::insert_user(&transaction, &new_user, now).await?;
    let details = serde_json::json!({"method": "email-password"});
    super::audit::record(state, &transaction, super::audit::Event::of("signup", new_user.id, details)).await?;
    let session = if users.disable_new_users {
        None
    } else if users.email_verified_required {
        let user = db::users::select_user_by_id(&transaction, new_user.id)
            .await?
            .ok_or_else(|| AuthError::internal("inserted user not found"))?;
        let to = user.email.clone().unwrap_or_default();
        let request = super::tickets::LinkRequest {
            kind: super::tickets::LinkKind::VerifyEmail,
            user: &user,
            to: &to,
            redirect_to: &redirect_to,
            new_email: None,
            old_email: None,
        };
        super::tickets::send_link(state, &transaction, request).await?;
        None
    } else {
        let user = db::users::select_user_by_id(&transaction, new_user.id)
            .await?
            .ok_or_else(|| AuthError::internal("inserted user not found"))?;
        Some(complete_signin(state, &transaction, user, SigninMethod::Signup).await?.into_session()?)
    };
    db::commit(transaction).await?;
    tracing::info!(user_id = %new_user.id, "user signed up");
    if users.disable_new_users {
        // As in nhost: the account exists (an administrator can enable it) but cannot be used yet.
        return Err(AuthError::DisabledUser);
    }
    Ok(session)
}
