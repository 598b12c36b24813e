//! Queries on `auth.rate_limits`: GCRA state per limited key. One upsert records the hits of a request on all
//! its keys and says, per key, whether the hit was allowed, so concurrent requests on any replica count
//! exactly once each and never race a read against a write.
use chrono::{DateTime, Utc};

use super::{GenericClient, execute, internal, query};
use crate::error::AuthError;

pub const RECORD_HITS: &str = include_str!("sql/rate_limits/record_hits.sql");
pub const PRUNE: &str = include_str!("sql/rate_limits/prune.sql");

pub const STATEMENTS: &[(&str, &str)] = &[("rate_limits/record_hits", RECORD_HITS), ("rate_limits/prune", PRUNE)];

/// One key a request counts against, with its quota as GCRA parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub key: String,
    /// Seconds one request occupies: the interval divided by the burst.
    pub emission_seconds: f64,
    /// Seconds of requests that may be outstanding at once: the interval.
    pub tolerance_seconds: f64,
}

/// What the store decided for one key.
#[derive(Debug, Clone, PartialEq)]
pub struct HitOutcome {
    pub key: String,
    pub allowed: bool,
    /// When refused: seconds until a request on this key would be allowed.
    pub wait_seconds: f64,
}

/// Records one hit on each key (in key order, so concurrent requests lock rows in the same order).
pub async fn record_hits(
    client: &impl GenericClient,
    hits: &[Hit],
    now: DateTime<Utc>,
) -> Result<Vec<HitOutcome>, AuthError> {
    let mut sorted: Vec<&Hit> = hits.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    sorted.dedup_by(|a, b| a.key == b.key);
    let keys: Vec<&str> = sorted.iter().map(|hit| hit.key.as_str()).collect();
    let emissions: Vec<f64> = sorted.iter().map(|hit| hit.emission_seconds).collect();
    let tolerances: Vec<f64> = sorted.iter().map(|hit| hit.tolerance_seconds).collect();
    let rows = query(client, RECORD_HITS, &[&keys, &emissions, &tolerances, &now]).await?;
    rows.iter()
        .map(|row| {
            Ok(HitOutcome {
                key: row.try_get("key").map_err(internal)?,
                allowed: row.try_get("allowed").map_err(internal)?,
                wait_seconds: row.try_get("wait_seconds").map_err(internal)?,
            })
        })
        .collect()
}

/// Deletes keys whose state has run out (they would allow a full burst anyway); returns how many.
pub async fn prune(client: &impl GenericClient, now: DateTime<Utc>) -> Result<u64, AuthError> {
    execute(client, PRUNE, &[&now]).await
}
