//! Personal access tokens: `POST /pat` (tag `security`, bearer required) creates one; `POST /signin/pat`
//! (tag `authentication`) exchanges one for a session. The token is returned once and stored only hashed.
use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::ApiTags;
use super::body::JsonBody;
use super::error::ApiError;
use super::schemas::{SecretField, SessionPayload};
use super::security::BearerAuth;
use crate::flows;
use crate::state::AppState;

#[derive(Object, serde::Deserialize)]
#[oai(rename = "CreatePATRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePatRequest {
    /// When the PAT stops working; must be in the future.
    pub expires_at: DateTime<Utc>,
    /// Free-form metadata stored with the PAT (a JSON object), e.g. its name.
    pub metadata: Option<Value>,
}

#[derive(Object)]
#[oai(rename = "CreatePATResponse", rename_all = "camelCase")]
pub struct CreatePatResponse {
    /// ID of the PAT.
    pub id: String,
    /// The PAT itself; shown only this once.
    pub personal_access_token: String,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignInPATRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInPatRequest {
    /// The personal access token.
    pub personal_access_token: SecretField,
}

/// A personal access token as its owner sees it: never the token itself.
#[derive(Object)]
#[oai(rename = "PersonalAccessToken", rename_all = "camelCase")]
pub struct PatSummaryBody {
    /// ID of the PAT.
    pub id: String,
    /// The metadata given at creation.
    pub metadata: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub struct PatSecurityApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Security")]
impl PatSecurityApi {
    /// Create a Personal Access Token (PAT)
    ///
    /// Creates a long-lived token for programmatic access, usable with `POST /signin/pat` and as a bearer
    /// token at the Hasura webhook. Anonymous users may not create one.
    #[oai(path = "/pat", method = "post", operation_id = "createPAT")]
    async fn create_pat(
        &self,
        auth: BearerAuth,
        body: JsonBody<CreatePatRequest>,
    ) -> Result<Json<CreatePatResponse>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        flows::elevation::ensure(&self.state, &bearer).await?;
        let body = body.0;
        let created = flows::pat::create(&self.state, bearer.claims.user_id, body.expires_at, body.metadata).await?;
        Ok(Json(CreatePatResponse {
            id: created.id.to_string(),
            personal_access_token: created.token.expose().to_string(),
        }))
    }
}

#[OpenApi(tag = "ApiTags::Security")]
impl PatListApi {
    /// List personal access tokens
    ///
    /// The signed-in user's PATs, oldest first; the tokens themselves are never shown again.
    #[oai(path = "/user/pats", method = "get", operation_id = "listPATs")]
    async fn list_pats(&self, auth: BearerAuth) -> Result<Json<Vec<PatSummaryBody>>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        let pats = flows::pat::list(&self.state, bearer.claims.user_id).await?;
        Ok(Json(
            pats.into_iter()
                .map(|pat| PatSummaryBody {
                    id: pat.id.to_string(),
                    metadata: pat.metadata,
                    created_at: pat.created_at,
                    expires_at: pat.expires_at,
                })
                .collect(),
        ))
    }

    /// Revoke a personal access token
    #[oai(path = "/user/pats/:id", method = "delete", operation_id = "deletePAT")]
    async fn delete_pat(&self, auth: BearerAuth, id: Path<Uuid>) -> Result<Json<String>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        flows::pat::revoke(&self.state, bearer.claims.user_id, id.0).await?;
        Ok(Json("OK".to_string()))
    }
}

pub struct PatListApi {
    pub state: AppState,
}

pub struct PatSigninApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Authentication")]
impl PatSigninApi {
    /// Sign in with Personal Access Token (PAT)
    ///
    /// Returns a session with a new refresh token; the PAT itself is unchanged.
    #[oai(path = "/signin/pat", method = "post", operation_id = "signInPAT")]
    async fn signin_pat(&self, body: JsonBody<SignInPatRequest>) -> Result<Json<SessionPayload>, ApiError> {
        use secrecy::ExposeSecret;
        let session = flows::pat::signin(&self.state, body.0.personal_access_token.0.expose_secret()).await?;
        Ok(Json(SessionPayload { session: Some(session.into()) }))
    }
}
