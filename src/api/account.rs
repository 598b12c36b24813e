//! Tag `user`, account changes: email verification, password reset and change, email change and upgrading
//! an anonymous user.
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use super::body::JsonBody;
use super::error::ApiError;
use super::schemas::{SecretField, SignUpOptionsBody};
use super::security::{BearerAuth, optional_bearer};
use crate::domain::Email;
use crate::error::AuthError;
use crate::flows;
use crate::flows::deanonymize::SignInMethod;
use crate::flows::password::PasswordChange;
use crate::state::AppState;

#[derive(Object, Default, serde::Deserialize)]
#[oai(rename = "OptionsRedirectTo", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct OptionsRedirectTo {
    #[oai(rename = "redirectTo")]
    #[serde(rename = "redirectTo")]
    pub redirect_to: Option<String>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "UserEmailRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    pub email: String,
    pub options: Option<OptionsRedirectTo>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "UserPasswordRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    #[oai(rename = "newPassword")]
    #[serde(rename = "newPassword")]
    pub new_password: SecretField,
    /// A `passwordReset:` ticket, when not signed in.
    pub ticket: Option<String>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "UserEmailChangeRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeRequest {
    #[oai(rename = "newEmail")]
    #[serde(rename = "newEmail")]
    pub new_email: String,
    pub options: Option<OptionsRedirectTo>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "UserDeanonymizeRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct DeanonymizeRequest {
    /// `email-password` or `passwordless`.
    #[oai(rename = "signInMethod")]
    #[serde(rename = "signInMethod")]
    pub sign_in_method: String,
    pub email: String,
    pub password: Option<SecretField>,
    /// Deprecated and ignored.
    pub connection: Option<String>,
    pub options: Option<SignUpOptionsBody>,
}

fn ok() -> Json<String> {
    Json("OK".to_string())
}

fn redirect_to(options: &Option<OptionsRedirectTo>) -> Option<&str> {
    options.as_ref().and_then(|o| o.redirect_to.as_deref())
}

pub struct AccountApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::User")]
impl AccountApi {
    /// Send verification email
    #[oai(path = "/user/email/send-verification-email", method = "post", operation_id = "sendVerificationEmail")]
    async fn send_verification_email(&self, body: JsonBody<EmailRequest>) -> Result<Json<String>, ApiError> {
        let email = Email::parse(&body.0.email)?;
        flows::verification::send_verification_email(&self.state, email, redirect_to(&body.0.options))?;
        Ok(ok())
    }

    /// Request password reset
    ///
    /// Answers the same whether or not the address has an account.
    #[oai(path = "/user/password/reset", method = "post", operation_id = "sendPasswordResetEmail")]
    async fn password_reset(&self, body: JsonBody<EmailRequest>) -> Result<Json<String>, ApiError> {
        let email = Email::parse(&body.0.email)?;
        flows::password::request_password_reset(&self.state, email, redirect_to(&body.0.options))?;
        Ok(ok())
    }

    /// Change user password
    ///
    /// With a bearer token (the user's other sessions end) or a `passwordReset:` ticket (every session ends).
    #[oai(path = "/user/password", method = "post", operation_id = "changeUserPassword")]
    async fn change_password(&self, req: &Request, body: JsonBody<PasswordRequest>) -> Result<Json<String>, ApiError> {
        let body = body.0;
        let by = match (body.ticket, optional_bearer(req)) {
            (Some(ticket), _) => PasswordChange::Ticket(ticket),
            (None, Some(token)) => {
                let bearer = flows::session::authenticate(&self.state, token)?;
                flows::elevation::ensure(&self.state, &bearer).await?;
                PasswordChange::Bearer(bearer)
            }
            (None, None) => return Err(AuthError::Unauthenticated("a bearer token or a ticket is required").into()),
        };
        flows::password::change_password(&self.state, by, body.new_password.0).await?;
        Ok(ok())
    }

    /// Change user email
    #[oai(path = "/user/email/change", method = "post", operation_id = "changeUserEmail")]
    async fn change_email(
        &self,
        auth: BearerAuth,
        body: JsonBody<EmailChangeRequest>,
    ) -> Result<Json<String>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        flows::elevation::ensure(&self.state, &bearer).await?;
        let new_email = Email::parse(&body.0.new_email)?;
        flows::email_change::change_email(&self.state, &bearer, new_email, redirect_to(&body.0.options)).await?;
        Ok(ok())
    }

    /// Deanonymize an anonymous user
    #[oai(path = "/user/deanonymize", method = "post", operation_id = "deanonymizeUser")]
    async fn deanonymize(
        &self,
        auth: BearerAuth,
        body: JsonBody<DeanonymizeRequest>,
    ) -> Result<Json<String>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        let body = body.0;
        let email = Email::parse(&body.email)?;
        let method = match (body.sign_in_method.as_str(), body.password) {
            ("email-password", Some(password)) => SignInMethod::EmailPassword(password.0),
            ("email-password", None) => {
                return Err(ApiError::invalid_request("password is required for email-password"));
            }
            ("passwordless", _) => SignInMethod::Passwordless,
            _ => return Err(ApiError::invalid_request("signInMethod must be email-password or passwordless")),
        };
        let options = body.options.unwrap_or_default().into();
        flows::deanonymize::deanonymize(&self.state, &bearer, email, method, options).await?;
        Ok(ok())
    }
}
