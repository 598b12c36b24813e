//! Second factors, nhost's routes: `GET /mfa/totp/generate` and `POST /user/mfa` (tag `user`, bearer) enrol,
//! activate and deactivate TOTP; `POST /signin/mfa/totp` (tag `authentication`) completes a challenged
//! sign-in. Beyond nhost, activation answers the ten recovery codes (shown this once) and
//! `POST /user/mfa/recovery-codes` replaces them.
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use super::body::JsonBody;
use super::error::ApiError;
use super::schemas::SignInResponseBody;
use super::security::BearerAuth;
use crate::flows;
use crate::state::AppState;

#[derive(Object)]
#[oai(rename = "TotpGenerateResponse", rename_all = "camelCase")]
pub struct TotpGenerateResponse {
    /// The QR code to scan with an authenticator app (a PNG data URL).
    pub image_url: String,
    /// The secret, base32, for entering by hand.
    pub totp_secret: String,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "UserMfaRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserMfaRequest {
    /// A code from the authenticator app (or, to deactivate, a recovery code).
    #[oai(validator(max_length = 64))]
    pub code: String,
    /// `totp` to activate, `""` to deactivate.
    #[oai(validator(max_length = 16))]
    pub active_mfa_type: Option<String>,
}

#[derive(Object)]
#[oai(rename = "RecoveryCodesResponse", rename_all = "camelCase")]
pub struct RecoveryCodesResponse {
    /// Single-use codes that stand in for a TOTP code; shown only this once (empty on deactivation).
    pub recovery_codes: Vec<String>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "RecoveryCodesRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoveryCodesRequest {
    /// A current code from the authenticator app.
    #[oai(validator(max_length = 64))]
    pub code: String,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignInMfaTotpRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInMfaTotpRequest {
    /// The ticket of the challenged sign-in (`mfaTotp:<uuid>`).
    #[oai(validator(max_length = 128))]
    pub ticket: String,
    /// A code from the authenticator app, or a recovery code.
    #[oai(validator(max_length = 64))]
    pub otp: String,
}

pub struct MfaUserApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::User")]
impl MfaUserApi {
    /// Generate TOTP secret
    ///
    /// A new secret to enrol in an authenticator app, replacing one not yet activated.
    #[oai(path = "/mfa/totp/generate", method = "get", operation_id = "changeUserMfa")]
    async fn generate(&self, auth: BearerAuth) -> Result<Json<TotpGenerateResponse>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        flows::elevation::ensure(&self.state, &bearer).await?;
        let setup = flows::mfa::generate_totp(&self.state, bearer.claims.user_id).await?;
        Ok(Json(TotpGenerateResponse { image_url: setup.image_url, totp_secret: setup.secret }))
    }

    /// Activate or deactivate TOTP
    ///
    /// `activeMfaType: "totp"` with a first code activates (answering the recovery codes, shown this once);
    /// `activeMfaType: ""` with a code or a recovery code deactivates.
    #[oai(path = "/user/mfa", method = "post", operation_id = "verifyChangeUserMfa")]
    async fn change(
        &self,
        auth: BearerAuth,
        body: JsonBody<UserMfaRequest>,
    ) -> Result<Json<RecoveryCodesResponse>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        flows::elevation::ensure(&self.state, &bearer).await?;
        let body = body.0;
        let kind = body.active_mfa_type.unwrap_or_default();
        let codes = flows::mfa::change_mfa(&self.state, bearer.claims.user_id, &body.code, &kind).await?;
        Ok(Json(RecoveryCodesResponse { recovery_codes: codes }))
    }

    /// Enrol a phone number as a second factor
    ///
    /// Sends a code to the number; `POST /user/mfa` with `activeMfaType: "sms"` and that code activates it.
    #[oai(path = "/user/mfa/sms", method = "post", operation_id = "enrolUserMfaSms")]
    async fn enrol_sms(&self, auth: BearerAuth, body: JsonBody<UserMfaSmsRequest>) -> Result<Json<String>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        flows::elevation::ensure(&self.state, &bearer).await?;
        flows::mfa::sms::enrol(&self.state, bearer.claims.user_id, &body.0.phone_number).await?;
        Ok(Json("OK".to_string()))
    }

    /// Regenerate recovery codes
    ///
    /// Replaces the recovery codes, for a current TOTP code.
    #[oai(path = "/user/mfa/recovery-codes", method = "post", operation_id = "regenerateRecoveryCodes")]
    async fn recovery_codes(
        &self,
        auth: BearerAuth,
        body: JsonBody<RecoveryCodesRequest>,
    ) -> Result<Json<RecoveryCodesResponse>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        flows::elevation::ensure(&self.state, &bearer).await?;
        let codes = flows::mfa::regenerate_recovery_codes(&self.state, bearer.claims.user_id, &body.0.code).await?;
        Ok(Json(RecoveryCodesResponse { recovery_codes: codes }))
    }
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "UserMfaSmsRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserMfaSmsRequest {
    /// The number to enrol (E.164, or national in the default region).
    #[oai(validator(max_length = 32))]
    pub phone_number: String,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignInMfaSmsRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInMfaSmsRequest {
    /// The ticket of the challenged sign-in (`mfaSms:<uuid>`).
    #[oai(validator(max_length = 128))]
    pub ticket: String,
    /// The code sent by SMS, or a recovery code.
    #[oai(validator(max_length = 64))]
    pub otp: String,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignInMfaSmsResendRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInMfaSmsResendRequest {
    /// The ticket of the challenged sign-in (`mfaSms:<uuid>`).
    #[oai(validator(max_length = 128))]
    pub ticket: String,
}

pub struct MfaSigninApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Authentication")]
impl MfaSigninApi {
    /// Verify TOTP for MFA
    ///
    /// Completes a sign-in challenged for its second factor, with a TOTP code or a recovery code. Five
    /// wrong codes burn the ticket.
    #[oai(path = "/signin/mfa/totp", method = "post", operation_id = "verifySignInMfaTotp")]
    async fn signin_totp(&self, body: JsonBody<SignInMfaTotpRequest>) -> Result<Json<SignInResponseBody>, ApiError> {
        let signed_in = flows::mfa::signin_totp(&self.state, &body.0.ticket, &body.0.otp).await?;
        Ok(Json(signed_in.into()))
    }

    /// Verify an SMS code for MFA
    ///
    /// Completes a sign-in challenged for its SMS second factor, with the code sent or a recovery code. Five
    /// wrong codes burn the ticket.
    #[oai(path = "/signin/mfa/sms", method = "post", operation_id = "verifySignInMfaSms")]
    async fn signin_sms(&self, body: JsonBody<SignInMfaSmsRequest>) -> Result<Json<SignInResponseBody>, ApiError> {
        let signed_in = flows::mfa::sms::signin(&self.state, &body.0.ticket, &body.0.otp).await?;
        Ok(Json(signed_in.into()))
    }

    /// Resend the SMS code of a challenged sign-in
    ///
    /// At most every 30 seconds (429 with `Retry-After` otherwise).
    #[oai(path = "/signin/mfa/sms/resend", method = "post", operation_id = "resendSignInMfaSms")]
    async fn resend_sms(&self, body: JsonBody<SignInMfaSmsResendRequest>) -> Result<Json<String>, ApiError> {
        flows::mfa::sms::resend(&self.state, &body.0.ticket).await?;
        Ok(Json("OK".to_string()))
    }
}
