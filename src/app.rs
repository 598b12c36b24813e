//! The application state and the one place that wires things: configuration, database pool, keys, password
//! hasher and clock go into [`AppState`]; [`serve`] runs the HTTP server until shutdown.
use std::sync::Arc;

use anyhow::Context as _;
use poem::listener::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::{self, Pool};
use crate::domain::password::PasswordHasher;
use crate::jwt::JwtKeys;

/// Shared by every request handler and worker; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub keys: Arc<JwtKeys>,
    pub passwords: PasswordHasher,
    pub clock: Clock,
}

impl AppState {
    /// Builds the state from a validated configuration. The pool connects lazily.
    pub fn build(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let keys = JwtKeys::from_config(&config.jwt).map_err(|e| anyhow::anyhow!("HASURA_GRAPHQL_JWT_SECRET: {e}"))?;
        let passwords = PasswordHasher::new(&config.passwords).map_err(|e| anyhow::anyhow!("{e}"))?;
        let pool = {
            use secrecy::ExposeSecret;
            db::connect(config.database.url.expose_secret(), config.database.pool_size)?
        };
        Ok(AppState { config: Arc::new(config), pool, keys: Arc::new(keys), passwords, clock })
    }
}

/// Migrates (unless disabled) and serves HTTP until `shutdown` is cancelled.
pub async fn serve(state: AppState, shutdown: CancellationToken) -> anyhow::Result<()> {
    if state.config.database.migrate_on_start {
        let applied = db::migrate::run(state.config.database.migrations_url()).await?;
        tracing::info!(?applied, "migrations up to date");
    }
    db::ping(&state.pool).await?;
    let address = format!("{}:{}", state.config.http.host, state.config.http.port);
    let listener = TcpListener::bind(address.clone());
    tracing::info!(%address, prefix = %state.config.http.api_prefix, "hauth listening");
    let app = crate::api::routes(state);
    poem::Server::new(listener)
        .run_with_graceful_shutdown(app, shutdown.cancelled_owned(), Some(std::time::Duration::from_secs(10)))
        .await
        .with_context(|| format!("HTTP server on {address} failed"))
}
