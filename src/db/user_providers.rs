//! Queries on `auth.user_providers`: the identities linked to users. Provider tokens are stored sealed
//! (with the id of the key that sealed them); nhost's plaintext columns are only read, from rows an adopted
//! database still holds.
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{GenericClient, execute, execute_unique, internal, query, query_opt};
use crate::error::AuthError;

pub const ENSURE_PROVIDER: &str = include_str!("sql/user_providers/ensure_provider.sql");
pub const SELECT_IDENTITY: &str = include_str!("sql/user_providers/select_identity.sql");
pub const SELECT_USER_IDENTITY: &str = include_str!("sql/user_providers/select_user_identity.sql");
pub const SELECT_USER_IDENTITIES: &str = include_str!("sql/user_providers/select_user_identities.sql");
pub const INSERT_IDENTITY: &str = include_str!("sql/user_providers/insert_identity.sql");
pub const UPDATE_IDENTITY_TOKENS: &str = include_str!("sql/user_providers/update_identity_tokens.sql");
pub const UPDATE_IDENTITY_PROFILE: &str = include_str!("sql/user_providers/update_identity_profile.sql");
pub const MARK_NEEDS_REAUTHENTICATION: &str = include_str!("sql/user_providers/mark_needs_reauthentication.sql");
pub const DELETE_IDENTITY: &str = include_str!("sql/user_providers/delete_identity.sql");
pub const SELECT_IDENTITIES_TO_RESEAL: &str = include_str!("sql/user_providers/select_identities_to_reseal.sql");
pub const COUNT_USER_IDENTITIES: &str = include_str!("sql/user_providers/count_user_identities.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("user_providers/ensure_provider", ENSURE_PROVIDER),
    ("user_providers/select_identity", SELECT_IDENTITY),
    ("user_providers/select_user_identity", SELECT_USER_IDENTITY),
    ("user_providers/select_user_identities", SELECT_USER_IDENTITIES),
    ("user_providers/insert_identity", INSERT_IDENTITY),
    ("user_providers/update_identity_tokens", UPDATE_IDENTITY_TOKENS),
    ("user_providers/update_identity_profile", UPDATE_IDENTITY_PROFILE),
    ("user_providers/mark_needs_reauthentication", MARK_NEEDS_REAUTHENTICATION),
    ("user_providers/delete_identity", DELETE_IDENTITY),
    ("user_providers/count_user_identities", COUNT_USER_IDENTITIES),
    ("user_providers/select_identities_to_reseal", SELECT_IDENTITIES_TO_RESEAL),
];

/// A linked identity with its (sealed) tokens.
#[derive(Debug, Clone)]
pub struct StoredIdentity {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider_id: String,
    pub provider_user_id: String,
    pub created_at: DateTime<Utc>,
    pub email: Option<String>,
    /// nhost's plaintext tokens, in rows hauth has not rewritten yet (empty otherwise).
    pub plain_access_token: String,
    pub plain_refresh_token: Option<String>,
    pub access_token_sealed: Option<Vec<u8>>,
    pub refresh_token_sealed: Option<Vec<u8>>,
    pub id_token_sealed: Option<Vec<u8>>,
    pub token_key_id: Option<String>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    pub needs_reauthentication: bool,
}

impl TryFrom<&Row> for StoredIdentity {
    type Error = tokio_postgres::Error;
    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(StoredIdentity {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            provider_id: row.try_get("provider_id")?,
            provider_user_id: row.try_get("provider_user_id")?,
            created_at: row.try_get("created_at")?,
            email: row.try_get("email")?,
            plain_access_token: row.try_get("access_token")?,
            plain_refresh_token: row.try_get("refresh_token")?,
            access_token_sealed: row.try_get("access_token_sealed")?,
            refresh_token_sealed: row.try_get("refresh_token_sealed")?,
            id_token_sealed: row.try_get("id_token_sealed")?,
            token_key_id: row.try_get("token_key_id")?,
            access_token_expires_at: row.try_get("access_token_expires_at")?,
            needs_reauthentication: row.try_get("needs_reauthentication")?,
        })
    }
}

/// An identity as its user sees it in a list.
#[derive(Debug, Clone)]
pub struct IdentitySummary {
    pub provider_id: String,
    pub provider_user_id: String,
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub needs_reauthentication: bool,
}

/// Sealed provider tokens to store.
pub struct SealedTokens<'a> {
    pub access_token: &'a [u8],
    pub refresh_token: Option<&'a [u8]>,
    pub id_token: Option<&'a [u8]>,
    pub key_id: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Option<&'a [String]>,
}

pub struct NewIdentity<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider_id: &'a str,
    pub provider_user_id: &'a str,
    pub tokens: SealedTokens<'a>,
    pub email: Option<&'a str>,
    pub profile: &'a serde_json::Value,
    pub now: DateTime<Utc>,
}

/// Makes sure `auth.providers` knows the provider id (a generic OpenID provider's name).
pub async fn ensure_provider(client: &impl GenericClient, provider_id: &str) -> Result<(), AuthError> {
    execute(client, ENSURE_PROVIDER, &[&provider_id]).await.map(|_| ())
}

/// The identity `provider_user_id` at the provider (stored under any of `provider_ids`).
pub async fn select_identity(
    client: &impl GenericClient,
    provider_ids: &[String],
    provider_user_id: &str,
) -> Result<Option<StoredIdentity>, AuthError> {
    let row = query_opt(client, SELECT_IDENTITY, &[&provider_ids, &provider_user_id]).await?;
    row.as_ref().map(StoredIdentity::try_from).transpose().map_err(internal)
}

/// A user's identity at the provider, locked until the transaction ends.
pub async fn select_user_identity(
    client: &impl GenericClient,
    user_id: Uuid,
    provider_ids: &[String],
) -> Result<Option<StoredIdentity>, AuthError> {
    let row = query_opt(client, SELECT_USER_IDENTITY, &[&user_id, &provider_ids]).await?;
    row.as_ref().map(StoredIdentity::try_from).transpose().map_err(internal)
}

pub async fn select_user_identities(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<IdentitySummary>, AuthError> {
    let rows = query(client, SELECT_USER_IDENTITIES, &[&user_id]).await?;
    rows.iter()
        .map(|row| {
            Ok(IdentitySummary {
                provider_id: row.try_get("provider_id")?,
                provider_user_id: row.try_get("provider_user_id")?,
                email: row.try_get("email")?,
                linked_at: row.try_get("created_at")?,
                token_expires_at: row.try_get("access_token_expires_at")?,
                needs_reauthentication: row.try_get("needs_reauthentication")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(internal)
}

/// Links an identity. One already linked (to anyone) becomes [`AuthError::ProviderAlreadyLinked`].
pub async fn insert_identity(client: &impl GenericClient, identity: &NewIdentity<'_>) -> Result<(), AuthError> {
    let tokens = &identity.tokens;
    let params: [&(dyn ToSql + Sync); 13] = [
        &identity.id,
        &identity.user_id,
        &identity.provider_id,
        &identity.provider_user_id,
        &tokens.access_token,
        &tokens.refresh_token,
        &tokens.id_token,
        &tokens.key_id,
        &tokens.expires_at,
        &tokens.scopes,
        &identity.email,
        &identity.profile,
        &identity.now,
    ];
    let taken = || AuthError::ProviderAlreadyLinked;
    match execute_unique(client, INSERT_IDENTITY, &params, "user_providers_provider_id_provider_user_id_key", taken)
        .await
    {
        Err(AuthError::Internal(error)) if format!("{error:?}").contains("user_providers_user_id_provider_id_key") => {
            Err(AuthError::ProviderAlreadyLinked)
        }
        other => other.map(|_| ()),
    }
}

/// Stores new tokens (a refresh that returned no refresh token or ID token keeps the old ones).
pub async fn update_identity_tokens(
    client: &impl GenericClient,
    id: Uuid,
    tokens: &SealedTokens<'_>,
) -> Result<(), AuthError> {
    let params: [&(dyn ToSql + Sync); 7] = [
        &id,
        &tokens.access_token,
        &tokens.refresh_token,
        &tokens.id_token,
        &tokens.key_id,
        &tokens.expires_at,
        &tokens.scopes,
    ];
    execute(client, UPDATE_IDENTITY_TOKENS, &params).await.map(|_| ())
}

pub async fn update_identity_profile(
    client: &impl GenericClient,
    id: Uuid,
    email: Option<&str>,
    profile: &serde_json::Value,
) -> Result<(), AuthError> {
    execute(client, UPDATE_IDENTITY_PROFILE, &[&id, &email, &profile]).await.map(|_| ())
}

pub async fn mark_needs_reauthentication(client: &impl GenericClient, id: Uuid) -> Result<(), AuthError> {
    execute(client, MARK_NEEDS_REAUTHENTICATION, &[&id]).await.map(|_| ())
}

pub async fn delete_identity(client: &impl GenericClient, id: Uuid) -> Result<(), AuthError> {
    execute(client, DELETE_IDENTITY, &[&id]).await.map(|_| ())
}

pub async fn count_user_identities(client: &impl GenericClient, user_id: Uuid) -> Result<i64, AuthError> {
    let row = query_opt(client, COUNT_USER_IDENTITIES, &[&user_id]).await?;
    row.map_or(Ok(0), |row| row.try_get(0).map_err(internal))
}

/// Up to `limit` identities whose tokens are not sealed with `current_key_id` (or still in nhost's
/// plaintext columns), locked; rows another transaction holds are skipped.
pub async fn select_identities_to_reseal(
    client: &impl GenericClient,
    current_key_id: &str,
    limit: i64,
) -> Result<Vec<StoredIdentity>, AuthError> {
    let rows = query(client, SELECT_IDENTITIES_TO_RESEAL, &[&current_key_id, &limit]).await?;
    rows.iter().map(StoredIdentity::try_from).collect::<Result<_, _>>().map_err(internal)
}
