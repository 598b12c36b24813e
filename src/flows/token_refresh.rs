//! Keeping provider access tokens fresh: the schedule (`auth.oauth_token_refresh_queue`) and the one refresh
//! both the background worker and the on-demand token endpoints go through.
//!
//! Every stored token set is scheduled [`LEAD`] before its access token expires; an identity without a
//! refresh token (or without an expiry) is kept as not refreshable, so nothing is ever attempted for it.
//! Whoever refreshes holds the row's lease (no row lock) while the provider is called, and records the
//! outcome in a short transaction only if it still holds it: a token is never refreshed twice at once, and
//! an identity linked again or unlinked meanwhile is left alone. A provider refusing the grant
//! (`invalid_grant`, revoked, account gone) stops the row for good, flags the identity as needing a new
//! sign-in and writes an audit row; an outage (network, 5xx, 429) is retried with exponential backoff and
//! jitter, honouring `Retry-After`, until the row's attempts run out.
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use super::audit::{self, Event};
use super::provider_tokens::{keys, open_tokens, seal_token_set};
use crate::config::{Env, Setting};
use crate::db;
use crate::db::refresh_queue::Lease;
use crate::db::user_providers::SealedTokens;
use crate::error::AuthError;
use crate::providers::{self, ProviderError};
use crate::state::AppState;

pub const LEAD: Setting = Setting::new(
    "AUTH_PROVIDER_TOKEN_REFRESH_LEAD",
    Some("300"),
    "seconds before a stored provider access token expires that it is refreshed in the background",
);
pub const MAX_ATTEMPTS: Setting = Setting::new(
    "AUTH_PROVIDER_TOKEN_REFRESH_MAX_ATTEMPTS",
    Some("3"),
    "background refreshes of a provider token that may fail transiently (network, 5xx, 429) in a row; then it \
     waits for `hauth oauth refresh retry-failed` (a refusal such as `invalid_grant` stops at once)",
);

pub const SETTINGS: &[&Setting] = &[&LEAD, &MAX_ATTEMPTS];

/// How long a refresher holds a row: far longer than a provider call (the HTTP client gives up after 10 s)
/// plus the retries of recording its outcome through a database outage.
pub const LEASE: TimeDelta = TimeDelta::minutes(5);
/// First retry delay after a transient failure; each further one doubles, up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY_SECONDS: i64 = 30;
const MAX_RETRY_DELAY: TimeDelta = TimeDelta::minutes(30);
/// Recorded error texts are cut to this many characters.
const MAX_ERROR_CHARS: usize = 500;
/// OAuth error codes that say the client is misconfigured or the provider is struggling, not that the grant
/// is gone: retried like an outage rather than ending the link.
const TRANSIENT_REFUSALS: &[&str] =
    &["invalid_client", "unauthorized_client", "server_error", "temporarily_unavailable", "slow_down", "ratelimited"];
/// How long recording an outcome keeps being retried while the database is unreachable: the provider has
/// already answered (a rotated refresh token exists only in memory), so giving up early would lose it.
const RECORD_RETRY_WINDOW: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
pub struct RefreshConfig {
    pub lead: TimeDelta,
    pub max_attempts: i32,
}

impl RefreshConfig {
    pub fn load(env: &mut Env) -> RefreshConfig {
        let lead = env.parsed::<u32>(&LEAD);
        let max_attempts = env.parsed::<u16>(&MAX_ATTEMPTS);
        if max_attempts == 0 {
            env.problem(&MAX_ATTEMPTS, "must be at least 1");
        }
        RefreshConfig { lead: TimeDelta::seconds(i64::from(lead)), max_attempts: i32::from(max_attempts.max(1)) }
    }
}

/// When the refresh of tokens expiring at `expires_at` is due, and whether there is anything to refresh.
fn next_refresh(
    config: &RefreshConfig,
    has_refresh_token: bool,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, bool) {
    match expires_at {
        Some(expires_at) if has_refresh_token => (expires_at - config.lead, true),
        _ => (now, false),
    }
}

/// Schedules the refresh of tokens just stored for `identity_id` (a sign-in, a link, adopted tokens).
pub async fn schedule(
    state: &AppState,
    client: &impl deadpool_postgres::GenericClient,
    identity_id: Uuid,
    tokens: &SealedTokens<'_>,
) -> Result<(), AuthError> {
    let config = &state.config.token_refresh;
    let now = state.clock.now();
    let (at, refreshable) = next_refresh(config, tokens.refresh_token.is_some(), tokens.expires_at, now);
    db::refresh_queue::schedule_refresh(client, identity_id, at, refreshable, config.max_attempts, now).await
}

/// The delay before the retry that follows failed attempt number `attempts` (1 for the first): 30 s doubling
/// up to 30 min, spread by a random factor between ½ and 1½ so that tokens failing together (a provider
/// outage) do not come back together; never sooner than the provider's `Retry-After`.
pub fn retry_delay(attempts: i32, retry_after: Option<u64>, random: &crate::random::Random) -> TimeDelta {
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(16);
    let base = TimeDelta::seconds(FIRST_RETRY_DELAY_SECONDS.saturating_mul(2i64.saturating_pow(exponent)))
        .min(MAX_RETRY_DELAY);
    let base_ms = u32::try_from(base.num_milliseconds()).unwrap_or(u32::MAX);
    let jittered = TimeDelta::milliseconds(i64::from(base_ms / 2) + i64::from(random.below(base_ms.max(1))));
    let floor = TimeDelta::seconds(i64::try_from(retry_after.unwrap_or(0)).unwrap_or(i64::MAX).min(86_400));
    jittered.max(floor)
}

/// What one refresh came to.
pub enum Outcome {
    /// New tokens are stored; the next refresh is scheduled.
    Refreshed { access_token: SecretString, expires_at: Option<DateTime<Utc>> },
    /// Nothing to refresh with (no refresh token, or the identity already needs a new sign-in): stopped.
    NotRefreshable,
    /// The provider refused the grant: stopped, the identity needs a new sign-in.
    Refused { code: String },
    /// An outage; retried at `retry_at` unless `exhausted`.
    Failed { error: String, retry_after: Option<u64>, retry_at: DateTime<Utc>, exhausted: bool },
    /// The lease was lost or the identity is gone (linked again or unlinked meanwhile): nothing recorded.
    Abandoned,
}

/// Refreshes the identity of `lease` and records the outcome. `counted` says the lease was claimed by the
/// worker (an attempt was counted); an on-demand refresh counts none, and gives its lease back after an
/// outage without touching the schedule.
pub async fn refresh_leased(state: &AppState, lease: &Lease, counted: bool) -> Result<Outcome, AuthError> {
    let outcome = attempt_refresh(state, lease, counted).await?;
    let label = match &outcome {
        Outcome::Refreshed { .. } => Some("refreshed"),
        Outcome::NotRefreshable => Some("not-refreshable"),
        Outcome::Refused { .. } | Outcome::Failed { exhausted: true, .. } => Some("failed"),
        Outcome::Failed { exhausted: false, .. } => Some("retry"),
        Outcome::Abandoned => None,
    };
    if let Some(label) = label {
        let trigger = if counted { "background" } else { "on-demand" };
        state.metrics.provider_token_refreshes.with_label_values(&[trigger, label]).inc();
    }
    Ok(outcome)
}

async fn attempt_refresh(state: &AppState, lease: &Lease, counted: bool) -> Result<Outcome, AuthError> {
    let stored = record(state, |client| async move {
        db::refresh_queue::select_identity_for_refresh(&client, lease.identity_id).await
    })
    .await?;
    let Some(stored) = stored else { return Ok(Outcome::Abandoned) };
    let keys = keys(state)?;
    let opened = open_tokens(keys, &stored)?;
    let refresh_token = match (&opened.refresh, stored.needs_reauthentication) {
        (Some(token), false) => token.clone(),
        _ => {
            let now = state.clock.now();
            let error = if stored.needs_reauthentication { "re-authentication needed" } else { "no refresh token" };
            record(state, |client| async move {
                db::refresh_queue::record_refresh_failure(&client, lease, now, false, error, now).await
            })
            .await?;
            return Ok(Outcome::NotRefreshable);
        }
    };
    let provider_id = stored.provider_id.clone();
    let Some(provider) = state.providers.find(&provider_id) else {
        let error = ProviderError::Unsupported(format!("provider {provider_id} is not enabled"));
        return failed(state, lease, counted, &provider_id, &error).await;
    };
    let answer = providers::refresh(provider.as_ref(), &refresh_token).await;
    let now = state.clock.now();
    match answer {
        Ok(tokens) => {
            let sealed = seal_token_set(keys, stored.id, &tokens, Some(&opened), now);
            let sealed_tokens = sealed.as_tokens();
            let config = &state.config.token_refresh;
            let (next_at, refreshable) =
                next_refresh(config, sealed_tokens.refresh_token.is_some(), sealed_tokens.expires_at, now);
            let stored_it = record(state, |mut client| {
                let sealed = &sealed;
                async move {
                    let transaction = db::begin(&mut client).await?;
                    if !db::refresh_queue::complete_refresh(&transaction, lease, next_at, refreshable, now).await? {
                        return Ok(false);
                    }
                    db::user_providers::update_identity_tokens(&transaction, lease.identity_id, &sealed.as_tokens())
                        .await?;
                    db::commit(transaction).await?;
                    Ok(true)
                }
            })
            .await?;
            if !stored_it {
                tracing::warn!(identity_id = %lease.identity_id, provider = %provider_id,
                    "provider token refreshed, but the identity changed meanwhile: the new tokens are dropped");
                return Ok(Outcome::Abandoned);
            }
            tracing::info!(identity_id = %lease.identity_id, provider = %provider_id, "provider token refreshed");
            Ok(Outcome::Refreshed { access_token: tokens.access_token, expires_at: sealed.as_tokens().expires_at })
        }
        Err(ProviderError::Refused { code, description })
            if !TRANSIENT_REFUSALS.contains(&code.to_ascii_lowercase().as_str()) =>
        {
            tracing::warn!(identity_id = %lease.identity_id, provider = %provider_id, %code, %description,
                "the provider refused the refresh: the identity needs a new sign-in");
            let error: String = format!("{code}: {description}").chars().take(MAX_ERROR_CHARS).collect();
            let user_id = stored.user_id;
            let recorded = record(state, |mut client| {
                let (error, code, provider_id) = (&error, &code, &provider_id);
                async move {
                    let transaction = db::begin(&mut client).await?;
                    if !db::refresh_queue::record_refresh_failure(&transaction, lease, now, false, error, now).await? {
                        return Ok(false);
                    }
                    db::user_providers::mark_needs_reauthentication(&transaction, lease.identity_id).await?;
                    let event = Event {
                        name: "provider.refresh_refused",
                        user_id: Some(user_id),
                        provider: Some(provider_id),
                        metadata: serde_json::json!({"error": code, "background": counted}),
                    };
                    audit::record(state, &transaction, event).await?;
                    db::commit(transaction).await?;
                    Ok(true)
                }
            })
            .await?;
            Ok(if recorded { Outcome::Refused { code } } else { Outcome::Abandoned })
        }
        Err(error) => failed(state, lease, counted, &provider_id, &error).await,
    }
}

/// A transient failure: rescheduled with backoff (the worker), or the lease given back (on demand).
async fn failed(
    state: &AppState,
    lease: &Lease,
    counted: bool,
    provider_id: &str,
    error: &ProviderError,
) -> Result<Outcome, AuthError> {
    let now = state.clock.now();
    let retry_after = match error {
        ProviderError::Unavailable { retry_after, .. } => *retry_after,
        _ => None,
    };
    let text: String = error.to_string().chars().take(MAX_ERROR_CHARS).collect();
    if !counted {
        tracing::warn!(identity_id = %lease.identity_id, provider = %provider_id, error = %text,
            "provider token refresh failed");
        record(state, |client| async move { db::refresh_queue::release_lease(&client, lease).await.map(|()| true) })
            .await?;
        return Ok(Outcome::Failed { error: text, retry_after, retry_at: now, exhausted: false });
    }
    let exhausted = lease.attempts >= lease.max_attempts;
    let retry_at = now + retry_delay(lease.attempts, retry_after, &state.random);
    let recorded = record(state, |mut client| {
        let text = &text;
        async move {
            let transaction = db::begin(&mut client).await?;
            if !db::refresh_queue::record_refresh_failure(&transaction, lease, retry_at, true, text, now).await? {
                return Ok(false);
            }
            if exhausted {
                let user_id = db::refresh_queue::select_identity_for_refresh(&transaction, lease.identity_id)
                    .await?
                    .map(|identity| identity.user_id);
                let event = Event {
                    name: "provider.refresh_failed",
                    user_id,
                    provider: Some(provider_id),
                    metadata: serde_json::json!({"error": text, "attempts": lease.attempts}),
                };
                audit::record(state, &transaction, event).await?;
            }
            db::commit(transaction).await?;
            Ok(true)
        }
    })
    .await?;
    if !recorded {
        return Ok(Outcome::Abandoned);
    }
    if exhausted {
        tracing::error!(identity_id = %lease.identity_id, provider = %provider_id, attempts = lease.attempts,
            error = %text, "provider token refresh failed: attempts exhausted");
    } else {
        tracing::warn!(identity_id = %lease.identity_id, provider = %provider_id, attempts = lease.attempts,
            error = %text, %retry_at, "provider token refresh failed: will retry");
    }
    Ok(Outcome::Failed { error: text, retry_after, retry_at, exhausted })
}

/// Runs `write` on a fresh connection, again and again while the database cannot be reached (a restart),
/// for up to [`RECORD_RETRY_WINDOW`]: once the provider has answered, its answer must not be lost, and a
/// leased row left unread would wait for its lease to end.
async fn record<T, W, F>(state: &AppState, write: W) -> Result<T, AuthError>
where
    W: Fn(deadpool_postgres::Object) -> F,
    F: std::future::Future<Output = Result<T, AuthError>>,
{
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        let attempt = async {
            let client = db::client(&state.pool).await?;
            write(client).await
        };
        match attempt.await {
            Ok(done) => return Ok(done),
            Err(error @ (AuthError::Internal(_) | AuthError::DatabaseUnavailable))
                if started.elapsed() < RECORD_RETRY_WINDOW =>
            {
                tracing::warn!(error = ?error, "provider token refresh: database unreachable, retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(other) => return Err(other),
        }
    }
}

/// Takes the lease of `identity_id` for an on-demand refresh; `None` while a refresh is in flight elsewhere.
pub async fn take_lease(state: &AppState, identity_id: Uuid) -> Result<Option<Lease>, AuthError> {
    let now = state.clock.now();
    let client = db::client(&state.pool).await?;
    db::refresh_queue::take_lease(&client, identity_id, now, now + LEASE, state.random.uuid()).await
}

/// The queue's state at this moment.
pub async fn status(state: &AppState) -> Result<db::refresh_queue::QueueStatus, AuthError> {
    let client = db::client(&state.pool).await?;
    db::refresh_queue::select_queue_status(&client, state.clock.now()).await
}

/// Makes the rows whose attempts ran out due again; returns how many.
pub async fn retry_failed(state: &AppState) -> Result<u64, AuthError> {
    let client = db::client(&state.pool).await?;
    db::refresh_queue::retry_failed(&client, state.clock.now()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Random;

    #[test]
    fn retries_back_off_exponentially_with_jitter_and_honour_retry_after() {
        let random = Random::seeded(3);
        for attempts in 1..=8 {
            let base = (30 * 2i64.pow(u32::try_from(attempts - 1).unwrap_or(0))).min(1800);
            let delay = retry_delay(attempts, None, &random).num_milliseconds();
            assert!(delay >= base * 500 && delay < base * 1500, "attempt {attempts}: {delay} ms around {base} s");
        }
        assert!(retry_delay(1, Some(600), &random) >= TimeDelta::seconds(600));
        let spread: std::collections::HashSet<i64> =
            (0..20).map(|_| retry_delay(2, None, &random).num_milliseconds()).collect();
        assert!(spread.len() > 10, "jitter spreads the retries");
    }
}
