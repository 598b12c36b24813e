//! Queries on `auth.email_outbox`, the durable queue of outgoing email: insert a rendered message (inside the
//! caller's transaction), lease due messages to a worker, and record the outcome of each attempt.
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{GenericClient, internal};
use crate::error::AuthError;

pub const INSERT_EMAIL: &str = include_str!("sql/outbox/insert_email.sql");
pub const CLAIM_DUE_EMAILS: &str = include_str!("sql/outbox/claim_due_emails.sql");
pub const MARK_EMAIL_SENT: &str = include_str!("sql/outbox/mark_email_sent.sql");
pub const RECORD_EMAIL_FAILURE: &str = include_str!("sql/outbox/record_email_failure.sql");
pub const COUNT_WAITING: &str = include_str!("sql/outbox/count_waiting.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("outbox/insert_email", INSERT_EMAIL),
    ("outbox/claim_due_emails", CLAIM_DUE_EMAILS),
    ("outbox/mark_email_sent", MARK_EMAIL_SENT),
    ("outbox/record_email_failure", RECORD_EMAIL_FAILURE),
    ("outbox/count_waiting", COUNT_WAITING),
];

/// Messages neither sent nor given up on (the outbox's depth).
pub async fn count_waiting(client: &impl GenericClient) -> Result<i64, AuthError> {
    let row = super::query_opt(client, COUNT_WAITING, &[]).await?.ok_or_else(|| AuthError::internal("no count"))?;
    row.try_get("waiting").map_err(internal)
}

/// A rendered message to queue.
#[derive(Debug)]
pub struct NewOutboxEmail<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub html_body: &'a str,
    pub text_body: &'a str,
    pub headers: &'a [(String, String)],
    pub template: &'a str,
}

/// A message leased to a worker for one delivery attempt.
#[derive(Debug)]
pub struct OutboxEmail {
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub html_body: String,
    pub text_body: String,
    pub headers: Vec<(String, String)>,
    pub template: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

impl TryFrom<&Row> for OutboxEmail {
    type Error = tokio_postgres::Error;
    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        let headers = row.try_get::<_, super::StoredJson>("headers")?.0;
        Ok(OutboxEmail {
            id: row.try_get("id")?,
            recipient: row.try_get("recipient")?,
            subject: row.try_get("subject")?,
            html_body: row.try_get("html_body")?,
            text_body: row.try_get("text_body")?,
            headers: headers_from_json(&headers),
            template: row.try_get("template")?,
            attempts: row.try_get("attempts")?,
        })
    }
}

/// Headers are stored as a json array of `[name, value]` pairs so order and repeats survive.
fn headers_to_json(headers: &[(String, String)]) -> serde_json::Value {
    headers.iter().map(|(name, value)| serde_json::json!([name, value])).collect()
}

fn headers_from_json(json: &serde_json::Value) -> Vec<(String, String)> {
    let Some(pairs) = json.as_array() else { return Vec::new() };
    pairs
        .iter()
        .filter_map(|pair| Some((pair.get(0)?.as_str()?.to_string(), pair.get(1)?.as_str()?.to_string())))
        .collect()
}

/// Queues a message, due at once; returns its row id.
pub async fn insert_email(
    client: &impl GenericClient,
    email: &NewOutboxEmail<'_>,
    now: DateTime<Utc>,
) -> Result<Uuid, AuthError> {
    let headers = headers_to_json(email.headers);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
        [&now, &email.recipient, &email.subject, &email.html_body, &email.text_body, &headers, &email.template];
    let row = super::query_opt(client, INSERT_EMAIL, &params)
        .await?
        .ok_or_else(|| AuthError::internal("the outbox insert returned no row"))?;
    row.try_get("id").map_err(internal)
}

/// Leases up to `limit` messages due at `now` until `lease_until`, counting one attempt for each. Concurrent
/// callers get disjoint sets; a message whose worker died is offered again when its lease ends.
pub async fn claim_due_emails(
    client: &impl GenericClient,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OutboxEmail>, AuthError> {
    let rows = super::query(client, CLAIM_DUE_EMAILS, &[&now, &lease_until, &limit]).await?;
    rows.iter().map(OutboxEmail::try_from).collect::<Result<_, _>>().map_err(internal)
}

/// Records a delivery and wipes the bodies.
pub async fn mark_email_sent(client: &impl GenericClient, id: Uuid, now: DateTime<Utc>) -> Result<(), AuthError> {
    super::execute(client, MARK_EMAIL_SENT, &[&id, &now]).await.map(|_| ())
}

/// Records a failed attempt: the retry is due at `next_attempt_at`, unless `failed_at` gives up on the message
/// (its bodies are then wiped).
pub async fn record_email_failure(
    client: &impl GenericClient,
    id: Uuid,
    error: &str,
    next_attempt_at: DateTime<Utc>,
    failed_at: Option<DateTime<Utc>>,
) -> Result<(), AuthError> {
    super::execute(client, RECORD_EMAIL_FAILURE, &[&id, &error, &next_attempt_at, &failed_at]).await.map(|_| ())
}
