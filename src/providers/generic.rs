//! Any OpenID provider, by its issuer: endpoints and keys come from its discovery document, fetched on first
//! use (so the service starts while the provider is down) and kept. The issuer in the document and in every
//! ID token must be the configured one. The token endpoint is authenticated the way the document prefers
//! (`client_secret_basic` unless only `client_secret_post` is offered); PKCE S256 is always sent. When the ID
//! token has no email, the userinfo endpoint is asked.
use openidconnect::core::CoreClientAuthMethod;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;

use super::config::ProviderSettings;
use super::oauth::{ClientAuth, OAuthClient};
use super::oidc::{Expectations, IssuerCheck, KeySet};
use super::{Answer, Endpoints, Facts, Identity, Provider, ProviderError, ProviderFuture, Revocation};

/// What discovery told.
struct Discovered {
    client: OAuthClient,
    endpoints: Endpoints,
    userinfo: Option<url::Url>,
    keys: KeySet,
}

pub struct Oidc {
    facts: Facts,
    settings: ProviderSettings,
    http: reqwest::Client,
    issuer: IssuerCheck,
    discovered: OnceCell<Discovered>,
}

impl Oidc {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> Oidc {
        let issuer = settings.endpoints.issuer.clone().unwrap_or_default();
        Oidc {
            facts: Facts::standard(settings, ClientAuth::Basic, &["openid", "email", "profile", "offline_access"]),
            settings: settings.clone(),
            http,
            issuer: IssuerCheck::OneOf(vec![issuer]),
            discovered: OnceCell::new(),
        }
    }

    async fn discovered(&self) -> Result<&Discovered, ProviderError> {
        self.discovered
            .get_or_try_init(|| async {
                let issuer = self.settings.endpoints.issuer.as_deref().unwrap_or_default();
                let metadata = super::oidc::discover(issuer, &self.http).await?;
                let overrides = &self.settings.endpoints;
                let authorize =
                    overrides.authorization.clone().unwrap_or_else(|| metadata.authorization_endpoint().url().clone());
                let token = match (&overrides.token, metadata.token_endpoint()) {
                    (Some(url), _) => url.clone(),
                    (None, Some(url)) => url.url().clone(),
                    (None, None) => return Err(ProviderError::Unsupported(format!("{issuer} has no token endpoint"))),
                };
                let methods = metadata.token_endpoint_auth_methods_supported();
                let only_post = methods.is_some_and(|methods| {
                    methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                        && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                });
                let auth = if only_post { ClientAuth::Post } else { ClientAuth::Basic };
                let revocation = overrides
                    .revocation
                    .clone()
                    .or_else(|| metadata.additional_metadata().revocation_endpoint.clone())
                    .map_or(Revocation::None, Revocation::Standard);
                let userinfo = overrides
                    .user_profile
                    .clone()
                    .or_else(|| metadata.userinfo_endpoint().map(|url| url.url().clone()));
                let jwks_url = overrides.jwks.clone().unwrap_or_else(|| metadata.jwks_uri().url().clone());
                let keys = KeySet::with_keys(jwks_url, self.http.clone(), metadata.jwks().clone());
                Ok(Discovered {
                    client: OAuthClient {
                        client_id: self.settings.client_id.clone(),
                        authorize_url: authorize.clone(),
                        token_url: token.clone(),
                        auth,
                        http: self.http.clone(),
                    },
                    endpoints: Endpoints { authorize, token, revocation },
                    userinfo,
                    keys,
                })
            })
            .await
    }
}

impl Provider for Oidc {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn client<'a>(&'a self) -> ProviderFuture<'a, (OAuthClient, Endpoints)> {
        Box::pin(async move {
            let discovered = self.discovered().await?;
            Ok((discovered.client.clone(), discovered.endpoints.clone()))
        })
    }

    fn client_secret(&self) -> Result<Option<SecretString>, ProviderError> {
        Ok(self.settings.client_secret.clone())
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let Answer { tokens, nonce, now, .. } = answer;
            let discovered = self.discovered().await?;
            let raw =
                tokens.id_token.as_deref().ok_or(ProviderError::Identity("the provider sent no ID token".into()))?;
            let expect = Expectations {
                client_id: &self.settings.client_id,
                client_secret: self.settings.client_secret.as_ref(),
                issuer: &self.issuer,
                nonce,
                now,
            };
            let claims = discovered.keys.verify(raw, &expect).await?;
            let mut identity = super::oidc::identity(
                &claims,
                claims.subject().as_str().to_string(),
                claims.email_verified().unwrap_or(false),
            );
            if identity.email.is_none()
                && let Some(userinfo) = &discovered.userinfo
            {
                let answer: serde_json::Value = self
                    .http
                    .get(userinfo.clone())
                    .bearer_auth(tokens.access_token.expose_secret())
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| ProviderError::Identity(format!("userinfo: {e}")))?
                    .json()
                    .await
                    .map_err(|e| ProviderError::Identity(format!("userinfo: {e}")))?;
                // The userinfo answer speaks for the same user only when its subject is the token's.
                if answer["sub"].as_str() == Some(identity.provider_user_id.as_str()) {
                    identity.email = answer["email"].as_str().map(str::to_string);
                    identity.email_verified =
                        identity.email.is_some() && answer["email_verified"].as_bool() == Some(true);
                    if identity.display_name.is_none() {
                        identity.display_name = answer["name"].as_str().map(str::to_string);
                    }
                }
            }
            Ok(identity)
        })
    }
}
