//! Sign-in with a provider: the redirect to the provider ([`start`]) and its callback ([`callback`]).
//!
//! The start remembers the sign-in in `auth.oauth_states` under the hash of a random one-time `state`, with
//! the PKCE verifier and the nonce sealed under the state itself, the sign-up options, the redirect target
//! and, when an identity is being linked, the user it goes to. The browser gets a cookie holding the state's
//! hash, so only the browser that started can finish (RFC 9700 §4.7). The callback takes the row (once),
//! checks provider, expiry and cookie, exchanges the code, establishes who signed in and then:
//! - an identity already linked signs its user in;
//! - a link flow attaches the identity to the user who asked;
//! - an address the provider says is verified joins the account holding it (a never-verified account
//!   loses its password and sessions first: the takeover rule in [`super::session::complete_signin`]);
//! - an address the provider does not vouch for never joins an account (`email-needs-linking`);
//! - anyone else signs up.
//!
//! Every outcome is a redirect to the application, with `refreshToken` or with `error`; provider tokens are
//! stored sealed (see [`super::provider_tokens`]).
//!
//! A mobile app that starts with its own PKCE challenge (RFC 7636, S256 only) gets a one-time `code` on its
//! return URL instead of a refresh token: a URL handed to a custom scheme may reach another app. The code
//! lives a few minutes in `auth.one_time_codes` (hashed, with the session's refresh token sealed under the
//! code itself) and is redeemed once, with the verifier, by [`redeem_exchange_code`]. ID tokens an app got
//! from a provider's SDK go through the same account rules ([`conclude`], used by [`super::id_token`]).
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::audit::{self, Event};
use super::provider_tokens::{self, seal_token_set};
use super::session::{SignedIn, SigninMethod, complete_signin};
use crate::db;
use crate::db::user_providers::NewIdentity;
use crate::domain::user::{NewUser, SignupOptions, check_display_name};
use crate::domain::{Email, OpaqueToken, sealed};
use crate::error::AuthError;
use crate::providers::{self, Authorization, CallbackFields, Identity, Provider, ProviderError, ResponseMode};
use crate::state::AppState;

/// How long a sign-in may take at the provider.
pub const STATE_LIFETIME_SECONDS: i64 = 600;
/// The one-time code kind of a link ticket.
pub const LINK_TICKET_KIND: &str = "linkProvider";
const LINK_TICKET_LIFETIME_SECONDS: i64 = 600;
const SEALED_STATE_CONTEXT: &[u8] = b"hauth oauth state";
/// The one-time code kind of a mobile sign-in's exchange code.
pub const EXCHANGE_CODE_KIND: &str = "mobileSignIn";
/// How long an app has to redeem its code: it is redeemed right after the redirect reaches the app.
const EXCHANGE_CODE_LIFETIME_SECONDS: i64 = 180;
const SEALED_SESSION_CONTEXT: &[u8] = b"hauth mobile sign-in code";

/// Which path a flow came in by: the callback given to the provider is the same path's, so callback URLs
/// registered for nhost (`/signin/provider/…`) and for nself (`/oauth/…`) both keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Nhost,
    Nself,
}

impl Entry {
    fn callback_path(self, provider: &str) -> String {
        match self {
            Entry::Nhost => format!("/signin/provider/{provider}/callback"),
            Entry::Nself => format!("/oauth/{provider}/callback"),
        }
    }
}

/// `GET /signin/provider/{provider}` as the client sent it.
#[derive(Default)]
pub struct StartRequest {
    pub options: SignupOptions,
    /// nhost's `connect`: the access token of a user linking this provider.
    pub connect: Option<SecretString>,
    /// A link ticket from `POST /user/providers/{provider}/link`.
    pub link_ticket: Option<SecretString>,
    /// A mobile app's own PKCE challenge (S256, checked by [`app_challenge`]): the sign-in returns a
    /// one-time code for it rather than a refresh token.
    pub app_challenge: Option<String>,
}

/// The app's `code_challenge` and `code_challenge_method` as sent: only S256 challenges (43 base64url
/// characters, RFC 7636 §4.2) are taken; `plain` would put the verifier itself in a URL.
pub fn app_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<Option<String>, AuthError> {
    match (challenge.filter(|c| !c.is_empty()), method.filter(|m| !m.is_empty())) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(AuthError::InvalidRequest("code_challenge_method needs a code_challenge".into())),
        (Some(_), method) if method != Some("S256") => {
            Err(AuthError::InvalidRequest("code_challenge_method must be S256".into()))
        }
        (Some(challenge), _) => {
            let well_formed =
                challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !well_formed {
                return Err(AuthError::InvalidRequest(
                    "code_challenge must be the unpadded base64url SHA-256 of the verifier (43 characters)".into(),
                ));
            }
            Ok(Some(challenge.to_string()))
        }
    }
}

/// The cookie binding a sign-in to the browser that started it. It holds the state's hash, never the state.
#[derive(Debug, Clone)]
pub struct StateCookie {
    pub name: String,
    pub value: String,
    /// Only the callback path gets it back.
    pub path: String,
    pub max_age: i64,
    /// The provider returns by a cross-site form `POST` (Apple): `SameSite=None`, which needs `Secure`.
    /// Otherwise `SameSite=Lax`, sent on the top-level redirect back.
    pub cross_site: bool,
    /// Sent over HTTPS only (whenever the service's URL is HTTPS, and always with `SameSite=None`).
    pub secure: bool,
}

/// Where the browser goes next.
pub struct Redirect {
    pub location: String,
    pub cookie: Option<StateCookie>,
}

/// A flow that failed: where to send the browser with the error (empty: nowhere known, answer directly).
pub struct Failure {
    pub redirect_to: String,
    pub error: AuthError,
    /// Cookies to clear.
    pub cookie: Option<StateCookie>,
}

/// The parts of a sign-in that must not be readable from the database alone.
#[derive(Serialize, Deserialize)]
struct Sealed {
    verifier: Option<String>,
    nonce: Option<String>,
    /// The app's own PKCE challenge, for a mobile sign-in.
    #[serde(default)]
    app_challenge: Option<String>,
}

fn random_token(state: &AppState) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    state.random.fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256: how a state is stored and named in its cookie.
fn state_hash(state_value: &str) -> String {
    hex::encode(Sha256::digest(state_value.as_bytes()))
}

fn cookie_name(hash: &str) -> String {
    format!("hauth_oauth_{}", &hash[..16])
}

/// The callback URL given to the provider for `name` (the provider as named in the path).
fn callback_url(state: &AppState, entry: Entry, name: &str) -> String {
    format!("{}{}", state.config.http.server_url.as_str().trim_end_matches('/'), entry.callback_path(name))
}

fn state_cookie(state: &AppState, provider: &dyn Provider, hash: &str, callback: &str, max_age: i64) -> StateCookie {
    let cross_site = provider.facts().response_mode == ResponseMode::FormPost;
    let path = url::Url::parse(callback).map(|url| url.path().to_string()).unwrap_or_else(|_| "/".into());
    StateCookie {
        name: cookie_name(hash),
        value: hash.to_string(),
        path,
        max_age,
        cross_site,
        secure: cross_site || state.config.http.server_url.scheme() == "https",
    }
}

/// The provider reached as `name`, if enabled.
pub fn provider(state: &AppState, name: &str) -> Result<std::sync::Arc<dyn Provider>, AuthError> {
    state.providers.find(name).ok_or(AuthError::DisabledEndpoint)
}

/// Starts a sign-in (or a link): remembers it and sends the browser to the provider.
pub async fn start(state: &AppState, name: &str, entry: Entry, request: StartRequest) -> Result<Redirect, Failure> {
    let redirect_to = match state.redirects.resolve(request.options.redirect_to.as_deref()) {
        Ok(redirect_to) => redirect_to,
        Err(error) => {
            return Err(Failure {
                redirect_to: state.redirects.resolve(None).unwrap_or_default(),
                error,
                cookie: None,
            });
        }
    };
    let fail = |error: AuthError| Failure { redirect_to: redirect_to.clone(), error, cookie: None };
    let provider = provider(state, name).map_err(fail)?;
    let started = begin(state, provider.as_ref(), name, entry, &redirect_to, request).await;
    started.map_err(fail)
}

async fn begin(
    state: &AppState,
    provider: &dyn Provider,
    name: &str,
    entry: Entry,
    redirect_to: &str,
    request: StartRequest,
) -> Result<Redirect, AuthError> {
    let facts = provider.facts();
    // Options are checked now, so a refused role fails before the user goes to the provider.
    request.options.resolve(&state.config.users, None)?;
    let now = state.clock.now();
    let link_user_id = match (&request.connect, &request.link_ticket) {
        (_, Some(ticket)) => {
            let connect_user = request.connect.as_ref().map(|token| connecting_user(state, token)).transpose()?;
            let user_id = take_link_ticket(state, ticket, &facts.id, now).await?;
            if connect_user.is_some_and(|connecting| connecting != user_id) {
                tracing::warn!(%user_id, "link ticket presented with another user's access token");
                return Err(AuthError::InvalidTicket);
            }
            Some(user_id)
        }
        (Some(token), None) => Some(connecting_user(state, token)?),
        (None, None) => None,
    };
    if link_user_id.is_some() && request.app_challenge.is_some() {
        return Err(AuthError::InvalidRequest("a link returns no session: it takes no code_challenge".into()));
    }
    let state_value = random_token(state);
    let hash = state_hash(&state_value);
    let verifier = facts.pkce.then(|| random_token(state));
    let nonce = facts.nonce.then(|| random_token(state));
    let callback = callback_url(state, entry, name);
    let sealed_parts =
        Sealed { verifier: verifier.clone(), nonce: nonce.clone(), app_challenge: request.app_challenge.clone() };
    let plaintext = serde_json::to_vec(&sealed_parts).map_err(AuthError::internal)?;
    let sealed_bytes = sealed::seal_under_secret(state_value.as_bytes(), SEALED_STATE_CONTEXT, &plaintext);
    let mut options = request.options;
    options.redirect_to = None;
    let options = serde_json::to_value(&options).map_err(AuthError::internal)?;
    let challenge = verifier.as_deref().map(providers::oauth::pkce_challenge);
    let authorization = Authorization {
        state: &state_value,
        nonce: nonce.as_deref(),
        pkce_challenge: challenge.as_deref(),
        redirect_uri: &callback,
    };
    let location = providers::authorization_url(provider, &authorization).await.map_err(|error| {
        tracing::warn!(provider = %facts.id, %error, "cannot build the provider's authorization URL");
        AuthError::OAuthProviderError("The provider is not available".into())
    })?;
    let client = db::client(&state.pool).await?;
    db::oauth_states::insert_state(
        &client,
        &db::oauth_states::NewState {
            state_hash: &hash,
            provider: &facts.id,
            redirect_to,
            options: &options,
            created_at: now,
            expires_at: now + TimeDelta::seconds(STATE_LIFETIME_SECONDS),
            redirect_uri: &callback,
            sealed: &sealed_bytes,
            link_user_id,
        },
    )
    .await?;
    Ok(Redirect {
        location: location.to_string(),
        cookie: Some(state_cookie(state, provider, &hash, &callback, STATE_LIFETIME_SECONDS)),
    })
}

/// The user behind nhost's `connect` access token.
fn connecting_user(state: &AppState, token: &SecretString) -> Result<Uuid, AuthError> {
    let verified = super::session::authenticate(state, token.expose_secret())?;
    if verified.claims.is_anonymous {
        return Err(AuthError::ForbiddenAnonymous);
    }
    Ok(verified.claims.user_id)
}

/// Uses a link ticket: once, before it expires, for the provider it was made for, from the browser it was
/// made for (the same user agent). Any use spends it, a refused one too: a ticket that reached somebody
/// else is dead for everyone.
async fn take_link_ticket(
    state: &AppState,
    ticket: &SecretString,
    provider_id: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, AuthError> {
    let ticket = OpaqueToken::parse(ticket.expose_secret()).ok_or(AuthError::InvalidTicket)?;
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let code = db::tickets::select_code_by_hash_for_update(&transaction, &ticket.hash())
        .await?
        .ok_or(AuthError::InvalidTicket)?;
    let live = code.kind == LINK_TICKET_KIND && code.used_at.is_none() && code.expires_at > now;
    if !live {
        return Err(AuthError::InvalidTicket);
    }
    db::tickets::mark_code_used(&transaction, code.id, now).await?;
    db::commit(transaction).await?;
    let made_for_provider = code.payload.get("provider").and_then(|p| p.as_str()) == Some(provider_id);
    let agent = user_agent_hash();
    // A ticket an operator made with `hauth oauth link` is for whichever browser the user opens it in.
    let made_for_agent = match code.payload.get("userAgent") {
        Some(serde_json::Value::Null) => true,
        made_for => made_for.and_then(|a| a.as_str()) == Some(agent.as_str()),
    };
    if !made_for_provider || !made_for_agent {
        tracing::warn!(user_id = %code.user_id, made_for_provider, made_for_agent, "link ticket refused");
        return Err(AuthError::InvalidTicket);
    }
    Ok(code.user_id)
}

fn user_agent_hash() -> String {
    let agent = crate::telemetry::current_request().user_agent.unwrap_or_default();
    hex::encode(Sha256::digest(agent.as_bytes()))
}

/// `POST /user/providers/{provider}/link`: a one-time URL that links the provider to `user_id` when
/// followed, in this browser, within ten minutes. It carries no user id and no access token.
pub async fn link_url(
    state: &AppState,
    user_id: Uuid,
    is_anonymous: bool,
    name: &str,
    redirect_to: Option<&str>,
) -> Result<String, AuthError> {
    if is_anonymous {
        return Err(AuthError::ForbiddenAnonymous);
    }
    issue_link_url(state, user_id, name, redirect_to, Some(user_agent_hash())).await
}

/// `hauth oauth link`: a one-time URL, valid ten minutes, that links the provider to `user_id` in the
/// browser the user opens it in (an operator hands it over; no browser asked for it).
pub async fn operator_link_url(state: &AppState, user_id: Uuid, name: &str) -> Result<String, AuthError> {
    let client = db::client(&state.pool).await?;
    db::users::select_user_by_id(&client, user_id).await?.ok_or(AuthError::NotFound("user not found"))?;
    issue_link_url(state, user_id, name, None, None).await
}

async fn issue_link_url(
    state: &AppState,
    user_id: Uuid,
    name: &str,
    redirect_to: Option<&str>,
    user_agent: Option<String>,
) -> Result<String, AuthError> {
    let provider = provider(state, name)?;
    let redirect_to = state.redirects.resolve(redirect_to)?;
    let now = state.clock.now();
    let ticket = OpaqueToken::generate(&state.random);
    let client = db::client(&state.pool).await?;
    db::tickets::insert_one_time_code(
        &client,
        &db::tickets::NewCode {
            user_id,
            kind: LINK_TICKET_KIND,
            code_hash: &ticket.hash(),
            created_at: now,
            expires_at: now + TimeDelta::seconds(LINK_TICKET_LIFETIME_SECONDS),
            payload: serde_json::json!({"provider": provider.facts().id, "userAgent": user_agent}),
        },
    )
    .await?;
    let mut url = url::Url::parse(&format!(
        "{}/signin/provider/{name}",
        state.config.http.server_url.as_str().trim_end_matches('/')
    ))
    .map_err(AuthError::internal)?;
    url.query_pairs_mut().append_pair("linkTicket", ticket.expose());
    if !redirect_to.is_empty() {
        url.query_pairs_mut().append_pair("redirectTo", &redirect_to);
    }
    Ok(url.to_string())
}

/// The provider's answer, as it reached the callback.
pub struct CallbackRequest {
    /// Query parameters (GET) or form fields (POST): `code`, `state`, `error`, Apple's `user`, ….
    pub fields: CallbackFields,
    /// The request's cookies.
    pub cookies: Vec<(String, String)>,
}

/// What a successful callback hands back.
pub struct Completed {
    pub redirect_to: String,
    pub handed: Handed,
    pub clear_cookie: StateCookie,
}

/// What the application gets on its redirect.
pub enum Handed {
    /// A link: the user keeps their session.
    Nothing,
    /// The new session's refresh token.
    RefreshToken(String),
    /// A mobile sign-in: the one-time code the app redeems with its PKCE verifier.
    ExchangeCode(String),
    /// The account has a second factor: the ticket of the challenged sign-in.
    SecondFactor(String),
}

impl Handed {
    /// The query parameters the application gets.
    pub fn query(&self) -> Vec<(&'static str, &str)> {
        match self {
            Handed::Nothing => Vec::new(),
            Handed::RefreshToken(token) => vec![("refreshToken", token)],
            Handed::ExchangeCode(code) => vec![("code", code)],
            Handed::SecondFactor(ticket) => vec![("mfaTicket", ticket), ("mfaType", "totp")],
        }
    }
}

/// Finishes a sign-in or link at the provider's callback.
pub async fn callback(state: &AppState, name: &str, request: CallbackRequest) -> Result<Completed, Failure> {
    let default_target = state.redirects.resolve(None).unwrap_or_default();
    let refuse = |redirect_to: &str, error: AuthError, cookie: Option<StateCookie>| Failure {
        redirect_to: redirect_to.to_string(),
        error,
        cookie,
    };
    let Ok(provider) = provider(state, name) else {
        return Err(refuse(&default_target, AuthError::DisabledEndpoint, None));
    };
    let facts = provider.facts();
    let Some(state_value) = request.fields.get("state").filter(|value| !value.is_empty() && value.len() <= 512) else {
        return Err(refuse(&default_target, AuthError::InvalidState, None));
    };
    let hash = state_hash(state_value);
    let taken = async {
        let client = db::client(&state.pool).await?;
        db::oauth_states::take_state(&client, &hash).await
    };
    let taken = match taken.await {
        Ok(Some(taken)) => taken,
        Ok(None) => {
            audit::record_detached(state, failure_event(None, &facts.id, "unknown or used state")).await;
            return Err(refuse(&default_target, AuthError::InvalidState, None));
        }
        Err(error) => return Err(refuse(&default_target, error, None)),
    };
    let clear = state_cookie(state, provider.as_ref(), &hash, &taken.redirect_uri, 0);
    let now = state.clock.now();
    let cookie_matches = request.cookies.iter().any(|(cookie, value)| *cookie == clear.name && *value == hash);
    let problem = if taken.provider != facts.id {
        Some("the state belongs to another provider")
    } else if taken.expires_at <= now {
        Some("the state expired")
    } else if !cookie_matches {
        Some("the state cookie is missing: the callback reached another browser than the one that started")
    } else {
        None
    };
    if let Some(problem) = problem {
        tracing::warn!(provider = %facts.id, problem, "provider callback refused");
        audit::record_detached(state, failure_event(taken.link_user_id, &facts.id, problem)).await;
        return Err(refuse(&taken.redirect_to, AuthError::InvalidState, Some(clear)));
    }
    match finish(state, provider.as_ref(), state_value, &taken, &request.fields).await {
        Ok(handed) => Ok(Completed { redirect_to: taken.redirect_to.clone(), handed, clear_cookie: clear }),
        Err(error) => {
            let reason = error.to_string();
            let user_id = taken.link_user_id;
            audit::record_detached(state, failure_event(user_id, &facts.id, &reason)).await;
            Err(refuse(&taken.redirect_to, error, Some(clear)))
        }
    }
}

fn failure_event<'a>(user_id: Option<Uuid>, provider: &'a str, reason: &str) -> Event<'a> {
    Event {
        name: "provider.failure",
        user_id,
        provider: Some(provider),
        metadata: serde_json::json!({"reason": reason}),
    }
}

/// After the state checked out: the code exchange, the identity, the account. Returns what the application
/// gets: the new session's refresh token, a mobile app's exchange code, or nothing for a link.
async fn finish(
    state: &AppState,
    provider: &dyn Provider,
    state_value: &str,
    taken: &db::oauth_states::TakenState,
    fields: &CallbackFields,
) -> Result<Handed, AuthError> {
    let facts = provider.facts();
    if let Some(code) = fields.get("error") {
        let description = fields.get("error_description").cloned().unwrap_or_default();
        tracing::info!(provider = %facts.id, error = %code, %description, "the provider refused the sign-in");
        let message = if description.is_empty() { code.clone() } else { format!("{code}: {description}") };
        return Err(AuthError::OAuthProviderError(message.chars().take(300).collect()));
    }
    let sealed: Sealed = sealed::open_under_secret(state_value.as_bytes(), SEALED_STATE_CONTEXT, &taken.sealed)
        .and_then(|plaintext| serde_json::from_slice(&plaintext).ok())
        .ok_or(AuthError::InvalidState)?;
    let code = fields
        .get("code")
        .filter(|code| !code.is_empty())
        .ok_or_else(|| AuthError::OAuthTokenExchangeFailed("The provider sent no authorization code".into()))?;
    let tokens = providers::exchange_code(provider, code, sealed.verifier.as_deref(), &taken.redirect_uri)
        .await
        .map_err(|error| {
            tracing::warn!(provider = %facts.id, %error, "code exchange failed");
            AuthError::OAuthTokenExchangeFailed(describe(&error, "The provider refused the authorization code"))
        })?;
    let now = state.clock.now();
    let answer = providers::Answer { tokens: &tokens, nonce: sealed.nonce.as_deref(), fields, now };
    let identity = provider.identify(answer).await.map_err(|error| {
        tracing::warn!(provider = %facts.id, %error, "the provider's identity was refused");
        AuthError::OAuthProfileFetchFailed(describe(&error, "Who signed in could not be established"))
    })?;
    let options: SignupOptions = serde_json::from_value(taken.options.clone()).unwrap_or_default();
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let session =
        conclude(state, &transaction, provider, &identity, Some(&tokens), taken.link_user_id, options).await?;
    let handed = match (session, sealed.app_challenge) {
        (None, _) => Handed::Nothing,
        (Some(SignedIn::SecondFactor(challenge)), _) => Handed::SecondFactor(challenge.ticket),
        (Some(SignedIn::Session(session)), None) => Handed::RefreshToken(session.refresh_token.expose().to_string()),
        (Some(SignedIn::Session(session)), Some(challenge)) => {
            Handed::ExchangeCode(issue_exchange_code(state, &transaction, &facts.id, &challenge, &session).await?)
        }
    };
    db::commit(transaction).await?;
    Ok(handed)
}

/// Where every provider identity ends, in the caller's transaction: the account rules ([`settle_account`]),
/// then a link or a session through [`complete_signin`], recorded in the audit log. `tokens` is what the
/// provider's token endpoint answered (none for an ID token an app posted). Returns the new session (none
/// for a link).
pub async fn conclude(
    state: &AppState,
    client: &impl deadpool_postgres::GenericClient,
    provider: &dyn Provider,
    identity: &Identity,
    tokens: Option<&providers::TokenSet>,
    link_user_id: Option<Uuid>,
    options: SignupOptions,
) -> Result<Option<SignedIn>, AuthError> {
    let facts = provider.facts();
    match settle_account(state, client, provider, identity, tokens, link_user_id, options).await? {
        Settled::Linked { user_id } => {
            audit::record(state, client, identity_event("provider.link", user_id, &facts.id, identity)).await?;
            Ok(None)
        }
        Settled::SignIn { user, method, signed_up } => {
            let user_id = user.id;
            let session = complete_signin(state, client, *user, method).await?;
            let name = if signed_up { "provider.signup" } else { "provider.signin" };
            audit::record(state, client, identity_event(name, user_id, &facts.id, identity)).await?;
            Ok(Some(session))
        }
    }
}

/// Stores the one-time code a mobile app redeems for `session`: its hash, the app's challenge, and the
/// session's refresh token sealed under the code (the row alone cannot be redeemed).
async fn issue_exchange_code(
    state: &AppState,
    client: &impl deadpool_postgres::GenericClient,
    provider_id: &str,
    challenge: &str,
    session: &super::Session,
) -> Result<String, AuthError> {
    use base64::Engine as _;
    let code = OpaqueToken::generate(&state.random);
    let sealed_session = sealed::seal_under_secret(
        code.expose().as_bytes(),
        SEALED_SESSION_CONTEXT,
        session.refresh_token.expose().as_bytes(),
    );
    let now = state.clock.now();
    db::tickets::insert_one_time_code(
        client,
        &db::tickets::NewCode {
            user_id: session.user.id,
            kind: EXCHANGE_CODE_KIND,
            code_hash: &code.hash(),
            created_at: now,
            expires_at: now + TimeDelta::seconds(EXCHANGE_CODE_LIFETIME_SECONDS),
            payload: serde_json::json!({
                "provider": provider_id,
                "challenge": challenge,
                "session": base64::engine::general_purpose::STANDARD.encode(sealed_session),
            }),
        },
    )
    .await?;
    Ok(code.expose().to_string())
}

/// Whether `verifier` is one RFC 7636 allows (43 to 128 unreserved characters).
pub fn well_formed_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `POST /token/exchange` (and nself's `POST /oauth/{provider}/token`, which names the provider): the session
/// behind a mobile sign-in's one-time code, for the holder of the verifier its challenge was made from. Any
/// use spends the code; a wrong verifier also ends the session it stood for (somebody else holds the code).
pub async fn redeem_exchange_code(
    state: &AppState,
    code: &str,
    verifier: &str,
    provider: Option<&str>,
) -> Result<super::Session, AuthError> {
    use base64::Engine as _;
    if !well_formed_verifier(verifier) {
        return Err(AuthError::InvalidRequest(
            "codeVerifier must be 43 to 128 characters: letters, digits, '-', '.', '_', '~'".into(),
        ));
    }
    let code = OpaqueToken::parse(code).ok_or(AuthError::InvalidTicket)?;
    let now = state.clock.now();
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let stored = db::tickets::select_code_by_hash_for_update(&transaction, &code.hash())
        .await?
        .filter(|stored| stored.kind == EXCHANGE_CODE_KIND && stored.used_at.is_none() && stored.expires_at > now)
        .ok_or(AuthError::InvalidTicket)?;
    db::tickets::mark_code_used(&transaction, stored.id, now).await?;
    let text = |name: &str| stored.payload.get(name).and_then(|value| value.as_str()).unwrap_or_default().to_string();
    let refresh_token = base64::engine::general_purpose::STANDARD
        .decode(text("session"))
        .ok()
        .and_then(|sealed| sealed::open_under_secret(code.expose().as_bytes(), SEALED_SESSION_CONTEXT, &sealed))
        .and_then(|plaintext| String::from_utf8(plaintext).ok())
        .ok_or_else(|| AuthError::internal("a mobile sign-in code's session cannot be opened"))?;
    let challenge_met = providers::oauth::pkce_challenge(verifier) == text("challenge");
    let provider_matches = match provider {
        None => true,
        Some(name) => state.providers.find(name).is_some_and(|found| found.facts().id == text("provider")),
    };
    if !challenge_met || !provider_matches {
        // The code reached somebody without the verifier: the session it stood for ends with it.
        if let Some(token) = crate::domain::RefreshToken::parse(&refresh_token) {
            let hash = token.hash();
            if db::refresh_tokens::lock_token_owner(&transaction, &hash).await?.is_some() {
                db::refresh_tokens::delete_refresh_token_family(&transaction, &hash).await?;
            }
        }
        db::commit(transaction).await?;
        let reason = if challenge_met { "exchange code redeemed for another provider" } else { "wrong PKCE verifier" };
        tracing::warn!(user_id = %stored.user_id, reason, "mobile sign-in code refused and burnt");
        let provider_id = text("provider");
        audit::record_detached(state, failure_event(Some(stored.user_id), &provider_id, reason)).await;
        return Err(AuthError::InvalidTicket);
    }
    db::commit(transaction).await?;
    super::session::refresh(state, &refresh_token).await
}

/// A provider error as the client may see it: the provider's own code for a refusal, a generic message
/// otherwise (details go to the log).
fn describe(error: &ProviderError, generic: &str) -> String {
    match error {
        ProviderError::Refused { code, .. } => format!("{generic} ({code})"),
        _ => generic.to_string(),
    }
}

fn identity_event<'a>(name: &'a str, user_id: Uuid, provider: &'a str, identity: &Identity) -> Event<'a> {
    Event {
        name,
        user_id: Some(user_id),
        provider: Some(provider),
        metadata: serde_json::json!({
            "providerUserId": identity.provider_user_id,
            "emailVerified": identity.email_verified,
        }),
    }
}

enum Settled {
    /// The identity was linked to a signed-in user, who keeps their session.
    Linked {
        user_id: Uuid,
    },
    SignIn {
        user: Box<crate::domain::user::User>,
        method: SigninMethod,
        signed_up: bool,
    },
}

/// The account rules, in the callback's transaction.
async fn settle_account(
    state: &AppState,
    client: &impl deadpool_postgres::GenericClient,
    provider: &dyn Provider,
    identity: &Identity,
    tokens: Option<&providers::TokenSet>,
    link_user_id: Option<Uuid>,
    options: SignupOptions,
) -> Result<Settled, AuthError> {
    let facts = provider.facts();
    let ids = provider_tokens::stored_ids(provider);
    let now = state.clock.now();
    if let Some(stored) = db::user_providers::select_identity(client, &ids, &identity.provider_user_id).await? {
        if link_user_id.is_some_and(|target| target != stored.user_id) {
            return Err(AuthError::ProviderAlreadyLinked);
        }
        // An ID token posted by an app comes without provider tokens: the stored ones stay.
        if let Some(tokens) = tokens {
            let keys = provider_tokens::keys(state)?;
            let sealed = seal_token_set(keys, stored.id, tokens, None, now);
            db::user_providers::update_identity_tokens(client, stored.id, &sealed.as_tokens()).await?;
            super::token_refresh::schedule(state, client, stored.id, &sealed.as_tokens()).await?;
        }
        db::user_providers::update_identity_profile(client, stored.id, identity.email.as_deref(), &identity.profile)
            .await?;
        if let Some(user_id) = link_user_id {
            return Ok(Settled::Linked { user_id });
        }
        let user = db::users::select_user_by_id(client, stored.user_id)
            .await?
            .ok_or_else(|| AuthError::internal("a linked identity's user is gone"))?;
        return Ok(Settled::SignIn { user: Box::new(user), method: SigninMethod::Provider, signed_up: false });
    }
    if let Some(user_id) = link_user_id {
        db::users::lock_user(client, user_id).await?;
        db::users::select_user_by_id(client, user_id).await?.ok_or(AuthError::InvalidState)?;
        link(state, client, provider, identity, tokens, user_id).await?;
        return Ok(Settled::Linked { user_id });
    }
    let email = identity.email.as_deref().and_then(|email| Email::parse(email).ok());
    if let Some(email) = &email
        && let Some(user_id) = db::users::select_user_id_by_email(client, email.as_str()).await?
    {
        if !identity.email_verified || identity.email_is_relay {
            tracing::info!(provider = %facts.id, %user_id, "provider address not verified: not joined to the account");
            return Err(AuthError::EmailNeedsLinking);
        }
        db::users::lock_user(client, user_id).await?;
        link(state, client, provider, identity, tokens, user_id).await?;
        let user = db::users::select_user_by_id(client, user_id)
            .await?
            .ok_or_else(|| AuthError::internal("user vanished while linking"))?;
        return Ok(Settled::SignIn {
            user: Box::new(user),
            method: SigninMethod::ProviderVerifiedEmail,
            signed_up: false,
        });
    }
    let user_id = sign_up(state, client, identity, email, options).await?;
    link(state, client, provider, identity, tokens, user_id).await?;
    let user = db::users::select_user_by_id(client, user_id)
        .await?
        .ok_or_else(|| AuthError::internal("inserted user not found"))?;
    if state.config.users.disable_new_users {
        return Err(AuthError::DisabledUser);
    }
    Ok(Settled::SignIn { user: Box::new(user), method: SigninMethod::Provider, signed_up: true })
}

/// A new account for a provider identity: the sign-up options, else the provider's name and picture.
async fn sign_up(
    state: &AppState,
    client: &impl deadpool_postgres::GenericClient,
    identity: &Identity,
    email: Option<Email>,
    mut options: SignupOptions,
) -> Result<Uuid, AuthError> {
    let users = &state.config.users;
    if users.disable_signup {
        return Err(AuthError::SignupDisabled);
    }
    if let Some(email) = &email
        && !crate::domain::access::email_allowed(&state.config.access, email)
    {
        return Err(AuthError::SignupDisabled);
    }
    if options.display_name.is_none() {
        options.display_name = identity.display_name.clone().filter(|name| check_display_name(name).is_ok());
    }
    let mut profile = options.resolve(users, email.as_ref())?;
    if let Some(avatar) = identity.avatar_url.as_deref().filter(|url| url.starts_with("https://") && url.len() <= 2048)
    {
        profile.avatar_url = avatar.to_string();
    }
    let mut new_user = NewUser::from_profile(state.random.uuid(), email, None, profile, users.disable_new_users);
    new_user.email_verified = identity.email_verified && new_user.email.is_some();
    db::users::insert_user(client, &new_user, state.clock.now()).await?;
    Ok(new_user.id)
}

/// Stores a new identity of `user_id`. Without provider tokens (an ID token posted by an app) the identity
/// holds an empty access token that has expired, so asking for it says to sign in with the provider.
async fn link(
    state: &AppState,
    client: &impl deadpool_postgres::GenericClient,
    provider: &dyn Provider,
    identity: &Identity,
    tokens: Option<&providers::TokenSet>,
    user_id: Uuid,
) -> Result<(), AuthError> {
    let facts = provider.facts();
    let keys = provider_tokens::keys(state)?;
    let id = state.random.uuid();
    let now = state.clock.now();
    let none = providers::TokenSet {
        access_token: SecretString::from(String::new()),
        refresh_token: None,
        id_token: None,
        expires_in: Some(0),
        scopes: None,
    };
    let sealed = seal_token_set(keys, id, tokens.unwrap_or(&none), None, now);
    db::user_providers::ensure_provider(client, &facts.id).await?;
    db::user_providers::insert_identity(
        client,
        &NewIdentity {
            id,
            user_id,
            provider_id: &facts.id,
            provider_user_id: &identity.provider_user_id,
            tokens: sealed.as_tokens(),
            email: identity.email.as_deref(),
            profile: &identity.profile,
            now,
        },
    )
    .await?;
    super::token_refresh::schedule(state, client, id, &sealed.as_tokens()).await
}
