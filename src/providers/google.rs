//! Google (OpenID Connect). Endpoints are Google's own (each overridable); the ID token says who signed in,
//! and its `email_verified` is a reliable signal. A refresh token is only issued on request
//! (`access_type=offline`), and again only when consent is asked for (`prompt=consent`).
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::config::ProviderSettings;
use super::oauth::{ClientAuth, OAuthClient};
use super::oidc::{Expectations, IssuerCheck, KeySet};
use super::{
    CallbackFields, Endpoints, Facts, Identity, Provider, ProviderError, ProviderFuture, ResponseMode, Revocation,
    TokenSet, url_or,
};

pub struct Google {
    facts: Facts,
    client: OAuthClient,
    endpoints: Endpoints,
    secret: Option<SecretString>,
    keys: KeySet,
    issuer: IssuerCheck,
}

impl Google {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Google> {
        let overrides = &settings.endpoints;
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, "https://accounts.google.com/o/oauth2/v2/auth")?,
            token: url_or(&overrides.token, "https://oauth2.googleapis.com/token")?,
            revocation: Revocation::Standard(url_or(&overrides.revocation, "https://oauth2.googleapis.com/revoke")?),
        };
        let issuer = match &overrides.issuer {
            Some(issuer) => IssuerCheck::OneOf(vec![issuer.clone()]),
            // Google's tokens name it either way.
            None => IssuerCheck::OneOf(vec!["https://accounts.google.com".into(), "accounts.google.com".into()]),
        };
        Ok(Google {
            facts: Facts {
                id: settings.id.clone(),
                aliases: settings.aliases.clone(),
                kind: settings.kind,
                client_auth: ClientAuth::Basic,
                scopes: settings
                    .scopes
                    .clone()
                    .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]),
                pkce: true,
                nonce: true,
                response_mode: ResponseMode::Query,
                authorize_params: vec![("access_type".into(), "offline".into()), ("prompt".into(), "consent".into())],
                issues_refresh_tokens: true,
            },
            client: OAuthClient {
                client_id: settings.client_id.clone(),
                authorize_url: endpoints.authorize.clone(),
                token_url: endpoints.token.clone(),
                auth: ClientAuth::Basic,
                http: http.clone(),
            },
            keys: KeySet::new(url_or(&overrides.jwks, "https://www.googleapis.com/oauth2/v3/certs")?, http),
            endpoints,
            secret: settings.client_secret.clone(),
            issuer,
        })
    }
}

impl Provider for Google {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn client<'a>(&'a self) -> ProviderFuture<'a, (OAuthClient, Endpoints)> {
        Box::pin(async move { Ok((self.client.clone(), self.endpoints.clone())) })
    }

    fn client_secret(&self) -> Result<Option<SecretString>, ProviderError> {
        Ok(self.secret.clone())
    }

    fn identify<'a>(
        &'a self,
        tokens: &'a TokenSet,
        nonce: Option<&'a str>,
        _callback: &'a CallbackFields,
        now: DateTime<Utc>,
    ) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let raw = tokens.id_token.as_deref().ok_or(ProviderError::Identity("Google sent no ID token".into()))?;
            let expect = Expectations {
                client_id: &self.client.client_id,
                client_secret: self.secret.as_ref(),
                issuer: &self.issuer,
                nonce,
                now,
            };
            let claims = self.keys.verify(raw, &expect).await?;
            let verified = claims.email_verified().unwrap_or(false);
            Ok(super::oidc::identity(&claims, claims.subject().as_str().to_string(), verified))
        })
    }
}
