//! Queries on personal access tokens: rows of `auth.refresh_tokens` with `type = 'pat'`, stored (like every
//! refresh token) only as a hash. A live PAT is found by one indexed statement, its user by the users
//! query (where the user's columns are listed once).
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{GenericClient, internal};
use crate::domain::user::User;
use crate::error::AuthError;

pub const INSERT_PAT: &str = include_str!("sql/pat/insert_pat.sql");
pub const SELECT_LIVE_PAT: &str = include_str!("sql/pat/select_live_pat.sql");

pub const SELECT_USER_PATS: &str = include_str!("sql/pat/select_user_pats.sql");
pub const DELETE_USER_PAT: &str = include_str!("sql/pat/delete_user_pat.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("pat/insert_pat", INSERT_PAT),
    ("pat/select_live_pat", SELECT_LIVE_PAT),
    ("pat/select_user_pats", SELECT_USER_PATS),
    ("pat/delete_user_pat", DELETE_USER_PAT),
];

/// A personal access token as its owner sees it in a list: never the token itself.
#[derive(Debug)]
pub struct PatSummary {
    pub id: Uuid,
    pub metadata: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A user's personal access tokens, oldest first.
pub async fn select_user_pats(client: &impl GenericClient, user_id: Uuid) -> Result<Vec<PatSummary>, AuthError> {
    let rows = super::query(client, SELECT_USER_PATS, &[&user_id]).await?;
    rows.iter()
        .map(|row| {
            Ok(PatSummary {
                id: row.try_get("id")?,
                metadata: row.try_get::<_, Option<super::StoredJson>>("metadata")?.map(|json| json.0),
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(internal)
}

/// Deletes one of a user's personal access tokens; false when the user has none with this id.
pub async fn delete_user_pat(client: &impl GenericClient, id: Uuid, user_id: Uuid) -> Result<bool, AuthError> {
    Ok(super::execute(client, DELETE_USER_PAT, &[&id, &user_id]).await? == 1)
}

/// A personal access token to insert; it is its own family.
#[derive(Debug)]
pub struct NewPat<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub hash: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub metadata: Option<&'a serde_json::Value>,
}

/// A live (unexpired, unrevoked) personal access token with its user.
#[derive(Debug)]
pub struct LivePat {
    pub id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

pub async fn insert_pat(client: &impl GenericClient, pat: &NewPat<'_>) -> Result<(), AuthError> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&pat.id, &pat.user_id, &pat.hash, &pat.created_at, &pat.expires_at, &pat.metadata];
    super::execute(client, INSERT_PAT, &params).await.map(|_| ())
}

/// The PAT with this hash, if it is live at `now`, with its user and the user's roles.
pub async fn select_live_pat_user(
    client: &impl GenericClient,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<LivePat>, AuthError> {
    let Some(row) = super::query_opt(client, SELECT_LIVE_PAT, &[&hash, &now]).await? else {
        return Ok(None);
    };
    let (id, expires_at, user_id): (Uuid, DateTime<Utc>, Uuid) = (
        row.try_get("id").map_err(internal)?,
        row.try_get("expires_at").map_err(internal)?,
        row.try_get("user_id").map_err(internal)?,
    );
    let user = super::users::select_user_by_id(client, user_id).await?;
    Ok(user.map(|user| LivePat { id, expires_at, user }))
}
