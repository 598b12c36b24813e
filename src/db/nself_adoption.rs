//! Queries for adopting a deployment of nself's OAuth handler service: moving its tables out of `auth`
//! before the migrations run, and the staging table `auth_nself.pending_tokens` where migration V10 leaves
//! nself's encrypted provider tokens until start-up re-encrypts or drops them.
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{GenericClient, execute, query, query_opt};
use crate::error::AuthError;

/// Run (as a simple query, it is a `do` block) by the migrator before refinery.
pub const MOVE_NSELF_TABLES_ASIDE: &str = include_str!("sql/nself_adoption/move_nself_tables_aside.sql");
pub const STAGING_EXISTS: &str = include_str!("sql/nself_adoption/staging_exists.sql");
pub const CLAIM_PENDING_TOKENS: &str = include_str!("sql/nself_adoption/claim_pending_tokens.sql");
pub const DELETE_PENDING_TOKENS: &str = include_str!("sql/nself_adoption/delete_pending_tokens.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("nself_adoption/move_nself_tables_aside", MOVE_NSELF_TABLES_ASIDE),
    ("nself_adoption/staging_exists", STAGING_EXISTS),
    ("nself_adoption/claim_pending_tokens", CLAIM_PENDING_TOKENS),
    ("nself_adoption/delete_pending_tokens", DELETE_PENDING_TOKENS),
];

/// nself's tokens of one adopted identity, as nself stored them.
pub struct PendingTokens {
    pub identity_id: Uuid,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
}

impl TryFrom<&Row> for PendingTokens {
    type Error = tokio_postgres::Error;
    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(PendingTokens {
            identity_id: row.try_get("identity_id")?,
            access_token: row.try_get("access_token")?,
            refresh_token: row.try_get("refresh_token")?,
            id_token: row.try_get("id_token")?,
            access_token_expires_at: row.try_get("access_token_expires_at")?,
        })
    }
}

/// Whether the staging table exists (a database not yet migrated to V10 has none).
pub async fn staging_exists(client: &impl GenericClient) -> Result<bool, AuthError> {
    let row = query_opt(client, STAGING_EXISTS, &[]).await?;
    Ok(row.and_then(|row| row.try_get::<_, bool>(0).ok()).unwrap_or(false))
}

/// Up to `limit` identities whose tokens wait, locked; rows another process holds are skipped.
pub async fn claim_pending_tokens(client: &impl GenericClient, limit: i64) -> Result<Vec<PendingTokens>, AuthError> {
    let rows = query(client, CLAIM_PENDING_TOKENS, &[&limit]).await?;
    rows.iter().map(|row| PendingTokens::try_from(row).map_err(super::internal)).collect()
}

pub async fn delete_pending_tokens(client: &impl GenericClient, identity_id: Uuid) -> Result<(), AuthError> {
    execute(client, DELETE_PENDING_TOKENS, &[&identity_id]).await.map(|_| ())
}
