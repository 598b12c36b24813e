//! Second factors (nhost-compatible TOTP). A user enrols with `GET /mfa/totp/generate` (a secret and its QR
//! code) and activates with a first code; from then on every single-factor sign-in, whatever its method,
//! ends in a challenge instead of a session ([`super::session::complete_signin`] calls [`challenge`]): a
//! one-time ticket `mfaTotp:<uuid>` that `POST /signin/mfa/totp` completes with a code.
//!
//! Beyond nhost: the secret is stored encrypted (an adopted nhost plaintext secret keeps working and is
//! encrypted the first time it is used); a code is accepted once per time step; five wrong codes burn the
//! ticket, and wrong codes also count toward the account's code-guessing lockout; ten single-use recovery
//! codes, shown once at activation and stored hashed, each stand in for a code.
pub mod sms;

use chrono::TimeDelta;
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::session::{SignedIn, SigninMethod, complete_signin};
use super::{audit, code_guard};
use crate::config::env::{Env, Setting};
use crate::db;
use crate::domain::opaque_token::{OpaqueToken, hash_token};
use crate::domain::totp::{self, TotpSecret};
use crate::domain::user::User;
use crate::error::AuthError;
use crate::state::AppState;

pub const ENABLED: Setting = Setting::new(
    "AUTH_MFA_ENABLED",
    Some("false"),
    "enrolment in a second factor (TOTP); sign-ins of enrolled users are challenged either way",
);
pub const TOTP_ISSUER: Setting =
    Setting::new("AUTH_MFA_TOTP_ISSUER", Some("hauth"), "the issuer authenticator apps show next to the account");

pub const REQUIRED_FOR_ROLES: Setting = Setting::new(
    "AUTH_MFA_REQUIRED_FOR_ROLES",
    None,
    "roles (comma-separated, e.g. `admin,moderator`) whose holders must have a second factor: until they enrol, \
     their tokens hold only the `mfa-enrolment` role",
);

pub const SMS_ENABLED: Setting = Setting::new(
    "AUTH_MFA_SMS_ENABLED",
    Some("false"),
    "SMS as a second factor (through the configured SMS provider, whose settings it then needs)",
);

pub const SETTINGS: &[&Setting] = &[&ENABLED, &TOTP_ISSUER, &REQUIRED_FOR_ROLES, &SMS_ENABLED];

/// The only role in the tokens of a user who must enrol in a second factor first. Hasura knows no
/// permission for it; hauth's enrolment endpoints accept its tokens.
pub const ENROLMENT_ROLE: &str = "mfa-enrolment";
/// The session variable saying a token is limited to enrolment.
pub const ENROLMENT_CLAIM: &str = "x-hasura-mfa-enrolment-required";

/// How long a challenged sign-in waits for its second factor.
const TICKET_LIFETIME_SECONDS: i64 = 600;
/// Wrong codes after which a ticket is burnt.
const MAX_WRONG_CODES: i32 = 5;
const TOTP_TICKET_PREFIX: &str = "mfaTotp:";

#[derive(Clone, Debug)]
pub struct MfaConfig {
    pub enabled: bool,
    pub totp_issuer: String,
    pub required_for_roles: Vec<String>,
    pub sms_enabled: bool,
}

impl MfaConfig {
    pub fn load(env: &mut Env) -> MfaConfig {
        MfaConfig {
            enabled: env.flag(&ENABLED),
            totp_issuer: env.string(&TOTP_ISSUER),
            required_for_roles: env.list(&REQUIRED_FOR_ROLES),
            sms_enabled: env.flag(&SMS_ENABLED),
        }
    }
}

/// The user holds a role that demands a second factor.
pub fn role_requires_mfa(state: &AppState, user: &User) -> bool {
    let required = &state.config.mfa.required_for_roles;
    !required.is_empty()
        && (required.contains(&user.default_role) || user.roles.iter().any(|role| required.contains(role)))
}

/// The user must enrol in a second factor before holding their roles.
pub fn must_enrol(state: &AppState, user: &User) -> bool {
    role_requires_mfa(state, user) && user.active_mfa_type.as_deref().is_none_or(str::is_empty)
}

/// What a challenged sign-in answers instead of a session.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    pub ticket: String,
}

/// A TOTP enrolment: what the user's authenticator app needs.
pub struct TotpSetup {
    /// The `otpauth://` URL as a QR code (a PNG data URL).
    pub image_url: String,
    /// The secret in base32, for typing in by hand.
    pub secret: String,
}

/// The AAD a user's sealed TOTP secret is bound to: its row and column.
fn secret_context(user_id: Uuid) -> Vec<u8> {
    format!("users:{user_id}:totp_secret").into_bytes()
}

/// Where wrong second-factor codes are counted: the account's address (as its other codes are), or the
/// account itself when it has none.
fn guard_identifier(user: &User) -> String {
    match user.email.as_deref().and_then(|email| crate::domain::Email::parse(email).ok()) {
        Some(email) => code_guard::email_identifier(&email),
        None => format!("user:{}", user.id),
    }
}

/// Starts the second step of a sign-in: a ticket for the user's second factor. Only
/// [`complete_signin`] calls this.
pub(super) async fn challenge(
    state: &AppState,
    client: &impl GenericClient,
    user: &User,
    first_factor: SigninMethod,
) -> Result<MfaChallenge, AuthError> {
    if user.active_mfa_type.as_deref() == Some("sms") {
        return sms::challenge(state, client, user, first_factor).await;
    }
    let now = state.clock.now();
    let token = OpaqueToken::generate(&state.random);
    let ticket = format!("{TOTP_TICKET_PREFIX}{}", token.expose());
    let hash = hash_token(&ticket);
    db::mfa::insert_ticket(
        client,
        &db::mfa::NewTicket {
            id: state.random.uuid(),
            hash: &hash,
            user_id: user.id,
            kind: "totp",
            first_factor: first_factor.as_str(),
            created_at: now,
            expires_at: now + TimeDelta::seconds(TICKET_LIFETIME_SECONDS),
            phone_number: None,
        },
    )
    .await?;
    tracing::info!(user_id = %user.id, first_factor = first_factor.as_str(), "sign-in challenged for its second factor");
    Ok(MfaChallenge { ticket })
}

/// The user's TOTP secret: sealed, or an adopted plaintext one (then `true`: to be sealed once used).
fn open_secret(
    state: &AppState,
    user_id: Uuid,
    stored: &db::mfa::StoredTotp,
) -> Result<Option<(TotpSecret, bool)>, AuthError> {
    if let (Some(sealed), Some(key_id)) = (&stored.sealed_secret, &stored.key_id) {
        let keys = super::provider_tokens::keys(state)?;
        let bytes = keys
            .open(key_id, sealed, &secret_context(user_id))
            .ok_or_else(|| AuthError::internal("a TOTP secret does not open under the configured keys"))?;
        return Ok(Some((TotpSecret::from_bytes(bytes), false)));
    }
    match &stored.plain_secret {
        Some(plain) => match TotpSecret::from_base32(plain) {
            Some(secret) => Ok(Some((secret, true))),
            None => {
                tracing::warn!(%user_id, "an adopted TOTP secret is not base32: ignored");
                Ok(None)
            }
        },
        None => Ok(None),
    }
}

fn seal_secret(
    state: &AppState,
    user_id: Uuid,
    secret: &TotpSecret,
) -> Result<crate::domain::sealed::SealedValue, AuthError> {
    Ok(super::provider_tokens::keys(state)?.seal(secret.as_bytes(), &secret_context(user_id)))
}

/// Checks a TOTP code against the user's secret (locked in this transaction): accepted once per step.
/// An adopted plaintext secret is sealed on its first use.
async fn accept_totp(
    state: &AppState,
    client: &impl GenericClient,
    user_id: Uuid,
    stored: &db::mfa::StoredTotp,
    code: &str,
) -> Result<bool, AuthError> {
    let Some((secret, adopted)) = open_secret(state, user_id, stored)? else {
        return Err(AuthError::NoTotpSecret);
    };
    let now = u64::try_from(state.clock.now().timestamp()).unwrap_or(0);
    let Some(step) = secret.step_of(code, now) else { return Ok(false) };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    if stored.last_step.is_some_and(|last| step <= last) {
        tracing::warn!(%user_id, "a TOTP code was replayed: refused");
        return Ok(false);
    }
    if adopted {
        let sealed = seal_secret(state, user_id, &secret)?;
        db::mfa::update_totp_secret(client, user_id, &sealed.bytes, &sealed.key_id).await?;
        tracing::info!(%user_id, "an adopted plaintext TOTP secret is now stored encrypted");
    }
    db::mfa::update_totp_last_step(client, user_id, step).await
}

/// A code or, when the user has TOTP active, one of their recovery codes.
async fn accept_code_or_recovery(
    state: &AppState,
    client: &impl GenericClient,
    user_id: Uuid,
    stored: &db::mfa::StoredTotp,
    code: &str,
) -> Result<bool, AuthError> {
    if accept_totp(state, client, user_id, stored, code).await? {
        return Ok(true);
    }
    use_recovery_code(state, client, user_id, code).await
}

/// Uses one of the user's recovery codes, if `code` is one.
async fn use_recovery_code(
    state: &AppState,
    client: &impl GenericClient,
    user_id: Uuid,
    code: &str,
) -> Result<bool, AuthError> {
    let looks_like_recovery = code.chars().filter(char::is_ascii_alphanumeric).count() == 10;
    if looks_like_recovery
        && db::mfa::use_recovery_code(client, user_id, &totp::recovery_code_hash(code), state.clock.now()).await?
    {
        tracing::warn!(%user_id, "a recovery code stood in for the second factor");
        return Ok(true);
    }
    Ok(false)
}

fn enabled(state: &AppState) -> Result<(), AuthError> {
    if state.config.mfa.enabled { Ok(()) } else { Err(AuthError::DisabledMfaTotp) }
}

/// `GET /mfa/totp/generate`: a new secret for the user to enrol, replacing one not yet activated.
pub async fn generate_totp(state: &AppState, user_id: Uuid) -> Result<TotpSetup, AuthError> {
    enabled(state)?;
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let stored = db::mfa::select_totp_for_update(&transaction, user_id).await?;
    if stored.active_mfa_type.as_deref() == Some("totp") {
        return Err(AuthError::TotpAlreadyActive);
    }
    let user = db::users::select_user_by_id(&transaction, user_id)
        .await?
        .ok_or(AuthError::Unauthenticated("the user is gone"))?;
    let secret = TotpSecret::generate(&state.random);
    let sealed = seal_secret(state, user_id, &secret)?;
    db::mfa::update_totp_secret(&transaction, user_id, &sealed.bytes, &sealed.key_id).await?;
    db::commit(transaction).await?;
    let account = user.email.clone().unwrap_or_else(|| user.id.to_string());
    let image_url = secret
        .qr_data_url(&state.config.mfa.totp_issuer, &account)
        .ok_or_else(|| AuthError::internal("the TOTP QR code could not be drawn"))?;
    Ok(TotpSetup { image_url, secret: secret.to_base32() })
}

/// `POST /user/mfa`: activates TOTP with a first code (answering the new recovery codes, shown this once),
/// or, with `activeMfaType: ""`, deactivates it with a code or a recovery code.
pub async fn change_mfa(
    state: &AppState,
    user_id: Uuid,
    code: &str,
    active_mfa_type: &str,
) -> Result<Vec<String>, AuthError> {
    let activate = match active_mfa_type {
        "totp" => true,
        "sms" => return sms::activate(state, user_id, code).await,
        "" => false,
        _ => return Err(AuthError::MfaTypeNotFound),
    };
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let user = db::users::select_user_by_id(&transaction, user_id)
        .await?
        .ok_or(AuthError::Unauthenticated("the user is gone"))?;
    if !activate && user.active_mfa_type.as_deref() == Some("sms") {
        drop(transaction);
        sms::deactivate(state, &user, code).await?;
        return Ok(Vec::new());
    }
    enabled(state)?;
    let identifier = guard_identifier(&user);
    code_guard::ensure_unlocked(state, &transaction, &identifier).await?;
    let stored = db::mfa::select_totp_for_update(&transaction, user_id).await?;
    let active = stored.active_mfa_type.as_deref() == Some("totp");
    if activate && active {
        return Err(AuthError::TotpAlreadyActive);
    }
    if !activate && !active {
        return Err(AuthError::NoTotpSecret);
    }
    if !activate && role_requires_mfa(state, &user) {
        return Err(AuthError::MfaRequiredForRole);
    }
    let accepted = if activate {
        accept_totp(state, &transaction, user_id, &stored, code).await?
    } else {
        accept_code_or_recovery(state, &transaction, user_id, &stored, code).await?
    };
    if !accepted {
        code_guard::wrong_guess(state, &transaction, &identifier, None).await?;
        db::commit(transaction).await?;
        return Err(AuthError::InvalidTotp);
    }
    code_guard::right_guess(state, &transaction, &identifier).await?;
    db::mfa::delete_user_tickets(&transaction, user_id).await?;
    let event = if activate { "mfa.activate" } else { "mfa.deactivate" };
    audit::record(state, &transaction, audit::Event::of(event, user_id, serde_json::json!({"type": "totp"}))).await?;
    let codes = if activate {
        db::mfa::update_active_mfa_type(&transaction, user_id, Some("totp")).await?;
        let codes = new_recovery_codes(state, &transaction, user_id).await?;
        tracing::info!(%user_id, "TOTP activated");
        codes
    } else {
        db::mfa::clear_totp(&transaction, user_id).await?;
        db::mfa::delete_recovery_codes(&transaction, user_id).await?;
        tracing::warn!(%user_id, "TOTP deactivated");
        Vec::new()
    };
    db::commit(transaction).await?;
    Ok(codes)
}

/// Ten fresh recovery codes replacing the user's old ones; only their hashes are kept.
async fn new_recovery_codes(
    state: &AppState,
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<String>, AuthError> {
    let codes: Vec<String> = (0..totp::RECOVERY_CODES).map(|_| totp::generate_recovery_code(&state.random)).collect();
    let hashes: Vec<String> = codes.iter().map(|code| totp::recovery_code_hash(code)).collect();
    db::mfa::replace_recovery_codes(client, user_id, &hashes, state.clock.now()).await?;
    Ok(codes)
}

/// Checks a current TOTP code of a user who has TOTP active (wrong ones count toward the lockout); runs
/// `then` in the same transaction when it is right.
async fn with_current_code<T>(
    state: &AppState,
    user_id: Uuid,
    code: &str,
    then: impl AsyncFnOnce(&deadpool_postgres::Transaction<'_>) -> Result<T, AuthError>,
) -> Result<T, AuthError> {
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let user = db::users::select_user_by_id(&transaction, user_id)
        .await?
        .ok_or(AuthError::Unauthenticated("the user is gone"))?;
    let identifier = guard_identifier(&user);
    code_guard::ensure_unlocked(state, &transaction, &identifier).await?;
    let stored = db::mfa::select_totp_for_update(&transaction, user_id).await?;
    if stored.active_mfa_type.as_deref() != Some("totp") {
        return Err(AuthError::NoTotpSecret);
    }
    if !accept_totp(state, &transaction, user_id, &stored, code).await? {
        code_guard::wrong_guess(state, &transaction, &identifier, None).await?;
        db::commit(transaction).await?;
        return Err(AuthError::InvalidTotp);
    }
    code_guard::right_guess(state, &transaction, &identifier).await?;
    let outcome = then(&transaction).await?;
    db::commit(transaction).await?;
    Ok(outcome)
}

/// A current TOTP code of the user (`POST /elevate/totp`).
pub async fn check_current_code(state: &AppState, user_id: Uuid, code: &str) -> Result<(), AuthError> {
    with_current_code(state, user_id, code, async |_| Ok(())).await
}

/// `POST /user/mfa/recovery-codes`: new recovery codes, for a current TOTP code.
pub async fn regenerate_recovery_codes(state: &AppState, user_id: Uuid, code: &str) -> Result<Vec<String>, AuthError> {
    let codes = with_current_code(state, user_id, code, async |transaction| {
        let event = audit::Event::of("mfa.recovery_codes", user_id, serde_json::json!({}));
        audit::record(state, transaction, event).await?;
        new_recovery_codes(state, transaction, user_id).await
    })
    .await?;
    tracing::info!(%user_id, "recovery codes regenerated");
    Ok(codes)
}

/// A wrong code aimed at a ticket: counted on it (burnt at the fifth) and toward the account's lockout,
/// and kept (the transaction commits).
async fn wrong_code(
    state: &AppState,
    transaction: deadpool_postgres::Transaction<'_>,
    ticket: &db::mfa::StoredTicket,
    identifier: &str,
) -> Result<(), AuthError> {
    let ticket_id = ticket.id;
    let details = serde_json::json!({"type": ticket.kind, "purpose": ticket.first_factor});
    audit::record(state, &transaction, audit::Event::of("mfa.failure", ticket.user_id, details)).await?;
    if db::mfa::count_failed_attempt(&transaction, ticket_id).await? >= MAX_WRONG_CODES {
        db::mfa::delete_ticket(&transaction, ticket_id).await?;
        tracing::warn!(%ticket_id, "too many wrong second-factor codes: the ticket is burnt");
    }
    code_guard::wrong_guess(state, &transaction, identifier, None).await?;
    db::commit(transaction).await
}

/// A right code: the earlier wrong guesses are forgotten and the ticket is used up.
async fn right_code(
    state: &AppState,
    transaction: &deadpool_postgres::Transaction<'_>,
    ticket_id: Uuid,
    identifier: &str,
) -> Result<(), AuthError> {
    code_guard::right_guess(state, transaction, identifier).await?;
    db::mfa::delete_ticket(transaction, ticket_id).await
}

/// `POST /signin/mfa/totp`: completes a challenged sign-in with a TOTP code or a recovery code.
pub async fn signin_totp(state: &AppState, ticket: &str, otp: &str) -> Result<SignedIn, AuthError> {
    if !ticket.starts_with(TOTP_TICKET_PREFIX) {
        return Err(AuthError::InvalidTicket);
    }
    let now = state.clock.now();
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let stored_ticket = db::mfa::select_ticket_for_update(&transaction, &hash_token(ticket), now)
        .await?
        .filter(|stored| stored.kind == "totp")
        .ok_or(AuthError::InvalidTicket)?;
    let user =
        db::users::select_user_by_id(&transaction, stored_ticket.user_id).await?.ok_or(AuthError::InvalidTicket)?;
    let identifier = guard_identifier(&user);
    code_guard::ensure_unlocked(state, &transaction, &identifier).await?;
    let stored = db::mfa::select_totp_for_update(&transaction, user.id).await?;
    if !accept_code_or_recovery(state, &transaction, user.id, &stored, otp).await? {
        wrong_code(state, transaction, &stored_ticket, &identifier).await?;
        return Err(AuthError::InvalidTotp);
    }
    right_code(state, &transaction, stored_ticket.id, &identifier).await?;
    let signed_in = complete_signin(state, &transaction, user, SigninMethod::SecondFactor).await?;
    db::commit(transaction).await?;
    Ok(signed_in)
}
