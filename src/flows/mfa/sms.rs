//! SMS as a second factor. A user enrols a number (`POST /user/mfa/sms` sends a code; `POST /user/mfa`
//! with `activeMfaType: "sms"` and that code activates it, which also verifies the number). A challenged
//! sign-in then sends a six-digit code to that number through the configured sender (Twilio, Twilio
//! Verify, SNS or dev) and answers the ticket `mfaSms:<uuid>`; `POST /signin/mfa/sms` completes it and
//! `POST /signin/mfa/sms/resend` sends a new code, at most every 30 seconds. Codes are stored hashed (bound
//! to their ticket), live five minutes, and five wrong ones burn the ticket. With Twilio Verify the provider
//! holds and checks the codes. No transaction stays open while the provider is called.
use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::{MfaChallenge, guard_identifier, new_recovery_codes};
use crate::db;
use crate::db::mfa::StoredTicket;
use crate::domain::opaque_token::{OpaqueToken, hash_token};
use crate::domain::phone::PhoneNumber;
use crate::domain::user::User;
use crate::error::AuthError;
use crate::flows::code_guard;
use crate::flows::session::{SignedIn, SigninMethod, complete_signin};
use crate::flows::tickets::new_otp;
use crate::sms::{Sms, SmsError};
use crate::state::AppState;

pub const SMS_TICKET_PREFIX: &str = "mfaSms:";
/// How long an SMS code lives.
const CODE_LIFETIME_SECONDS: i64 = 300;
/// The least time between two codes of one ticket.
const RESEND_INTERVAL_SECONDS: i64 = 30;
/// The `first_factor` of an enrolment ticket and of an elevation ticket.
pub const ENROLMENT: &str = "enrolment";
pub const ELEVATION: &str = "elevation";

/// The sender, when SMS second factors are on and a provider is configured.
fn sender(state: &AppState) -> Result<&Sms, AuthError> {
    match &state.sms {
        Some(sms) if state.config.mfa.sms_enabled => Ok(sms),
        _ => Err(AuthError::DisabledEndpoint),
    }
}

fn code_hash(ticket_id: Uuid, code: &str) -> String {
    hash_token(&format!("mfaSms:{ticket_id}:{}", code.trim()))
}

fn default_region(state: &AppState) -> Option<&str> {
    state.config.sms.as_ref().and_then(|sms| sms.default_region())
}

fn sms_error(error: SmsError) -> AuthError {
    match error {
        SmsError::Rejected(reason) => {
            tracing::info!(%reason, "SMS provider refused the second-factor code");
            AuthError::CannotSendSms
        }
        SmsError::Unavailable(reason) => AuthError::internal(format!("SMS provider unavailable: {reason}")),
    }
}

/// A fresh code for a ticket: the code to send (none with Twilio Verify, which makes its own) and its hash.
fn fresh_code(state: &AppState, sms: &Sms, ticket_id: Uuid) -> (String, Option<String>) {
    if sms.verifies_codes() {
        (String::new(), None)
    } else {
        let code = new_otp(&state.random);
        let hash = code_hash(ticket_id, &code);
        (code, Some(hash))
    }
}

async fn send(sms: &Sms, phone: &str, code: &str, locale: &str) -> Result<(), AuthError> {
    let phone = PhoneNumber::parse(phone, None)?;
    sms.send_code(&phone, code, locale).await.map_err(sms_error)
}

/// Whether `otp` is the ticket's code: checked against the stored hash, or by Twilio Verify (called with no
/// transaction open: the caller reads the ticket again afterwards).
async fn code_matches(sms: &Sms, ticket: &StoredTicket, otp: &str) -> Result<bool, AuthError> {
    if sms.verifies_codes() {
        let phone = ticket.phone_number.as_deref().ok_or(AuthError::InvalidTicket)?;
        let phone = PhoneNumber::parse(phone, None)?;
        return sms.check_code(&phone, otp.trim()).await.map_err(sms_error);
    }
    Ok(ticket.code_hash.as_deref().is_some_and(|hash| hash == code_hash(ticket.id, otp)))
}

/// Starts the second step of a sign-in of a user whose factor is SMS: a ticket, and a code sent after the
/// answer (the caller's transaction must not wait for the provider).
pub(super) async fn challenge(
    state: &AppState,
    client: &impl GenericClient,
    user: &User,
    first_factor: SigninMethod,
) -> Result<MfaChallenge, AuthError> {
    let sms = sender(state).map_err(|_| AuthError::CannotSendSms)?.clone();
    let phone =
        user.phone_number.clone().ok_or_else(|| AuthError::internal("an SMS second factor without a number"))?;
    let now = state.clock.now();
    let token = OpaqueToken::generate(&state.random);
    let ticket = format!("{SMS_TICKET_PREFIX}{}", token.expose());
    let id = state.random.uuid();
    let (code, hash) = fresh_code(state, &sms, id);
    db::mfa::insert_ticket(
        client,
        &db::mfa::NewTicket {
            id,
            hash: &hash_token(&ticket),
            user_id: user.id,
            kind: "sms",
            first_factor: first_factor.as_str(),
            created_at: now,
            expires_at: now + TimeDelta::seconds(CODE_LIFETIME_SECONDS),
            phone_number: Some(&phone),
        },
    )
    .await?;
    db::mfa::update_ticket_code(client, id, hash.as_deref(), now).await?;
    let locale = user.locale.clone();
    state.background.spawn("second-factor SMS", async move { send(&sms, &phone, &code, &locale).await });
    tracing::info!(user_id = %user.id, first_factor = first_factor.as_str(), "sign-in challenged for its SMS code");
    Ok(MfaChallenge { ticket })
}

/// A ticket of the user's with a fresh code, sent now (enrolment and elevation).
async fn send_user_ticket(state: &AppState, user: &User, purpose: &str, phone: &PhoneNumber) -> Result<(), AuthError> {
    let sms = sender(state)?;
    let now = state.clock.now();
    let id = state.random.uuid();
    let (code, hash) = fresh_code(state, sms, id);
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    code_guard::ensure_unlocked(state, &transaction, &guard_identifier(user)).await?;
    db::mfa::delete_user_tickets_of(&transaction, user.id, purpose).await?;
    db::mfa::insert_ticket(
        &transaction,
        &db::mfa::NewTicket {
            id,
            hash: &hash_token(&format!("{purpose}:{id}")),
            user_id: user.id,
            kind: "sms",
            first_factor: purpose,
            created_at: now,
            expires_at: now + TimeDelta::seconds(CODE_LIFETIME_SECONDS),
            phone_number: Some(phone.as_str()),
        },
    )
    .await?;
    db::mfa::update_ticket_code(&transaction, id, hash.as_deref(), now).await?;
    db::commit(transaction).await?;
    if let Err(error) = send(sms, phone.as_str(), &code, &user.locale).await {
        db::mfa::delete_ticket(&client, id).await?;
        return Err(error);
    }
    Ok(())
}

async fn user(state: &AppState, user_id: Uuid) -> Result<User, AuthError> {
    let client = db::client(&state.pool).await?;
    db::users::select_user_by_id(&client, user_id).await?.ok_or(AuthError::Unauthenticated("the user is gone"))
}

/// `POST /user/mfa/sms`: sends a code to the number to enrol.
pub async fn enrol(state: &AppState, user_id: Uuid, raw_phone: &str) -> Result<(), AuthError> {
    sender(state)?;
    let phone = PhoneNumber::parse(raw_phone, default_region(state))?;
    let user = user(state, user_id).await?;
    if user.active_mfa_type.as_deref() == Some("totp") {
        return Err(AuthError::TotpAlreadyActive);
    }
    send_user_ticket(state, &user, ENROLMENT, &phone).await
}

/// `POST /elevate/sms/send`: sends a code to the user's SMS factor for an elevation.
pub async fn send_elevation_code(state: &AppState, user_id: Uuid) -> Result<(), AuthError> {
    let user = user(state, user_id).await?;
    let phone = match (user.active_mfa_type.as_deref(), user.phone_number.as_deref()) {
        (Some("sms"), Some(phone)) => PhoneNumber::parse(phone, None)?,
        _ => return Err(AuthError::MfaTypeNotFound),
    };
    send_user_ticket(state, &user, ELEVATION, &phone).await
}

/// Which ticket a code is aimed at.
enum Aim<'a> {
    /// A challenged sign-in, by the hash of its ticket.
    Signin(&'a str),
    /// A user's enrolment or elevation.
    User(Uuid, &'static str),
}

async fn find(
    client: &impl GenericClient,
    aim: &Aim<'_>,
    now: DateTime<Utc>,
) -> Result<Option<StoredTicket>, AuthError> {
    match aim {
        Aim::Signin(hash) => Ok(db::mfa::select_ticket_for_update(client, hash, now)
            .await?
            .filter(|ticket| ticket.kind == "sms" && ![ENROLMENT, ELEVATION].contains(&ticket.first_factor.as_str()))),
        Aim::User(user_id, purpose) => db::mfa::select_user_ticket_for_update(client, *user_id, purpose, now).await,
    }
}

/// The outcome of a code aimed at a ticket, in one transaction: a wrong code counts on the ticket (burnt at
/// five) and toward the account's lockout; a right one (or, where `recovery` allows, a recovery code) ends
/// the ticket and runs `then`.
async fn settle<T>(
    state: &AppState,
    aim: Aim<'_>,
    otp: &str,
    recovery: bool,
    then: impl AsyncFnOnce(&deadpool_postgres::Transaction<'_>, &StoredTicket, &User) -> Result<T, AuthError>,
) -> Result<T, AuthError> {
    let sms = sender(state)?;
    let now = state.clock.now();
    // Twilio Verify holds the code: it is asked first, with no transaction open.
    let provider_says = if sms.verifies_codes() {
        let client = db::client(&state.pool).await?;
        let ticket = find(&client, &aim, now).await?.ok_or(AuthError::InvalidTicket)?;
        Some(code_matches(sms, &ticket, otp).await?)
    } else {
        None
    };
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let ticket = find(&transaction, &aim, now).await?.ok_or(AuthError::InvalidTicket)?;
    let user = db::users::select_user_by_id(&transaction, ticket.user_id).await?.ok_or(AuthError::InvalidTicket)?;
    let identifier = guard_identifier(&user);
    code_guard::ensure_unlocked(state, &transaction, &identifier).await?;
    let mut right = match provider_says {
        Some(verdict) => verdict,
        None => code_matches(sms, &ticket, otp).await?,
    };
    if !right && recovery {
        right = super::use_recovery_code(state, &transaction, user.id, otp).await?;
    }
    if !right {
        super::wrong_code(state, transaction, &ticket, &identifier).await?;
        return Err(AuthError::InvalidOtp);
    }
    super::right_code(state, &transaction, ticket.id, &identifier).await?;
    let outcome = then(&transaction, &ticket, &user).await?;
    db::commit(transaction).await?;
    Ok(outcome)
}

/// `POST /signin/mfa/sms`: completes a challenged sign-in with its SMS code or a recovery code.
pub async fn signin(state: &AppState, ticket: &str, otp: &str) -> Result<SignedIn, AuthError> {
    if !ticket.starts_with(SMS_TICKET_PREFIX) {
        return Err(AuthError::InvalidTicket);
    }
    let hash = hash_token(ticket);
    settle(state, Aim::Signin(&hash), otp, true, async |transaction, _, user| {
        complete_signin(state, transaction, user.clone(), SigninMethod::SecondFactor).await
    })
    .await
}

/// `POST /signin/mfa/sms/resend`: a new code for a challenged sign-in, at most every 30 seconds.
pub async fn resend(state: &AppState, ticket: &str) -> Result<(), AuthError> {
    if !ticket.starts_with(SMS_TICKET_PREFIX) {
        return Err(AuthError::InvalidTicket);
    }
    let sms = sender(state)?;
    let now = state.clock.now();
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let stored = find(&transaction, &Aim::Signin(&hash_token(ticket)), now).await?.ok_or(AuthError::InvalidTicket)?;
    if let Some(sent_at) = stored.code_sent_at {
        let next = sent_at + TimeDelta::seconds(RESEND_INTERVAL_SECONDS);
        if next > now {
            return Err(AuthError::TooManyRequests { retry_after: (next - now).num_seconds().max(1) as u64 });
        }
    }
    let user = db::users::select_user_by_id(&transaction, stored.user_id).await?.ok_or(AuthError::InvalidTicket)?;
    let phone = stored.phone_number.clone().ok_or(AuthError::InvalidTicket)?;
    let (code, hash) = fresh_code(state, sms, stored.id);
    db::mfa::update_ticket_code(&transaction, stored.id, hash.as_deref(), now).await?;
    db::commit(transaction).await?;
    send(sms, &phone, &code, &user.locale).await
}

/// `POST /user/mfa` with `activeMfaType: "sms"`: the enrolment's code activates SMS at its number (now
/// verified); answers the new recovery codes.
pub async fn activate(state: &AppState, user_id: Uuid, code: &str) -> Result<Vec<String>, AuthError> {
    settle(state, Aim::User(user_id, ENROLMENT), code, false, async |transaction, ticket, user| {
        if user.active_mfa_type.as_deref() == Some("totp") {
            return Err(AuthError::TotpAlreadyActive);
        }
        let phone = ticket.phone_number.as_deref().ok_or(AuthError::InvalidTicket)?;
        db::mfa::activate_sms(transaction, user.id, phone).await?;
        let details = serde_json::json!({"type": "sms"});
        crate::flows::audit::record(
            state,
            transaction,
            crate::flows::audit::Event::of("mfa.activate", user.id, details),
        )
        .await?;
        db::mfa::delete_user_tickets(transaction, user.id).await?;
        tracing::info!(user_id = %user.id, "SMS second factor activated");
        new_recovery_codes(state, transaction, user.id).await
    })
    .await
}

/// `POST /elevate/sms`: the code of the user's elevation ticket.
pub async fn check_elevation_code(state: &AppState, user_id: Uuid, code: &str) -> Result<(), AuthError> {
    settle(state, Aim::User(user_id, ELEVATION), code, false, async |_, _, _| Ok(())).await
}

/// `POST /user/mfa` with `activeMfaType: ""` for a user whose factor is SMS: a recovery code, or the code of
/// an elevation ticket (`POST /elevate/sms/send`), removes it.
pub async fn deactivate(state: &AppState, user: &User, code: &str) -> Result<(), AuthError> {
    if super::role_requires_mfa(state, user) {
        return Err(AuthError::MfaRequiredForRole);
    }
    let remove = async |transaction: &deadpool_postgres::Transaction<'_>| -> Result<(), AuthError> {
        db::mfa::deactivate_sms(transaction, user.id).await?;
        let details = serde_json::json!({"type": "sms"});
        crate::flows::audit::record(
            state,
            transaction,
            crate::flows::audit::Event::of("mfa.deactivate", user.id, details),
        )
        .await?;
        db::mfa::delete_recovery_codes(transaction, user.id).await?;
        db::mfa::delete_user_tickets(transaction, user.id).await?;
        tracing::warn!(user_id = %user.id, "SMS second factor deactivated");
        Ok(())
    };
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    if super::use_recovery_code(state, &transaction, user.id, code).await? {
        remove(&transaction).await?;
        return db::commit(transaction).await;
    }
    drop(transaction);
    settle(state, Aim::User(user.id, ELEVATION), code, false, async |transaction, _, _| remove(transaction).await).await
}
