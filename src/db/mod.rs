//! Storage: the only module with SQL. Each statement lives in its own file under `sql/<table>/` and is
//! loaded with `include_str!`; query functions take any [`GenericClient`] so they work on a pooled
//! connection or inside a transaction. Constraint violations are turned into domain errors here, so flows
//! never see a raw `tokio_postgres::Error`.
pub mod claims;
pub mod migrate;
pub mod refresh_tokens;
pub mod users;

use anyhow::Context as _;
pub use deadpool_postgres::{GenericClient, Pool};
use deadpool_postgres::{ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::error::AuthError;

/// Every SQL statement, by name, so a test can prepare each one against the migrated schema.
pub const STATEMENTS: &[(&str, &str)] = &[
    ("health/ping", include_str!("sql/health/ping.sql")),
    ("claims/select_user_claims_document", claims::SELECT_USER_CLAIMS_DOCUMENT),
    ("claims/select_role_permissions", claims::SELECT_ROLE_PERMISSIONS),
    ("users/insert_user", users::INSERT_USER),
    ("users/insert_user_roles", users::INSERT_USER_ROLES),
    ("users/select_user_by_id", users::SELECT_USER_BY_ID),
    ("users/select_credentials_by_email", users::SELECT_CREDENTIALS_BY_EMAIL),
    ("users/update_password_hash", users::UPDATE_PASSWORD_HASH),
    ("users/update_last_seen", users::UPDATE_LAST_SEEN),
    ("refresh_tokens/insert_refresh_token", refresh_tokens::INSERT_REFRESH_TOKEN),
    ("refresh_tokens/select_refresh_token_for_update", refresh_tokens::SELECT_REFRESH_TOKEN_FOR_UPDATE),
    ("refresh_tokens/mark_refresh_token_rotated", refresh_tokens::MARK_REFRESH_TOKEN_ROTATED),
    ("refresh_tokens/revoke_refresh_token_family", refresh_tokens::REVOKE_REFRESH_TOKEN_FAMILY),
    ("refresh_tokens/delete_refresh_token_family", refresh_tokens::DELETE_REFRESH_TOKEN_FAMILY),
    ("refresh_tokens/delete_user_refresh_tokens", refresh_tokens::DELETE_USER_REFRESH_TOKENS),
];

/// Builds the connection pool. Connections are opened lazily; see [`ping`].
pub fn connect(url: &str, max_size: usize) -> anyhow::Result<Pool> {
    let pg_config: tokio_postgres::Config = url.parse().context("DATABASE_URL is not a valid Postgres URL")?;
    let manager = deadpool_postgres::Manager::from_config(
        pg_config,
        NoTls,
        ManagerConfig { recycling_method: RecyclingMethod::Fast },
    );
    Pool::builder(manager).max_size(max_size).runtime(Runtime::Tokio1).build().context("cannot build the database pool")
}

/// Checks that the database answers.
pub async fn ping(pool: &Pool) -> anyhow::Result<()> {
    let client = pool.get().await.context("cannot connect to the database")?;
    client.query_one(include_str!("sql/health/ping.sql"), &[]).await.context("database ping failed")?;
    Ok(())
}

/// Takes a pooled connection, as an internal error if none can be had.
pub async fn client(pool: &Pool) -> Result<deadpool_postgres::Object, AuthError> {
    pool.get().await.map_err(|e| AuthError::Internal(anyhow::Error::new(e).context("database pool")))
}

/// Wraps an unexpected database error, keeping the cause for the log.
pub fn internal(e: tokio_postgres::Error) -> AuthError {
    AuthError::Internal(anyhow::Error::new(e).context("database query"))
}

/// The name of the constraint a unique violation broke, if that is what `e` is.
pub fn unique_violation(e: &tokio_postgres::Error) -> Option<&str> {
    let db = e.as_db_error()?;
    (db.code() == &SqlState::UNIQUE_VIOLATION).then(|| db.constraint()).flatten()
}
