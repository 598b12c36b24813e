//! Tag `system`: health, version and the JWKS.
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::error::ApiError;
use crate::app::AppState;
use crate::db;

#[derive(Object)]
#[oai(rename = "Version")]
pub struct VersionBody {
    pub version: String,
}

#[derive(ApiResponse)]
pub enum JwksResponse {
    /// The public keys in JWK Set format.
    #[oai(status = 200, content_type = "application/json")]
    Ok(PlainText<String>, #[oai(header = "Cache-Control")] String),
}

pub struct SystemApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::System")]
impl SystemApi {
    /// Health check
    ///
    /// 200 when the service and its database answer.
    #[oai(path = "/healthz", method = "get", operation_id = "healthCheckGet")]
    async fn healthz(&self) -> Result<Json<String>, ApiError> {
        db::ping(&self.state.pool).await.map_err(|e| ApiError::internal(&e))?;
        Ok(Json("OK".to_string()))
    }

    /// Health check (HEAD)
    #[oai(path = "/healthz", method = "head", operation_id = "healthCheckHead")]
    async fn healthz_head(&self) -> Result<(), ApiError> {
        db::ping(&self.state.pool).await.map_err(|e| ApiError::internal(&e))
    }

    /// Get service version
    #[oai(path = "/version", method = "get", operation_id = "getVersion")]
    async fn version(&self) -> Json<VersionBody> {
        Json(VersionBody { version: env!("CARGO_PKG_VERSION").to_string() })
    }

    /// Get public keys for JWT verification in JWK Set format
    ///
    /// Empty for HMAC configurations: a shared secret is never published.
    #[oai(path = "/.well-known/jwks.json", method = "get", operation_id = "getJWKs")]
    async fn jwks(&self) -> JwksResponse {
        JwksResponse::Ok(
            PlainText(self.state.keys.jwks_json().to_string()),
            format!("public, max-age={}", self.state.config.jwt.jwks_max_age),
        )
    }
}
