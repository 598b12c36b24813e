//! Twitch (OpenID Connect, with the Helix API for the profile). The client authenticates in the body only;
//! Twitch has no PKCE. The ID token's claims are asked for with the `claims` parameter; the profile comes
//! from Helix, which wants the `Client-Id` header besides the token, and whose `email` is the user's
//! verified address. Twitch's token answer lists scopes as a JSON array (read by `oauth`); each refresh
//! returns the next refresh token. Revocation takes the client id and the token, no secret.
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::oidc::{IssuerCheck, KeySet};
use super::{
    Adapter, Answer, Endpoints, Facts, Identity, ProviderError, ProviderFuture, Registration, Revocation, url_or,
};

/// The ID-token claims hauth asks Twitch for.
const CLAIMS: &str = r#"{"id_token":{"email":null,"email_verified":null,"picture":null,"preferred_username":null}}"#;

pub struct Twitch {
    registration: Registration,
    keys: KeySet,
    issuer: IssuerCheck,
    users_url: Url,
    revocation_url: Url,
}

#[derive(Deserialize)]
struct Users {
    data: Vec<User>,
}

#[derive(Deserialize, Serialize)]
struct User {
    id: String,
    login: Option<String>,
    display_name: Option<String>,
    profile_image_url: Option<String>,
    email: Option<String>,
}

impl Twitch {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Twitch> {
        let overrides = &settings.endpoints;
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, "https://id.twitch.tv/oauth2/authorize")?,
            token: url_or(&overrides.token, "https://id.twitch.tv/oauth2/token")?,
            revocation: Revocation::None,
        };
        let facts = Facts {
            pkce: false,
            authorize_params: vec![("claims".into(), CLAIMS.into())],
            ..Facts::standard(settings, ClientAuth::Post, &["openid", "user:read:email"])
        };
        let issuer = overrides.issuer.clone().unwrap_or_else(|| "https://id.twitch.tv/oauth2".into());
        Ok(Twitch {
            keys: KeySet::new(url_or(&overrides.jwks, "https://id.twitch.tv/oauth2/keys")?, http.clone()),
            users_url: url_or(&overrides.user_profile, "https://api.twitch.tv/helix/users")?,
            revocation_url: url_or(&overrides.revocation, "https://id.twitch.tv/oauth2/revoke")?,
            registration: Registration::new(settings, facts, endpoints, http),
            issuer: IssuerCheck::OneOf(vec![issuer]),
        })
    }
}

impl Adapter for Twitch {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let tokens = answer.tokens;
            let claims = super::id_token_claims(&self.keys, &self.registration, &self.issuer, &answer).await?;
            let client_id = &self.registration.client.client_id;
            let request =
                self.registration.api_get(&self.users_url, &tokens.access_token).header("Client-Id", client_id);
            let Users { data } = super::api_json(request, "Twitch's Helix users").await?;
            let subject = claims.subject().as_str();
            let user = data
                .into_iter()
                .find(|user| user.id == subject)
                .ok_or(ProviderError::Identity("Helix does not know the ID token's user".into()))?;
            let mut identity = super::oidc::identity(&claims, user.id.clone(), claims.email_verified() == Some(true));
            if identity.email.is_none() && user.email.is_some() {
                // Helix gives only the verified address.
                identity.email = user.email.clone();
                identity.email_verified = true;
            }
            identity.display_name = user.display_name.clone().or(user.login.clone()).or(identity.display_name);
            identity.avatar_url = user.profile_image_url.clone().or(identity.avatar_url);
            identity.profile = serde_json::json!({"id_token": identity.profile, "helix": user});
            Ok(identity)
        })
    }

    fn revoke<'a>(&'a self, token: &'a SecretString) -> ProviderFuture<'a, ()> {
        Box::pin(async move {
            let client = &self.registration.client;
            let form = [("client_id", client.client_id.as_str()), ("token", token.expose_secret())];
            let answer = client.http.post(self.revocation_url.clone()).form(&form).send().await;
            super::oauth::revocation_answer(answer)
        })
    }
}
