//! Sign in with Slack (OpenID Connect). Slack users exist per workspace, so an identity is the pair
//! `<team id>-<user id>`. Slack answers errors with HTTP 200 and `ok: false` (read as refusals by
//! `oauth`). Access tokens never expire unless the app turned token rotation on; then each refresh returns
//! the next refresh token. Unlinking calls the Web API's `auth.revoke` with the token itself.
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::oidc::{IssuerCheck, KeySet};
use super::{
    Adapter, Answer, Endpoints, Facts, Identity, ProviderError, ProviderFuture, Registration, Revocation, url_or,
};

pub struct Slack {
    registration: Registration,
    keys: KeySet,
    issuer: IssuerCheck,
    revocation_url: Url,
}

impl Slack {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Slack> {
        let overrides = &settings.endpoints;
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, "https://slack.com/openid/connect/authorize")?,
            token: url_or(&overrides.token, "https://slack.com/api/openid.connect.token")?,
            revocation: Revocation::None,
        };
        // Slack's discovery lists no PKCE method.
        let facts =
            Facts { pkce: false, ..Facts::standard(settings, ClientAuth::Post, &["openid", "email", "profile"]) };
        let issuer = overrides.issuer.clone().unwrap_or_else(|| "https://slack.com".into());
        Ok(Slack {
            keys: KeySet::new(url_or(&overrides.jwks, "https://slack.com/openid/connect/keys")?, http.clone()),
            revocation_url: url_or(&overrides.revocation, "https://slack.com/api/auth.revoke")?,
            registration: Registration::new(settings, facts, endpoints, http),
            issuer: IssuerCheck::OneOf(vec![issuer]),
        })
    }
}

impl Adapter for Slack {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let claims = super::id_token_claims(&self.keys, &self.registration, &self.issuer, &answer).await?;
            let team = super::extra_claim(&claims, "https://slack.com/team_id")
                .ok_or(ProviderError::Identity("Slack's ID token names no workspace".into()))?;
            let user = super::extra_claim(&claims, "https://slack.com/user_id").unwrap_or(claims.subject().as_str());
            let verified = claims.email_verified().unwrap_or(false);
            Ok(super::oidc::identity(&claims, format!("{team}-{user}"), verified))
        })
    }

    fn revoke<'a>(&'a self, token: &'a SecretString) -> ProviderFuture<'a, ()> {
        Box::pin(async move {
            let request =
                self.registration.client.http.post(self.revocation_url.clone()).bearer_auth(token.expose_secret());
            // HTTP 200 either way; `ok` says whether the token was revoked.
            let answer: serde_json::Value = super::api_json(request, "Slack's auth.revoke")
                .await
                .map_err(|e| ProviderError::Unavailable { detail: e.to_string(), status: None, retry_after: None })?;
            match answer.get("ok").and_then(serde_json::Value::as_bool) {
                Some(true) => Ok(()),
                // Already revoked or gone: nothing is left to revoke.
                _ if matches!(
                    answer.get("error").and_then(serde_json::Value::as_str),
                    Some("invalid_auth" | "token_revoked" | "account_inactive")
                ) =>
                {
                    Ok(())
                }
                _ => Err(ProviderError::Unavailable {
                    detail: format!("Slack's auth.revoke refused: {answer}"),
                    status: Some(200),
                    retry_after: None,
                }),
            }
        })
    }
}
