//! One-time secrets sent to users.
//!
//! *Links* (verify email, reset password, confirm an email change, magic link) carry a ticket
//! `<kind>:<128 random bits>`, nhost's shape. *Codes* (email and SMS OTPs) are six digits. Either way only
//! a SHA-256 hash is stored; a code's hash is bound to its user and kind, since six digits alone collide.
//! Each is single use, expires, replaces the previous one of its kind, and a code is burnt after
//! the configured number of wrong guesses.
use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::GenericClient;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;
use uuid::Uuid;

use crate::db;
use crate::db::tickets::{NewCode, StoredCode};
use crate::domain::OpaqueToken;
use crate::domain::opaque_token::hash_token;
use crate::domain::user::User;
use crate::error::AuthError;
use crate::mail::{OutgoingEmail, Template, TemplateVariables};
use crate::random::Random;
use crate::state::AppState;

/// What an emailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    VerifyEmail,
    PasswordReset,
    EmailConfirmChange,
    /// Undoes an email change; mailed to the old address.
    EmailRevertChange,
    PasswordlessEmail,
}

/// How long the link undoing an email change stays valid: the owner of the old address may read the notice
/// days later.
const REVERT_LINK_LIFETIME_SECONDS: i64 = 7 * 24 * 3600;

impl LinkKind {
    /// The ticket prefix, which is also the `type` of the redirect after verification.
    pub fn prefix(self) -> &'static str {
        match self {
            LinkKind::VerifyEmail => "verifyEmail",
            LinkKind::PasswordReset => "passwordReset",
            LinkKind::EmailConfirmChange => "emailConfirmChange",
            LinkKind::EmailRevertChange => "emailRevertChange",
            LinkKind::PasswordlessEmail => "passwordlessEmail",
        }
    }

    fn lifetime_seconds(self, state: &AppState) -> i64 {
        match self {
            LinkKind::EmailRevertChange => REVERT_LINK_LIFETIME_SECONDS.max(state.config.codes.link_expires_in),
            _ => state.config.codes.link_expires_in,
        }
    }

    /// The `type` query parameter of the emailed link (nhost's link types).
    fn link_type(self) -> &'static str {
        match self {
            LinkKind::VerifyEmail => "emailVerify",
            LinkKind::PasswordReset => "passwordReset",
            LinkKind::EmailConfirmChange => "emailConfirmChange",
            LinkKind::EmailRevertChange => "emailRevertChange",
            LinkKind::PasswordlessEmail => "signinPasswordless",
        }
    }

    fn template(self) -> Template {
        match self {
            LinkKind::VerifyEmail => Template::EmailVerify,
            LinkKind::PasswordReset => Template::PasswordReset,
            LinkKind::EmailConfirmChange => Template::EmailConfirmChange,
            LinkKind::EmailRevertChange => Template::EmailChanged,
            LinkKind::PasswordlessEmail => Template::SigninPasswordless,
        }
    }

    fn from_prefix(prefix: &str) -> Option<Self> {
        [
            LinkKind::VerifyEmail,
            LinkKind::PasswordReset,
            LinkKind::EmailConfirmChange,
            LinkKind::EmailRevertChange,
            LinkKind::PasswordlessEmail,
        ]
        .into_iter()
        .find(|kind| kind.prefix() == prefix)
    }
}

/// The kinds of six-digit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    EmailOtp,
    SmsOtp,
}

impl CodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeKind::EmailOtp => "emailOtp",
            CodeKind::SmsOtp => "smsOtp",
        }
    }
}

/// The link the user follows: `<server>/verify?ticket=…&type=…&redirectTo=…`.
fn verify_link(state: &AppState, ticket: &str, kind: LinkKind, redirect_to: &str) -> String {
    let base = format!("{}/verify", state.config.http.server_url.as_str().trim_end_matches('/'));
    match Url::parse_with_params(&base, [("ticket", ticket), ("type", kind.link_type()), ("redirectTo", redirect_to)]) {
        Ok(url) => url.to_string(),
        Err(_) => base,
    }
}

/// Where a link is sent and what it carries.
pub struct LinkRequest<'a> {
    pub kind: LinkKind,
    pub user: &'a User,
    /// The address the mail goes to (the new address for an email change).
    pub to: &'a str,
    pub redirect_to: &'a str,
    pub new_email: Option<&'a str>,
    /// The address an email change replaced (for the link that undoes it).
    pub old_email: Option<&'a str>,
}

/// Creates a ticket and enqueues its email, both in the caller's transaction: if the transaction rolls
/// back, neither exists.
pub async fn send_link(
    state: &AppState,
    client: &impl GenericClient,
    request: LinkRequest<'_>,
) -> Result<(), AuthError> {
    let now = state.clock.now();
    let kind = request.kind;
    // Concurrent requests for the same user take turns, so exactly one link stays live.
    db::users::lock_user(client, request.user.id).await?;
    db::tickets::burn_user_codes(client, request.user.id, kind.prefix(), now).await?;
    let ticket = format!("{}:{}", kind.prefix(), OpaqueToken::generate(&state.random).expose());
    let payload =
        json!({"redirectTo": request.redirect_to, "newEmail": request.new_email, "oldEmail": request.old_email});
    db::tickets::insert_one_time_code(
        client,
        &NewCode {
            user_id: request.user.id,
            kind: kind.prefix(),
            code_hash: &hash_token(&ticket),
            created_at: now,
            expires_at: now + TimeDelta::seconds(kind.lifetime_seconds(state)),
            payload,
        },
    )
    .await?;
    let link = verify_link(state, &ticket, kind, request.redirect_to);
    let variables = TemplateVariables {
        link: link.clone(),
        display_name: request.user.display_name.clone(),
        email: request.old_email.map(str::to_string).or_else(|| request.user.email.clone()).unwrap_or_default(),
        new_email: request.new_email.unwrap_or_default().to_string(),
        ticket: ticket.clone(),
        redirect_to: request.redirect_to.to_string(),
        locale: request.user.locale.clone(),
        server_url: state.config.http.server_url.to_string(),
        client_url: state.config.http.client_url.as_ref().map(Url::to_string).unwrap_or_default(),
    };
    let email = OutgoingEmail {
        to: request.to.to_string(),
        template: kind.template(),
        locale: request.user.locale.clone(),
        variables,
        headers: vec![
            ("X-Ticket".into(), ticket),
            ("X-Redirect-To".into(), request.redirect_to.to_string()),
            ("X-Email-Template".into(), kind.link_type().to_string()),
            ("X-Link".into(), link),
        ],
    };
    state.mail.enqueue(client, &email, now).await?;
    Ok(())
}

/// The enabled account behind an address, if any: links are only mailed to accounts that can use them.
pub async fn enabled_user_by_email(client: &impl GenericClient, email: &str) -> Result<Option<User>, AuthError> {
    let Some(user_id) = db::users::select_user_id_by_email(client, email).await? else {
        return Ok(None);
    };
    Ok(db::users::select_user_by_id(client, user_id).await?.filter(|user| !user.disabled))
}

fn live(code: &StoredCode, now: DateTime<Utc>) -> bool {
    code.used_at.is_none() && code.expires_at > now
}

/// Splits `<kind>:<secret>` and checks the kind.
fn parse_ticket(ticket: &str) -> Result<LinkKind, AuthError> {
    let (prefix, secret) = ticket.split_once(':').ok_or(AuthError::InvalidTicket)?;
    if OpaqueToken::parse(secret).is_none() {
        return Err(AuthError::InvalidTicket);
    }
    LinkKind::from_prefix(prefix).ok_or(AuthError::InvalidTicket)
}

/// Checks a ticket without using it up (for the confirmation page a link opens).
pub async fn peek_link(client: &impl GenericClient, ticket: &str, now: DateTime<Utc>) -> Result<LinkKind, AuthError> {
    let kind = parse_ticket(ticket)?;
    match db::tickets::select_code_by_hash(client, &hash_token(ticket)).await? {
        Some(code) if live(&code, now) && code.kind == kind.prefix() => Ok(kind),
        _ => Err(AuthError::InvalidTicket),
    }
}

/// Uses a ticket up, inside the caller's transaction; a second use, or an expired or unknown ticket, is
/// `InvalidTicket`.
pub async fn consume_link(
    client: &impl GenericClient,
    ticket: &str,
    now: DateTime<Utc>,
) -> Result<(LinkKind, StoredCode), AuthError> {
    let kind = parse_ticket(ticket)?;
    let code = db::tickets::select_code_by_hash_for_update(client, &hash_token(ticket))
        .await?
        .filter(|code| live(code, now) && code.kind == kind.prefix())
        .ok_or(AuthError::InvalidTicket)?;
    db::tickets::mark_code_used(client, code.id, now).await?;
    Ok((kind, code))
}

/// A uniformly random six-digit code.
pub fn new_otp(random: &Random) -> String {
    format!("{:06}", random.below(1_000_000))
}

fn otp_hash(user_id: Uuid, kind: CodeKind, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{}:{user_id}:{}", kind.as_str(), code.trim()).as_bytes()))
}

/// Stores a new code for a user (replacing any earlier one of that kind).
pub async fn store_otp(
    state: &AppState,
    client: &impl GenericClient,
    user_id: Uuid,
    kind: CodeKind,
    code: &str,
) -> Result<(), AuthError> {
    let now = state.clock.now();
    db::users::lock_user(client, user_id).await?;
    db::tickets::burn_user_codes(client, user_id, kind.as_str(), now).await?;
    db::tickets::insert_one_time_code(
        client,
        &NewCode {
            user_id,
            kind: kind.as_str(),
            code_hash: &otp_hash(user_id, kind, code),
            created_at: now,
            expires_at: now + TimeDelta::seconds(state.config.codes.otp_expires_in),
            payload: json!({}),
        },
    )
    .await?;
    Ok(())
}

/// Checks a code: right → used up; wrong → one attempt counted (the code is burnt at the limit), `Ok(false)`.
pub async fn check_otp(
    state: &AppState,
    client: &impl GenericClient,
    user_id: Uuid,
    kind: CodeKind,
    code: &str,
) -> Result<bool, AuthError> {
    let now = state.clock.now();
    let Some((stored, hash)) = db::tickets::select_active_code_for_update(client, user_id, kind.as_str(), now).await?
    else {
        return Ok(false);
    };
    if otp_hash(user_id, kind, code) == hash {
        db::tickets::mark_code_used(client, stored.id, now).await?;
        return Ok(true);
    }
    let attempts =
        db::tickets::record_failed_attempt(client, stored.id, state.config.codes.otp_max_attempts, now).await?;
    tracing::info!(%user_id, attempts, "wrong one-time code");
    Ok(false)
}
