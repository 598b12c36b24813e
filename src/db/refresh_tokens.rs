//! Queries on `auth.refresh_tokens`: insert, read, mark rotated (sealing the child), revoke or delete a
//! family, and lock the owner of a token.
//!
//! Every change to a user's tokens happens while the user's row is locked (`for no key update`): rotation
//! takes it through [`lock_token_owner`], sign-out, password changes and resets through
//! `users::lock_user`. So a revocation waits for a rotation in flight and then sees the child it minted,
//! and a rotation that starts after a revocation finds its token gone.
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{GenericClient, execute, internal, query_opt};
use crate::domain::user::User;
use crate::error::AuthError;

pub const INSERT_REFRESH_TOKEN: &str = include_str!("sql/refresh_tokens/insert_refresh_token.sql");
pub const LOCK_TOKEN_OWNER: &str = include_str!("sql/refresh_tokens/lock_token_owner.sql");
pub const SELECT_REFRESH_TOKEN: &str = include_str!("sql/refresh_tokens/select_refresh_token.sql");
pub const MARK_REFRESH_TOKEN_ROTATED: &str = include_str!("sql/refresh_tokens/mark_refresh_token_rotated.sql");
pub const ROTATE_REFRESH_TOKEN: &str = include_str!("sql/refresh_tokens/rotate_refresh_token.sql");
pub const REVOKE_REFRESH_TOKEN_FAMILY: &str = include_str!("sql/refresh_tokens/revoke_refresh_token_family.sql");
pub const DELETE_REFRESH_TOKEN_FAMILY: &str = include_str!("sql/refresh_tokens/delete_refresh_token_family.sql");
pub const DELETE_USER_REFRESH_TOKENS: &str = include_str!("sql/refresh_tokens/delete_user_refresh_tokens.sql");
pub const DELETE_OTHER_SESSIONS: &str = include_str!("sql/refresh_tokens/delete_other_sessions.sql");
pub const SELECT_USER_SESSIONS: &str = include_str!("sql/refresh_tokens/select_user_sessions.sql");
pub const REVOKE_USER_FAMILY: &str = include_str!("sql/refresh_tokens/revoke_user_family.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("refresh_tokens/delete_other_sessions", DELETE_OTHER_SESSIONS),
    ("refresh_tokens/insert_refresh_token", INSERT_REFRESH_TOKEN),
    ("refresh_tokens/lock_token_owner", LOCK_TOKEN_OWNER),
    ("refresh_tokens/select_refresh_token", SELECT_REFRESH_TOKEN),
    ("refresh_tokens/mark_refresh_token_rotated", MARK_REFRESH_TOKEN_ROTATED),
    ("refresh_tokens/rotate_refresh_token", ROTATE_REFRESH_TOKEN),
    ("refresh_tokens/revoke_refresh_token_family", REVOKE_REFRESH_TOKEN_FAMILY),
    ("refresh_tokens/delete_refresh_token_family", DELETE_REFRESH_TOKEN_FAMILY),
    ("refresh_tokens/delete_user_refresh_tokens", DELETE_USER_REFRESH_TOKENS),
    ("refresh_tokens/select_user_sessions", SELECT_USER_SESSIONS),
    ("refresh_tokens/revoke_user_family", REVOKE_USER_FAMILY),
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
    /// When the family started (the sign-in).
    pub signed_in_at: DateTime<Utc>,
    /// Where the sign-in came from (the family's first token only).
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
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
    /// The child minted by this token's rotation, sealed under a key derived from this token.
    pub child_sealed: Option<Vec<u8>>,
    pub signed_in_at: DateTime<Utc>,
}

impl TryFrom<&Row> for StoredRefreshToken {
    type Error = tokio_postgres::Error;
    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(StoredRefreshToken {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            family_id: row.try_get("family_id")?,
            token_type: row.try_get("type")?,
            expires_at: row.try_get("expires_at")?,
            rotated_at: row.try_get("rotated_at")?,
            revoked_at: row.try_get("revoked_at")?,
            child_sealed: row.try_get("child_token_sealed")?,
            signed_in_at: row.try_get("signed_in_at")?,
        })
    }
}

pub async fn insert_refresh_token(client: &impl GenericClient, token: &NewRefreshToken<'_>) -> Result<(), AuthError> {
    execute(
        client,
        INSERT_REFRESH_TOKEN,
        &[
            &token.id,
            &token.user_id,
            &token.hash,
            &token.created_at,
            &token.expires_at,
            &token.family_id,
            &token.parent_id,
            &token.signed_in_at,
            &token.ip,
            &token.user_agent,
        ],
    )
    .await
    .map(|_| ())
}

/// Locks the row of the user who owns the token with this hash until the transaction ends; the user's id,
/// or `None` for an unknown token.
pub async fn lock_token_owner(client: &impl GenericClient, hash: &str) -> Result<Option<Uuid>, AuthError> {
    let row = query_opt(client, LOCK_TOKEN_OWNER, &[&hash]).await?;
    row.map(|row| row.try_get(0)).transpose().map_err(internal)
}

/// The token with this hash. Read it after [`lock_token_owner`] so it reflects every rotation before ours.
pub async fn select_refresh_token(
    client: &impl GenericClient,
    hash: &str,
) -> Result<Option<StoredRefreshToken>, AuthError> {
    let row = query_opt(client, SELECT_REFRESH_TOKEN, &[&hash]).await?;
    row.as_ref().map(StoredRefreshToken::try_from).transpose().map_err(internal)
}

/// Marks a token rotated and keeps its sealed child.
pub async fn mark_refresh_token_rotated(
    client: &impl GenericClient,
    id: Uuid,
    now: DateTime<Utc>,
    child_sealed: &[u8],
) -> Result<(), AuthError> {
    execute(client, MARK_REFRESH_TOKEN_ROTATED, &[&id, &now, &child_sealed]).await.map(|_| ())
}

/// A rotation to try in one statement ([`rotate_refresh_token`]).
#[derive(Debug)]
pub struct Rotation<'a> {
    /// The presented token's hash.
    pub hash: &'a str,
    pub now: DateTime<Utc>,
    pub child_id: Uuid,
    pub child_hash: &'a str,
    /// The child, sealed under the presented token.
    pub child_sealed: &'a [u8],
    /// When the child expires, unless the session's maximum lifetime ends first.
    pub child_expires_at: DateTime<Utc>,
    /// The session's maximum lifetime in seconds, if there is one.
    pub max_lifetime: Option<i64>,
}

/// What a rotation in one statement answers: the owner (locked, and seen now) and the token's family.
#[derive(Debug)]
pub struct Rotated {
    pub user: User,
    pub family_id: Uuid,
    pub child_id: Uuid,
}

/// Rotates a usable token that has not been rotated yet, in one round trip: locks the owner, marks the
/// token rotated, stores its child and records the owner as seen. `None` when the token is unknown or not
/// in that state (rotated, revoked, expired, past the session's lifetime); nothing was changed then.
pub async fn rotate_refresh_token(
    client: &impl GenericClient,
    rotation: &Rotation<'_>,
) -> Result<Option<Rotated>, AuthError> {
    let row = query_opt(
        client,
        ROTATE_REFRESH_TOKEN,
        &[
            &rotation.hash,
            &rotation.now,
            &rotation.child_sealed,
            &rotation.child_id,
            &rotation.child_hash,
            &rotation.max_lifetime,
            &rotation.child_expires_at,
        ],
    )
    .await?;
    row.map(|row| {
        Ok(Rotated {
            user: User::try_from(&row)?,
            family_id: row.try_get("family_id")?,
            child_id: row.try_get("child_id")?,
        })
    })
    .transpose()
    .map_err(internal)
}

/// Revokes every live token of a family; returns how many were revoked.
pub async fn revoke_refresh_token_family(
    client: &impl GenericClient,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, AuthError> {
    execute(client, REVOKE_REFRESH_TOKEN_FAMILY, &[&family_id, &now]).await
}

/// A live session of a user: its refresh token family.
#[derive(Debug)]
pub struct SessionSummary {
    pub id: Uuid,
    pub signed_in_at: Option<DateTime<Utc>>,
    pub last_used_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A user's live sessions, newest sign-in first.
pub async fn select_user_sessions(
    client: &impl GenericClient,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<SessionSummary>, AuthError> {
    let rows = super::query(client, SELECT_USER_SESSIONS, &[&user_id, &now]).await?;
    rows.iter()
        .map(|row| {
            Ok(SessionSummary {
                id: row.try_get("family_id")?,
                signed_in_at: row.try_get("signed_in_at")?,
                last_used_at: row.try_get("last_used_at")?,
                ip: row.try_get("ip")?,
                user_agent: row.try_get("user_agent")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(super::internal)
}

/// Revokes one of a user's sessions; false when the user has no live session with this id.
pub async fn revoke_user_family(
    client: &impl GenericClient,
    user_id: Uuid,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, AuthError> {
    Ok(execute(client, REVOKE_USER_FAMILY, &[&user_id, &family_id, &now]).await? > 0)
}

/// Deletes the family of the token with this hash (sign-out of one session); returns rows deleted.
pub async fn delete_refresh_token_family(client: &impl GenericClient, hash: &str) -> Result<u64, AuthError> {
    execute(client, DELETE_REFRESH_TOKEN_FAMILY, &[&hash]).await
}

/// Deletes every token of a user, personal access tokens included (sign-out everywhere).
pub async fn delete_user_refresh_tokens(client: &impl GenericClient, user_id: Uuid) -> Result<u64, AuthError> {
    execute(client, DELETE_USER_REFRESH_TOKENS, &[&user_id]).await
}

/// Ends every session of a user except the family `keep`, if given, and deletes their personal access
/// tokens.
pub async fn delete_other_sessions(
    client: &impl GenericClient,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<u64, AuthError> {
    execute(client, DELETE_OTHER_SESSIONS, &[&user_id, &keep]).await
}
