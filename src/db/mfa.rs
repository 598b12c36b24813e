//! Queries on second factors: the TOTP columns of `auth.users` (nhost's plaintext `totp_secret` and
//! `active_mfa_type`, hauth's sealed secret and last accepted step), `auth.mfa_recovery_codes` and
//! `auth.mfa_tickets`, the sign-ins waiting for their second factor.
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{GenericClient, internal};
use crate::error::AuthError;

pub const SELECT_TOTP_FOR_UPDATE: &str = include_str!("sql/mfa/select_totp_for_update.sql");
pub const UPDATE_TOTP_SECRET: &str = include_str!("sql/mfa/update_totp_secret.sql");
pub const UPDATE_TOTP_LAST_STEP: &str = include_str!("sql/mfa/update_totp_last_step.sql");
pub const UPDATE_ACTIVE_MFA_TYPE: &str = include_str!("sql/mfa/update_active_mfa_type.sql");
pub const CLEAR_TOTP: &str = include_str!("sql/mfa/clear_totp.sql");
pub const DELETE_RECOVERY_CODES: &str = include_str!("sql/mfa/delete_recovery_codes.sql");
pub const INSERT_RECOVERY_CODES: &str = include_str!("sql/mfa/insert_recovery_codes.sql");
pub const USE_RECOVERY_CODE: &str = include_str!("sql/mfa/use_recovery_code.sql");
pub const INSERT_TICKET: &str = include_str!("sql/mfa/insert_ticket.sql");
pub const SELECT_TICKET_FOR_UPDATE: &str = include_str!("sql/mfa/select_ticket_for_update.sql");
pub const COUNT_FAILED_ATTEMPT: &str = include_str!("sql/mfa/count_failed_attempt.sql");
pub const DELETE_TICKET: &str = include_str!("sql/mfa/delete_ticket.sql");
pub const DELETE_USER_TICKETS: &str = include_str!("sql/mfa/delete_user_tickets.sql");
pub const SELECT_USER_TICKET_FOR_UPDATE: &str = include_str!("sql/mfa/select_user_ticket_for_update.sql");
pub const DELETE_USER_TICKETS_OF: &str = include_str!("sql/mfa/delete_user_tickets_of.sql");
pub const UPDATE_TICKET_CODE: &str = include_str!("sql/mfa/update_ticket_code.sql");
pub const ACTIVATE_SMS: &str = include_str!("sql/mfa/activate_sms.sql");
pub const DEACTIVATE_SMS: &str = include_str!("sql/mfa/deactivate_sms.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("mfa/select_totp_for_update", SELECT_TOTP_FOR_UPDATE),
    ("mfa/update_totp_secret", UPDATE_TOTP_SECRET),
    ("mfa/update_totp_last_step", UPDATE_TOTP_LAST_STEP),
    ("mfa/update_active_mfa_type", UPDATE_ACTIVE_MFA_TYPE),
    ("mfa/clear_totp", CLEAR_TOTP),
    ("mfa/delete_recovery_codes", DELETE_RECOVERY_CODES),
    ("mfa/insert_recovery_codes", INSERT_RECOVERY_CODES),
    ("mfa/use_recovery_code", USE_RECOVERY_CODE),
    ("mfa/insert_ticket", INSERT_TICKET),
    ("mfa/select_ticket_for_update", SELECT_TICKET_FOR_UPDATE),
    ("mfa/count_failed_attempt", COUNT_FAILED_ATTEMPT),
    ("mfa/delete_ticket", DELETE_TICKET),
    ("mfa/delete_user_tickets", DELETE_USER_TICKETS),
    ("mfa/select_user_ticket_for_update", SELECT_USER_TICKET_FOR_UPDATE),
    ("mfa/delete_user_tickets_of", DELETE_USER_TICKETS_OF),
    ("mfa/update_ticket_code", UPDATE_TICKET_CODE),
    ("mfa/activate_sms", ACTIVATE_SMS),
    ("mfa/deactivate_sms", DEACTIVATE_SMS),
];

/// A user's TOTP state, read with the user's row locked (so one step is accepted once).
pub struct StoredTotp {
    /// nhost's plaintext secret (base32), in an adopted database.
    pub plain_secret: Option<String>,
    pub sealed_secret: Option<Vec<u8>>,
    pub key_id: Option<String>,
    pub last_step: Option<i64>,
    pub active_mfa_type: Option<String>,
}

pub async fn select_totp_for_update(client: &impl GenericClient, user_id: Uuid) -> Result<StoredTotp, AuthError> {
    let row = super::query_opt(client, SELECT_TOTP_FOR_UPDATE, &[&user_id])
        .await?
        .ok_or(AuthError::Unauthenticated("the user is gone"))?;
    let read = || -> Result<StoredTotp, tokio_postgres::Error> {
        Ok(StoredTotp {
            plain_secret: row.try_get::<_, Option<String>>("totp_secret")?.filter(|secret| !secret.is_empty()),
            sealed_secret: row.try_get("totp_secret_sealed")?,
            key_id: row.try_get("totp_key_id")?,
            last_step: row.try_get("totp_last_step")?,
            active_mfa_type: row.try_get::<_, Option<String>>("active_mfa_type")?.filter(|kind| !kind.is_empty()),
        })
    };
    read().map_err(internal)
}

/// Stores a sealed secret (a new enrolment, or an adopted plaintext secret sealed on first use).
pub async fn update_totp_secret(
    client: &impl GenericClient,
    user_id: Uuid,
    sealed: &[u8],
    key_id: &str,
) -> Result<(), AuthError> {
    super::execute(client, UPDATE_TOTP_SECRET, &[&user_id, &sealed, &key_id]).await.map(|_| ())
}

/// Records the step a code was accepted for; false when that step (or a later one) was already used.
pub async fn update_totp_last_step(client: &impl GenericClient, user_id: Uuid, step: i64) -> Result<bool, AuthError> {
    Ok(super::execute(client, UPDATE_TOTP_LAST_STEP, &[&user_id, &step]).await? == 1)
}

pub async fn update_active_mfa_type(
    client: &impl GenericClient,
    user_id: Uuid,
    kind: Option<&str>,
) -> Result<(), AuthError> {
    super::execute(client, UPDATE_ACTIVE_MFA_TYPE, &[&user_id, &kind]).await.map(|_| ())
}

/// Removes the TOTP secret and the active second factor.
pub async fn clear_totp(client: &impl GenericClient, user_id: Uuid) -> Result<(), AuthError> {
    super::execute(client, CLEAR_TOTP, &[&user_id]).await.map(|_| ())
}

/// Replaces a user's recovery codes.
pub async fn replace_recovery_codes(
    client: &impl GenericClient,
    user_id: Uuid,
    hashes: &[String],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    super::execute(client, DELETE_RECOVERY_CODES, &[&user_id]).await?;
    super::execute(client, INSERT_RECOVERY_CODES, &[&user_id, &hashes, &now]).await.map(|_| ())
}

pub async fn delete_recovery_codes(client: &impl GenericClient, user_id: Uuid) -> Result<(), AuthError> {
    super::execute(client, DELETE_RECOVERY_CODES, &[&user_id]).await.map(|_| ())
}

/// Uses an unused recovery code; false when there is none with this hash.
pub async fn use_recovery_code(
    client: &impl GenericClient,
    user_id: Uuid,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, AuthError> {
    Ok(super::execute(client, USE_RECOVERY_CODE, &[&user_id, &hash, &now]).await? == 1)
}

/// A sign-in waiting for its second factor.
pub struct NewTicket<'a> {
    pub id: Uuid,
    pub hash: &'a str,
    pub user_id: Uuid,
    pub kind: &'a str,
    pub first_factor: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Where an SMS factor's codes go.
    pub phone_number: Option<&'a str>,
}

pub async fn insert_ticket(client: &impl GenericClient, ticket: &NewTicket<'_>) -> Result<(), AuthError> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
        &ticket.id,
        &ticket.hash,
        &ticket.user_id,
        &ticket.kind,
        &ticket.first_factor,
        &ticket.created_at,
        &ticket.expires_at,
        &ticket.phone_number,
    ];
    super::execute(client, INSERT_TICKET, &params).await.map(|_| ())
}

/// A live ticket, locked until the transaction ends.
pub struct StoredTicket {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub first_factor: String,
    pub failed_attempts: i32,
    pub code_hash: Option<String>,
    pub code_sent_at: Option<DateTime<Utc>>,
    pub phone_number: Option<String>,
}

impl TryFrom<&tokio_postgres::Row> for StoredTicket {
    type Error = tokio_postgres::Error;

    fn try_from(row: &tokio_postgres::Row) -> Result<Self, Self::Error> {
        Ok(StoredTicket {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            kind: row.try_get("kind")?,
            first_factor: row.try_get("first_factor")?,
            failed_attempts: row.try_get("failed_attempts")?,
            code_hash: row.try_get("code_hash")?,
            code_sent_at: row.try_get("code_sent_at")?,
            phone_number: row.try_get("phone_number")?,
        })
    }
}

pub async fn select_ticket_for_update(
    client: &impl GenericClient,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<StoredTicket>, AuthError> {
    let row = super::query_opt(client, SELECT_TICKET_FOR_UPDATE, &[&hash, &now]).await?;
    row.as_ref().map(StoredTicket::try_from).transpose().map_err(internal)
}

/// A user's live ticket of one purpose (an SMS enrolment, an SMS elevation), locked.
pub async fn select_user_ticket_for_update(
    client: &impl GenericClient,
    user_id: Uuid,
    purpose: &str,
    now: DateTime<Utc>,
) -> Result<Option<StoredTicket>, AuthError> {
    let row = super::query_opt(client, SELECT_USER_TICKET_FOR_UPDATE, &[&user_id, &purpose, &now]).await?;
    row.as_ref().map(StoredTicket::try_from).transpose().map_err(internal)
}

/// Ends a user's tickets of one purpose (a new enrolment replaces the previous one).
pub async fn delete_user_tickets_of(
    client: &impl GenericClient,
    user_id: Uuid,
    purpose: &str,
) -> Result<(), AuthError> {
    super::execute(client, DELETE_USER_TICKETS_OF, &[&user_id, &purpose]).await.map(|_| ())
}

/// A new code on a ticket (a resend): the count of wrong codes starts again.
pub async fn update_ticket_code(
    client: &impl GenericClient,
    id: Uuid,
    code_hash: Option<&str>,
    sent_at: DateTime<Utc>,
) -> Result<(), AuthError> {
    super::execute(client, UPDATE_TICKET_CODE, &[&id, &code_hash, &sent_at]).await.map(|_| ())
}

/// Makes SMS the user's second factor, at this (now verified) number; refused when another user has it.
pub async fn activate_sms(client: &impl GenericClient, user_id: Uuid, phone_number: &str) -> Result<(), AuthError> {
    super::execute_unique(client, ACTIVATE_SMS, &[&user_id, &phone_number], "users_phone_number_key", || {
        AuthError::PhoneNumberInUse
    })
    .await
    .map(|_| ())
}

pub async fn deactivate_sms(client: &impl GenericClient, user_id: Uuid) -> Result<(), AuthError> {
    super::execute(client, DEACTIVATE_SMS, &[&user_id]).await.map(|_| ())
}

/// Counts a wrong code on a ticket; returns the count so far.
pub async fn count_failed_attempt(client: &impl GenericClient, id: Uuid) -> Result<i32, AuthError> {
    let row = super::query_opt(client, COUNT_FAILED_ATTEMPT, &[&id]).await?;
    row.map(|row| row.try_get::<_, i32>("failed_attempts"))
        .transpose()
        .map_err(internal)
        .map(|count| count.unwrap_or(0))
}

pub async fn delete_ticket(client: &impl GenericClient, id: Uuid) -> Result<(), AuthError> {
    super::execute(client, DELETE_TICKET, &[&id]).await.map(|_| ())
}

/// Ends every sign-in of a user waiting for a second factor (the factor changed).
pub async fn delete_user_tickets(client: &impl GenericClient, user_id: Uuid) -> Result<(), AuthError> {
    super::execute(client, DELETE_USER_TICKETS, &[&user_id]).await.map(|_| ())
}
