//! Sign-in with email and password. The password is checked before anything else about the account is
//! revealed, and an unknown email costs the same password check (against a dummy hash), so neither the
//! response nor its timing tells whether the email exists. bcrypt hashes from nhost, and argon2 hashes
//! with outdated parameters, are replaced by a fresh argon2id hash on success.
use secrecy::SecretString;

use crate::db;
use crate::domain::Email;
use crate::error::AuthError;
use crate::flows::session::{SignedIn, SigninMethod, complete_signin};
use crate::state::AppState;

pub async fn signin_email_password(
    state: &AppState,
    email: Email,
    password: SecretString,
) -> Result<SignedIn, AuthError> {
    crate::domain::password::check_presented_password(&password)?;
    let client = db::client(&state.pool).await?;
    let credentials = db::users::select_credentials_by_email(&client, email.as_str()).await?;
    let stored_hash = credentials.as_ref().and_then(|c| c.password_hash.as_deref());
    let verification = state.passwords.verify(&password, stored_hash).await?;
    // A locked account answers as a wrong password does, after the same password check.
    let locked = match &credentials {
        Some(credentials) => super::lockout::is_locked(state, &client, credentials.user_id).await?,
        None => false,
    };
    let credentials = match credentials {
        Some(credentials) if verification.matches && !locked => credentials,
        known => {
            let user_id = known.as_ref().map(|credentials| credentials.user_id);
            if let (Some(user_id), false) = (user_id, verification.matches) {
                super::lockout::record_failure(state, user_id).await?;
            }
            let details = serde_json::json!({"method": "password", "locked": locked});
            let event = super::audit::Event { name: "signin.failure", user_id, provider: None, metadata: details };
            super::audit::record_detached(state, event).await;
            return Err(AuthError::InvalidEmailPassword);
        }
    };
    super::lockout::unlock(&client, credentials.user_id).await?;
    if verification.needs_rehash {
        let fresh = state.passwords.hash(&password).await?;
        db::users::update_password_hash(&client, credentials.user_id, &fresh).await?;
        tracing::info!(user_id = %credentials.user_id, "password hash upgraded to argon2id");
    }
    let user =
        db::users::select_user_by_id(&client, credentials.user_id).await?.ok_or(AuthError::InvalidEmailPassword)?;
    complete_signin(state, &client, user, SigninMethod::Password).await
}
