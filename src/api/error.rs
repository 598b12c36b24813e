//! The single table from errors to HTTP: [`ApiError`] carries nhost's `{"status","error","message"}` body
//! with the reference API's error codes. Framework errors (unparsable JSON, wrong types, unknown fields,
//! oversized bodies, unknown routes) get the same shape through [`error_response`]. A 500 shows only the
//! request id; its cause goes to the log.
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::error::AuthError;
use crate::telemetry::current_request_id;

/// The error body of every failed request.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ErrorResponse")]
pub struct ErrorBody {
    /// HTTP status code.
    pub status: u16,
    /// Stable error code, e.g. `invalid-email-password`.
    pub error: String,
    /// Human-readable message.
    pub message: String,
}

#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed or breaks a rule.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Credentials are missing, wrong or expired.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The action is not allowed.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such resource.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The resource conflicts with an existing one, or the endpoint is disabled.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// Too many attempts; `Retry-After` says when to try again.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// The request body is too large.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The request body is not of a type the operation takes.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// An upstream (the database, a sign-in or SMS provider) is unavailable; `Retry-After` says when to try
    /// again.
    #[oai(status = 503)]
    ServiceUnavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// An internal fault; the body holds only a request id.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
}

/// Seconds a client is told to wait while the database is unavailable (a restart or failover).
const RETRY_AFTER_DATABASE: u64 = 5;
/// Seconds a client is told to wait while the SMS provider fails.
const RETRY_AFTER_SMS: u64 = 30;

fn body(status: StatusCode, error: &str, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody { status: status.as_u16(), error: error.to_string(), message: message.into() })
}

impl ApiError {
    pub fn bad_request(error: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest(body(StatusCode::BAD_REQUEST, error, message))
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::bad_request("invalid-request", message)
    }

    fn unauthorized(error: &str, message: impl Into<String>) -> Self {
        ApiError::Unauthorized(body(StatusCode::UNAUTHORIZED, error, message))
    }

    /// A 500 whose cause is logged with the request id and never sent.
    pub fn internal(cause: &dyn std::fmt::Debug) -> Self {
        let request_id = current_request_id();
        tracing::error!(%request_id, cause = ?cause, "internal error");
        ApiError::Internal(body(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-server-error",
            format!("Internal server error (request id {request_id})"),
        ))
    }
}

impl ApiError {
    /// The status and body, for edges that answer in another shape (Hasura actions).
    pub fn into_parts(self) -> (StatusCode, ErrorBody) {
        let (ApiError::BadRequest(Json(body))
        | ApiError::Unauthorized(Json(body))
        | ApiError::Forbidden(Json(body))
        | ApiError::NotFound(Json(body))
        | ApiError::Conflict(Json(body))
        | ApiError::TooManyRequests(Json(body), _)
        | ApiError::ServiceUnavailable(Json(body), _)
        | ApiError::PayloadTooLarge(Json(body))
        | ApiError::UnsupportedMediaType(Json(body))
        | ApiError::Internal(Json(body))) = self;
        (StatusCode::from_u16(body.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body)
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        let message = error.to_string();
        match error {
            AuthError::InvalidRequest(_) => Self::invalid_request(message),
            AuthError::PasswordTooShort => Self::bad_request("password-too-short", message),
            AuthError::PasswordInHibpDatabase => Self::bad_request("password-in-hibp-database", message),
            AuthError::RoleNotAllowed => Self::bad_request("role-not-allowed", message),
            AuthError::DefaultRoleMustBeInAllowedRoles => {
                Self::bad_request("default-role-must-be-in-allowed-roles", message)
            }
            AuthError::RedirectToNotAllowed => Self::bad_request("redirectTo-not-allowed", message),
            AuthError::InvalidEmailPassword => Self::unauthorized("invalid-email-password", message),
            AuthError::DisabledUser => Self::unauthorized("disabled-user", message),
            AuthError::UnverifiedUser => Self::unauthorized("unverified-user", message),
            AuthError::InvalidRefreshToken => Self::unauthorized("invalid-refresh-token", message),
            AuthError::Unauthenticated(_) => Self::unauthorized("invalid-request", message),
            AuthError::SignupDisabled => ApiError::Forbidden(body(StatusCode::FORBIDDEN, "signup-disabled", message)),
            AuthError::EmailAlreadyInUse => {
                ApiError::Conflict(body(StatusCode::CONFLICT, "email-already-in-use", message))
            }
            AuthError::DisabledEndpoint => ApiError::Conflict(body(StatusCode::CONFLICT, "disabled-endpoint", message)),
            AuthError::InvalidPat => Self::unauthorized("invalid-pat", message),
            AuthError::ForbiddenAnonymous => {
                ApiError::Forbidden(body(StatusCode::FORBIDDEN, "forbidden-anonymous", message))
            }
            AuthError::InvalidTicket => Self::unauthorized("invalid-ticket", message),
            AuthError::InvalidOtp => Self::bad_request("invalid-otp", message),
            AuthError::EmailAlreadyVerified => Self::bad_request("email-already-verified", message),
            AuthError::UserNotAnonymous => Self::bad_request("user-not-anonymous", message),
            AuthError::CannotSendSms => Self::bad_request("cannot-send-sms", message),
            AuthError::NotFound(_) => ApiError::NotFound(body(StatusCode::NOT_FOUND, "not-found", message)),
            AuthError::TooManyRequests { retry_after } => ApiError::TooManyRequests(
                body(StatusCode::TOO_MANY_REQUESTS, "too-many-requests", message),
                retry_after.max(1),
            ),
            AuthError::InvalidState => Self::bad_request("invalid-state", message),
            AuthError::OAuthTokenExchangeFailed(_) => Self::bad_request("oauth-token-echange-failed", message),
            AuthError::OAuthProfileFetchFailed(_) => Self::bad_request("oauth-profile-fetch-failed", message),
            AuthError::OAuthProviderError(_) => Self::bad_request("oauth-provider-error", message),
            AuthError::EmailNeedsLinking => {
                ApiError::Conflict(body(StatusCode::CONFLICT, "email-needs-linking", message))
            }
            AuthError::ProviderAlreadyLinked => {
                ApiError::Conflict(body(StatusCode::CONFLICT, "provider-already-linked", message))
            }
            AuthError::RoleInUse => ApiError::Conflict(body(StatusCode::CONFLICT, "role-in-use", message)),
            AuthError::LastSignInMethod => {
                ApiError::Conflict(body(StatusCode::CONFLICT, "last-sign-in-method", message))
            }
            AuthError::ProviderReauthenticationRequired => {
                ApiError::Conflict(body(StatusCode::CONFLICT, "provider-reauthentication-required", message))
            }
            AuthError::ProviderUnavailable { retry_after } => ApiError::ServiceUnavailable(
                body(StatusCode::SERVICE_UNAVAILABLE, "provider-unavailable", message),
                retry_after.max(1),
            ),
            AuthError::DisabledMfaTotp => Self::bad_request("disabled-mfa-totp", message),
            AuthError::NoTotpSecret => Self::bad_request("no-totp-secret", message),
            AuthError::InvalidTotp => Self::unauthorized("invalid-totp", message),
            AuthError::MfaTypeNotFound => Self::bad_request("mfa-type-not-found", message),
            AuthError::TotpAlreadyActive => Self::bad_request("totp-already-active", message),
            AuthError::PhoneNumberInUse => {
                ApiError::Conflict(body(StatusCode::CONFLICT, "phone-number-already-in-use", message))
            }
            AuthError::ElevatedClaimRequired => {
                ApiError::Forbidden(body(StatusCode::FORBIDDEN, "elevated-claim-required", message))
            }
            AuthError::MfaRequiredForRole => {
                ApiError::Forbidden(body(StatusCode::FORBIDDEN, "mfa-required-for-role", message))
            }
            AuthError::DatabaseUnavailable => ApiError::ServiceUnavailable(
                body(StatusCode::SERVICE_UNAVAILABLE, "database-unavailable", message),
                RETRY_AFTER_DATABASE,
            ),
            AuthError::SmsProviderUnavailable => ApiError::ServiceUnavailable(
                body(StatusCode::SERVICE_UNAVAILABLE, "cannot-send-sms", message),
                RETRY_AFTER_SMS,
            ),
            AuthError::Internal(cause) => Self::internal(&cause),
        }
    }
}

/// Turns any error that escaped a handler (framework errors included) into the JSON error shape.
pub fn error_response(error: poem::Error) -> Response {
    if error.is_from_response() {
        return error.into_response();
    }
    let status = error.status();
    let api_error = match status {
        StatusCode::NOT_FOUND => {
            return (status, body(status, "route-not-found", "No such route")).into_response();
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            return (status, body(status, "method-not-allowed", "Method not allowed on this route")).into_response();
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(body(status, "invalid-request", "The request body is too large"))
        }
        StatusCode::UNAUTHORIZED => ApiError::unauthorized("invalid-request", "Missing or invalid bearer token"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMediaType(body(status, "invalid-request", error.to_string()))
        }
        status if status.is_client_error() => {
            // Parse errors describe the client's own request (field names, expected types); safe to return.
            return (status, body(status, "invalid-request", error.to_string())).into_response();
        }
        _ => ApiError::internal(&error),
    };
    api_error.into_response()
}
