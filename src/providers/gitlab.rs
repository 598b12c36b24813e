//! GitLab (OpenID Connect), gitlab.com or a self-managed instance by its base URL, from which every endpoint
//! and the issuer derive. The ID token says who signed in and whether the address is verified; the userinfo
//! endpoint adds the name and avatar. A refresh invalidates the previous access and refresh tokens.
use serde::Deserialize;
use url::Url;

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::oidc::{IssuerCheck, KeySet};
use super::{Adapter, Answer, Endpoints, Facts, Identity, ProviderFuture, Registration, Revocation, url_or};

pub struct Gitlab {
    registration: Registration,
    keys: KeySet,
    issuer: IssuerCheck,
    userinfo_url: Url,
}

#[derive(Deserialize)]
struct Userinfo {
    name: Option<String>,
    nickname: Option<String>,
    picture: Option<String>,
}

impl Gitlab {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Gitlab> {
        let overrides = &settings.endpoints;
        let base = match &overrides.base {
            Some(base) => base.as_str().trim_end_matches('/').to_string(),
            None => "https://gitlab.com".to_string(),
        };
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, &format!("{base}/oauth/authorize"))?,
            token: url_or(&overrides.token, &format!("{base}/oauth/token"))?,
            revocation: Revocation::Standard(url_or(&overrides.revocation, &format!("{base}/oauth/revoke"))?),
        };
        let facts = Facts::standard(settings, ClientAuth::Basic, &["openid", "email", "profile"]);
        Ok(Gitlab {
            keys: KeySet::new(url_or(&overrides.jwks, &format!("{base}/oauth/discovery/keys"))?, http.clone()),
            userinfo_url: url_or(&overrides.user_profile, &format!("{base}/oauth/userinfo"))?,
            registration: Registration::new(settings, facts, endpoints, http),
            issuer: IssuerCheck::OneOf(vec![overrides.issuer.clone().unwrap_or(base)]),
        })
    }
}

impl Adapter for Gitlab {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let tokens = answer.tokens;
            let claims = super::id_token_claims(&self.keys, &self.registration, &self.issuer, &answer).await?;
            let mut identity = super::oidc::identity(
                &claims,
                claims.subject().as_str().to_string(),
                claims.email_verified().unwrap_or(false),
            );
            let request = self.registration.api_get(&self.userinfo_url, &tokens.access_token);
            let userinfo: Userinfo = super::api_json(request, "GitLab's userinfo").await?;
            identity.display_name = userinfo.name.or(userinfo.nickname).or(identity.display_name);
            identity.avatar_url = userinfo.picture.or(identity.avatar_url);
            Ok(identity)
        })
    }
}
