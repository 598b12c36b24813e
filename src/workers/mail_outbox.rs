//! The mail outbox worker: delivers the messages flows queued in `auth.email_outbox`. A round leases due
//! messages in one short statement (so the SMTP conversation holds no row lock and replicas never send the
//! same message twice), sends each, then records the outcome: sent (bodies wiped), or failed with the
//! error and a retry after an exponential backoff, until the configured number of attempts is reached. A worker that
//! dies mid-round leaves its messages leased; they are offered again when the lease ends, so delivery is at
//! least once.
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use super::BatchOutcome;
use crate::clock::Clock;
use crate::db::Pool;
use crate::db::outbox::{self, OutboxEmail};
use crate::mail::Mail;
use crate::mail::transport::SmtpSender;

/// Messages leased per round.
const BATCH_SIZE: i64 = 10;
/// Upper bound on one message's whole SMTP exchange.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a leased message stays hidden from other workers: longer than a full round of sends.
const LEASE: TimeDelta = TimeDelta::minutes(15);
/// First retry delay; each further one is three times longer, up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY_SECONDS: i64 = 10;
const MAX_RETRY_DELAY: TimeDelta = TimeDelta::hours(1);
/// Pause between rounds while messages keep coming.
const PAUSE_AFTER_WORK: Duration = Duration::from_millis(10);
/// Longest pause after repeated errors (database down).
const MAX_ERROR_PAUSE: Duration = Duration::from_secs(60);
/// Recorded error texts are cut to this many characters.
const MAX_ERROR_CHARS: usize = 1000;

/// The delay before the retry that follows attempt number `attempts` (1 for the first attempt):
/// 10 s, 30 s, 1.5 min, 4.5 min, 13.5 min, 40.5 min, then 1 h.
pub fn retry_delay(attempts: i32) -> TimeDelta {
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(10);
    let seconds = FIRST_RETRY_DELAY_SECONDS.saturating_mul(3i64.pow(exponent));
    TimeDelta::seconds(seconds).min(MAX_RETRY_DELAY)
}

/// One round: leases the due messages and tries to deliver each once. Without an SMTP server configured it
/// leaves everything queued (and warns once).
pub async fn process_batch(pool: &Pool, mail: &Mail, clock: &Clock) -> anyhow::Result<BatchOutcome> {
    let Some(smtp) = mail.smtp() else {
        if mail.first_unconfigured_warning() {
            tracing::warn!(
                "{} is not set: emails stay queued in auth.email_outbox until it is",
                crate::mail::config::HOST.name
            );
        }
        return Ok(BatchOutcome { processed: 0, failed: 0, empty: true });
    };
    let now = clock.now();
    let claimed = {
        let client = pool.get().await.context("mail outbox: no database connection")?;
        outbox::claim_due_emails(&client, now, now + LEASE, BATCH_SIZE).await.context("mail outbox: claim")?
    };
    let mut outcome = BatchOutcome { processed: 0, failed: 0, empty: claimed.is_empty() };
    for email in claimed {
        let result = deliver(smtp, &email, clock.now()).await;
        let now = clock.now();
        let client = pool.get().await.context("mail outbox: no database connection")?;
        outcome.processed += 1;
        match result {
            Ok(()) => {
                outbox::mark_email_sent(&client, email.id, now).await.context("mail outbox: mark sent")?;
                tracing::info!(email_id = %email.id, template = %email.template, attempts = email.attempts, "email sent");
            }
            Err(error) => {
                outcome.failed += 1;
                record_failure(&client, mail, &email, &error, now).await?;
            }
        }
    }
    Ok(outcome)
}

async fn deliver(smtp: &SmtpSender, email: &OutboxEmail, now: DateTime<Utc>) -> Result<(), String> {
    let message = smtp.build_message(email, now).map_err(|e| format!("{e:#}"))?;
    match tokio::time::timeout(SEND_TIMEOUT, smtp.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(error_chain(&e)),
        Err(_) => Err(format!("no answer from the SMTP server within {} s", SEND_TIMEOUT.as_secs())),
    }
}

/// An error and its causes on one line, without repeating text: lettre often includes its source in its own
/// message, or its source repeats it.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if cause_text.contains(&text) {
            text = cause_text;
        } else if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

async fn record_failure(
    client: &deadpool_postgres::Object,
    mail: &Mail,
    email: &OutboxEmail,
    error: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
    let max_attempts = i32::try_from(mail.max_attempts()).unwrap_or(i32::MAX);
    let give_up = email.attempts >= max_attempts;
    let next_attempt_at = now + retry_delay(email.attempts);
    outbox::record_email_failure(client, email.id, &error, next_attempt_at, give_up.then_some(now))
        .await
        .context("mail outbox: record failure")?;
    if give_up {
        tracing::error!(email_id = %email.id, template = %email.template, attempts = email.attempts, %error,
            "email not sent: giving up");
    } else {
        tracing::warn!(email_id = %email.id, template = %email.template, attempts = email.attempts, %error,
            retry_at = %next_attempt_at, "email not sent: will retry");
    }
    Ok(())
}

/// The worker loop: runs [`process_batch`] until `shutdown` is cancelled, pausing briefly after work, for
/// The configured poll interval when nothing was due, and longer and longer after errors. A round in
/// progress is finished before exiting, so no message is left half-recorded.
pub async fn run(pool: Pool, mail: Arc<Mail>, clock: Clock, shutdown: CancellationToken) {
    tracing::info!(configured = mail.is_configured(), "mail outbox worker started");
    let idle = mail.poll_interval();
    let mut consecutive_errors: u32 = 0;
    while !shutdown.is_cancelled() {
        let pause = match process_batch(&pool, &mail, &clock).await {
            Ok(outcome) => {
                consecutive_errors = 0;
                if outcome.empty { idle } else { PAUSE_AFTER_WORK }
            }
            Err(e) => {
                consecutive_errors = consecutive_errors.saturating_add(1);
                tracing::error!(error = format!("{e:#}"), consecutive_errors, "mail outbox round failed");
                idle.saturating_mul(2u32.saturating_pow(consecutive_errors.min(16))).min(MAX_ERROR_PAUSE)
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    tracing::info!("mail outbox worker stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        let delays: Vec<i64> = (1..=9).map(|attempt| retry_delay(attempt).num_seconds()).collect();
        assert_eq!(delays, [10, 30, 90, 270, 810, 2430, 3600, 3600, 3600]);
        assert_eq!(retry_delay(0).num_seconds(), 10);
        assert_eq!(retry_delay(i32::MAX).num_seconds(), 3600);
    }
}
