//! OpenID Connect through the `openidconnect` crate: discovery of an issuer's endpoints and signing keys,
//! and the verification of ID tokens (signature through the issuer's keys, issuer, audience, expiry, nonce).
//! Keys are fetched once and again, once, when a token names a key not seen before (the issuer rotated).
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGenderClaim, CoreGrantType,
    CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, ClaimsVerificationError, ClientId, ClientSecret, IdTokenClaims,
    IdTokenVerifier, IssuerUrl, JsonWebKeySetUrl, Nonce, ProviderMetadata, SignatureVerificationError,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;
use url::Url;

use super::ProviderError;

/// Claims beyond the standard ones (Microsoft's `tid`, `oid`, `xms_edov`; Apple's `is_private_email`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ExtraClaims {
    #[serde(flatten)]
    pub values: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for ExtraClaims {}

pub type IdToken =
    openidconnect::IdToken<ExtraClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
pub type Claims = IdTokenClaims<ExtraClaims, CoreGenderClaim>;

/// What discovery reads beyond the core: the revocation endpoint (RFC 7009).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RevocationMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<Url>,
}

impl AdditionalProviderMetadata for RevocationMetadata {}

pub type Metadata = ProviderMetadata<
    RevocationMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Discovers an issuer: its endpoints and keys. The issuer in the document must be the one asked for.
pub async fn discover(issuer: &str, http: &reqwest::Client) -> Result<Metadata, ProviderError> {
    let issuer = IssuerUrl::new(issuer.to_string()).map_err(|e| ProviderError::Unsupported(format!("issuer: {e}")))?;
    Metadata::discover_async(issuer, http).await.map_err(|e| ProviderError::Unavailable {
        detail: format!("discovery failed: {e}"),
        status: None,
        retry_after: None,
    })
}

/// How a token's issuer is checked.
#[derive(Debug, Clone)]
pub enum IssuerCheck {
    /// The `iss` claim must be one of these.
    OneOf(Vec<String>),
    /// Microsoft: `{tenantid}` in the template is filled from the token's `tid` claim first.
    Tenant(String),
}

/// What an ID token must say.
pub struct Expectations<'a> {
    pub client_id: &'a str,
    /// For tokens signed with the client secret (HS256); the asymmetric keys otherwise.
    pub client_secret: Option<&'a SecretString>,
    pub issuer: &'a IssuerCheck,
    /// The nonce sent with the authorization request (`None`: a token from a refresh, which carries none).
    pub nonce: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// An issuer's signing keys, cached.
pub struct KeySet {
    url: Url,
    http: reqwest::Client,
    cached: RwLock<Option<CoreJsonWebKeySet>>,
}

impl KeySet {
    pub fn new(url: Url, http: reqwest::Client) -> Self {
        KeySet { url, http, cached: RwLock::new(None) }
    }

    /// Keys already known (from discovery), so the first token needs no fetch.
    pub fn with_keys(url: Url, http: reqwest::Client, keys: CoreJsonWebKeySet) -> Self {
        KeySet { url, http, cached: RwLock::new(Some(keys)) }
    }

    async fn fetch(&self) -> Result<CoreJsonWebKeySet, ProviderError> {
        let keys = CoreJsonWebKeySet::fetch_async(&JsonWebKeySetUrl::from_url(self.url.clone()), &self.http)
            .await
            .map_err(|e| ProviderError::Unavailable {
                detail: format!("cannot fetch the signing keys: {e}"),
                status: None,
                retry_after: None,
            })?;
        *self.cached.write().await = Some(keys.clone());
        Ok(keys)
    }

    /// Verifies an ID token and returns its claims.
    pub async fn verify(&self, raw: &str, expect: &Expectations<'_>) -> Result<Claims, ProviderError> {
        self.verify_by(raw, |token, keys| verify_with(token, keys, expect)).await
    }

    /// Verifies an ID token an app got from the provider's SDK on a device, and returns its claims.
    pub async fn verify_native(&self, raw: &str, expect: &NativeExpectations<'_>) -> Result<Claims, ProviderError> {
        self.verify_by(raw, |token, keys| verify_native_with(token, keys, expect)).await
    }

    /// Parses the token and checks it with the cached keys, fetching them first when none are cached and once
    /// more when the token names a key not among them.
    async fn verify_by(
        &self,
        raw: &str,
        check: impl Fn(&IdToken, CoreJsonWebKeySet) -> Result<Claims, ClaimsVerificationError>,
    ) -> Result<Claims, ProviderError> {
        let token: IdToken =
            raw.parse().map_err(|e| ProviderError::Identity(format!("the ID token is not a signed JWT: {e}")))?;
        // The read guard must be gone before `fetch` takes the write lock.
        let cached = self.cached.read().await.clone();
        let keys = match cached {
            Some(keys) => keys,
            None => self.fetch().await?,
        };
        match check(&token, keys) {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                // The issuer may have rotated its keys since they were fetched: fetch once more.
                let keys = self.fetch().await?;
                check(&token, keys).map_err(refusal)
            }
            other => other.map_err(refusal),
        }
    }
}

/// What an ID token from a platform SDK on a device (Sign in with Apple on iOS, Google's SDKs) must say.
pub struct NativeExpectations<'a> {
    /// The client ids the token may be issued to: the web client id and the apps' bundle or package ids.
    pub audiences: &'a [String],
    pub issuer: &'a IssuerCheck,
    /// The raw nonce the app generated; the token carries its SHA-256, in hex.
    pub nonce: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// The `nonce` claim a platform SDK puts in the token for the raw nonce an app generated.
pub fn native_nonce_claim(raw_nonce: &str) -> String {
    hex::encode(Sha256::digest(raw_nonce.as_bytes()))
}

/// The nonce rule of native sign-in: a token carries the SHA-256 of the raw nonce the app sent, or no nonce
/// when the app sent none. Sending the claim's own value proves nothing (it is in the token) and fails.
fn native_nonce_matches(claim: Option<&Nonce>, raw_nonce: Option<&str>) -> Result<(), String> {
    match (claim, raw_nonce) {
        (None, None) => Ok(()),
        (Some(claim), Some(raw)) => {
            // The claim is public (it is in the token): a plain comparison leaks nothing.
            if *claim.secret() == native_nonce_claim(raw) {
                Ok(())
            } else {
                Err("the nonce does not match the token's".into())
            }
        }
        (Some(_), None) => Err("the token carries a nonce, but none was sent".into()),
        (None, Some(_)) => Err("a nonce was sent, but the token carries none".into()),
    }
}

fn verify_native_with(
    token: &IdToken,
    keys: CoreJsonWebKeySet,
    expect: &NativeExpectations<'_>,
) -> Result<Claims, ClaimsVerificationError> {
    let issuer = match expect.issuer {
        IssuerCheck::OneOf(issuers) => issuers.first().cloned().unwrap_or_default(),
        IssuerCheck::Tenant(template) => template.clone(),
    };
    let issuer_url = IssuerUrl::new(issuer).map_err(|e| ClaimsVerificationError::Other(e.to_string()))?;
    let client_id = ClientId::new(expect.audiences.first().cloned().unwrap_or_default());
    let now = expect.now;
    // A public client: only the provider's asymmetric keys verify, never a shared secret (nor `alg: none`).
    // The audience is checked below against every accepted client id.
    let verifier = IdTokenVerifier::new_public_client(client_id, issuer_url, keys)
        .require_issuer_match(false)
        .require_audience_match(false)
        .set_time_fn(move || now);
    let claims = token.claims(&verifier, |claim: Option<&Nonce>| native_nonce_matches(claim, expect.nonce))?.clone();
    let issued_by = claims.issuer().as_str();
    let issuer_accepted = match expect.issuer {
        IssuerCheck::OneOf(issuers) => issuers.iter().any(|issuer| issuer == issued_by),
        IssuerCheck::Tenant(_) => false,
    };
    if !issuer_accepted {
        return Err(ClaimsVerificationError::InvalidIssuer(format!("{issued_by} is not the expected issuer")));
    }
    let audience_accepted =
        claims.audiences().iter().any(|audience| expect.audiences.iter().any(|accepted| accepted == audience.as_str()));
    if !audience_accepted {
        return Err(ClaimsVerificationError::InvalidAudience("the token is not issued to this service's apps".into()));
    }
    Ok(claims)
}

fn refusal(error: ClaimsVerificationError) -> ProviderError {
    ProviderError::Identity(format!("the ID token was refused: {error}"))
}

fn verify_with(
    token: &IdToken,
    keys: CoreJsonWebKeySet,
    expect: &Expectations<'_>,
) -> Result<Claims, ClaimsVerificationError> {
    // The issuer is checked below, against every accepted form; the verifier only needs a well-formed one.
    let issuer = match expect.issuer {
        IssuerCheck::OneOf(issuers) => issuers.first().cloned().unwrap_or_default(),
        IssuerCheck::Tenant(template) => template.clone(),
    };
    let issuer_url = IssuerUrl::new(issuer).map_err(|e| ClaimsVerificationError::Other(e.to_string()))?;
    let client_id = ClientId::new(expect.client_id.to_string());
    let now = expect.now;
    let verifier = match expect.client_secret {
        Some(secret) => IdTokenVerifier::new_confidential_client(
            client_id,
            ClientSecret::new(secret.expose_secret().to_string()),
            issuer_url,
            keys,
        ),
        None => IdTokenVerifier::new_public_client(client_id, issuer_url, keys),
    }
    .require_issuer_match(false)
    .set_time_fn(move || now);
    let claims = match expect.nonce {
        Some(nonce) => token.claims(&verifier, &Nonce::new(nonce.to_string()))?.clone(),
        None => token.claims(&verifier, |_: Option<&Nonce>| Ok(()))?.clone(),
    };
    let issued_by = claims.issuer().as_str();
    let accepted = match expect.issuer {
        IssuerCheck::OneOf(issuers) => issuers.iter().any(|issuer| issuer == issued_by),
        IssuerCheck::Tenant(template) => {
            let tenant = claims.additional_claims().values.get("tid").and_then(|tid| tid.as_str()).unwrap_or_default();
            !tenant.is_empty() && template.replace("{tenantid}", tenant) == issued_by
        }
    };
    if !accepted {
        return Err(ClaimsVerificationError::InvalidIssuer(format!("{issued_by} is not the expected issuer")));
    }
    Ok(claims)
}

/// Who signed in, from verified claims; `email_verified` is the provider's signal as its adapter reads it.
pub fn identity(claims: &Claims, provider_user_id: String, email_verified: bool) -> super::Identity {
    let email = claims.email().map(|email| email.as_str().to_string());
    super::Identity {
        provider_user_id,
        email_verified: email_verified && email.is_some(),
        email,
        email_is_relay: false,
        display_name: claims.name().and_then(|name| name.get(None)).map(|name| name.as_str().to_string()),
        avatar_url: claims.picture().and_then(|picture| picture.get(None)).map(|picture| picture.as_str().to_string()),
        profile: serde_json::to_value(claims).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::{Value, json};

    use super::*;

    const PRIVATE: &str = include_str!("../../tests/fixtures/keys/rs256.key.pem");
    const PUBLIC: &str = include_str!("../../tests/fixtures/keys/rs256.pub.pem");
    const ISSUER: &str = "https://issuer.example";
    const CLIENT: &str = "the-client";

    /// The fixture key as a JWKS (through hauth's own JWKS publication) and its `kid`.
    fn key_set() -> (CoreJsonWebKeySet, String) {
        let secret = json!({"type": "RS256", "key": PUBLIC, "signing_key": PRIVATE}).to_string();
        let vars: HashMap<String, String> = [
            (crate::db::config::CONNECTION_URL.name.to_string(), "postgres://localhost/db".to_string()),
            (crate::jwt::config::JWT_SECRET.name.to_string(), secret),
        ]
        .into();
        let config = crate::config::Config::from_env(&vars).unwrap_or_else(|e| panic!("{e}"));
        let keys = crate::jwt::JwtKeys::from_config(&config.jwt).unwrap_or_else(|e| panic!("{e}"));
        let jwks: Value = serde_json::from_str(keys.jwks_json()).unwrap_or_default();
        let kid = jwks["keys"][0]["kid"].as_str().unwrap_or_default().to_string();
        (serde_json::from_value(jwks).unwrap_or_else(|e| panic!("{e}")), kid)
    }

    fn token(kid: &str, claims: Value) -> IdToken {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        let key = EncodingKey::from_rsa_pem(PRIVATE.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let raw = jsonwebtoken::encode(&header, &claims, &key).unwrap_or_else(|e| panic!("{e}"));
        raw.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn claims(overrides: Value) -> Value {
        let now = Utc::now().timestamp();
        let mut claims = json!({
            "iss": ISSUER, "aud": CLIENT, "sub": "user-1", "iat": now, "exp": now + 600, "nonce": "n-1",
        });
        for (key, value) in overrides.as_object().cloned().unwrap_or_default() {
            if value.is_null() {
                claims.as_object_mut().map(|map| map.remove(&key));
            } else {
                claims[key] = value;
            }
        }
        claims
    }

    fn check(claims: Value, issuer: &IssuerCheck, nonce: Option<&str>) -> Result<Claims, ClaimsVerificationError> {
        let (keys, kid) = key_set();
        let expect = Expectations { client_id: CLIENT, client_secret: None, issuer, nonce, now: Utc::now() };
        verify_with(&token(&kid, claims), keys, &expect)
    }

    #[test]
    fn an_id_token_is_accepted_only_with_the_expected_issuer_audience_nonce_and_lifetime() {
        let issuer = IssuerCheck::OneOf(vec![ISSUER.to_string()]);
        assert!(check(claims(json!({})), &issuer, Some("n-1")).is_ok());
        let refused = [
            ("another audience", claims(json!({"aud": "another-client"})), Some("n-1")),
            ("another issuer", claims(json!({"iss": "https://other.example"})), Some("n-1")),
            ("another nonce", claims(json!({"nonce": "n-2"})), Some("n-1")),
            ("no nonce", claims(json!({"nonce": null})), Some("n-1")),
            ("expired", claims(json!({"exp": Utc::now().timestamp() - 600})), Some("n-1")),
        ];
        for (what, claims, nonce) in refused {
            assert!(check(claims, &issuer, nonce).is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn a_tenant_issuer_is_filled_from_the_tokens_tenant() {
        let template = IssuerCheck::Tenant(format!("{ISSUER}/{{tenantid}}/v2.0"));
        let own = claims(json!({"iss": format!("{ISSUER}/t-1/v2.0"), "tid": "t-1"}));
        assert!(check(own, &template, Some("n-1")).is_ok());
        let mismatched = claims(json!({"iss": format!("{ISSUER}/t-2/v2.0"), "tid": "t-1"}));
        assert!(check(mismatched, &template, Some("n-1")).is_err());
        let no_tenant = claims(json!({"iss": format!("{ISSUER}//v2.0")}));
        assert!(check(no_tenant, &template, Some("n-1")).is_err());
    }

    #[test]
    fn a_native_token_carries_the_hash_of_the_nonce_sent_and_is_issued_to_one_of_the_apps() {
        let issuer = IssuerCheck::OneOf(vec![ISSUER.to_string()]);
        let audiences = vec![CLIENT.to_string(), "com.example.app".to_string()];
        let hashed = native_nonce_claim("raw");
        let check = |claims: Value, nonce: Option<&str>| {
            let (keys, kid) = key_set();
            let expect = NativeExpectations { audiences: &audiences, issuer: &issuer, nonce, now: Utc::now() };
            verify_native_with(&token(&kid, claims), keys, &expect)
        };
        assert!(check(claims(json!({"nonce": hashed})), Some("raw")).is_ok());
        assert!(check(claims(json!({"nonce": hashed, "aud": "com.example.app"})), Some("raw")).is_ok());
        assert!(check(claims(json!({"nonce": null})), None).is_ok());
        let refused = [
            ("the claim itself sent", claims(json!({"nonce": hashed})), Some(hashed.as_str())),
            ("no nonce sent", claims(json!({"nonce": hashed})), None),
            ("no nonce claim", claims(json!({"nonce": null})), Some("raw")),
            ("another app", claims(json!({"nonce": hashed, "aud": "com.example.other"})), Some("raw")),
            ("another issuer", claims(json!({"nonce": hashed, "iss": "https://other.example"})), Some("raw")),
            ("expired", claims(json!({"nonce": hashed, "exp": Utc::now().timestamp() - 600})), Some("raw")),
        ];
        for (what, claims, nonce) in refused {
            assert!(check(claims, nonce).is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn a_token_signed_by_an_unknown_key_is_refused() {
        let issuer = IssuerCheck::OneOf(vec![ISSUER.to_string()]);
        let (keys, _) = key_set();
        let expect =
            Expectations { client_id: CLIENT, client_secret: None, issuer: &issuer, nonce: None, now: Utc::now() };
        assert!(verify_with(&token("unknown-kid", claims(json!({}))), keys, &expect).is_err());
    }
}
