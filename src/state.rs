//! The application state: the validated configuration and everything built from it once at start (the
//! database pool, the keys, the password hasher, mail and SMS senders, the redirect policy), plus the inputs
//! flows read instead of globals (the clock and the source of randomness), and the tracker of the work they
//! run after answering. Every request handler and worker holds a clone.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::{self, Pool};
use crate::domain::password::PasswordHasher;
use crate::domain::redirect::RedirectPolicy;
use crate::error::AuthError;
use crate::flows::rate_limit::RateLimiter;
use crate::jwt::JwtKeys;
use crate::mail::Mail;
use crate::metrics::Metrics;
use crate::providers::Providers;
use crate::random::Random;
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
    pub random: Random,
    pub mail: Arc<Mail>,
    /// The SMS provider, when SMS sign-in is enabled.
    pub sms: Option<Arc<Sms>>,
    /// The one outgoing HTTP client (SMS and sign-in providers), with timeouts and no redirects.
    pub http: reqwest::Client,
    /// The enabled sign-in providers.
    pub providers: Providers,
    /// Where users may be sent back to, built once from the client URL and the allow-list.
    pub redirects: Arc<RedirectPolicy>,
    /// Work flows run after answering.
    pub background: Background,
    /// Request rate limits, over Postgres or Redis.
    pub rate_limiter: Arc<RateLimiter>,
    /// What `/metrics` exports.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Builds the state from a validated configuration, parsing the keys (once). The pool connects lazily.
    pub fn build(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let keys = JwtKeys::from_config(&config.jwt)
            .map_err(|e| anyhow::anyhow!("{}: {e}", crate::jwt::config::JWT_SECRET.name))?;
        let passwords = PasswordHasher::new(&config.passwords).map_err(|e| anyhow::anyhow!("{e}"))?;
        let pool = {
            use secrecy::ExposeSecret;
            db::connect(config.database.url.expose_secret(), config.database.pool_size)?
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        let mail = Arc::new(Mail::new(&config.mail)?);
        let sms = config.sms.as_ref().map(|sms| Sms::new(sms, http.clone()).map(Arc::new)).transpose()?;
        let providers = Providers::new(&config.providers, &http)?;
        let rate_limiter = Arc::new(RateLimiter::new(config.rate_limits.clone(), pool.clone())?);
        let metrics = Arc::new(Metrics::new()?);
        let redirects =
            Arc::new(RedirectPolicy::new(config.http.client_url.as_ref(), &config.access.allowed_redirect_urls));
        Ok(AppState {
            config: Arc::new(config),
            pool,
            keys: Arc::new(keys),
            passwords,
            clock,
            random: Random::System,
            mail,
            sms,
            http,
            providers,
            redirects,
            background: Background::new(BACKGROUND_TASKS),
            rate_limiter,
            metrics,
        })
    }
}

/// Work that runs after the answer (flows that must not reveal whether an address exists), bounded and
/// tracked: at most a fixed number run at once, and shutdown waits for those running.
#[derive(Clone)]
pub struct Background {
    tracker: TaskTracker,
    permits: Arc<Semaphore>,
}

impl Background {
    fn new(limit: usize) -> Self {
        Background { tracker: TaskTracker::new(), permits: Arc::new(Semaphore::new(limit)) }
    }

    /// Runs `work` after the answer. Beyond the limit the work is dropped with a warning (load shedding: a
    /// flood of requests must not pile up tasks or exhaust the database pool).
    pub fn spawn<F>(&self, what: &'static str, work: F)
    where
        F: Future<Output = Result<(), AuthError>> + Send + 'static,
    {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            tracing::warn!("{what} dropped: too much background work in flight");
            return;
        };
        self.tracker.spawn(async move {
            let _permit = permit;
            if let Err(error) = work.await {
                match error {
                    AuthError::Internal(cause) => tracing::error!(cause = ?cause, "{what} failed"),
                    other => tracing::info!(reason = %other, "{what} not sent"),
                }
            }
        });
    }

    /// Stops taking work and waits up to `deadline` for what runs; false if some was still running.
    pub async fn finish(&self, deadline: Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(deadline, self.tracker.wait()).await.is_ok()
    }
}
