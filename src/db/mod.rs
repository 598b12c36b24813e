//! Storage: the only module with SQL. Each statement lives in its own file under `sql/<table>/` and is
//! loaded with `include_str!`; query functions take any [`GenericClient`] so they work on a pooled
//! connection or inside a transaction. Constraint violations are turned into domain errors here, so flows
//! never see a raw `tokio_postgres::Error`.
pub mod admin;
pub mod audit_log;
pub mod claims;
pub mod code_guards;
pub mod config;
pub mod mfa;
pub mod migrate;
pub mod nself_adoption;
pub mod oauth_states;
pub mod outbox;
pub mod pat;
pub mod rate_limits;
pub mod refresh_queue;
pub mod refresh_tokens;
pub mod sign_in_lockouts;
pub mod tickets;
pub mod tls;
pub mod user_providers;
pub mod users;

use anyhow::Context as _;
pub use deadpool_postgres::{GenericClient, Pool};
use deadpool_postgres::{ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::error::AuthError;

/// Every SQL statement, by name, so a test can prepare each one against the migrated schema. Each module
/// lists its own in a `STATEMENTS` constant.
pub fn all_statements() -> Vec<(&'static str, &'static str)> {
    [
        &[("health/ping", include_str!("sql/health/ping.sql")), ("health/applied_version", APPLIED_VERSION)][..],
        admin::STATEMENTS,
        audit_log::STATEMENTS,
        claims::STATEMENTS,
        code_guards::STATEMENTS,
        mfa::STATEMENTS,
        nself_adoption::STATEMENTS,
        oauth_states::STATEMENTS,
        outbox::STATEMENTS,
        pat::STATEMENTS,
        refresh_queue::STATEMENTS,
        rate_limits::STATEMENTS,
        refresh_tokens::STATEMENTS,
        sign_in_lockouts::STATEMENTS,
        tickets::STATEMENTS,
        user_providers::STATEMENTS,
        users::STATEMENTS,
    ]
    .concat()
}

/// Builds the connection pool, with TLS as the URL's `sslmode` says. Connections are opened lazily; see
/// [`ping`].
pub fn connect(url: &str, max_size: usize) -> anyhow::Result<Pool> {
    let target = tls::target(url).context(config::CONNECTION_URL.name)?;
    let manager = deadpool_postgres::Manager::from_config(
        target.config,
        target.tls,
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

const APPLIED_VERSION: &str = include_str!("sql/health/applied_version.sql");

/// The newest migration applied to the database.
pub async fn applied_version(client: &impl GenericClient) -> Result<i32, AuthError> {
    let row = query_opt(client, APPLIED_VERSION, &[]).await?.ok_or_else(|| AuthError::internal("no version"))?;
    row.try_get("version").map_err(internal)
}

/// Takes a pooled connection; when none can be made the database is unavailable (not an internal fault).
pub async fn client(pool: &Pool) -> Result<deadpool_postgres::Object, AuthError> {
    pool.get().await.map_err(|e| {
        tracing::warn!(error = %e, "no database connection");
        AuthError::DatabaseUnavailable
    })
}

/// Starts a transaction on a pooled connection.
pub async fn begin(client: &mut deadpool_postgres::Object) -> Result<deadpool_postgres::Transaction<'_>, AuthError> {
    client.transaction().await.map_err(internal)
}

/// Commits a transaction.
pub async fn commit(transaction: deadpool_postgres::Transaction<'_>) -> Result<(), AuthError> {
    transaction.commit().await.map_err(internal)
}

/// Runs one statement (prepared once per connection) and returns the rows it changed.
pub async fn execute(client: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, AuthError> {
    let statement = client.prepare_cached(sql).await.map_err(internal)?;
    client.execute(&statement, params).await.map_err(internal)
}

/// Runs one statement; a unique violation of `constraint` becomes `taken` (e.g. an email already in use).
pub async fn execute_unique(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    constraint: &str,
    taken: fn() -> AuthError,
) -> Result<u64, AuthError> {
    let statement = client.prepare_cached(sql).await.map_err(internal)?;
    client.execute(&statement, params).await.map_err(|e| match unique_violation(&e) {
        Some(violated) if violated == constraint => taken(),
        _ => internal(e),
    })
}

/// Runs one statement and returns its rows.
pub async fn query(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, AuthError> {
    let statement = client.prepare_cached(sql).await.map_err(internal)?;
    client.query(&statement, params).await.map_err(internal)
}

/// Runs one statement and returns its row, if any.
pub async fn query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, AuthError> {
    let statement = client.prepare_cached(sql).await.map_err(internal)?;
    client.query_opt(&statement, params).await.map_err(internal)
}

/// Wraps an unexpected database error, keeping the cause for the log. A lost connection, or a server that
/// is shutting down, starting or refusing connections, is the database being unavailable instead.
pub fn internal(e: tokio_postgres::Error) -> AuthError {
    if connection_lost(&e) {
        tracing::warn!(error = %e, "database unavailable");
        return AuthError::DatabaseUnavailable;
    }
    AuthError::Internal(anyhow::Error::new(e).context("database query"))
}

fn connection_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let class = &code.code()[..2.min(code.code().len())];
            // 08: connection exceptions; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now.
            class == "08"
                || [SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN, SqlState::CANNOT_CONNECT_NOW].contains(code)
        }
        // No server answer at all: the socket failed.
        None => {
            e.as_db_error().is_none() && std::error::Error::source(e).is_some_and(|cause| cause.is::<std::io::Error>())
        }
    }
}

/// The name of the constraint a unique violation broke, if that is what `e` is.
pub fn unique_violation(e: &tokio_postgres::Error) -> Option<&str> {
    let db = e.as_db_error()?;
    (db.code() == &SqlState::UNIQUE_VIOLATION).then(|| db.constraint()).flatten()
}

/// A `json`/`jsonb` column read with [`crate::domain::json::read_stored`]: it never fails, even on numbers
/// Postgres stored but a JSON reader refuses.
#[derive(Debug, Clone, Default)]
pub struct StoredJson(pub serde_json::Value);

impl<'a> tokio_postgres::types::FromSql<'a> for StoredJson {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        // Binary `jsonb` is a version byte (1) and the JSON text.
        let text = if *ty == tokio_postgres::types::Type::JSONB {
            raw.strip_prefix(&[1]).ok_or("unsupported jsonb version")?
        } else {
            raw
        };
        Ok(StoredJson(crate::domain::json::read_stored(text)))
    }

    tokio_postgres::types::accepts!(JSON, JSONB);
}
