//! Linked identities and their provider tokens: listing and unlinking them, and handing a usable access
//! token to the application (refreshed on the spot when it has expired).
//!
//! Tokens are stored AES-256-GCM encrypted under the service's encryption keys with the key's id, each bound
//! to its row and column (`user_providers:<id>:access|refresh|id`), so a sealed value copied elsewhere does
//! not open. Rows an adopted nhost database holds in plaintext are read once and sealed on first use.
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use super::audit::{self, Event};
use super::token_refresh::Outcome;
use crate::db;
use crate::db::user_providers::{IdentitySummary, SealedTokens, StoredIdentity};
use crate::domain::sealed::EncryptionKeys;
use crate::error::AuthError;
use crate::providers::{Provider, TokenSet};
use crate::state::AppState;

/// An access token whose expiry is this close is refreshed before it is handed out.
const EXPIRY_MARGIN_SECONDS: i64 = 60;

/// The encryption keys; a configuration with providers always has them.
pub fn keys(state: &AppState) -> Result<&EncryptionKeys, AuthError> {
    state.config.encryption.as_ref().ok_or_else(|| AuthError::internal("no encryption keys configured"))
}

/// Every id a provider's identities may be stored under (its id and nhost's aliases).
pub fn stored_ids(provider: &dyn Provider) -> Vec<String> {
    let facts = provider.facts();
    std::iter::once(facts.id.clone()).chain(facts.aliases.iter().cloned()).collect()
}

fn context(identity_id: Uuid, column: &str) -> Vec<u8> {
    format!("user_providers:{identity_id}:{column}").into_bytes()
}

/// Sealed tokens, owned.
pub struct SealedSet {
    access: Vec<u8>,
    refresh: Option<Vec<u8>>,
    id_token: Option<Vec<u8>>,
    key_id: String,
    expires_at: Option<DateTime<Utc>>,
    scopes: Option<Vec<String>>,
}

impl SealedSet {
    pub fn as_tokens(&self) -> SealedTokens<'_> {
        SealedTokens {
            access_token: &self.access,
            refresh_token: self.refresh.as_deref(),
            id_token: self.id_token.as_deref(),
            key_id: &self.key_id,
            expires_at: self.expires_at,
            scopes: self.scopes.as_deref(),
        }
    }
}

/// Tokens a row already holds, opened.
pub struct OpenedTokens {
    pub access: SecretString,
    pub refresh: Option<SecretString>,
    pub id_token: Option<SecretString>,
}

/// Seals a token answer for the row `identity_id`. A refresh answer without a new refresh token (or ID
/// token) keeps the previous one, sealed again under the current key.
pub fn seal_token_set(
    keys: &EncryptionKeys,
    identity_id: Uuid,
    tokens: &TokenSet,
    previous: Option<&OpenedTokens>,
    now: DateTime<Utc>,
) -> SealedSet {
    let seal = |value: &str, column: &str| keys.seal(value.as_bytes(), &context(identity_id, column)).bytes;
    let refresh = tokens.refresh_token.as_ref().or(previous.and_then(|p| p.refresh.as_ref()));
    let id_token =
        tokens.id_token.as_deref().or(previous.and_then(|p| p.id_token.as_ref().map(|token| token.expose_secret())));
    SealedSet {
        access: seal(tokens.access_token.expose_secret(), "access"),
        refresh: refresh.map(|token| seal(token.expose_secret(), "refresh")),
        id_token: id_token.map(|token| seal(token, "id")),
        key_id: keys.current_id().to_string(),
        expires_at: tokens.expires_in.map(|seconds| now + TimeDelta::seconds(seconds.clamp(0, 10 * 365 * 86_400))),
        scopes: tokens.scopes.clone(),
    }
}

/// A row's tokens sealed again under the current key, unchanged otherwise.
fn reseal(keys: &EncryptionKeys, stored: &StoredIdentity, opened: &OpenedTokens, now: DateTime<Utc>) -> SealedSet {
    let tokens = TokenSet {
        access_token: opened.access.clone(),
        refresh_token: None,
        id_token: None,
        expires_in: None,
        scopes: None,
    };
    let mut sealed = seal_token_set(keys, stored.id, &tokens, Some(opened), now);
    sealed.expires_at = stored.access_token_expires_at;
    sealed
}

/// Opens a row's tokens (or reads nhost's plaintext ones).
pub fn open_tokens(keys: &EncryptionKeys, stored: &StoredIdentity) -> Result<OpenedTokens, AuthError> {
    let Some(sealed_access) = &stored.access_token_sealed else {
        return Ok(OpenedTokens {
            access: SecretString::from(stored.plain_access_token.clone()),
            refresh: stored.plain_refresh_token.clone().filter(|token| !token.is_empty()).map(SecretString::from),
            id_token: None,
        });
    };
    let key_id = stored.token_key_id.as_deref().unwrap_or_default();
    let open = |sealed: &[u8], column: &str| -> Result<SecretString, AuthError> {
        let plaintext = keys.open(key_id, sealed, &context(stored.id, column)).ok_or_else(|| {
            AuthError::internal(format!(
                "cannot open the {column} token of identity {} (key {key_id:?} missing or value altered)",
                stored.id
            ))
        })?;
        String::from_utf8(plaintext).map(SecretString::from).map_err(AuthError::internal)
    };
    Ok(OpenedTokens {
        access: open(sealed_access, "access")?,
        refresh: stored.refresh_token_sealed.as_deref().map(|sealed| open(sealed, "refresh")).transpose()?,
        id_token: stored.id_token_sealed.as_deref().map(|sealed| open(sealed, "id")).transpose()?,
    })
}

/// How many identities one transaction of [`reseal_all`] rewrites.
const RESEAL_BATCH: i64 = 200;

/// Re-encrypts every stored provider token under the first encryption key (and seals what an adopted nhost
/// database still holds in plaintext), batch by batch; returns how many identities were rewritten. Run
/// after putting a new key first in the list: once it returns, the old keys can be removed.
pub async fn reseal_all(state: &AppState) -> Result<u64, AuthError> {
    let keys = keys(state)?;
    let mut rewritten = 0;
    loop {
        let mut client = db::client(&state.pool).await?;
        let transaction = db::begin(&mut client).await?;
        let batch =
            db::user_providers::select_identities_to_reseal(&transaction, keys.current_id(), RESEAL_BATCH).await?;
        if batch.is_empty() {
            return Ok(rewritten);
        }
        for stored in &batch {
            let sealed = reseal(keys, stored, &open_tokens(keys, stored)?, state.clock.now());
            db::user_providers::update_identity_tokens(&transaction, stored.id, &sealed.as_tokens()).await?;
            rewritten += 1;
        }
        db::commit(transaction).await?;
    }
}

/// The caller's linked providers.
pub async fn list(state: &AppState, user_id: Uuid) -> Result<Vec<IdentitySummary>, AuthError> {
    let client = db::client(&state.pool).await?;
    db::user_providers::select_user_identities(&client, user_id).await
}

/// Unlinks a provider: refused when it is the last way to sign in (no password, no other identity). The
/// provider's grant is revoked afterwards, where the provider supports it; a failure there is logged.
pub async fn unlink(state: &AppState, user_id: Uuid, name: &str) -> Result<(), AuthError> {
    let provider = super::providers::provider(state, name).map_err(|_| AuthError::NotFound("provider not linked"))?;
    let keys = keys(state)?;
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    db::users::lock_user(&transaction, user_id).await?;
    let stored = db::user_providers::select_user_identity(&transaction, user_id, &stored_ids(provider.as_ref()))
        .await?
        .ok_or(AuthError::NotFound("provider not linked"))?;
    let has_password = db::users::has_password(&transaction, user_id).await?;
    let identities = db::user_providers::count_user_identities(&transaction, user_id).await?;
    if !has_password && identities <= 1 {
        return Err(AuthError::LastSignInMethod);
    }
    let tokens = open_tokens(keys, &stored).ok();
    db::user_providers::delete_identity(&transaction, stored.id).await?;
    let event = Event {
        name: "provider.unlink",
        user_id: Some(user_id),
        provider: Some(&provider.facts().id),
        metadata: serde_json::json!({"providerUserId": stored.provider_user_id}),
    };
    audit::record(state, &transaction, event).await?;
    db::commit(transaction).await?;
    // The refresh token stands for the whole grant where there is one.
    if let Some(token) = tokens.and_then(|tokens| tokens.refresh.or(Some(tokens.access))) {
        let provider_id = provider.facts().id.clone();
        state.background.spawn("provider token revocation", async move {
            if let Err(error) = provider.revoke(&token).await {
                tracing::warn!(provider = %provider_id, %error, "the provider did not revoke the unlinked token");
            }
            Ok(())
        });
    }
    Ok(())
}

/// A usable provider access token.
pub struct ProviderAccess {
    pub access_token: SecretString,
    pub expires_at: Option<DateTime<Utc>>,
    pub provider_id: String,
}

/// How long an on-demand refresh waits for one in flight elsewhere (the worker, another request) before
/// answering that the provider is unavailable: longer than a provider call may take.
const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(15);
/// How often a waiting on-demand refresh looks again.
const IN_FLIGHT_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// The user's access token at the provider, refreshed first when it has expired (or is about to) and a
/// refresh token exists. The refresh takes the identity's lease in the refresh queue, as the background
/// worker does, so a token is never refreshed twice at once (providers that rotate refresh tokens would
/// otherwise see the old one reused); a request meeting a refresh in flight waits for its result. A refresh
/// the provider refuses marks the identity as needing a new sign-in.
pub async fn access_token(state: &AppState, user_id: Uuid, name: &str) -> Result<ProviderAccess, AuthError> {
    let provider = super::providers::provider(state, name).map_err(|_| AuthError::NotFound("provider not linked"))?;
    let keys = keys(state)?;
    let provider_id = provider.facts().id.clone();
    let ids = stored_ids(provider.as_ref());
    let started = std::time::Instant::now();
    loop {
        let now = state.clock.now();
        let mut client = db::client(&state.pool).await?;
        let transaction = db::begin(&mut client).await?;
        let stored = db::user_providers::select_user_identity(&transaction, user_id, &ids)
            .await?
            .ok_or(AuthError::NotFound("provider not linked"))?;
        if stored.needs_reauthentication {
            return Err(AuthError::ProviderReauthenticationRequired);
        }
        let opened = open_tokens(keys, &stored)?;
        let fresh =
            stored.access_token_expires_at.is_none_or(|at| at > now + TimeDelta::seconds(EXPIRY_MARGIN_SECONDS));
        if fresh {
            if stored.access_token_sealed.is_none() {
                // An nhost row: sealed now, so the plaintext leaves the database.
                let sealed = reseal(keys, &stored, &opened, now);
                db::user_providers::update_identity_tokens(&transaction, stored.id, &sealed.as_tokens()).await?;
            }
            db::commit(transaction).await?;
            return Ok(ProviderAccess {
                access_token: opened.access,
                expires_at: stored.access_token_expires_at,
                provider_id,
            });
        }
        // No row lock is held across the provider call: the lease stands for it.
        db::commit(transaction).await?;
        drop(client);
        if opened.refresh.is_none() {
            return Err(AuthError::ProviderReauthenticationRequired);
        }
        if let Some(lease) = super::token_refresh::take_lease(state, stored.id).await? {
            match super::token_refresh::refresh_leased(state, &lease, false).await? {
                Outcome::Refreshed { access_token, expires_at } => {
                    return Ok(ProviderAccess { access_token, expires_at, provider_id });
                }
                Outcome::NotRefreshable | Outcome::Refused { .. } => {
                    return Err(AuthError::ProviderReauthenticationRequired);
                }
                Outcome::Failed { retry_after, .. } => {
                    return Err(AuthError::ProviderUnavailable { retry_after: retry_after.unwrap_or(30) });
                }
                // Linked again meanwhile: the stored tokens are read again.
                Outcome::Abandoned => {}
            }
        } else {
            // A refresh is in flight elsewhere: its result is read once it is recorded.
            tokio::time::sleep(IN_FLIGHT_POLL).await;
        }
        if started.elapsed() > IN_FLIGHT_WAIT {
            tracing::warn!(%user_id, provider = %provider_id, "a provider token refresh in flight did not finish");
            return Err(AuthError::ProviderUnavailable { retry_after: 5 });
        }
    }
}
