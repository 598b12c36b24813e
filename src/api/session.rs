//! Tag `session`: refreshing, verifying and ending sessions.
use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use super::body::JsonBody;
use super::error::ApiError;
use super::schemas::{SecretField, SessionBody};
use super::security::{BearerAuth, optional_bearer};
use crate::flows;
use crate::state::AppState;
use uuid::Uuid;

#[derive(Object, serde::Deserialize)]
#[oai(rename = "RefreshTokenRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct RefreshTokenRequest {
    /// The refresh token of the session.
    #[oai(rename = "refreshToken")]
    #[serde(rename = "refreshToken")]
    pub refresh_token: SecretField,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignOutRequest")]
#[serde(rename = "SignOutRequest")]
pub struct SignOutRequest {
    /// The refresh token of the session to end.
    #[oai(rename = "refreshToken")]
    #[serde(rename = "refreshToken")]
    pub refresh_token: Option<SecretField>,
    /// End every session of the user (needs a bearer token).
    pub all: Option<bool>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "VerifyTokenRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct VerifyTokenRequest {
    /// The access token to verify; the bearer token is used when absent.
    pub token: Option<String>,
}

/// One of the user's sessions (a sign-in and the refresh tokens rotated from it).
#[derive(Object)]
#[oai(rename = "UserSession", rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct SessionSummaryBody {
    pub id: String,
    /// When the user signed in (absent for sessions started before this was recorded).
    pub created_at: Option<DateTime<Utc>>,
    /// When its refresh token was last used (or issued).
    pub last_used_at: DateTime<Utc>,
    /// The client's user agent at sign-in.
    pub user_agent: Option<String>,
    /// The client's IP address at sign-in.
    pub ip: Option<String>,
    /// The session of the bearer token this list was asked with.
    pub current: bool,
}

pub struct SessionApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Session")]
impl SessionApi {
    /// Refresh access token
    ///
    /// Exchanges a refresh token for a new session; the presented token is rotated.
    #[oai(path = "/token", method = "post", operation_id = "refreshToken")]
    async fn refresh_token(&self, body: JsonBody<RefreshTokenRequest>) -> Result<Json<SessionBody>, ApiError> {
        use secrecy::ExposeSecret;
        let session = flows::session::refresh(&self.state, body.0.refresh_token.0.expose_secret()).await?;
        Ok(Json(session.into()))
    }

    /// List sessions
    ///
    /// The signed-in user's live sessions, newest sign-in first; `current` marks the caller's own.
    #[oai(path = "/user/sessions", method = "get", operation_id = "listUserSessions")]
    async fn list_sessions(&self, auth: BearerAuth) -> Result<Json<Vec<SessionSummaryBody>>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        let sessions = flows::session::list_sessions(&self.state, bearer.claims.user_id).await?;
        Ok(Json(
            sessions
                .into_iter()
                .map(|session| SessionSummaryBody {
                    id: session.id.to_string(),
                    created_at: session.signed_in_at,
                    last_used_at: session.last_used_at,
                    user_agent: session.user_agent,
                    ip: session.ip,
                    current: bearer.session_id == Some(session.id),
                })
                .collect(),
        ))
    }

    /// End a session
    ///
    /// Its refresh token stops working at once; its access tokens live out their few minutes.
    #[oai(path = "/user/sessions/:id", method = "delete", operation_id = "deleteUserSession")]
    async fn end_session(&self, auth: BearerAuth, id: Path<Uuid>) -> Result<Json<String>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        flows::elevation::ensure(&self.state, &bearer).await?;
        flows::session::end_session(&self.state, bearer.claims.user_id, id.0).await?;
        Ok(Json("OK".to_string()))
    }

    /// Verify JWT token
    ///
    /// Checks an access token given in the body, or else the bearer token.
    #[oai(path = "/token/verify", method = "post", operation_id = "verifyToken")]
    async fn verify_token(
        &self,
        req: &Request,
        body: JsonBody<Option<VerifyTokenRequest>>,
    ) -> Result<Json<String>, ApiError> {
        let token = body.0.and_then(|b| b.token).or_else(|| optional_bearer(req).map(str::to_string));
        let token = token.ok_or_else(|| ApiError::invalid_request("no token in the body or Authorization header"))?;
        flows::session::authenticate(&self.state, &token)?;
        Ok(Json("OK".to_string()))
    }

    /// Sign out
    ///
    /// Ends the session of the refresh token, or with `all` every session of the bearer's user.
    #[oai(path = "/signout", method = "post", operation_id = "signOut")]
    async fn sign_out(&self, req: &Request, body: JsonBody<SignOutRequest>) -> Result<Json<String>, ApiError> {
        use secrecy::ExposeSecret;
        let body = body.0;
        let all = body.all.unwrap_or(false);
        let bearer = match (all, optional_bearer(req)) {
            (true, Some(token)) => Some(flows::session::authenticate(&self.state, token)?),
            _ => None,
        };
        let refresh_token = body.refresh_token.as_ref().map(|t| t.0.expose_secret());
        let user_id = bearer.map(|b| b.claims.user_id);
        flows::session::sign_out(&self.state, refresh_token, all, user_id).await?;
        Ok(Json("OK".to_string()))
    }
}
