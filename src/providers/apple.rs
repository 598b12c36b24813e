//! Sign in with Apple (OpenID Connect without discovery). Three things set it apart: the client secret is
//! an ES256 JWT hauth signs with the team's key (a fresh one, valid five minutes, for every request); asking
//! for any scope requires `response_mode=form_post`, so the callback is a cross-site form `POST`; and the
//! user's name comes only once, in the `user` field of that first callback. The ID token's email is always
//! verified (as the string `"true"`), but may be a private relay address, which never joins an existing
//! account. Refreshing returns no new refresh token. Apps using Sign in with Apple on a device post the ID
//! token they got (`/signin/idtoken`); it is issued to the app's bundle id (its audience setting)
//! or to the Services ID.
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::config::{AppleKey, ProviderSettings};
use super::oauth::ClientAuth;
use super::oidc::{Claims, IssuerCheck, KeySet};
use super::{
    Adapter, Answer, CallbackFields, Endpoints, Facts, Identity, NativeToken, ProviderError, ProviderFuture,
    Registration, ResponseMode, Revocation, url_or,
};

const APPLE: &str = "https://appleid.apple.com";
/// How long a client secret hauth signs is valid (Apple accepts up to six months).
const SECRET_LIFETIME_SECONDS: i64 = 300;

pub struct Apple {
    registration: Registration,
    key: AppleKey,
    signing_key: EncodingKey,
    keys: KeySet,
    issuer: IssuerCheck,
    /// Who ID tokens from apps may be issued to: the Services ID and the apps' bundle ids.
    native_audiences: Vec<String>,
}

#[derive(Serialize)]
struct ClientSecretClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

impl Apple {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Apple> {
        let overrides = &settings.endpoints;
        let key = settings.apple.clone().ok_or_else(|| anyhow::anyhow!("Apple needs its team id, key id and key"))?;
        let signing_key = EncodingKey::from_ec_pem(key.private_key.expose_secret().as_bytes())
            .map_err(|e| anyhow::anyhow!("the Apple private key is not a P-256 key in PEM: {e}"))?;
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, &format!("{APPLE}/auth/authorize"))?,
            token: url_or(&overrides.token, &format!("{APPLE}/auth/token"))?,
            revocation: Revocation::Standard(url_or(&overrides.revocation, &format!("{APPLE}/auth/revoke"))?),
        };
        let facts = Facts {
            // Apple documents no PKCE; the nonce protects the code instead. Asking for any scope requires
            // the answer as a form post.
            pkce: false,
            response_mode: ResponseMode::FormPost,
            ..Facts::standard(settings, ClientAuth::Post, &["name", "email"])
        };
        Ok(Apple {
            keys: KeySet::new(url_or(&overrides.jwks, &format!("{APPLE}/auth/keys"))?, http.clone()),
            issuer: IssuerCheck::OneOf(vec![overrides.issuer.clone().unwrap_or_else(|| APPLE.to_string())]),
            registration: Registration::new(settings, facts, endpoints, http),
            native_audiences: std::iter::once(settings.client_id.clone()).chain(settings.audience.clone()).collect(),
            key,
            signing_key,
        })
    }
}

/// The name in the one-time `user` field of Apple's first callback.
fn first_callback_name(callback: &CallbackFields) -> Option<String> {
    let user: serde_json::Value = serde_json::from_str(callback.get("user")?).ok()?;
    let name = &user["name"];
    let parts: Vec<&str> = [name["firstName"].as_str(), name["lastName"].as_str()]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Who signed in, from verified claims: the address is verified, but a private relay never joins an account.
fn identity(claims: &Claims) -> Identity {
    let relay = match claims.additional_claims().values.get("is_private_email") {
        Some(serde_json::Value::Bool(flag)) => *flag,
        Some(serde_json::Value::String(flag)) => flag == "true",
        _ => false,
    } || claims.email().is_some_and(|email| email.as_str().ends_with("@privaterelay.appleid.com"));
    let mut identity =
        super::oidc::identity(claims, claims.subject().as_str().to_string(), claims.email_verified().unwrap_or(false));
    identity.email_is_relay = relay;
    identity
}

impl Adapter for Apple {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn client_secret(&self) -> Result<Option<SecretString>, ProviderError> {
        let now = Utc::now().timestamp();
        let claims = ClientSecretClaims {
            iss: &self.key.team_id,
            sub: &self.registration.client.client_id,
            aud: APPLE,
            iat: now,
            exp: now + SECRET_LIFETIME_SECONDS,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key.key_id.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing_key)
            .map(|secret| Some(SecretString::from(secret)))
            .map_err(|e| ProviderError::Unsupported(format!("cannot sign the Apple client secret: {e}")))
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let Answer { tokens, nonce, fields: callback, now } = answer;
            let raw = tokens.id_token.as_deref().ok_or(ProviderError::Identity("Apple sent no ID token".into()))?;
            // Apple signs its ID tokens with its own keys, never with the (signed) client secret.
            let expect = super::oidc::Expectations {
                client_secret: None,
                ..self.registration.expectations(&self.issuer, nonce, now)
            };
            let claims = self.keys.verify(raw, &expect).await?;
            let mut identity = identity(&claims);
            if identity.display_name.is_none() {
                identity.display_name = first_callback_name(callback);
            }
            Ok(identity)
        })
    }

    fn identify_id_token<'a>(&'a self, token: NativeToken<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            Ok(identity(&super::native_claims(&self.keys, &self.native_audiences, &self.issuer, token).await?))
        })
    }
}
