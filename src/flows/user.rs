//! The signed-in user's own account.
use crate::db;
use crate::domain::user::User;
use crate::error::AuthError;
use crate::state::AppState;
use uuid::Uuid;

/// `GET /user`: the signed-in user, with roles. A token whose user no longer exists is refused.
pub async fn current_user(state: &AppState, user_id: Uuid) -> Result<User, AuthError> {
    let client = db::client(&state.pool).await?;
    let user = db::users::select_user_by_id(&client, user_id)
        .await?
        .ok_or(AuthError::Unauthenticated("the user of this token no longer exists"))?;
    super::session::check_account(state, &user)?;
    Ok(user)
}
