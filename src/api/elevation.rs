//! Elevation (tag `security`, bearer): `POST /elevate/password`, `POST /elevate/totp` and `POST /elevate/sms`
//! (after `POST /elevate/sms/send`) prove presence again and answer a short-lived access token carrying
//! `x-hasura-auth-elevated`; the refresh token is unchanged.
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use super::body::JsonBody;
use super::error::ApiError;
use super::schemas::SecretField;
use super::security::BearerAuth;
use crate::flows;
use crate::flows::elevation::Elevated;
use crate::state::AppState;

#[derive(Object, serde::Deserialize)]
#[oai(rename = "ElevatePasswordRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ElevatePasswordRequest {
    pub password: SecretField,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "ElevateOtpRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ElevateTotpRequest {
    /// A current code from the authenticator app, or the code sent by SMS.
    #[oai(validator(max_length = 64))]
    pub otp: String,
}

#[derive(Object)]
#[oai(rename = "ElevatedAccessToken", rename_all = "camelCase")]
pub struct ElevatedBody {
    /// An access token carrying `x-hasura-auth-elevated`.
    pub access_token: String,
    /// Seconds it lives.
    pub access_token_expires_in: i64,
}

impl From<Elevated> for ElevatedBody {
    fn from(elevated: Elevated) -> Self {
        ElevatedBody { access_token: elevated.access_token, access_token_expires_in: elevated.access_token_expires_in }
    }
}

pub struct ElevationApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Security")]
impl ElevationApi {
    /// Elevate with the password
    #[oai(path = "/elevate/password", method = "post", operation_id = "elevatePassword")]
    async fn password(
        &self,
        auth: BearerAuth,
        body: JsonBody<ElevatePasswordRequest>,
    ) -> Result<Json<ElevatedBody>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        Ok(Json(flows::elevation::with_password(&self.state, &bearer, body.0.password.0).await?.into()))
    }

    /// Send an elevation code by SMS
    ///
    /// To the user's SMS second factor; `POST /elevate/sms` then takes it.
    #[oai(path = "/elevate/sms/send", method = "post", operation_id = "elevateSmsSend")]
    async fn sms_send(&self, auth: BearerAuth) -> Result<Json<String>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        flows::mfa::sms::send_elevation_code(&self.state, bearer.claims.user_id).await?;
        Ok(Json("OK".to_string()))
    }

    /// Elevate with an SMS code
    #[oai(path = "/elevate/sms", method = "post", operation_id = "elevateSms")]
    async fn sms(&self, auth: BearerAuth, body: JsonBody<ElevateTotpRequest>) -> Result<Json<ElevatedBody>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        Ok(Json(flows::elevation::with_sms(&self.state, &bearer, &body.0.otp).await?.into()))
    }

    /// Elevate with a TOTP code
    #[oai(path = "/elevate/totp", method = "post", operation_id = "elevateTotp")]
    async fn totp(&self, auth: BearerAuth, body: JsonBody<ElevateTotpRequest>) -> Result<Json<ElevatedBody>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        Ok(Json(flows::elevation::with_totp(&self.state, &bearer, &body.0.otp).await?.into()))
    }
}
