//! Sign-in with an ID token an app got from a provider's own SDK on a device (Sign in with Apple on iOS,
//! Google's SDKs): `POST /signin/idtoken` and `POST /link/idtoken`. The token is verified like any ID token
//! (the provider's keys, issuer, expiry; `alg: none` and unknown keys refused), issued to the client id or
//! to one of the apps' ids (the provider's audience setting), and carries the SHA-256 of the raw nonce the
//! app sent, or no nonce when it sent none. Who signed in then goes through the same account rules as the
//! browser flow ([`super::providers::conclude`]), and a sign-in ends in
//! [`super::session::complete_signin`].
use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use super::audit::{self, Event};
use super::providers::{conclude, provider};
use super::session::SignedIn;
use crate::db;
use crate::domain::user::SignupOptions;
use crate::error::AuthError;
use crate::providers::{Identity, NativeToken, Provider, ProviderError};
use crate::state::AppState;

/// An ID token as an app posted it.
pub struct IdTokenRequest {
    /// The provider as named in the request (`apple`, `google`).
    pub provider: String,
    pub id_token: SecretString,
    /// The raw nonce the app generated, when it used one.
    pub nonce: Option<String>,
}

/// Who the token says signed in; a refused token is nhost's `invalid-request`.
async fn verified_identity(
    state: &AppState,
    provider: &dyn Provider,
    request: &IdTokenRequest,
) -> Result<Identity, AuthError> {
    let facts = provider.facts();
    let nonce = request.nonce.as_deref().filter(|nonce| !nonce.is_empty());
    let token = NativeToken { id_token: request.id_token.expose_secret(), nonce, now: state.clock.now() };
    let verified = provider.identify_id_token(token).await;
    verified.map_err(|error| {
        tracing::warn!(provider = %facts.id, %error, "an app's ID token was refused");
        match error {
            ProviderError::Unavailable { retry_after, .. } => {
                AuthError::ProviderUnavailable { retry_after: retry_after.unwrap_or(30) }
            }
            ProviderError::Unsupported(_) => AuthError::DisabledEndpoint,
            ProviderError::Identity(reason) | ProviderError::Refused { description: reason, .. } => {
                AuthError::InvalidRequest(format!("The ID token was refused: {reason}"))
            }
        }
    })
}

async fn record_failure(state: &AppState, user_id: Option<Uuid>, provider: &str, error: &AuthError) {
    let event = Event {
        name: "provider.failure",
        user_id,
        provider: Some(provider),
        metadata: serde_json::json!({"reason": error.to_string(), "via": "idToken"}),
    };
    audit::record_detached(state, event).await;
}

/// Verifies the token and concludes its identity (a sign-in, or a link to `link_to`) in one transaction; a
/// failure is recorded in the audit log.
async fn conclude_token(
    state: &AppState,
    request: IdTokenRequest,
    link_to: Option<Uuid>,
    options: SignupOptions,
) -> Result<Option<SignedIn>, AuthError> {
    let provider = provider(state, &request.provider)?;
    let provider_id = provider.facts().id.clone();
    let result = async {
        let identity = verified_identity(state, provider.as_ref(), &request).await?;
        let mut client = db::client(&state.pool).await?;
        let transaction = db::begin(&mut client).await?;
        let concluded = conclude(state, &transaction, provider.as_ref(), &identity, None, link_to, options).await?;
        db::commit(transaction).await?;
        Ok(concluded)
    }
    .await;
    if let Err(error) = &result {
        record_failure(state, link_to, &provider_id, error).await;
    }
    result
}

/// `POST /signin/idtoken`: signs in the user the token names (signing up, or joining the account of a
/// verified address, as the browser flow does).
pub async fn sign_in(state: &AppState, request: IdTokenRequest, options: SignupOptions) -> Result<SignedIn, AuthError> {
    conclude_token(state, request, None, options)
        .await?
        .ok_or_else(|| AuthError::internal("a sign-in concluded without a session"))
}

/// `POST /link/idtoken`: links the identity the token names to the signed-in user; refused when it is
/// already linked to somebody else (409 `provider-already-linked`).
pub async fn link(
    state: &AppState,
    user_id: Uuid,
    is_anonymous: bool,
    request: IdTokenRequest,
) -> Result<(), AuthError> {
    if is_anonymous {
        return Err(AuthError::ForbiddenAnonymous);
    }
    conclude_token(state, request, Some(user_id), SignupOptions::default()).await.map(|_| ())
}
