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
use crate::domain::redirect::RedirectPolicy;
use crate::jwt::JwtKeys;
use crate::mail::Mail;
use crate::sms::Sms;

/// How many after-the-answer tasks (reset and magic-link mails) may run at once.
const BACKGROUND_TASKS: usize = 64;

/// Shared by every request handler and worker; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub keys: Arc<JwtKeys>,
    pub passwords: PasswordHasher,
    pub clock: Clock,
    pub mail: Arc<Mail>,
    /// The SMS provider, when SMS sign-in is enabled.
    pub sms: Option<Arc<Sms>>,
    /// The one outgoing HTTP client (SMS providers), with timeouts and no redirects.
    pub http: reqwest::Client,
    /// Where users may be sent back to, built once from the client URL and the allow-list.
    pub redirects: Arc<RedirectPolicy>,
    /// Bounds the work flows run after answering (see `flows::verification::in_background`).
    pub background: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Builds the state from a validated configuration. The pool connects lazily.
    pub fn build(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let keys = JwtKeys::from_config(&config.jwt)
            .map_err(|e| anyhow::anyhow!("{}: {e}", crate::jwt::config::JWT_SECRET.name))?;
        let passwords = PasswordHasher::new(&config.passwords).map_err(|e| anyhow::anyhow!("{e}"))?;
        let pool = {
            use secrecy::ExposeSecret;
            db::connect(config.database.url.expose_secret(), config.database.pool_size)?
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the HTTP client")?;
        let mail = Arc::new(Mail::new(&config.mail)?);
        let sms = config.sms.as_ref().map(|sms| Sms::new(sms, http.clone()).map(Arc::new)).transpose()?;
        let background = Arc::new(tokio::sync::Semaphore::new(BACKGROUND_TASKS));
        let redirects =
            Arc::new(RedirectPolicy::new(config.http.client_url.as_ref(), &config.access.allowed_redirect_urls));
        Ok(AppState {
            config: Arc::new(config),
            pool,
            keys: Arc::new(keys),
            passwords,
            clock,
            mail,
            sms,
            http,
            redirects,
            background,
        })
    }
}

/// Migrates (unless disabled), starts the mail outbox worker and serves HTTP until `shutdown` is
/// cancelled; then waits for the worker to stop.
pub async fn serve(state: AppState, shutdown: CancellationToken) -> anyhow::Result<()> {
    if state.config.database.migrate_on_start {
        let applied = db::migrate::run(state.config.database.migrations_url()).await?;
        tracing::info!(?applied, "migrations up to date");
    }
    db::ping(&state.pool).await?;
    let address = format!("{}:{}", state.config.http.host, state.config.http.port);
    let listener = TcpListener::bind(address.clone());
    tracing::info!(%address, prefix = %state.config.http.api_prefix, "hauth listening");
    let worker = tokio::spawn(crate::workers::mail_outbox::run(
        state.pool.clone(),
        state.mail.clone(),
        state.clock.clone(),
        shutdown.clone(),
    ));
    let app = crate::api::routes(state);
    let served = poem::Server::new(listener)
        .run_with_graceful_shutdown(app, shutdown.clone().cancelled_owned(), Some(std::time::Duration::from_secs(10)))
        .await
        .with_context(|| format!("HTTP server on {address} failed"));
    shutdown.cancel();
    match tokio::time::timeout(std::time::Duration::from_secs(10), worker).await {
        Ok(Ok(())) => tracing::info!("mail worker stopped"),
        Ok(Err(e)) => tracing::error!(error = %e, "mail worker crashed"),
        Err(_) => tracing::warn!("mail worker did not stop in time"),
    }
    served
}
