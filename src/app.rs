//! Assembles and serves: migrates (unless disabled), starts every worker, serves HTTP until shutdown, then
//! waits, with a deadline, for the workers and for the work flows started after answering.
use std::time::Duration;

use anyhow::Context as _;
use poem::listener::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::db;
use crate::state::AppState;

/// How long shutdown waits for in-flight requests, workers and background work.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

pub async fn serve(state: AppState, shutdown: CancellationToken) -> anyhow::Result<()> {
    if state.config.database.migrate_on_start {
        let applied = db::migrate::run(state.config.database.migrations_url()).await?;
        tracing::info!(?applied, "migrations up to date");
    }
    db::ping(&state.pool).await?;
    // Before serving, so no request meets an adopted nself identity whose tokens are still nself's.
    crate::flows::nself_adoption::finish(&state)
        .await
        .map_err(|error| anyhow::anyhow!("adopting nself's provider tokens failed: {error:?}"))?;
    let address = format!("{}:{}", state.config.http.host, state.config.http.port);
    let listener = TcpListener::bind(address.clone());
    tracing::info!(%address, prefix = %state.config.http.api_prefix, "hauth listening");
    let mut workers = crate::workers::spawn_all(&state, &shutdown);
    let background = state.background.clone();
    let app = crate::api::routes(state);
    let served = poem::Server::new(listener)
        .run_with_graceful_shutdown(app, shutdown.clone().cancelled_owned(), Some(SHUTDOWN_DEADLINE))
        .await
        .with_context(|| format!("HTTP server on {address} failed"));
    shutdown.cancel();
    let waited = tokio::time::timeout(SHUTDOWN_DEADLINE, async {
        while let Some(exit) = workers.join_next().await {
            match exit {
                Ok((name, Ok(()))) => tracing::info!(worker = name, "worker stopped"),
                Ok((name, Err(error))) => tracing::error!(worker = name, error = ?error, "worker failed"),
                Err(error) => tracing::error!(error = %error, "a worker crashed"),
            }
        }
    })
    .await;
    if waited.is_err() {
        tracing::warn!("workers did not stop in time");
    }
    if !background.finish(SHUTDOWN_DEADLINE).await {
        tracing::warn!("background work did not finish in time");
    }
    served
}
