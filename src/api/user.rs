//! Tag `user`: the signed-in user's account.
use poem_openapi::OpenApi;
use poem_openapi::payload::Json;

use super::ApiTags;
use super::error::ApiError;
use super::schemas::UserBody;
use super::security::BearerAuth;
use crate::flows;
use crate::state::AppState;

pub struct UserApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::User")]
impl UserApi {
    /// Get user information
    #[oai(path = "/user", method = "get", operation_id = "getUser")]
    async fn get_user(&self, auth: BearerAuth) -> Result<Json<UserBody>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        let user = flows::user::current_user(&self.state, bearer.claims.user_id).await?;
        Ok(Json(user.into()))
    }
}
