//! Bitbucket Cloud (plain OAuth 2.0, HTTP Basic client authentication, no PKCE). Who signed in comes from
//! `/2.0/user` (its `uuid`), and the address from `/2.0/user/emails`: only the primary, confirmed one
//! counts as verified. Bitbucket rotates refresh tokens and has no revocation endpoint.
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::{
    Adapter, Answer, Endpoints, Facts, Identity, ProviderError, ProviderFuture, Registration, Revocation, url_or,
};

pub struct Bitbucket {
    registration: Registration,
    user_url: Url,
    emails_url: Url,
}

#[derive(Deserialize)]
struct User {
    uuid: String,
    display_name: Option<String>,
    username: Option<String>,
    links: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Emails {
    values: Vec<Email>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    is_primary: bool,
    #[serde(default)]
    is_confirmed: bool,
}

impl Bitbucket {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Bitbucket> {
        let overrides = &settings.endpoints;
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, "https://bitbucket.org/site/oauth2/authorize")?,
            token: url_or(&overrides.token, "https://bitbucket.org/site/oauth2/access_token")?,
            revocation: Revocation::None,
        };
        let facts =
            Facts { pkce: false, nonce: false, ..Facts::standard(settings, ClientAuth::Basic, &["account", "email"]) };
        Ok(Bitbucket {
            user_url: url_or(&overrides.user_profile, "https://api.bitbucket.org/2.0/user")?,
            emails_url: url_or(&overrides.user_emails, "https://api.bitbucket.org/2.0/user/emails")?,
            registration: Registration::new(settings, facts, endpoints, http),
        })
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, url: &Url, token: &SecretString) -> Result<T, ProviderError> {
        let request = self.registration.api_get(url, token);
        super::api_json(request, &format!("Bitbucket API {url}")).await
    }
}

impl Adapter for Bitbucket {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let tokens = answer.tokens;
            let user: User = self.get(&self.user_url, &tokens.access_token).await?;
            if user.uuid.is_empty() {
                return Err(ProviderError::Identity("Bitbucket's profile has no uuid".into()));
            }
            let Emails { values } = self.get(&self.emails_url, &tokens.access_token).await?;
            let confirmed = values.iter().find(|email| email.is_primary && email.is_confirmed);
            let avatar_url = user
                .links
                .as_ref()
                .and_then(|links| links.pointer("/avatar/href"))
                .and_then(|href| href.as_str())
                .map(str::to_string);
            Ok(Identity {
                provider_user_id: user.uuid.clone(),
                email: confirmed.map(|email| email.email.clone()),
                email_verified: confirmed.is_some(),
                email_is_relay: false,
                display_name: user.display_name.clone().or(user.username.clone()),
                avatar_url: avatar_url.clone(),
                profile: serde_json::json!({
                    "uuid": user.uuid, "display_name": user.display_name, "username": user.username,
                    "avatar": avatar_url,
                }),
            })
        })
    }
}
