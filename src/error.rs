//! `AuthError`: the one error every flow returns. Each variant is something a client can act on and maps
//! to one stable, nhost-compatible error code in `api/error.rs`; `Internal` carries the cause for the log
//! and is never shown to clients.
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AuthError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("Incorrect email or password")]
    InvalidEmailPassword,
    #[error("Email already in use")]
    EmailAlreadyInUse,
    #[error("Password is too short")]
    PasswordTooShort,
    /// The password is known from data breaches (the offline list, or Have I Been Pwned).
    #[error("Password is in HIBP database")]
    PasswordInHibpDatabase,
    #[error("Role not allowed")]
    RoleNotAllowed,
    #[error("Default role must be in allowed roles")]
    DefaultRoleMustBeInAllowedRoles,
    #[error("The value of \"options.redirectTo\" is not allowed.")]
    RedirectToNotAllowed,
    #[error("Sign up is disabled.")]
    SignupDisabled,
    #[error("User is disabled")]
    DisabledUser,
    #[error("User is not verified.")]
    UnverifiedUser,
    #[error("Invalid or expired refresh token")]
    InvalidRefreshToken,
    /// A missing, malformed, expired or wrongly signed access token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("This endpoint is disabled")]
    DisabledEndpoint,
    #[error("Invalid or expired personal access token")]
    InvalidPat,
    #[error("Forbidden, user is anonymous.")]
    ForbiddenAnonymous,
    #[error("Invalid ticket")]
    InvalidTicket,
    #[error("Invalid or expired OTP")]
    InvalidOtp,
    #[error("User's email is already verified")]
    EmailAlreadyVerified,
    #[error("Logged in user is not anonymous")]
    UserNotAnonymous,
    #[error("Cannot send SMS, check your phone number is correct")]
    CannotSendSms,
    #[error("{0}")]
    NotFound(&'static str),
    /// Too many attempts: try again after `retry_after` seconds.
    #[error("Too many attempts, try again later")]
    TooManyRequests { retry_after: u64 },
    /// The provider callback's state is unknown, used, expired, or not this browser's.
    #[error("Invalid or expired state")]
    InvalidState,
    #[error("{0}")]
    OAuthTokenExchangeFailed(String),
    #[error("{0}")]
    OAuthProfileFetchFailed(String),
    /// The provider answered the sign-in with an error.
    #[error("{0}")]
    OAuthProviderError(String),
    /// An account already uses this email, and the provider does not say the email is verified.
    #[error("An account with this email exists: sign in to it, then link the provider")]
    EmailNeedsLinking,
    #[error("This provider account is already linked, or this user already has one of this provider")]
    ProviderAlreadyLinked,
    #[error("The role is still held by users")]
    RoleInUse,
    #[error("The last way to sign in cannot be removed")]
    LastSignInMethod,
    /// The stored provider token is dead and cannot be refreshed: the user must sign in with the provider again.
    #[error("The provider's token expired; sign in with the provider again")]
    ProviderReauthenticationRequired,
    /// The provider could not be reached or failed; worth retrying after `retry_after` seconds.
    #[error("The provider is unavailable, try again later")]
    ProviderUnavailable { retry_after: u64 },
    #[error("Multi-factor authentication is disabled")]
    DisabledMfaTotp,
    #[error("The user has no TOTP secret")]
    NoTotpSecret,
    #[error("Invalid TOTP code")]
    InvalidTotp,
    #[error("No such second-factor type")]
    MfaTypeNotFound,
    #[error("TOTP is already active")]
    TotpAlreadyActive,
    #[error("This phone number belongs to another account")]
    PhoneNumberInUse,
    #[error("This change needs an elevated access token")]
    ElevatedClaimRequired,
    #[error("A second factor is required for this user's roles")]
    MfaRequiredForRole,
    /// The database cannot be reached (stopped, restarting, or the network to it is down).
    #[error("The database is unavailable, try again later")]
    DatabaseUnavailable,
    /// The SMS provider failed or refused the service's credentials.
    #[error("Cannot send SMS: the SMS provider is unavailable")]
    SmsProviderUnavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AuthError {
    pub fn internal(context: impl std::fmt::Display) -> Self {
        AuthError::Internal(anyhow::anyhow!("{context}"))
    }
}
