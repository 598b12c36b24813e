//! Prometheus metrics, served at `/metrics` in the text exposition format. One [`Metrics`] per application
//! state (no process-wide registry, so tests and several apps in one process do not mix their counts): the
//! HTTP edge counts requests by route template and status and times them; flows count sign-ins by method and
//! outcome, refreshes, webhook calls, refresh-token reuse, refused rate-limit keys and provider-token refreshes
//! by outcome; the pool's use, the mail outbox's depth and the provider refresh queue (rows by state, lag of
//! the oldest due row) are read when scraped.
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub sign_ins: IntCounterVec,
    pub refreshes: IntCounterVec,
    pub webhook_calls: IntCounterVec,
    pub refresh_token_reuse: IntCounter,
    pub rate_limited: IntCounterVec,
    pub db_pool: IntGaugeVec,
    pub mail_outbox_depth: IntGauge,
    pub provider_token_refreshes: IntCounterVec,
    pub provider_refresh_queue: IntGaugeVec,
    pub provider_refresh_lag: IntGauge,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new_custom(Some("hauth".into()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests served, by route template, method and status"),
            &["route", "method", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "time to answer HTTP requests, by route template")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["route", "method"],
        )?;
        let sign_ins = IntCounterVec::new(
            Opts::new("sign_ins_total", "sign-in attempts, by method and outcome"),
            &["method", "outcome"],
        )?;
        let refreshes =
            IntCounterVec::new(Opts::new("refreshes_total", "refresh-token rotations, by outcome"), &["outcome"])?;
        let webhook_calls = IntCounterVec::new(
            Opts::new("webhook_calls_total", "calls of Hasura's auth webhook, by outcome"),
            &["outcome"],
        )?;
        let refresh_token_reuse = IntCounter::new(
            "refresh_token_reuse_total",
            "rotated refresh tokens presented again after the grace period (their family revoked)",
        )?;
        let rate_limited = IntCounterVec::new(
            Opts::new("rate_limited_total", "requests refused by a rate limit, by bucket"),
            &["bucket"],
        )?;
        let db_pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "database pool connections: `size` open, `available` idle, `max`"),
            &["state"],
        )?;
        let mail_outbox_depth = IntGauge::new("mail_outbox_depth", "messages waiting in the mail outbox")?;
        let provider_token_refreshes = IntCounterVec::new(
            Opts::new(
                "provider_token_refreshes_total",
                "provider-token refreshes by this replica, by trigger (`background`, `on-demand`) and outcome \
                 (`refreshed`; `retry`: a transient failure, tried again later; `failed`: refused by the provider \
                 or attempts exhausted; `not-refreshable`)",
            ),
            &["trigger", "outcome"],
        )?;
        let provider_refresh_queue = IntGaugeVec::new(
            Opts::new(
                "provider_token_refresh_queue",
                "provider refresh queue rows, by state: `waiting` (the depth), `due`, `in-flight`, `retrying`, \
                 `exhausted`, `not-refreshable`",
            ),
            &["state"],
        )?;
        let provider_refresh_lag = IntGauge::new(
            "provider_token_refresh_lag_seconds",
            "how long the oldest due provider token has been waiting for its refresh (0 when none is due)",
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(sign_ins.clone()))?;
        registry.register(Box::new(refreshes.clone()))?;
        registry.register(Box::new(webhook_calls.clone()))?;
        registry.register(Box::new(refresh_token_reuse.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(db_pool.clone()))?;
        registry.register(Box::new(mail_outbox_depth.clone()))?;
        registry.register(Box::new(provider_token_refreshes.clone()))?;
        registry.register(Box::new(provider_refresh_queue.clone()))?;
        registry.register(Box::new(provider_refresh_lag.clone()))?;
        Ok(Metrics {
            registry,
            http_requests,
            http_duration,
            sign_ins,
            refreshes,
            webhook_calls,
            refresh_token_reuse,
            rate_limited,
            db_pool,
            mail_outbox_depth,
            provider_token_refreshes,
            provider_refresh_queue,
            provider_refresh_lag,
        })
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut buffer = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8(buffer)?)
    }
}
