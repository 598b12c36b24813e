//! Spotify (plain OAuth 2.0, HTTP Basic client authentication). A confidential client sends its secret and
//! no PKCE verifier. Spotify's address is unverified by its own account, so it never joins an existing
//! account. A refresh may or may not return a new refresh token (the old one is kept when none comes), and
//! Spotify has no revocation endpoint.
use serde::{Deserialize, Serialize};
use url::Url;

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::{
    Adapter, Answer, Endpoints, Facts, Identity, ProviderError, ProviderFuture, Registration, Revocation, url_or,
};

pub struct Spotify {
    registration: Registration,
    profile_url: Url,
}

#[derive(Deserialize, Serialize)]
struct User {
    id: String,
    display_name: Option<String>,
    email: Option<String>,
    #[serde(default)]
    images: Vec<Image>,
}

#[derive(Deserialize, Serialize)]
struct Image {
    url: String,
    height: Option<u32>,
    width: Option<u32>,
}

impl Spotify {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Spotify> {
        let overrides = &settings.endpoints;
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, "https://accounts.spotify.com/authorize")?,
            token: url_or(&overrides.token, "https://accounts.spotify.com/api/token")?,
            revocation: Revocation::None,
        };
        let facts =
            Facts { pkce: false, nonce: false, ..Facts::standard(settings, ClientAuth::Basic, &["user-read-email"]) };
        Ok(Spotify {
            profile_url: url_or(&overrides.user_profile, "https://api.spotify.com/v1/me")?,
            registration: Registration::new(settings, facts, endpoints, http),
        })
    }
}

impl Adapter for Spotify {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let tokens = answer.tokens;
            let request = self.registration.api_get(&self.profile_url, &tokens.access_token);
            let user: User = super::api_json(request, "Spotify's profile").await?;
            if user.id.is_empty() {
                return Err(ProviderError::Identity("Spotify's profile has no id".into()));
            }
            let largest = user
                .images
                .iter()
                .max_by_key(|image| u64::from(image.width.unwrap_or(0)) * u64::from(image.height.unwrap_or(0)));
            Ok(Identity {
                provider_user_id: user.id.clone(),
                email: user.email.clone(),
                // Spotify does not verify addresses.
                email_verified: false,
                email_is_relay: false,
                display_name: user.display_name.clone(),
                avatar_url: largest.map(|image| image.url.clone()),
                profile: serde_json::to_value(&user).unwrap_or_default(),
            })
        })
    }
}
