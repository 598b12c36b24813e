//! Discord (plain OAuth 2.0). PKCE is S256 only, with a verifier of at least 43 characters (hauth's are
//! 43). Who signed in comes from `/users/@me`: its `verified` flag is the verified-email signal, and the
//! avatar hash becomes a CDN URL. Each refresh returns a new pair; revoking one token revokes the grant.
use serde::{Deserialize, Serialize};
use url::Url;

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::{
    Adapter, Answer, Endpoints, Facts, Identity, ProviderError, ProviderFuture, Registration, Revocation, url_or,
};

const CDN: &str = "https://cdn.discordapp.com";

pub struct Discord {
    registration: Registration,
    profile_url: Url,
}

#[derive(Deserialize, Serialize)]
struct User {
    id: String,
    username: Option<String>,
    global_name: Option<String>,
    avatar: Option<String>,
    email: Option<String>,
    #[serde(default)]
    verified: bool,
}

impl User {
    /// The avatar's CDN URL (`.gif` for an animated one, whose hash starts with `a_`).
    fn avatar_url(&self) -> Option<String> {
        let hash = self.avatar.as_deref().filter(|hash| !hash.is_empty())?;
        let extension = if hash.starts_with("a_") { "gif" } else { "png" };
        Some(format!("{CDN}/avatars/{}/{hash}.{extension}", self.id))
    }
}

impl Discord {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Discord> {
        let overrides = &settings.endpoints;
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, "https://discord.com/oauth2/authorize")?,
            token: url_or(&overrides.token, "https://discord.com/api/oauth2/token")?,
            revocation: Revocation::Standard(url_or(
                &overrides.revocation,
                "https://discord.com/api/oauth2/token/revoke",
            )?),
        };
        let facts = Facts { nonce: false, ..Facts::standard(settings, ClientAuth::Basic, &["identify", "email"]) };
        Ok(Discord {
            profile_url: url_or(&overrides.user_profile, "https://discord.com/api/v10/users/@me")?,
            registration: Registration::new(settings, facts, endpoints, http),
        })
    }
}

impl Adapter for Discord {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let tokens = answer.tokens;
            let request = self.registration.api_get(&self.profile_url, &tokens.access_token);
            let user: User = super::api_json(request, "Discord's profile").await?;
            if user.id.is_empty() {
                return Err(ProviderError::Identity("Discord's profile has no id".into()));
            }
            Ok(Identity {
                provider_user_id: user.id.clone(),
                email_verified: user.verified && user.email.is_some(),
                email: user.email.clone(),
                email_is_relay: false,
                display_name: user.global_name.clone().or(user.username.clone()),
                avatar_url: user.avatar_url(),
                profile: serde_json::to_value(&user).unwrap_or_default(),
            })
        })
    }
}
