//! Sessions: issuing an access token with a refresh token, rotating refresh tokens with reuse detection,
//! signing out, and authenticating a bearer access token.
//!
//! Every sign-in starts a token *family*, which holds one live token at a time. `POST /token` locks the
//! owner's row, marks the presented token rotated and inserts its child in the same family. A rotated token
//! presented again:
//! - within the reuse grace period of its rotation gets the same child back (two
//!   tabs refreshing at once share one chain);
//! - after that window is treated as stolen: the whole family is revoked and the caller gets 401.
//!
//! The session's maximum lifetime, when set, bounds how long after sign-in a family can still be refreshed.
use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::db;
use crate::db::refresh_tokens::NewRefreshToken;
use crate::domain::access::email_allowed;
use crate::domain::claims::postgres_array_literal;
use crate::domain::user::User;
use crate::domain::{Email, RefreshToken};
use crate::error::AuthError;
use crate::flows::audit::{self, Event};
use crate::flows::mfa::MfaChallenge;
use crate::jwt::{HasuraClaims, VerifiedToken};
use crate::state::AppState;

/// What a successful sign-in or refresh hands to the client.
pub struct Session {
    pub access_token: String,
    pub access_token_expires_in: i64,
    pub refresh_token: RefreshToken,
    pub refresh_token_id: Uuid,
    pub user: User,
}

/// The Hasura claims for a user: the built-in four, the organisation, the roles' permissions (when enabled)
/// and the configured custom claims, all read from the database in the same transaction.
pub async fn claims_for(state: &AppState, client: &impl GenericClient, user: &User) -> Result<HasuraClaims, AuthError> {
    if super::mfa::must_enrol(state, user) {
        // A privileged user without a second factor: nothing but enrolment until they have one.
        return Ok(HasuraClaims {
            user_id: user.id,
            default_role: super::mfa::ENROLMENT_ROLE.to_string(),
            allowed_roles: vec![super::mfa::ENROLMENT_ROLE.to_string()],
            is_anonymous: user.is_anonymous,
            extra: vec![(super::mfa::ENROLMENT_CLAIM.to_string(), "true".to_string())],
        });
    }
    let mut allowed_roles = user.roles.clone();
    if !allowed_roles.contains(&user.default_role) {
        allowed_roles.push(user.default_role.clone());
    }
    let mut extra = Vec::new();
    if let Some(organisation_id) = user.organisation_id {
        extra.push(("x-hasura-organisation-id".to_string(), organisation_id.to_string()));
    }
    if state.config.jwt.permissions_claim {
        let permissions = db::claims::select_role_permissions(client, &allowed_roles).await?;
        extra.push(("x-hasura-permissions".to_string(), postgres_array_literal(permissions.into_iter().map(Some))));
    }
    let custom = &state.config.jwt.custom_claims;
    if !custom.is_empty() {
        let document = db::claims::select_user_claims_document(client, user.id)
            .await?
            .ok_or_else(|| AuthError::internal("user vanished while issuing a token"))?;
        for (key, value) in custom.evaluate(&document) {
            if !extra.iter().any(|(existing, _)| existing == &key) {
                extra.push((key, value));
            }
        }
    }
    Ok(HasuraClaims {
        user_id: user.id,
        default_role: user.default_role.clone(),
        allowed_roles,
        is_anonymous: user.is_anonymous,
        extra,
    })
}

/// Refuses accounts that may not hold a session: disabled, an email now outside the access-control lists,
/// or (when required) an unverified email. Users without an email (anonymous, phone-only) have none to
/// verify.
pub fn check_account(state: &AppState, user: &User) -> Result<(), AuthError> {
    if user.disabled {
        return Err(AuthError::DisabledUser);
    }
    let Some(email) = &user.email else { return Ok(()) };
    if let Ok(email) = Email::parse(email)
        && !email_allowed(&state.config.access, &email)
    {
        return Err(AuthError::InvalidEmailPassword);
    }
    if state.config.users.email_verified_required && !user.email_verified {
        return Err(AuthError::UnverifiedUser);
    }
    Ok(())
}

/// How a user proved who they are. It decides what the proof settles (a verified address, the takeover
/// rule) and whether a second factor is still owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigninMethod {
    /// The first session of a new account.
    Signup,
    Password,
    /// A magic link: proves the address.
    MagicLink,
    /// A six-digit code by email: proves the address.
    EmailOtp,
    /// A six-digit code by SMS: proves the phone number.
    SmsOtp,
    /// The link of the sign-up verification email: proves the address and keeps the password set at sign-up.
    VerifyEmailLink,
    /// The link of a password reset email.
    PasswordResetLink,
    /// The link confirming a new address (the address is set and verified by the change itself).
    EmailChangeLink,
    /// The link that undoes an email change, sent to the old address.
    EmailRevertLink,
    Anonymous,
    PersonalAccessToken,
    /// A sign-in provider, for an identity already linked (or a new account): proves nothing about the
    /// address hauth holds.
    Provider,
    /// A sign-in provider whose verified address is the account's: proves the address, like a magic link.
    ProviderVerifiedEmail,
    /// The second factor of a challenged sign-in (its first factor was checked before the challenge).
    SecondFactor,
}

impl SigninMethod {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            SigninMethod::Signup => "signup",
            SigninMethod::Password => "password",
            SigninMethod::MagicLink => "magic-link",
            SigninMethod::EmailOtp => "email-otp",
            SigninMethod::SmsOtp => "sms-otp",
            SigninMethod::VerifyEmailLink => "verify-email-link",
            SigninMethod::PasswordResetLink => "password-reset-link",
            SigninMethod::EmailChangeLink => "email-change-link",
            SigninMethod::EmailRevertLink => "email-revert-link",
            SigninMethod::Anonymous => "anonymous",
            SigninMethod::PersonalAccessToken => "personal-access-token",
            SigninMethod::Provider => "provider",
            SigninMethod::ProviderVerifiedEmail => "provider-verified-email",
            SigninMethod::SecondFactor => "second-factor",
        }
    }

    /// Proves the user holds the account's email address.
    fn proves_email(self) -> bool {
        matches!(
            self,
            SigninMethod::MagicLink
                | SigninMethod::EmailOtp
                | SigninMethod::VerifyEmailLink
                | SigninMethod::ProviderVerifiedEmail
        )
    }

    /// Proves the address *instead of* the password: an account whose address was never verified may have
    /// been created by somebody else with a password of their own (pre-account takeover), so that password
    /// and everything signed in with it goes.
    fn overrides_unverified_credentials(self) -> bool {
        matches!(self, SigninMethod::MagicLink | SigninMethod::EmailOtp | SigninMethod::ProviderVerifiedEmail)
    }

    /// One factor only: challenged for accounts that have a second factor. A personal access token was
    /// created from a full session, new or anonymous accounts have no second factor, and a second factor
    /// is the second.
    fn is_single_factor(self) -> bool {
        !matches!(
            self,
            SigninMethod::Signup
                | SigninMethod::Anonymous
                | SigninMethod::PersonalAccessToken
                | SigninMethod::SecondFactor
        )
    }
}

/// How a sign-in ended: a session, or a challenge for the account's second factor.
pub enum SignedIn {
    Session(Box<Session>),
    SecondFactor(MfaChallenge),
}

impl SignedIn {
    /// The session of a sign-in that cannot be challenged (a sign-up, an anonymous user, a personal access
    /// token).
    pub fn into_session(self) -> Result<Session, AuthError> {
        match self {
            SignedIn::Session(session) => Ok(*session),
            SignedIn::SecondFactor(_) => Err(AuthError::internal("a sign-in without a second step was challenged")),
        }
    }

    /// What a sign-in that ends in a browser redirect (a link, a provider) tells the application in the
    /// query: the session's `refreshToken`, or the `mfaTicket` the application completes the sign-in with.
    pub fn redirect_query(&self) -> Vec<(&'static str, String)> {
        match self {
            SignedIn::Session(session) => vec![("refreshToken", session.refresh_token.expose().to_string())],
            SignedIn::SecondFactor(challenge) => {
                vec![("mfaTicket", challenge.ticket.clone()), ("mfaType", "totp".to_string())]
            }
        }
    }
}

/// Where every sign-in ends, inside the caller's transaction: settles what the proof proved (a verified
/// address or number; the takeover rule), checks the account, challenges accounts that have a second
/// factor, and starts the session.
pub async fn complete_signin(
    state: &AppState,
    client: &impl GenericClient,
    mut user: User,
    method: SigninMethod,
) -> Result<SignedIn, AuthError> {
    if method.proves_email() && user.email.is_some() && !user.email_verified {
        db::users::lock_user(client, user.id).await?;
        if method.overrides_unverified_credentials() {
            db::users::clear_password(client, user.id).await?;
            let ended = db::refresh_tokens::delete_user_refresh_tokens(client, user.id).await?;
            tracing::warn!(
                user_id = %user.id,
                method = method.as_str(),
                ended_tokens = ended,
                "an unverified account's address was proved: its password, sessions and access tokens are removed"
            );
        }
        db::users::update_email_verified(client, user.id).await?;
        user.email_verified = true;
    }
    if method == SigninMethod::SmsOtp && !user.phone_number_verified {
        db::users::update_phone_verified(client, user.id).await?;
        user.phone_number_verified = true;
    }
    check_account(state, &user)?;
    let details = serde_json::json!({"method": method.as_str()});
    if method.is_single_factor() && user.active_mfa_type.as_deref().is_some_and(|kind| !kind.is_empty()) {
        let challenge = super::mfa::challenge(state, client, &user, method).await?;
        audit::record(state, client, Event::of("signin.challenged", user.id, details)).await?;
        return Ok(SignedIn::SecondFactor(challenge));
    }
    audit::record(state, client, Event::of("signin", user.id, details)).await?;
    Ok(SignedIn::Session(Box::new(start(state, client, user).await?)))
}

/// Where a new refresh token goes: a new family (a sign-in) or the child of a rotated token.
struct Lineage {
    family_id: Option<Uuid>,
    parent_id: Option<Uuid>,
    signed_in_at: DateTime<Utc>,
}

/// Whether a session started at `signed_in_at` is past the session's maximum lifetime.
fn past_max_lifetime(state: &AppState, signed_in_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    state.config.session.max_lifetime.is_some_and(|seconds| now >= signed_in_at + TimeDelta::seconds(seconds))
}

/// Stores a new refresh token; returns it with its row id. It expires after the configured lifetime, but
/// never after the session's maximum lifetime.
async fn mint_refresh_token(
    state: &AppState,
    client: &impl GenericClient,
    user_id: Uuid,
    lineage: Lineage,
) -> Result<(RefreshToken, Uuid, Uuid), AuthError> {
    let now = state.clock.now();
    let refresh_token = RefreshToken::generate(&state.random);
    let id = state.random.uuid();
    let family_id = lineage.family_id.unwrap_or(id);
    let mut expires_at = now + TimeDelta::seconds(state.config.session.refresh_token_expires_in);
    if let Some(max_lifetime) = state.config.session.max_lifetime {
        expires_at = expires_at.min(lineage.signed_in_at + TimeDelta::seconds(max_lifetime));
    }
    let hash = refresh_token.hash();
    // Where a session was started is kept on its first token.
    let request = crate::telemetry::current_request();
    let first = lineage.family_id.is_none();
    db::refresh_tokens::insert_refresh_token(
        client,
        &NewRefreshToken {
            id,
            user_id,
            hash: &hash,
            created_at: now,
            expires_at,
            family_id,
            parent_id: lineage.parent_id,
            signed_in_at: lineage.signed_in_at,
            ip: request.ip.as_deref().filter(|_| first),
            user_agent: request.user_agent.as_deref().filter(|_| first),
        },
    )
    .await?;
    Ok((refresh_token, id, family_id))
}

/// The session handed to the client: a fresh access token for `user` (already recorded as seen) in
/// `family_id`, with the refresh token.
async fn session_for(
    state: &AppState,
    client: &impl GenericClient,
    user: User,
    family_id: Uuid,
    refresh_token: RefreshToken,
    refresh_token_id: Uuid,
) -> Result<Session, AuthError> {
    let expires_in = state.config.jwt.access_token_expires_in;
    let claims = claims_for(state, client, &user).await?;
    let access_token = state.keys.issue(&claims, Some(family_id), state.clock.now(), expires_in)?;
    Ok(Session { access_token, access_token_expires_in: expires_in, refresh_token, refresh_token_id, user })
}

/// Starts a new session (a new token family); only [`complete_signin`] calls this.
async fn start(state: &AppState, client: &impl GenericClient, user: User) -> Result<Session, AuthError> {
    let lineage = Lineage { family_id: None, parent_id: None, signed_in_at: state.clock.now() };
    let (refresh_token, id, family_id) = mint_refresh_token(state, client, user.id, lineage).await?;
    db::users::update_last_seen(client, user.id, state.clock.now()).await?;
    session_for(state, client, user, family_id, refresh_token, id).await
}

/// `POST /token`: exchanges a refresh token for a new session.
///
/// The owner's row is locked first, so rotations, sign-outs and revocations of one user's tokens run one at
/// a time. A token's first rotation mints its child and seals it into the parent's row; a replay inside the
/// grace window opens that seal and hands back the same child (with a new access token), so a family
/// never holds more than one live token.
///
/// The usual case, a live token presented for the first time, is one statement
/// ([`db::refresh_tokens::rotate_refresh_token`]); every other case reads the token under the same lock
/// and decides here.
pub async fn refresh(state: &AppState, presented: &str) -> Result<Session, AuthError> {
    let token = RefreshToken::parse(presented).ok_or(AuthError::InvalidRefreshToken)?;
    let hash = token.hash();
    let now = state.clock.now();
    let child = RefreshToken::generate(&state.random);
    let (child_id, child_hash, child_sealed) = (state.random.uuid(), child.hash(), token.seal_child(&child));
    let rotation = db::refresh_tokens::Rotation {
        hash: &hash,
        now,
        child_id,
        child_hash: &child_hash,
        child_sealed: &child_sealed,
        child_expires_at: now + TimeDelta::seconds(state.config.session.refresh_token_expires_in),
        max_lifetime: state.config.session.max_lifetime,
    };
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    if let Some(rotated) = db::refresh_tokens::rotate_refresh_token(&transaction, &rotation).await? {
        check_account(state, &rotated.user)?;
        let session =
            session_for(state, &transaction, rotated.user, rotated.family_id, child, rotated.child_id).await?;
        db::commit(transaction).await?;
        return Ok(session);
    }
    db::refresh_tokens::lock_token_owner(&transaction, &hash).await?.ok_or(AuthError::InvalidRefreshToken)?;
    let stored =
        db::refresh_tokens::select_refresh_token(&transaction, &hash).await?.ok_or(AuthError::InvalidRefreshToken)?;
    let usable = stored.token_type == "regular" && stored.revoked_at.is_none() && stored.expires_at > now;
    if !usable || past_max_lifetime(state, stored.signed_in_at, now) {
        return Err(AuthError::InvalidRefreshToken);
    }
    let (child, child_id) = match stored.rotated_at {
        Some(rotated_at) if now - rotated_at > TimeDelta::seconds(state.config.session.reuse_grace_period) => {
            let revoked = db::refresh_tokens::revoke_refresh_token_family(&transaction, stored.family_id, now).await?;
            let details = serde_json::json!({"sessionId": stored.family_id, "revokedTokens": revoked});
            audit::record(state, &transaction, Event::of("refresh_token.reuse", stored.user_id, details)).await?;
            db::commit(transaction).await?;
            state.metrics.refresh_token_reuse.inc();
            tracing::warn!(
                user_id = %stored.user_id,
                family_id = %stored.family_id,
                revoked,
                "refresh token reused after rotation: token family revoked"
            );
            return Err(AuthError::InvalidRefreshToken);
        }
        Some(_) => {
            let child = stored
                .child_sealed
                .as_deref()
                .and_then(|sealed| token.open_child(sealed))
                .ok_or(AuthError::InvalidRefreshToken)?;
            let child_row = db::refresh_tokens::select_refresh_token(&transaction, &child.hash())
                .await?
                .filter(|row| row.revoked_at.is_none() && row.expires_at > now)
                .ok_or(AuthError::InvalidRefreshToken)?;
            (child, child_row.id)
        }
        None => {
            let lineage = Lineage {
                family_id: Some(stored.family_id),
                parent_id: Some(stored.id),
                signed_in_at: stored.signed_in_at,
            };
            let (child, child_id, _) = mint_refresh_token(state, &transaction, stored.user_id, lineage).await?;
            db::refresh_tokens::mark_refresh_token_rotated(&transaction, stored.id, now, &token.seal_child(&child))
                .await?;
            (child, child_id)
        }
    };
    let user =
        db::users::select_user_by_id(&transaction, stored.user_id).await?.ok_or(AuthError::InvalidRefreshToken)?;
    check_account(state, &user)?;
    db::users::update_last_seen(&transaction, user.id, now).await?;
    let session = session_for(state, &transaction, user, stored.family_id, child, child_id).await?;
    db::commit(transaction).await?;
    Ok(session)
}

/// `GET /user/sessions`: the user's live sessions.
pub async fn list_sessions(
    state: &AppState,
    user_id: Uuid,
) -> Result<Vec<db::refresh_tokens::SessionSummary>, AuthError> {
    let client = db::client(&state.pool).await?;
    db::refresh_tokens::select_user_sessions(&client, user_id, state.clock.now()).await
}

/// `DELETE /user/sessions/{id}`: ends one of the user's sessions (its refresh tokens stop working; its
/// access tokens live out their few minutes).
pub async fn end_session(state: &AppState, user_id: Uuid, session_id: Uuid) -> Result<(), AuthError> {
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    db::users::lock_user(&transaction, user_id).await?;
    if !db::refresh_tokens::revoke_user_family(&transaction, user_id, session_id, state.clock.now()).await? {
        return Err(AuthError::NotFound("No such session"));
    }
    audit::record(state, &transaction, Event::of("session.end", user_id, serde_json::json!({"sessionId": session_id})))
        .await?;
    db::commit(transaction).await?;
    tracing::info!(%user_id, %session_id, "session ended by its user");
    Ok(())
}

/// `POST /signout`: ends the session of `refresh_token`, or with `all` every session and personal access
/// token of the authenticated user (`signed_in_user`, from a bearer token or Hasura's session variables).
pub async fn sign_out(
    state: &AppState,
    refresh_token: Option<&str>,
    all: bool,
    signed_in_user: Option<Uuid>,
) -> Result<(), AuthError> {
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    if all {
        let user_id =
            signed_in_user.ok_or(AuthError::Unauthenticated("signing out of all sessions needs a bearer token"))?;
        db::users::lock_user(&transaction, user_id).await?;
        db::refresh_tokens::delete_user_refresh_tokens(&transaction, user_id).await?;
        return db::commit(transaction).await;
    }
    let presented = refresh_token.ok_or_else(|| AuthError::InvalidRequest("refreshToken is required".into()))?;
    let token = RefreshToken::parse(presented)
        .ok_or_else(|| AuthError::InvalidRequest("refreshToken is not a refresh token".into()))?;
    let hash = token.hash();
    // An unknown token is already signed out: answer OK, as nhost does.
    if db::refresh_tokens::lock_token_owner(&transaction, &hash).await?.is_some() {
        db::refresh_tokens::delete_refresh_token_family(&transaction, &hash).await?;
    }
    db::commit(transaction).await
}

/// Verifies a bearer access token (signature, algorithm, expiry, issuer); no database query.
pub fn authenticate(state: &AppState, token: &str) -> Result<VerifiedToken, AuthError> {
    state.keys.verify_access_token(token, state.clock.now()).map_err(|rejected| {
        tracing::debug!(%rejected, "access token refused");
        AuthError::Unauthenticated("invalid or expired access token")
    })
}
