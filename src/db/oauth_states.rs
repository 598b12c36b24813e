//! Queries on `auth.oauth_states`: provider sign-ins in flight, found by the hash of their `state` and
//! deleted by the callback that uses them, so each works once.
use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{GenericClient, StoredJson, execute, internal, query_opt};
use crate::error::AuthError;

pub const INSERT_STATE: &str = include_str!("sql/oauth_states/insert_state.sql");
pub const TAKE_STATE: &str = include_str!("sql/oauth_states/take_state.sql");
pub const DELETE_EXPIRED_STATES: &str = include_str!("sql/oauth_states/delete_expired_states.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("oauth_states/insert_state", INSERT_STATE),
    ("oauth_states/take_state", TAKE_STATE),
    ("oauth_states/delete_expired_states", DELETE_EXPIRED_STATES),
];

/// A sign-in to remember until its callback.
pub struct NewState<'a> {
    pub state_hash: &'a str,
    pub provider: &'a str,
    pub redirect_to: &'a str,
    /// The sign-up options, as sent to the start.
    pub options: &'a serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The callback URL given to the provider (it must be given again, exactly, with the code).
    pub redirect_uri: &'a str,
    /// The PKCE verifier and the nonce, sealed under the state.
    pub sealed: &'a [u8],
    pub link_user_id: Option<Uuid>,
}

/// A sign-in in flight, taken by its callback.
pub struct TakenState {
    pub provider: String,
    pub redirect_to: String,
    pub options: serde_json::Value,
    pub expires_at: DateTime<Utc>,
    pub redirect_uri: String,
    pub sealed: Vec<u8>,
    pub link_user_id: Option<Uuid>,
}

/// Remembers a sign-in, and forgets sign-ins that expired.
pub async fn insert_state(client: &impl GenericClient, state: &NewState<'_>) -> Result<(), AuthError> {
    execute(client, DELETE_EXPIRED_STATES, &[&state.created_at]).await?;
    let params: [&(dyn ToSql + Sync); 9] = [
        &state.state_hash,
        &state.provider,
        &state.redirect_to,
        &state.options,
        &state.created_at,
        &state.expires_at,
        &state.redirect_uri,
        &state.sealed,
        &state.link_user_id,
    ];
    execute(client, INSERT_STATE, &params).await.map(|_| ())
}

/// Takes (deletes and returns) the sign-in with this state hash: a second callback finds nothing.
pub async fn take_state(client: &impl GenericClient, state_hash: &str) -> Result<Option<TakenState>, AuthError> {
    let Some(row) = query_opt(client, TAKE_STATE, &[&state_hash]).await? else {
        return Ok(None);
    };
    let read = || -> Result<TakenState, tokio_postgres::Error> {
        Ok(TakenState {
            provider: row.try_get("provider")?,
            redirect_to: row.try_get::<_, Option<String>>("redirect_url")?.unwrap_or_default(),
            options: row.try_get::<_, StoredJson>("metadata")?.0,
            expires_at: row.try_get("expires_at")?,
            redirect_uri: row.try_get("redirect_uri")?,
            sealed: row.try_get::<_, Option<Vec<u8>>>("sealed")?.unwrap_or_default(),
            link_user_id: row.try_get("link_user_id")?,
        })
    };
    read().map(Some).map_err(internal)
}
