//! Tag `authentication`, passwordless methods: magic links and codes by email, codes by SMS.
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use super::body::JsonBody;
use super::error::ApiError;
use super::schemas::{SignInResponseBody, SignUpOptionsBody};
use crate::domain::Email;
use crate::flows;
use crate::state::AppState;

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignInPasswordlessEmailRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct EmailSigninRequest {
    pub email: String,
    pub options: Option<SignUpOptionsBody>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignInOTPEmailVerifyRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct EmailOtpVerifyRequest {
    pub otp: String,
    pub email: String,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignInPasswordlessSmsRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct SmsSigninRequest {
    #[oai(rename = "phoneNumber")]
    #[serde(rename = "phoneNumber")]
    pub phone_number: String,
    pub options: Option<SignUpOptionsBody>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignInPasswordlessSmsOtpRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct SmsOtpRequest {
    #[oai(rename = "phoneNumber")]
    #[serde(rename = "phoneNumber")]
    pub phone_number: String,
    pub otp: String,
}

fn ok() -> Json<String> {
    Json("OK".to_string())
}

pub struct PasswordlessApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Authentication")]
impl PasswordlessApi {
    /// Sign in with magic link email
    ///
    /// Answers the same whether or not the address has an account (an unknown one is signed up).
    #[oai(path = "/signin/passwordless/email", method = "post", operation_id = "signInPasswordlessEmail")]
    async fn magic_link(&self, body: JsonBody<EmailSigninRequest>) -> Result<Json<String>, ApiError> {
        let email = Email::parse(&body.0.email)?;
        flows::passwordless::send_magic_link(&self.state, email, body.0.options.unwrap_or_default().into())?;
        Ok(ok())
    }

    /// Sign in with email OTP
    #[oai(path = "/signin/otp/email", method = "post", operation_id = "signInOTPEmail")]
    async fn email_otp(&self, body: JsonBody<EmailSigninRequest>) -> Result<Json<String>, ApiError> {
        let email = Email::parse(&body.0.email)?;
        flows::passwordless::send_email_otp(&self.state, email, body.0.options.unwrap_or_default().into()).await?;
        Ok(ok())
    }

    /// Verify email OTP
    #[oai(path = "/signin/otp/email/verify", method = "post", operation_id = "verifySignInOTPEmail")]
    async fn email_otp_verify(
        &self,
        body: JsonBody<EmailOtpVerifyRequest>,
    ) -> Result<Json<SignInResponseBody>, ApiError> {
        let email = Email::parse(&body.0.email)?;
        let signed_in = flows::passwordless::verify_email_otp(&self.state, email, &body.0.otp).await?;
        Ok(Json(signed_in.into()))
    }

    /// Sign in with SMS OTP
    #[oai(path = "/signin/passwordless/sms", method = "post", operation_id = "signInPasswordlessSms")]
    async fn sms(&self, body: JsonBody<SmsSigninRequest>) -> Result<Json<String>, ApiError> {
        let options = body.0.options.unwrap_or_default().into();
        flows::passwordless::send_sms_code(&self.state, &body.0.phone_number, options).await?;
        Ok(ok())
    }

    /// Verify SMS OTP
    #[oai(path = "/signin/passwordless/sms/otp", method = "post", operation_id = "verifySignInPasswordlessSms")]
    async fn sms_otp(&self, body: JsonBody<SmsOtpRequest>) -> Result<Json<SignInResponseBody>, ApiError> {
        let session = flows::passwordless::verify_sms_code(&self.state, &body.0.phone_number, &body.0.otp).await?;
        Ok(Json(session.into()))
    }
}
