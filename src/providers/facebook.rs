//! Facebook Login (plain OAuth 2.0 on a pinned Graph API version). Who signed in comes from Graph `/me`
//! with the fields asked for; every Graph call carries `appsecret_proof` (HMAC-SHA256 of the access token
//! under the app secret), which apps with "Require App Secret" on must send. Facebook gives no signal that
//! an address is verified, so its email never joins an existing account. There are no refresh tokens.
//! Unlinking withdraws the app's permissions (`DELETE /me/permissions`): Facebook has no RFC 7009 endpoint.
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::{
    Adapter, Answer, Endpoints, Facts, Identity, ProviderError, ProviderFuture, Registration, Revocation, url_or,
};

/// The Graph API version hauth speaks.
const GRAPH: &str = "https://graph.facebook.com/v22.0";

pub struct Facebook {
    registration: Registration,
    profile_url: Url,
    permissions_url: Url,
}

#[derive(Deserialize)]
struct Profile {
    id: String,
    name: Option<String>,
    email: Option<String>,
    picture: Option<Picture>,
}

#[derive(Deserialize)]
struct Picture {
    data: PictureData,
}

#[derive(Deserialize)]
struct PictureData {
    url: Option<String>,
}

impl Facebook {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Facebook> {
        let overrides = &settings.endpoints;
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, "https://www.facebook.com/v22.0/dialog/oauth")?,
            token: url_or(&overrides.token, &format!("{GRAPH}/oauth/access_token"))?,
            revocation: Revocation::None,
        };
        // PKCE belongs to Facebook's OpenID flow, still in testing; the web flow has neither it nor a nonce.
        let facts = Facts { pkce: false, nonce: false, ..Facts::standard(settings, ClientAuth::Post, &["email"]) };
        Ok(Facebook {
            profile_url: url_or(&overrides.user_profile, &format!("{GRAPH}/me"))?,
            permissions_url: url_or(&overrides.revocation, &format!("{GRAPH}/me/permissions"))?,
            registration: Registration::new(settings, facts, endpoints, http),
        })
    }

    /// `appsecret_proof`: proves a Graph call comes from the app's server.
    fn proof(&self, token: &SecretString) -> Result<String, ProviderError> {
        let secret = self.registration.secret.as_ref().ok_or(ProviderError::Unsupported("no app secret".into()))?;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .map_err(|e| ProviderError::Unsupported(format!("app secret: {e}")))?;
        mac.update(token.expose_secret().as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }
}

impl Adapter for Facebook {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let tokens = answer.tokens;
            let proof = self.proof(&tokens.access_token)?;
            let request = self
                .registration
                .api_get(&self.profile_url, &tokens.access_token)
                .query(&[("fields", "id,name,email,picture"), ("appsecret_proof", proof.as_str())]);
            let profile: Profile = super::api_json(request, "Facebook's profile").await?;
            if profile.id.is_empty() {
                return Err(ProviderError::Identity("Facebook's profile has no id".into()));
            }
            let avatar_url = profile.picture.as_ref().and_then(|picture| picture.data.url.clone());
            Ok(Identity {
                provider_user_id: profile.id.clone(),
                email: profile.email.clone(),
                // Facebook says nothing about whether the address was verified.
                email_verified: false,
                email_is_relay: false,
                display_name: profile.name.clone(),
                avatar_url: avatar_url.clone(),
                profile: serde_json::json!({
                    "id": profile.id, "name": profile.name, "email": profile.email, "picture": avatar_url,
                }),
            })
        })
    }

    fn revoke<'a>(&'a self, token: &'a SecretString) -> ProviderFuture<'a, ()> {
        Box::pin(async move {
            let proof = self.proof(token)?;
            let answer = self
                .registration
                .client
                .http
                .delete(self.permissions_url.clone())
                .query(&[("appsecret_proof", proof.as_str())])
                .bearer_auth(token.expose_secret())
                .send()
                .await;
            super::oauth::revocation_answer(answer)
        })
    }
}
