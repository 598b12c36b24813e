//! LinkedIn ("Sign In with LinkedIn using OpenID Connect"). The client authenticates in the body only, and
//! must not send a PKCE verifier: LinkedIn refuses web apps that do. Its ID tokens do not echo a nonce, so
//! none is sent. `email_verified` often arrives as the string `"true"`, which counts. Its token answer joins
//! scopes with commas (read by `oauth`). Ordinary apps get no refresh token.

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::oidc::{IssuerCheck, KeySet};
use super::{Adapter, Answer, Endpoints, Facts, Identity, ProviderFuture, Registration, Revocation, url_or};

pub struct Linkedin {
    registration: Registration,
    keys: KeySet,
    issuer: IssuerCheck,
}

impl Linkedin {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Linkedin> {
        let overrides = &settings.endpoints;
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, "https://www.linkedin.com/oauth/v2/authorization")?,
            token: url_or(&overrides.token, "https://www.linkedin.com/oauth/v2/accessToken")?,
            revocation: Revocation::Standard(url_or(
                &overrides.revocation,
                "https://www.linkedin.com/oauth/v2/revoke",
            )?),
        };
        let facts = Facts {
            pkce: false,
            nonce: false,
            ..Facts::standard(settings, ClientAuth::Post, &["openid", "profile", "email"])
        };
        let issuer = overrides.issuer.clone().unwrap_or_else(|| "https://www.linkedin.com/oauth".into());
        Ok(Linkedin {
            keys: KeySet::new(url_or(&overrides.jwks, "https://www.linkedin.com/oauth/openid/jwks")?, http.clone()),
            registration: Registration::new(settings, facts, endpoints, http),
            issuer: IssuerCheck::OneOf(vec![issuer]),
        })
    }
}

impl Adapter for Linkedin {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let claims =
                super::id_token_claims(&self.keys, &self.registration, &self.issuer, &Answer { nonce: None, ..answer })
                    .await?;
            let verified = claims.email_verified().unwrap_or(false);
            Ok(super::oidc::identity(&claims, claims.subject().as_str().to_string(), verified))
        })
    }
}
