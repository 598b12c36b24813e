//! Anonymous sign-in: a user with no email and no password, holding only the `anonymous` role, gets a
//! session at once. The user and their first refresh token are written in one transaction. Refused when
//! sign-up is disabled (`403 signup-disabled`, checked first, as nhost does) or anonymous users are not
//! enabled (`409 disabled-endpoint`).

use crate::db;
use crate::domain::user::{NewUser, check_display_name, metadata_object};
use crate::error::AuthError;
use crate::flows::Session;
use crate::flows::session::{SigninMethod, complete_signin};
use crate::state::AppState;

/// The only role, and the default role, of an anonymous user.
pub const ANONYMOUS_ROLE: &str = "anonymous";

/// The display name of an anonymous user who did not choose one (nhost's).
pub const DEFAULT_DISPLAY_NAME: &str = "Anonymous User";

/// What the client may say about itself when signing in anonymously (`SignInAnonymousRequest`).
#[derive(Debug, Default, Clone)]
pub struct AnonymousProfile {
    pub display_name: Option<String>,
    pub locale: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

pub async fn signin_anonymous(state: &AppState, profile: AnonymousProfile) -> Result<Session, AuthError> {
    let users = &state.config.users;
    if users.disable_signup {
        return Err(AuthError::SignupDisabled);
    }
    if !state.config.features.anonymous_users {
        return Err(AuthError::DisabledEndpoint);
    }
    if profile.locale.as_ref().is_some_and(|locale| locale.chars().count() != 2) {
        return Err(AuthError::InvalidRequest("locale must be a two-character code".into()));
    }
    // As in nhost: a locale that is not allowed falls back to the default instead of failing.
    let locale = profile
        .locale
        .filter(|locale| users.allowed_locales.contains(locale))
        .unwrap_or_else(|| users.locale_default.clone());
    let metadata = metadata_object(profile.metadata)?;
    if let Some(name) = &profile.display_name {
        check_display_name(name)?;
    }
    let new_user = NewUser {
        id: state.random.uuid(),
        email: None,
        password_hash: None,
        display_name: profile.display_name.unwrap_or_else(|| DEFAULT_DISPLAY_NAME.to_string()),
        avatar_url: String::new(),
        locale,
        default_role: ANONYMOUS_ROLE.to_string(),
        allowed_roles: vec![ANONYMOUS_ROLE.to_string()],
        metadata,
        email_verified: false,
        is_anonymous: true,
        disabled: false,
    };
    let now = state.clock.now();
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    db::users::insert_user(&transaction, &new_user, now).await?;
    let user = db::users::select_user_by_id(&transaction, new_user.id)
        .await?
        .ok_or_else(|| AuthError::internal("inserted anonymous user not found"))?;
    let session = complete_signin(state, &transaction, user, SigninMethod::Anonymous).await?.into_session()?;
    db::commit(transaction).await?;
    tracing::info!(user_id = %new_user.id, "anonymous user signed in");
    Ok(session)
}
