//! Signing in without a password: a magic link or a six-digit code by email, or a code by SMS. An unknown
//! address becomes a new user (sign-up rules apply). Email requests answer the same whether or not the
//! address exists: the lookup, the sign-up and the mail happen after the answer.
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::code_guard;
use super::tickets::{self, CodeKind, LinkKind, LinkRequest};
use super::verification::redirect_policy;
use crate::db;
use crate::domain::Email;
use crate::domain::access::email_allowed;
use crate::domain::phone::PhoneNumber;
use crate::domain::user::{NewUser, Profile, SignupOptions, User};
use crate::error::AuthError;
use crate::flows::session::{SignedIn, SigninMethod, complete_signin};
use crate::mail::{OutgoingEmail, Template, TemplateVariables};
use crate::sms::{Sms, SmsError};
use crate::state::AppState;

/// The checks that do not depend on whether the address exists, done before answering.
fn prepare_email_signin(
    state: &AppState,
    enabled: bool,
    email: &Email,
    options: &SignupOptions,
) -> Result<(String, Profile), AuthError> {
    if !enabled {
        return Err(AuthError::DisabledEndpoint);
    }
    if !email_allowed(&state.config.access, email) {
        return Err(AuthError::InvalidEmailPassword);
    }
    let redirect_to = redirect_policy(state).resolve(options.redirect_to.as_deref())?;
    let profile = options.resolve(&state.config.users, Some(email))?;
    Ok((redirect_to, profile))
}

/// The user behind an address, created when signing up is allowed; `None` when it may not sign in.
async fn find_or_create_user(
    state: &AppState,
    client: &impl GenericClient,
    email: Option<&Email>,
    phone: Option<&PhoneNumber>,
    profile: Profile,
) -> Result<Option<User>, AuthError> {
    let existing = match (email, phone) {
        (Some(email), _) => db::users::select_user_id_by_email(client, email.as_str()).await?,
        (None, Some(phone)) => db::users::select_user_id_by_phone(client, phone.as_str()).await?,
        (None, None) => None,
    };
    let user_id = match existing {
        Some(user_id) => user_id,
        None if state.config.users.disable_signup => return Ok(None),
        None => {
            let mut profile = profile;
            if email.is_none() {
                // A phone-only user is shown by their number, not by an empty name.
                profile.display_name = phone.map(|p| p.as_str().to_string()).unwrap_or_default();
            }
            let new_user = NewUser::from_profile(
                state.random.uuid(),
                email.cloned(),
                None,
                profile,
                state.config.users.disable_new_users,
            );
            db::users::insert_user(client, &new_user, state.clock.now()).await?;
            if let Some(phone) = phone {
                db::users::update_phone_number(client, new_user.id, phone.as_str()).await?;
            }
            new_user.id
        }
    };
    Ok(db::users::select_user_by_id(client, user_id).await?.filter(|user| !user.disabled))
}

/// `POST /signin/passwordless/email`: sends a magic link.
pub fn send_magic_link(state: &AppState, email: Email, options: SignupOptions) -> Result<(), AuthError> {
    let (redirect_to, profile) =
        prepare_email_signin(state, state.config.features.passwordless_email, &email, &options)?;
    let background = state.clone();
    state.background.spawn("magic link email", async move {
        let state = background;
        let mut client = db::client(&state.pool).await?;
        let transaction = db::begin(&mut client).await?;
        let Some(user) = find_or_create_user(&state, &transaction, Some(&email), None, profile).await? else {
            return Ok(());
        };
        let request = LinkRequest {
            kind: LinkKind::PasswordlessEmail,
            user: &user,
            to: email.as_str(),
            redirect_to: &redirect_to,
            new_email: None,
            old_email: None,
        };
        tickets::send_link(&state, &transaction, request).await?;
        db::commit(transaction).await
    });
    Ok(())
}

/// `POST /signin/otp/email`: sends a six-digit code.
pub async fn send_email_otp(state: &AppState, email: Email, options: SignupOptions) -> Result<(), AuthError> {
    let (redirect_to, profile) = prepare_email_signin(state, state.config.features.otp_email, &email, &options)?;
    let client = db::client(&state.pool).await?;
    code_guard::ensure_unlocked(state, &client, &code_guard::email_identifier(&email)).await?;
    drop(client);
    let background = state.clone();
    state.background.spawn("sign-in code email", async move {
        let state = background;
        let mut client = db::client(&state.pool).await?;
        let transaction = db::begin(&mut client).await?;
        let Some(user) = find_or_create_user(&state, &transaction, Some(&email), None, profile).await? else {
            return Ok(());
        };
        let code = tickets::new_otp(&state.random);
        tickets::store_otp(&state, &transaction, user.id, CodeKind::EmailOtp, &code).await?;
        let variables = TemplateVariables {
            display_name: user.display_name.clone(),
            email: email.as_str().to_string(),
            ticket: code,
            redirect_to,
            locale: user.locale.clone(),
            server_url: state.config.http.server_url.to_string(),
            client_url: state.config.http.client_url.as_ref().map(|u| u.to_string()).unwrap_or_default(),
            ..Default::default()
        };
        let message = OutgoingEmail {
            to: email.as_str().to_string(),
            template: Template::SigninOtp,
            locale: user.locale.clone(),
            variables,
            headers: vec![("X-Email-Template".into(), "signin-otp".into())],
        };
        state.mail.enqueue(&transaction, &message, state.clock.now()).await?;
        db::commit(transaction).await
    });
    Ok(())
}

/// `POST /signin/otp/email/verify`: a right code signs the user in; each wrong one counts.
pub async fn verify_email_otp(state: &AppState, email: Email, otp: &str) -> Result<SignedIn, AuthError> {
    if !state.config.features.otp_email {
        return Err(AuthError::DisabledEndpoint);
    }
    let identifier = code_guard::email_identifier(&email);
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    code_guard::ensure_unlocked(state, &transaction, &identifier).await?;
    let user_id = db::users::select_user_id_by_email(&transaction, email.as_str()).await?;
    let attempt = CodeAttempt { identifier: &identifier, user_id, kind: CodeKind::EmailOtp, otp };
    check_code(state, transaction, attempt, SigninMethod::EmailOtp, AuthError::InvalidTicket).await
}

/// A guess at a six-digit code sent to an address or number (`user_id` is `None` when it has no account).
struct CodeAttempt<'a> {
    identifier: &'a str,
    user_id: Option<Uuid>,
    kind: CodeKind,
    otp: &'a str,
}

/// Checks a code we generated: a right one signs the user in; a wrong one (or one for an address without an
/// account) is counted against the address or number, and answered with `wrong`.
async fn check_code(
    state: &AppState,
    transaction: deadpool_postgres::Transaction<'_>,
    attempt: CodeAttempt<'_>,
    method: SigninMethod,
    wrong: AuthError,
) -> Result<SignedIn, AuthError> {
    let right = match attempt.user_id {
        Some(user_id) => tickets::check_otp(state, &transaction, user_id, attempt.kind, attempt.otp).await?,
        None => false,
    };
    let Some(user_id) = attempt.user_id.filter(|_| right) else {
        let code = attempt.user_id.map(|user_id| (user_id, attempt.kind));
        code_guard::wrong_guess(state, &transaction, attempt.identifier, code).await?;
        // Keep the counted attempt: the wrong guess must stay recorded.
        db::commit(transaction).await?;
        return Err(wrong);
    };
    code_guard::right_guess(state, &transaction, attempt.identifier).await?;
    sign_in_verified(state, transaction, user_id, method).await
}

/// After a right code: the user (whose address or number the code proved) gets a session.
async fn sign_in_verified(
    state: &AppState,
    transaction: deadpool_postgres::Transaction<'_>,
    user_id: Uuid,
    method: SigninMethod,
) -> Result<SignedIn, AuthError> {
    let user = db::users::select_user_by_id(&transaction, user_id)
        .await?
        .ok_or_else(|| AuthError::internal("verified user vanished"))?;
    let session = complete_signin(state, &transaction, user, method).await?;
    db::commit(transaction).await?;
    Ok(session)
}

fn sms_error(error: SmsError) -> AuthError {
    match error {
        SmsError::Rejected(reason) => {
            tracing::info!(%reason, "SMS provider refused the message");
            AuthError::CannotSendSms
        }
        SmsError::Unavailable(reason) => {
            tracing::error!(%reason, "SMS provider unavailable");
            AuthError::SmsProviderUnavailable
        }
    }
}

/// The SMS provider, present exactly when SMS sign-in is enabled.
fn sms(state: &AppState) -> Result<&Sms, AuthError> {
    match (&state.sms, &state.config.sms) {
        (Some(sms), Some(_)) if state.config.features.passwordless_sms => Ok(sms),
        _ => Err(AuthError::DisabledEndpoint),
    }
}

fn parse_phone(state: &AppState, raw: &str) -> Result<PhoneNumber, AuthError> {
    PhoneNumber::parse(raw, state.config.sms.as_ref().and_then(|sms| sms.default_region()))
}

/// `POST /signin/passwordless/sms`: sends a code by SMS (the provider's own code with Twilio Verify). The
/// answer does not say whether the number has an account. No transaction stays open while the provider is
/// called; if it refuses, the code is withdrawn and an account made for this attempt is removed again.
pub async fn send_sms_code(state: &AppState, raw_phone: &str, options: SignupOptions) -> Result<(), AuthError> {
    let sms = sms(state)?;
    let phone = parse_phone(state, raw_phone)?;
    let profile = options.resolve(&state.config.users, None)?;
    let code = if sms.verifies_codes() { String::new() } else { tickets::new_otp(&state.random) };
    let mut client = db::client(&state.pool).await?;
    if !sms.verifies_codes() {
        code_guard::ensure_unlocked(state, &client, &code_guard::phone_identifier(&phone)).await?;
    }
    let transaction = db::begin(&mut client).await?;
    let existed = db::users::select_user_id_by_phone(&transaction, phone.as_str()).await?.is_some();
    let Some(user) = find_or_create_user(state, &transaction, None, Some(&phone), profile).await? else {
        // Signing up is off, or the account is disabled: nothing is sent, and the answer is the same.
        return Ok(());
    };
    if !code.is_empty() {
        tickets::store_otp(state, &transaction, user.id, CodeKind::SmsOtp, &code).await?;
    }
    db::commit(transaction).await?;
    if let Err(error) = sms.send_code(&phone, &code, &user.locale).await {
        if existed {
            db::tickets::burn_user_codes(&client, user.id, "smsOtp", state.clock.now()).await?;
        } else {
            db::users::delete_user(&client, user.id).await?;
        }
        return Err(sms_error(error));
    }
    Ok(())
}

/// `POST /signin/passwordless/sms/otp`: a right code signs the user in; each wrong one counts. With Twilio
/// Verify the provider checks the code, before any transaction is opened.
pub async fn verify_sms_code(state: &AppState, raw_phone: &str, otp: &str) -> Result<SignedIn, AuthError> {
    let sms = sms(state)?;
    let phone = parse_phone(state, raw_phone)?;
    if sms.verifies_codes() {
        // Twilio Verify holds the code and limits the guesses itself.
        if !sms.check_code(&phone, otp).await.map_err(sms_error)? {
            return Err(AuthError::InvalidOtp);
        }
        let mut client = db::client(&state.pool).await?;
        let transaction = db::begin(&mut client).await?;
        let user_id =
            db::users::select_user_id_by_phone(&transaction, phone.as_str()).await?.ok_or(AuthError::InvalidOtp)?;
        return sign_in_verified(state, transaction, user_id, SigninMethod::SmsOtp).await;
    }
    let identifier = code_guard::phone_identifier(&phone);
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    code_guard::ensure_unlocked(state, &transaction, &identifier).await?;
    let user_id = db::users::select_user_id_by_phone(&transaction, phone.as_str()).await?;
    let attempt = CodeAttempt { identifier: &identifier, user_id, kind: CodeKind::SmsOtp, otp };
    check_code(state, transaction, attempt, SigninMethod::SmsOtp, AuthError::InvalidOtp).await
}
