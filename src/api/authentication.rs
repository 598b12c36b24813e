//! Tag `authentication`: sign-up and sign-in.
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use super::body::JsonBody;
use super::error::ApiError;
use super::schemas::{SecretField, SessionPayload, SignInResponseBody, SignUpOptionsBody};
use crate::domain::Email;
use crate::flows;
use crate::state::AppState;

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignUpEmailPasswordRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct SignUpEmailPasswordRequest {
    /// Email address for the new account.
    pub email: String,
    /// Password for the new account.
    pub password: SecretField,
    pub options: Option<SignUpOptionsBody>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignInEmailPasswordRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct SignInEmailPasswordRequest {
    pub email: String,
    pub password: SecretField,
}

pub struct AuthenticationApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Authentication")]
impl AuthenticationApi {
    /// Sign up with email and password
    ///
    /// Creates the user; the session is null when the email must be verified first.
    #[oai(path = "/signup/email-password", method = "post", operation_id = "signUpEmailPassword")]
    async fn signup_email_password(
        &self,
        body: JsonBody<SignUpEmailPasswordRequest>,
    ) -> Result<Json<SessionPayload>, ApiError> {
        let body = body.0;
        let email = Email::parse(&body.email)?;
        let options = body.options.unwrap_or_default().into();
        let session = flows::signup::signup_email_password(&self.state, email, body.password.0, options).await?;
        Ok(Json(SessionPayload { session: session.map(Into::into) }))
    }

    /// Sign in with email and password
    #[oai(path = "/signin/email-password", method = "post", operation_id = "signInEmailPassword")]
    async fn signin_email_password(
        &self,
        body: JsonBody<SignInEmailPasswordRequest>,
    ) -> Result<Json<SignInResponseBody>, ApiError> {
        let body = body.0;
        let email =
            Email::parse(&body.email).map_err(|_| ApiError::invalid_request("email is not a valid email address"))?;
        let session = flows::signin::signin_email_password(&self.state, email, body.password.0).await?;
        Ok(Json(session.into()))
    }
}
