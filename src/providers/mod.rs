//! Sign-in providers (OAuth 2.0 and OpenID Connect). [`Providers`] is the one entry point; behind it each
//! provider is a small adapter over the [`Provider`] trait, described by a table of [`Facts`] (client
//! authentication, PKCE, nonce, response mode, scopes) and its [`Endpoints`], plus what only it does: how it
//! says who signed in. Providers whose endpoints are known at start implement only [`Adapter`] on top of a
//! [`Registration`]; the generic OpenID provider, discovered on first use, implements [`Provider`] itself. The OAuth machinery they share is in [`oauth`] (the `oauth2` crate), ID tokens and
//! discovery in [`oidc`] (the `openidconnect` crate). Settings: [`config`].
//!
//! Provider calls have a timeout (the shared HTTP client's) and never follow redirects. A provider refusing
//! (`invalid_grant`, a bad code) is [`ProviderError::Refused`]; an outage (network, 5xx, 429) is
//! [`ProviderError::Unavailable`], which a refresh may retry.
mod apple;
mod bitbucket;
pub mod config;
mod discord;
mod facebook;
mod generic;
mod github;
mod gitlab;
mod google;
mod linkedin;
mod microsoft;
pub mod oauth;
pub mod oidc;
mod slack;
mod spotify;
mod twitch;
mod twitter;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use config::ProviderSettings;
pub use config::{ProviderKind, ProvidersConfig};
use oauth::{ClientAuth, OAuthClient};
use oidc::{Expectations, IssuerCheck};

pub type ProviderFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the request (an RFC 6749 error code such as `invalid_grant`).
    #[error("the provider refused: {code} {description}")]
    Refused { code: String, description: String },
    /// The provider could not be reached or failed (network, 5xx, 429): worth retrying later.
    #[error("the provider is unavailable: {detail}")]
    Unavailable { detail: String, status: Option<u16>, retry_after: Option<u64> },
    /// Who signed in could not be established (a refused ID token, a profile without an id).
    #[error("{0}")]
    Identity(String),
    /// The provider cannot do this, or is misconfigured.
    #[error("{0}")]
    Unsupported(String),
}

/// Where the provider sends the browser back with the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    /// A cross-site `POST` of a form (Apple).
    FormPost,
}

/// How a provider's tokens are revoked when an identity is unlinked.
#[derive(Debug, Clone)]
pub enum Revocation {
    None,
    /// RFC 7009: `POST token=…` with the client's authentication.
    Standard(Url),
}

/// What a provider is, as data.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The id in URLs and in `auth.user_providers.provider_id`.
    pub id: String,
    /// Other ids it is reached and stored under (nhost's names).
    pub aliases: Vec<String>,
    pub kind: ProviderKind,
    pub client_auth: ClientAuth,
    pub scopes: Vec<String>,
    /// Sends a PKCE S256 challenge (every provider that accepts one).
    pub pkce: bool,
    /// OpenID Connect: a nonce is sent and the ID token must carry it back.
    pub nonce: bool,
    pub response_mode: ResponseMode,
    /// Further authorization parameters (Google's `access_type=offline`).
    pub authorize_params: Vec<(String, String)>,
}

impl Facts {
    /// The common case, from the provider's settings: PKCE, a nonce, answers in the query, no further
    /// parameters; `default_scopes` unless the settings name others. Adapters change what
    /// differs.
    pub fn standard(settings: &ProviderSettings, client_auth: ClientAuth, default_scopes: &[&str]) -> Facts {
        Facts {
            id: settings.id.clone(),
            aliases: settings.aliases.clone(),
            kind: settings.kind,
            client_auth,
            scopes: settings
                .scopes
                .clone()
                .unwrap_or_else(|| default_scopes.iter().map(|scope| scope.to_string()).collect()),
            pkce: true,
            nonce: true,
            response_mode: ResponseMode::Query,
            authorize_params: Vec::new(),
        }
    }
}

/// The endpoints of a provider, known at start or discovered on first use.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorize: Url,
    pub token: Url,
    pub revocation: Revocation,
}

/// One authorization request.
pub struct Authorization<'a> {
    pub state: &'a str,
    pub nonce: Option<&'a str>,
    pub pkce_challenge: Option<&'a str>,
    pub redirect_uri: &'a str,
}

/// What a token endpoint answered. No `Debug`: it holds tokens.
pub struct TokenSet {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub id_token: Option<String>,
    /// Seconds the access token lives, when the provider says.
    pub expires_in: Option<i64>,
    pub scopes: Option<Vec<String>>,
}

/// Who signed in, as the provider says.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The provider's stable id of the user.
    pub provider_user_id: String,
    pub email: Option<String>,
    /// The provider asserts the user controls `email` (its verified-email signal).
    pub email_verified: bool,
    /// An address that only relays to the user (Apple's private relay): never joins an existing account.
    pub email_is_relay: bool,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    /// What the provider said, kept with the link.
    pub profile: serde_json::Value,
}

/// Fields of the callback besides `code` and `state` (Apple's one-time `user`).
pub type CallbackFields = std::collections::HashMap<String, String>;

/// What a provider's callback brought: the token answer, the nonce sent with the authorization request,
/// the callback's further fields, and the time it is checked at.
#[derive(Clone, Copy)]
pub struct Answer<'a> {
    pub tokens: &'a TokenSet,
    pub nonce: Option<&'a str>,
    pub fields: &'a CallbackFields,
    pub now: DateTime<Utc>,
}

/// An ID token an app got from a provider's SDK on a device, with the raw nonce the app generated.
#[derive(Clone, Copy)]
pub struct NativeToken<'a> {
    pub id_token: &'a str,
    pub nonce: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// The verified claims of an app's ID token: the provider's keys and issuer, one of `audiences`, the nonce's
/// hash.
async fn native_claims(
    keys: &oidc::KeySet,
    audiences: &[String],
    issuer: &IssuerCheck,
    token: NativeToken<'_>,
) -> Result<oidc::Claims, ProviderError> {
    let expect = oidc::NativeExpectations { audiences, issuer, nonce: token.nonce, now: token.now };
    keys.verify_native(token.id_token, &expect).await
}

/// A provider adapter.
pub trait Provider: Send + Sync {
    fn facts(&self) -> &Facts;

    /// The client, with the provider's endpoints (discovered on first use where the provider has discovery).
    fn client<'a>(&'a self) -> ProviderFuture<'a, (OAuthClient, Endpoints)>;

    /// The client secret for the next token request (Apple signs a fresh one).
    fn client_secret(&self) -> Result<Option<SecretString>, ProviderError>;

    /// Who signed in, from the token answer (the ID token) or the provider's API.
    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity>;

    /// Who signed in, from an ID token an app got from the provider's own SDK on a device
    /// (`POST /signin/idtoken`), with the raw nonce the app sent. Only providers with native SDKs (Apple,
    /// Google) take such tokens.
    fn identify_id_token<'a>(&'a self, _token: NativeToken<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async { Err(ProviderError::Unsupported("this provider takes no ID tokens from apps".into())) })
    }

    /// Revokes a token when an identity is unlinked; nothing where the provider cannot.
    fn revoke<'a>(&'a self, token: &'a SecretString) -> ProviderFuture<'a, ()> {
        Box::pin(async move {
            let (client, endpoints) = self.client().await?;
            match endpoints.revocation {
                Revocation::None => Ok(()),
                Revocation::Standard(url) => {
                    let secret = self.client_secret()?;
                    oauth::revoke(&client, secret.as_ref(), &url, token).await
                }
            }
        })
    }
}

/// A provider whose endpoints are known at start, as registered with hauth: its facts, endpoints, client and
/// secret.
pub struct Registration {
    pub facts: Facts,
    pub endpoints: Endpoints,
    pub client: OAuthClient,
    pub secret: Option<SecretString>,
}

impl Registration {
    pub fn new(settings: &ProviderSettings, facts: Facts, endpoints: Endpoints, http: reqwest::Client) -> Self {
        let client = OAuthClient {
            client_id: settings.client_id.clone(),
            authorize_url: endpoints.authorize.clone(),
            token_url: endpoints.token.clone(),
            auth: facts.client_auth,
            http,
        };
        Registration { facts, endpoints, client, secret: settings.client_secret.clone() }
    }

    /// A GET of the provider's API with the user's access token.
    pub fn api_get(&self, url: &Url, access_token: &SecretString) -> reqwest::RequestBuilder {
        self.client.http.get(url.clone()).bearer_auth(access_token.expose_secret())
    }

    /// What this provider's ID tokens must say.
    pub fn expectations<'a>(
        &'a self,
        issuer: &'a IssuerCheck,
        nonce: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Expectations<'a> {
        Expectations { client_id: &self.client.client_id, client_secret: self.secret.as_ref(), issuer, nonce, now }
    }
}

/// A provider on a [`Registration`]: it only says who signed in, and may sign its own client secret or
/// revoke its own way.
pub trait Adapter: Send + Sync {
    fn registration(&self) -> &Registration;

    /// Who signed in, from the token answer (the ID token) or the provider's API.
    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity>;

    /// The client secret for the next token request.
    fn client_secret(&self) -> Result<Option<SecretString>, ProviderError> {
        Ok(self.registration().secret.clone())
    }

    /// Who signed in, from an ID token an app got from the provider's own SDK on a device
    /// (`POST /signin/idtoken`), with the raw nonce the app sent. Only providers with native SDKs (Apple,
    /// Google) take such tokens.
    fn identify_id_token<'a>(&'a self, _token: NativeToken<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async { Err(ProviderError::Unsupported("this provider takes no ID tokens from apps".into())) })
    }

    /// Revokes a token when an identity is unlinked (RFC 7009 where the provider has that endpoint).
    fn revoke<'a>(&'a self, token: &'a SecretString) -> ProviderFuture<'a, ()> {
        Box::pin(async move {
            let registration = self.registration();
            match &registration.endpoints.revocation {
                Revocation::None => Ok(()),
                Revocation::Standard(url) => {
                    let secret = self.client_secret()?;
                    oauth::revoke(&registration.client, secret.as_ref(), url, token).await
                }
            }
        })
    }
}

impl<T: Adapter> Provider for T {
    fn facts(&self) -> &Facts {
        &self.registration().facts
    }

    fn client<'a>(&'a self) -> ProviderFuture<'a, (OAuthClient, Endpoints)> {
        Box::pin(async move {
            let registration = self.registration();
            Ok((registration.client.clone(), registration.endpoints.clone()))
        })
    }

    fn client_secret(&self) -> Result<Option<SecretString>, ProviderError> {
        Adapter::client_secret(self)
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Adapter::identify(self, answer)
    }

    fn revoke<'a>(&'a self, token: &'a SecretString) -> ProviderFuture<'a, ()> {
        Adapter::revoke(self, token)
    }

    fn identify_id_token<'a>(&'a self, token: NativeToken<'a>) -> ProviderFuture<'a, Identity> {
        Adapter::identify_id_token(self, token)
    }
}

/// Every enabled provider, by id and alias.
#[derive(Clone, Default)]
pub struct Providers {
    all: Vec<Arc<dyn Provider>>,
}

impl Providers {
    /// Builds the adapters of the enabled providers; generic OpenID providers are discovered on first use.
    pub fn new(config: &ProvidersConfig, http: &reqwest::Client) -> anyhow::Result<Providers> {
        let mut all: Vec<Arc<dyn Provider>> = Vec::new();
        for settings in &config.providers {
            let provider: Arc<dyn Provider> = match settings.kind {
                ProviderKind::Google => Arc::new(google::Google::new(settings, http.clone())?),
                ProviderKind::Github => Arc::new(github::Github::new(settings, http.clone())?),
                ProviderKind::Apple => Arc::new(apple::Apple::new(settings, http.clone())?),
                ProviderKind::Microsoft => Arc::new(microsoft::Microsoft::new(settings, http.clone())?),
                ProviderKind::Facebook => Arc::new(facebook::Facebook::new(settings, http.clone())?),
                ProviderKind::Twitter => Arc::new(twitter::Twitter::new(settings, http.clone())?),
                ProviderKind::Linkedin => Arc::new(linkedin::Linkedin::new(settings, http.clone())?),
                ProviderKind::Slack => Arc::new(slack::Slack::new(settings, http.clone())?),
                ProviderKind::Discord => Arc::new(discord::Discord::new(settings, http.clone())?),
                ProviderKind::Twitch => Arc::new(twitch::Twitch::new(settings, http.clone())?),
                ProviderKind::Gitlab => Arc::new(gitlab::Gitlab::new(settings, http.clone())?),
                ProviderKind::Bitbucket => Arc::new(bitbucket::Bitbucket::new(settings, http.clone())?),
                ProviderKind::Spotify => Arc::new(spotify::Spotify::new(settings, http.clone())?),
                ProviderKind::Oidc => Arc::new(generic::Oidc::new(settings, http.clone())),
            };
            all.push(provider);
        }
        Ok(Providers { all })
    }

    /// Whether no provider is enabled.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// The provider reached as `name` (its id or an alias).
    pub fn find(&self, name: &str) -> Option<Arc<dyn Provider>> {
        self.all
            .iter()
            .find(|provider| provider.facts().id == name || provider.facts().aliases.iter().any(|alias| alias == name))
            .cloned()
    }
}

/// The URL the browser is sent to.
pub async fn authorization_url(
    provider: &dyn Provider,
    authorization: &Authorization<'_>,
) -> Result<Url, ProviderError> {
    let facts = provider.facts();
    let (client, _) = provider.client().await?;
    let mut extra: Vec<(&str, &str)> =
        facts.authorize_params.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    if facts.response_mode == ResponseMode::FormPost {
        extra.push(("response_mode", "form_post"));
    }
    client.authorization_url(authorization, &facts.scopes, &extra)
}

/// The authorization-code grant.
pub async fn exchange_code(
    provider: &dyn Provider,
    code: &str,
    verifier: Option<&str>,
    redirect_uri: &str,
) -> Result<TokenSet, ProviderError> {
    let (client, _) = provider.client().await?;
    let secret = provider.client_secret()?;
    client.exchange_code(secret.as_ref(), code, verifier, redirect_uri).await
}

/// The refresh-token grant.
pub async fn refresh(provider: &dyn Provider, refresh_token: &SecretString) -> Result<TokenSet, ProviderError> {
    let (client, _) = provider.client().await?;
    let secret = provider.client_secret()?;
    client.refresh(secret.as_ref(), refresh_token).await
}

/// A provider API's JSON answer (a profile, a list of addresses). A refusal or an unreadable answer means
/// who signed in cannot be established.
async fn api_json<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<T, ProviderError> {
    let failed = |e: reqwest::Error| ProviderError::Identity(format!("{what}: {e}"));
    request.send().await.and_then(reqwest::Response::error_for_status).map_err(failed)?.json().await.map_err(failed)
}

/// The verified claims of the ID token in a token answer.
async fn id_token_claims(
    keys: &oidc::KeySet,
    registration: &Registration,
    issuer: &IssuerCheck,
    answer: &Answer<'_>,
) -> Result<oidc::Claims, ProviderError> {
    let raw = answer
        .tokens
        .id_token
        .as_deref()
        .ok_or_else(|| ProviderError::Identity(format!("{} sent no ID token", registration.facts.id)))?;
    keys.verify(raw, &registration.expectations(issuer, answer.nonce, answer.now)).await
}

/// A string claim beyond the standard ones.
fn extra_claim<'a>(claims: &'a oidc::Claims, name: &str) -> Option<&'a str> {
    claims.additional_claims().values.get(name).and_then(|value| value.as_str()).filter(|value| !value.is_empty())
}

/// A setting's URL, or the provider's own.
fn url_or(configured: &Option<Url>, default: &str) -> anyhow::Result<Url> {
    match configured {
        Some(url) => Ok(url.clone()),
        None => Ok(Url::parse(default)?),
    }
}
