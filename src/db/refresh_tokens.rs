//! Queries on `auth.refresh_tokens`: insert, lock for rotation, mark rotated, revoke or delete a family.
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{GenericClient, internal};
use crate::error::AuthError;

pub const INSERT_REFRESH_TOKEN: &str = include_str!("sql/refresh_tokens/insert_refresh_token.sql");
pub const SELECT_REFRESH_TOKEN_FOR_UPDATE: &str =
    include_str!("sql/refresh_tokens/select_refresh_token_for_update.sql");
pub const MARK_REFRESH_TOKEN_ROTATED: &str = include_str!("sql/refresh_tokens/mark_refresh_token_rotated.sql");
pub const REVOKE_REFRESH_TOKEN_FAMILY: &str = include_str!("sql/refresh_tokens/revoke_refresh_token_family.sql");
pub const DELETE_REFRESH_TOKEN_FAMILY: &str = include_str!("sql/refresh_tokens/delete_refresh_token_family.sql");
pub const DELETE_USER_REFRESH_TOKENS: &str = include_str!("sql/refresh_tokens/delete_user_refresh_tokens.sql");

pub const DELETE_OTHER_SESSIONS: &str = include_str!("sql/refresh_tokens/delete_other_sessions.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("refresh_tokens/delete_other_sessions", DELETE_OTHER_SESSIONS),
    ("refresh_tokens/insert_refresh_token", INSERT_REFRESH_TOKEN),
    ("refresh_tokens/select_refresh_token_for_update", SELECT_REFRESH_TOKEN_FOR_UPDATE),
    ("refresh_tokens/mark_refresh_token_rotated", MARK_REFRESH_TOKEN_ROTATED),
    ("refresh_tokens/revoke_refresh_token_family", REVOKE_REFRESH_TOKEN_FAMILY),
    ("refresh_tokens/delete_refresh_token_family", DELETE_REFRESH_TOKEN_FAMILY),
    ("refresh_tokens/delete_user_refresh_tokens", DELETE_USER_REFRESH_TOKENS),
];

/// A refresh token row to insert.
#[derive(Debug)]
pub struct NewRefreshToken<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub hash: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub family_id: Uuid,
    pub parent_id: Option<Uuid>,
}

/// A stored refresh token, as rotation sees it.
#[derive(Debug)]
pub struct StoredRefreshToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub token_type: String,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert_refresh_token(client: &impl GenericClient, token: &NewRefreshToken<'_>) -> Result<(), AuthError> {
    let statement = client.prepare_cached(INSERT_REFRESH_TOKEN).await.map_err(internal)?;
    client
        .execute(
            &statement,
            &[
                &token.id,
                &token.user_id,
                &token.hash,
                &token.created_at,
                &token.expires_at,
                &token.family_id,
                &token.parent_id,
            ],
        )
        .await
        .map_err(internal)?;
    Ok(())
}

/// Finds a token by hash and locks its row until the transaction ends, so concurrent rotations of the same
/// token run one after another.
pub async fn select_refresh_token_for_update(
    client: &impl GenericClient,
    hash: &str,
) -> Result<Option<StoredRefreshToken>, AuthError> {
    let statement = client.prepare_cached(SELECT_REFRESH_TOKEN_FOR_UPDATE).await.map_err(internal)?;
    let row = client.query_opt(&statement, &[&hash]).await.map_err(internal)?;
    row.map(|row| {
        Ok(StoredRefreshToken {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            family_id: row.try_get("family_id")?,
            token_type: row.try_get("type")?,
            expires_at: row.try_get("expires_at")?,
            rotated_at: row.try_get("rotated_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    })
    .transpose()
    .map_err(internal)
}

pub async fn mark_refresh_token_rotated(
    client: &impl GenericClient,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let statement = client.prepare_cached(MARK_REFRESH_TOKEN_ROTATED).await.map_err(internal)?;
    client.execute(&statement, &[&id, &now]).await.map_err(internal)?;
    Ok(())
}

/// Revokes every live token of a family; returns how many were revoked.
pub async fn revoke_refresh_token_family(
    client: &impl GenericClient,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, AuthError> {
    let statement = client.prepare_cached(REVOKE_REFRESH_TOKEN_FAMILY).await.map_err(internal)?;
    client.execute(&statement, &[&family_id, &now]).await.map_err(internal)
}

/// Deletes the family of the token with this hash (sign-out of one session); returns rows deleted.
pub async fn delete_refresh_token_family(client: &impl GenericClient, hash: &str) -> Result<u64, AuthError> {
    let statement = client.prepare_cached(DELETE_REFRESH_TOKEN_FAMILY).await.map_err(internal)?;
    client.execute(&statement, &[&hash]).await.map_err(internal)
}

/// Deletes every token of a user (sign-out everywhere).
pub async fn delete_user_refresh_tokens(client: &impl GenericClient, user_id: Uuid) -> Result<u64, AuthError> {
    let statement = client.prepare_cached(DELETE_USER_REFRESH_TOKENS).await.map_err(internal)?;
    client.execute(&statement, &[&user_id]).await.map_err(internal)
}

/// Ends every session (regular refresh tokens; PATs stay) of a user except the family `keep`, if given.
pub async fn delete_other_sessions(
    client: &impl GenericClient,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<u64, AuthError> {
    let statement = client.prepare_cached(DELETE_OTHER_SESSIONS).await.map_err(internal)?;
    client.execute(&statement, &[&user_id, &keep]).await.map_err(internal)
}
