//! GitHub (plain OAuth 2.0, github.com or a GitHub Enterprise Server by its base URL). Who signed in comes from
//! the REST API: `/user` for the id (a number, kept as text), login, name and avatar, and `/user/emails` for
//! the address: only the primary one GitHub marks verified counts as verified. GitHub answers token errors
//! with HTTP 200 (read as refusals by `oauth`), and its API refuses requests without a `User-Agent`.
//! Revocation is GitHub's own: `DELETE /applications/{client_id}/token` with the client's credentials.
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::{
    Adapter, Answer, Endpoints, Facts, Identity, ProviderError, ProviderFuture, Registration, Revocation, url_or,
};

pub struct Github {
    registration: Registration,
    user_url: Url,
    emails_url: Url,
    revocation_url: Url,
}

#[derive(Deserialize)]
struct GithubUser {
    id: serde_json::Value,
    login: Option<String>,
    name: Option<String>,
    email: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

impl Github {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Github> {
        let overrides = &settings.endpoints;
        // A GitHub Enterprise Server serves the web flow under its base URL and the API under `/api/v3`.
        let (web, api) = match &overrides.base {
            Some(base) => {
                let base = base.as_str().trim_end_matches('/');
                (base.to_string(), format!("{base}/api/v3"))
            }
            None => ("https://github.com".to_string(), "https://api.github.com".to_string()),
        };
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, &format!("{web}/login/oauth/authorize"))?,
            token: url_or(&overrides.token, &format!("{web}/login/oauth/access_token"))?,
            // GitHub's revocation is not RFC 7009; `revoke` below does it.
            revocation: Revocation::None,
        };
        let revocation_url =
            url_or(&overrides.revocation, &format!("{api}/applications/{}/token", settings.client_id))?;
        let facts = Facts {
            // GitHub is no OpenID provider. Its PKCE support (S256) dates from 2025; only GitHub Apps with
            // expiring tokens issue refresh tokens (OAuth App tokens never expire).
            nonce: false,
            ..Facts::standard(settings, ClientAuth::Post, &["read:user", "user:email"])
        };
        Ok(Github {
            user_url: url_or(&overrides.user_profile, &format!("{api}/user"))?,
            emails_url: url_or(&overrides.user_emails, &format!("{api}/user/emails"))?,
            revocation_url,
            registration: Registration::new(settings, facts, endpoints, http),
        })
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, url: &Url, token: &SecretString) -> Result<T, ProviderError> {
        let request =
            self.registration.api_get(url, token).header(reqwest::header::ACCEPT, "application/vnd.github+json");
        super::api_json(request, &format!("GitHub API {url}")).await
    }
}

impl Adapter for Github {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let tokens = answer.tokens;
            let user: GithubUser = self.get(&self.user_url, &tokens.access_token).await?;
            let id = match &user.id {
                serde_json::Value::Number(id) => id.to_string(),
                serde_json::Value::String(id) if !id.is_empty() => id.clone(),
                _ => return Err(ProviderError::Identity("GitHub's profile has no id".into())),
            };
            let emails: Vec<GithubEmail> = self.get(&self.emails_url, &tokens.access_token).await?;
            let verified = emails.iter().find(|email| email.primary && email.verified);
            let (email, email_verified) = match verified {
                Some(primary) => (Some(primary.email.clone()), true),
                None => (user.email.clone(), false),
            };
            let profile = serde_json::json!({
                "id": user.id, "login": user.login, "name": user.name, "email": user.email, "avatar_url": user.avatar_url,
            });
            Ok(Identity {
                provider_user_id: id,
                email,
                email_verified,
                email_is_relay: false,
                display_name: user.name.clone().or(user.login.clone()),
                avatar_url: user.avatar_url.clone(),
                profile,
            })
        })
    }

    fn revoke<'a>(&'a self, token: &'a SecretString) -> ProviderFuture<'a, ()> {
        Box::pin(async move {
            let registration = &self.registration;
            let secret = registration.secret.as_ref().map(|secret| secret.expose_secret());
            let answer = registration
                .client
                .http
                .delete(self.revocation_url.clone())
                .basic_auth(&registration.client.client_id, secret)
                .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                .json(&serde_json::json!({"access_token": token.expose_secret()}))
                .send()
                .await;
            super::oauth::revocation_answer(answer)
        })
    }
}
