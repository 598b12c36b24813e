//! Background work. Each worker is a `process_batch` function that does one round of work and returns a
//! [`BatchOutcome`] (tests call it directly), plus a `run` loop that only schedules it: a short pause after
//! work, a longer one when nothing was due, backoff on errors, and a clean exit when the shutdown token is
//! cancelled. Work is claimed with `for update skip locked`, so every replica can run every worker.
pub mod mail_outbox;

/// What one round of a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Items attempted in this round, whether they succeeded or not.
    pub processed: usize,
    /// Of those, how many failed (and were rescheduled or given up on).
    pub failed: usize,
    /// Nothing was due.
    pub empty: bool,
}
