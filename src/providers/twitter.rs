//! X (Twitter), OAuth 2.0 user context; reached as `twitter` or `x`. X requires PKCE, and a confidential
//! client must authenticate with HTTP Basic. Who signed in comes from `/2/users/me`; the address comes only
//! with the `users.email` scope, as `confirmed_email`, which X returns only once confirmed. Refresh tokens
//! (with `offline.access`) are single-use: each refresh returns the next one.
use serde::Deserialize;
use url::Url;

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::{
    Adapter, Answer, Endpoints, Facts, Identity, ProviderError, ProviderFuture, Registration, Revocation, url_or,
};

pub struct Twitter {
    registration: Registration,
    profile_url: Url,
}

#[derive(Deserialize)]
struct Me {
    data: User,
}

#[derive(Deserialize, serde::Serialize)]
struct User {
    id: String,
    name: Option<String>,
    username: Option<String>,
    profile_image_url: Option<String>,
    confirmed_email: Option<String>,
}

impl Twitter {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Twitter> {
        let overrides = &settings.endpoints;
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, "https://x.com/i/oauth2/authorize")?,
            token: url_or(&overrides.token, "https://api.x.com/2/oauth2/token")?,
            revocation: Revocation::Standard(url_or(&overrides.revocation, "https://api.x.com/2/oauth2/revoke")?),
        };
        let scopes = ["users.read", "tweet.read", "users.email", "offline.access"];
        let facts = Facts { nonce: false, ..Facts::standard(settings, ClientAuth::Basic, &scopes) };
        Ok(Twitter {
            profile_url: url_or(&overrides.user_profile, "https://api.x.com/2/users/me")?,
            registration: Registration::new(settings, facts, endpoints, http),
        })
    }
}

impl Adapter for Twitter {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let tokens = answer.tokens;
            let request = self
                .registration
                .api_get(&self.profile_url, &tokens.access_token)
                .query(&[("user.fields", "profile_image_url,confirmed_email")]);
            let Me { data: user } = super::api_json(request, "X's profile").await?;
            if user.id.is_empty() {
                return Err(ProviderError::Identity("X's profile has no id".into()));
            }
            Ok(Identity {
                provider_user_id: user.id.clone(),
                email_verified: user.confirmed_email.is_some(),
                email: user.confirmed_email.clone(),
                email_is_relay: false,
                display_name: user.name.clone().or(user.username.clone()),
                avatar_url: user.profile_image_url.clone(),
                profile: serde_json::to_value(&user).unwrap_or_default(),
            })
        })
    }
}
