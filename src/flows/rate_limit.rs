//! Request rate limits with nhost's buckets, names and defaults, shared by every replica.
//!
//! Each limited request counts against keys: its bucket (global, email, SMS, brute force, sign-ups) per client
//! address, and per account identifier (the email address or phone number it names). Limits follow GCRA: a
//! key allows `burst` requests at once and gains one back every `interval / burst`. The state lives in
//! Postgres by default ([`PostgresStore`]: one atomic upsert per request decides every key) or, for very high
//! request rates, in Redis ([`RedisStore`]: the same arithmetic in a script), behind one trait.
//!
//! A refused request gets `429 too-many-requests` with `Retry-After`.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::config::env::{Env, Setting};
use crate::db::rate_limits::{Hit, HitOutcome};
use crate::db::{self, Pool};
use crate::error::AuthError;
use crate::state::AppState;

pub const ENABLE: Setting =
    Setting::new("AUTH_RATE_LIMIT_ENABLE", Some("false"), "rate limits (nhost's buckets below)");
pub const GLOBAL_BURST: Setting = Setting::new(
    "AUTH_RATE_LIMIT_GLOBAL_BURST",
    Some("100"),
    "requests per client address to any limited route within the interval",
);
pub const GLOBAL_INTERVAL: Setting = Setting::new(
    "AUTH_RATE_LIMIT_GLOBAL_INTERVAL",
    Some("1m"),
    "interval of the global limit (`90s`, `5m`, `1h`, or seconds); a request comes back every interval / burst",
);
pub const EMAIL_BURST: Setting =
    Setting::new("AUTH_RATE_LIMIT_EMAIL_BURST", Some("10"), "requests that send an email, per address and recipient");
pub const EMAIL_INTERVAL: Setting =
    Setting::new("AUTH_RATE_LIMIT_EMAIL_INTERVAL", Some("1h"), "interval of the email limit");
pub const EMAIL_IS_GLOBAL: Setting = Setting::new(
    "AUTH_RATE_LIMIT_EMAIL_IS_GLOBAL",
    Some("false"),
    "count every email sent by the service in one bucket instead of per client address",
);
pub const SMS_BURST: Setting =
    Setting::new("AUTH_RATE_LIMIT_SMS_BURST", Some("10"), "requests that send an SMS, per address and number");
pub const SMS_INTERVAL: Setting = Setting::new("AUTH_RATE_LIMIT_SMS_INTERVAL", Some("1h"), "interval of the SMS limit");
pub const BRUTE_FORCE_BURST: Setting = Setting::new(
    "AUTH_RATE_LIMIT_BRUTE_FORCE_BURST",
    Some("10"),
    "sign-in, verification and code requests, per address and account identifier",
);
pub const BRUTE_FORCE_INTERVAL: Setting =
    Setting::new("AUTH_RATE_LIMIT_BRUTE_FORCE_INTERVAL", Some("5m"), "interval of the brute-force limit");
pub const SIGNUPS_BURST: Setting =
    Setting::new("AUTH_RATE_LIMIT_SIGNUPS_BURST", Some("10"), "sign-up requests, per address and email");
pub const SIGNUPS_INTERVAL: Setting =
    Setting::new("AUTH_RATE_LIMIT_SIGNUPS_INTERVAL", Some("5m"), "interval of the sign-up limit");
pub const REDIS_URL: Setting = Setting::new(
    "AUTH_RATE_LIMIT_REDIS_URL",
    None,
    "keep rate limits in Redis (`redis://…`) instead of Postgres, for very high request rates",
)
.secret_url();

pub const SETTINGS: &[&Setting] = &[
    &ENABLE,
    &GLOBAL_BURST,
    &GLOBAL_INTERVAL,
    &EMAIL_BURST,
    &EMAIL_INTERVAL,
    &EMAIL_IS_GLOBAL,
    &SMS_BURST,
    &SMS_INTERVAL,
    &BRUTE_FORCE_BURST,
    &BRUTE_FORCE_INTERVAL,
    &SIGNUPS_BURST,
    &SIGNUPS_INTERVAL,
    &REDIS_URL,
];

/// The buckets of nhost's rate limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Every limited request.
    Global,
    /// Requests that send an email.
    Email,
    /// Requests that send an SMS.
    Sms,
    /// Requests an attacker could repeat to guess a secret: sign-ins, verifications, codes.
    BruteForce,
    /// Sign-ups.
    Signups,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Global => "global",
            Bucket::Email => "email",
            Bucket::Sms => "sms",
            Bucket::BruteForce => "brute-force",
            Bucket::Signups => "signups",
        }
    }
}

/// `burst` requests at once, one more every `interval / burst` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub burst: u32,
    pub interval_seconds: f64,
}

#[derive(Clone, Debug)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub global: Quota,
    pub email: Quota,
    pub email_is_global: bool,
    pub sms: Quota,
    pub brute_force: Quota,
    pub signups: Quota,
    pub redis_url: Option<SecretString>,
}

impl RateLimitConfig {
    pub fn load(env: &mut Env) -> RateLimitConfig {
        let mut quota = |burst: &Setting, interval: &Setting| {
            let burst_value: u32 = env.parsed(burst);
            if burst_value == 0 {
                env.problem(burst, "must be at least 1");
            }
            let text = env.string(interval);
            let interval_seconds = parse_interval(&text).unwrap_or_else(|| {
                env.problem(interval, format!("cannot read {text:?} as an interval (e.g. `90s`, `5m`, `1h`)"));
                60.0
            });
            Quota { burst: burst_value.max(1), interval_seconds }
        };
        let global = quota(&GLOBAL_BURST, &GLOBAL_INTERVAL);
        let email = quota(&EMAIL_BURST, &EMAIL_INTERVAL);
        let sms = quota(&SMS_BURST, &SMS_INTERVAL);
        let brute_force = quota(&BRUTE_FORCE_BURST, &BRUTE_FORCE_INTERVAL);
        let signups = quota(&SIGNUPS_BURST, &SIGNUPS_INTERVAL);
        RateLimitConfig {
            enabled: env.flag(&ENABLE),
            global,
            email,
            email_is_global: env.flag(&EMAIL_IS_GLOBAL),
            sms,
            brute_force,
            signups,
            redis_url: env.secret(&REDIS_URL),
        }
    }

    pub fn quota(&self, bucket: Bucket) -> Quota {
        match bucket {
            Bucket::Global => self.global,
            Bucket::Email => self.email,
            Bucket::Sms => self.sms,
            Bucket::BruteForce => self.brute_force,
            Bucket::Signups => self.signups,
        }
    }
}

/// Reads an interval as nhost writes it (Go's `90s`, `5m`, `1h30m`, `500ms`), or a plain number of seconds.
pub fn parse_interval(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds > 0.0 && seconds.is_finite()).then_some(seconds);
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_length = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_length] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * factor;
        rest = &rest[unit_length..];
    }
    (total > 0.0).then_some(total)
}

/// What a request counts against: its buckets, its client address and the identifier it names.
#[derive(Debug, Clone, Default)]
pub struct LimitedRequest {
    pub buckets: Vec<Bucket>,
    pub client_ip: Option<String>,
    /// The email address or phone number the request is about, normalised.
    pub identifier: Option<String>,
}

/// Where limit state lives. Implementations record a hit on every key and say which were refused.
pub trait RateLimitStore: Send + Sync {
    fn record<'a>(
        &'a self,
        hits: &'a [Hit],
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<HitOutcome>, AuthError>> + Send + 'a>>;
}

/// Limits in `auth.rate_limits`: one upsert per request.
pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    pub fn new(pool: Pool) -> Self {
        PostgresStore { pool }
    }
}

impl RateLimitStore for PostgresStore {
    fn record<'a>(
        &'a self,
        hits: &'a [Hit],
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<HitOutcome>, AuthError>> + Send + 'a>> {
        Box::pin(async move {
            let client = db::client(&self.pool).await?;
            db::rate_limits::record_hits(&client, hits, now).await
        })
    }
}

/// The GCRA step in Redis, atomic per key: KEYS[1] holds the theoretical arrival time in milliseconds;
/// ARGV are now, the emission interval and the tolerance, in milliseconds. Answers `{allowed, wait_ms}`.
const REDIS_GCRA: &str = r"
local now = tonumber(ARGV[1])
local emission = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + emission
if next_tat - now <= tolerance then
  redis.call('SET', KEYS[1], next_tat, 'PX', math.max(1, math.ceil(next_tat - now)))
  return {1, 0}
end
return {0, next_tat - tolerance - now}
";

/// Limits in Redis, for request rates a database should not carry.
pub struct RedisStore {
    client: redis::Client,
    connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    script: redis::Script,
}

impl RedisStore {
    pub fn new(url: &SecretString) -> anyhow::Result<Self> {
        let client =
            redis::Client::open(url.expose_secret()).map_err(|e| anyhow::anyhow!("{}: {e}", REDIS_URL.name))?;
        Ok(RedisStore { client, connection: tokio::sync::OnceCell::new(), script: redis::Script::new(REDIS_GCRA) })
    }

    async fn connection(&self) -> Result<redis::aio::ConnectionManager, AuthError> {
        self.connection
            .get_or_try_init(|| redis::aio::ConnectionManager::new(self.client.clone()))
            .await
            .cloned()
            .map_err(|e| AuthError::Internal(anyhow::Error::new(e).context("rate limit store (Redis)")))
    }
}

impl RateLimitStore for RedisStore {
    fn record<'a>(
        &'a self,
        hits: &'a [Hit],
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<HitOutcome>, AuthError>> + Send + 'a>> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let now_ms = now.timestamp_millis();
            let mut outcomes = Vec::with_capacity(hits.len());
            for hit in hits {
                let emission_ms = (hit.emission_seconds * 1000.0).round() as i64;
                let tolerance_ms = (hit.tolerance_seconds * 1000.0).round() as i64;
                let (allowed, wait_ms): (i64, i64) = self
                    .script
                    .key(format!("hauth:rate:{}", hit.key))
                    .arg(now_ms)
                    .arg(emission_ms)
                    .arg(tolerance_ms)
                    .invoke_async(&mut connection)
                    .await
                    .map_err(|e| AuthError::Internal(anyhow::Error::new(e).context("rate limit store (Redis)")))?;
                outcomes.push(HitOutcome {
                    key: hit.key.clone(),
                    allowed: allowed == 1,
                    wait_seconds: wait_ms as f64 / 1000.0,
                });
            }
            Ok(outcomes)
        })
    }
}

/// The configured limits over their store.
#[derive(Clone)]
pub struct RateLimiter {
    pub config: RateLimitConfig,
    pub store: Arc<dyn RateLimitStore>,
}

impl RateLimiter {
    /// The store the configuration asks for: Redis when a URL is given, else Postgres.
    pub fn new(config: RateLimitConfig, pool: Pool) -> anyhow::Result<Self> {
        let store: Arc<dyn RateLimitStore> = match &config.redis_url {
            Some(url) => Arc::new(RedisStore::new(url)?),
            None => Arc::new(PostgresStore::new(pool)),
        };
        Ok(RateLimiter { config, store })
    }

    /// The keys a request counts against.
    pub fn hits(&self, request: &LimitedRequest) -> Vec<Hit> {
        let client = request.client_ip.as_deref().unwrap_or("unknown");
        let mut hits = Vec::new();
        for bucket in &request.buckets {
            let quota = self.config.quota(*bucket);
            let hit = |key: String| Hit {
                key,
                emission_seconds: quota.interval_seconds / f64::from(quota.burst),
                tolerance_seconds: quota.interval_seconds,
            };
            let name = bucket.as_str();
            if *bucket == Bucket::Email && self.config.email_is_global {
                hits.push(hit(format!("{name}:all")));
            } else {
                hits.push(hit(format!("{name}:ip:{client}")));
            }
            if *bucket != Bucket::Global
                && let Some(identifier) = &request.identifier
            {
                hits.push(hit(format!("{name}:id:{identifier}")));
            }
        }
        hits
    }

    /// Counts the request on each of its keys; the keys that refused it, with the seconds until each allows.
    pub async fn refused(&self, request: &LimitedRequest, now: DateTime<Utc>) -> Result<Vec<HitOutcome>, AuthError> {
        if !self.config.enabled || request.buckets.is_empty() {
            return Ok(Vec::new());
        }
        let hits = self.hits(request);
        let outcomes = self.store.record(&hits, now).await?;
        Ok(outcomes.into_iter().filter(|outcome| !outcome.allowed).collect())
    }

    /// Deletes spent state (Postgres only; Redis keys expire by themselves).
    pub async fn prune(pool: &Pool, now: DateTime<Utc>) -> Result<u64, AuthError> {
        let client = db::client(pool).await?;
        db::rate_limits::prune(&client, now).await
    }
}

/// Counts the request; `TooManyRequests` with the longest wait when any of its keys is spent.
///
/// A store that cannot be reached lets the request through (logged): limits must not take the service down
/// with them, and a route that needs the database answers for itself if the database is what failed.
pub async fn check(state: &AppState, request: &LimitedRequest) -> Result<(), AuthError> {
    let refused = match state.rate_limiter.refused(request, state.clock.now()).await {
        Ok(refused) => refused,
        Err(error) => {
            tracing::warn!(error = ?error, "rate limits not counted: their store failed");
            return Ok(());
        }
    };
    let Some(wait) = refused.iter().map(|outcome| outcome.wait_seconds).reduce(f64::max) else {
        return Ok(());
    };
    for outcome in &refused {
        let bucket = outcome.key.split(':').next().unwrap_or_default();
        state.metrics.rate_limited.with_label_values(&[bucket]).inc();
    }
    tracing::info!(keys = ?refused.iter().map(|outcome| &outcome.key).collect::<Vec<_>>(), "rate limited");
    Err(AuthError::TooManyRequests { retry_after: wait.ceil().max(1.0) as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_nhost_writes_them() {
        assert_eq!(parse_interval("5m"), Some(300.0));
        assert_eq!(parse_interval("1h"), Some(3600.0));
        assert_eq!(parse_interval("1h30m"), Some(5400.0));
        assert_eq!(parse_interval("90s"), Some(90.0));
        assert_eq!(parse_interval("500ms"), Some(0.5));
        assert_eq!(parse_interval("42"), Some(42.0));
        assert_eq!(parse_interval("5 minutes"), None);
        assert_eq!(parse_interval("0"), None);
        assert_eq!(parse_interval(""), None);
    }
}
