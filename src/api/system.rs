//! Tag `system`: liveness (`/healthz`), readiness (`/readyz`: the database answers and is migrated),
//! Prometheus metrics, the version and the JWKS.
use poem::IntoResponse;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::error::ApiError;
use crate::state::AppState;

#[derive(Object)]
#[oai(rename = "Version")]
pub struct VersionBody {
    pub version: String,
}

/// A public key (RFC 7517); which members are present depends on the key type.
#[derive(Object)]
#[oai(rename = "JWK")]
pub struct JwkBody {
    /// Key type: `RSA`, `EC` or `OKP`.
    pub kty: String,
    pub kid: String,
    #[oai(rename = "use")]
    pub key_use: Option<String>,
    pub alg: Option<String>,
    /// RSA modulus and exponent.
    pub n: Option<String>,
    pub e: Option<String>,
    /// Curve and coordinates of EC and OKP keys.
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

/// The JWK Set (RFC 7517 §5).
#[derive(Object)]
#[oai(rename = "JWKSet")]
pub struct JwkSetBody {
    pub keys: Vec<JwkBody>,
}

/// The JWKS, serialised once at start and sent as it is; its schema is [`JwkSetBody`].
pub struct JwksJson(String);

impl poem_openapi::payload::Payload for JwksJson {
    const CONTENT_TYPE: &'static str = "application/json";

    fn schema_ref() -> MetaSchemaRef {
        <JwkSetBody as Type>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        <JwkSetBody as Type>::register(registry);
    }
}

impl IntoResponse for JwksJson {
    fn into_response(self) -> poem::Response {
        poem::Response::builder().content_type("application/json").body(self.0)
    }
}

#[derive(ApiResponse)]
pub enum JwksResponse {
    /// The public keys in JWK Set format.
    #[oai(status = 200)]
    Ok(JwksJson, #[oai(header = "Cache-Control")] String),
}

pub struct SystemApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::System")]
impl SystemApi {
    /// Health check
    ///
    /// 200 while the process serves (liveness); it does not ask the database, so a database outage does
    /// not get a healthy replica restarted. `/readyz` says whether it can do its work.
    #[oai(path = "/healthz", method = "get", operation_id = "healthCheckGet")]
    async fn healthz(&self) -> Json<String> {
        Json("OK".to_string())
    }

    /// Health check (HEAD)
    #[oai(path = "/healthz", method = "head", operation_id = "healthCheckHead")]
    async fn healthz_head(&self) {}

    /// Readiness check
    ///
    /// 200 when the database answers and every migration this version knows is applied; otherwise 503
    /// `database-unavailable` with `Retry-After`.
    #[oai(path = "/readyz", method = "get", operation_id = "readinessCheck")]
    async fn readyz(&self) -> Result<Json<String>, ApiError> {
        crate::flows::health::ready(&self.state).await?;
        Ok(Json("OK".to_string()))
    }

    /// Prometheus metrics
    ///
    /// The text exposition format: requests by route template and status, latencies, sign-ins by method
    /// and outcome, refreshes, webhook calls, refresh-token reuse, rate-limit refusals, the database pool
    /// and the mail outbox's depth.
    #[oai(path = "/metrics", method = "get", operation_id = "getMetrics")]
    async fn metrics(&self) -> Result<PlainText<String>, ApiError> {
        crate::flows::health::refresh_gauges(&self.state).await;
        let text = self.state.metrics.render().map_err(|e| ApiError::internal(&e))?;
        Ok(PlainText(text))
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
            JwksJson(self.state.keys.jwks_json().to_string()),
            format!("public, max-age={}", self.state.config.jwt.jwks_max_age),
        )
    }
}
