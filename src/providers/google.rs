//! Google (OpenID Connect). Endpoints are Google's own (each overridable); the ID token says who signed in,
//! and its `email_verified` is a reliable signal. A refresh token is only issued on request
//! (`access_type=offline`), and again only when consent is asked for (`prompt=consent`). Apps signing in
//! with Google's SDKs post the ID token they got (`/signin/idtoken`): it may be issued to the web client id
//! or to one of the apps' ids (its audience setting).

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::oidc::{Claims, IssuerCheck, KeySet};
use super::{
    Adapter, Answer, Endpoints, Facts, Identity, NativeToken, ProviderError, ProviderFuture, Registration, Revocation,
    url_or,
};

pub struct Google {
    registration: Registration,
    keys: KeySet,
    issuer: IssuerCheck,
    /// Who ID tokens from apps may be issued to: the client id and the apps' ids.
    native_audiences: Vec<String>,
}

/// Who signed in, from verified claims.
fn identity(claims: &Claims) -> Identity {
    let verified = claims.email_verified().unwrap_or(false);
    super::oidc::identity(claims, claims.subject().as_str().to_string(), verified)
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
        let facts = Facts {
            authorize_params: vec![("access_type".into(), "offline".into()), ("prompt".into(), "consent".into())],
            ..Facts::standard(settings, ClientAuth::Basic, &["openid", "email", "profile"])
        };
        Ok(Google {
            keys: KeySet::new(url_or(&overrides.jwks, "https://www.googleapis.com/oauth2/v3/certs")?, http.clone()),
            registration: Registration::new(settings, facts, endpoints, http),
            issuer,
            native_audiences: std::iter::once(settings.client_id.clone()).chain(settings.audience.clone()).collect(),
        })
    }
}

impl Adapter for Google {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let Answer { tokens, nonce, now, .. } = answer;
            let raw = tokens.id_token.as_deref().ok_or(ProviderError::Identity("Google sent no ID token".into()))?;
            let claims = self.keys.verify(raw, &self.registration.expectations(&self.issuer, nonce, now)).await?;
            Ok(identity(&claims))
        })
    }

    fn identify_id_token<'a>(&'a self, token: NativeToken<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            Ok(identity(&super::native_claims(&self.keys, &self.native_audiences, &self.issuer, token).await?))
        })
    }
}
