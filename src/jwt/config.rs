//! JWT settings: Hasura's JWT secret JSON (with hauth's signing key), the further keys the
//! JWKS publishes, custom claims, the audience and lifetimes. The keys themselves are parsed once, when the
//! application state is built ([`super::JwtKeys::from_config`]); loading only checks what a shape allows.
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::env::{Env, Setting};
use crate::domain::claims::CustomClaims;

pub const JWT_SECRET: Setting = Setting::new(
    "HASURA_GRAPHQL_JWT_SECRET",
    None,
    "required: Hasura's JSON `{\"type\",\"key\",\"signing_key\"?,\"kid\"?,\"issuer\"?,\"claims_namespace\"?,\
     \"claims_format\"?,\"audience\"?,\"allowed_skew\"?}`; `type` HS256/384/512 (`key` is the shared secret, at \
     least 32/48/64 bytes), RS256/384/512, ES256/384 or `Ed25519` (`signing_key` is the private PEM, `key` the \
     public one, optional)",
)
.secret();
pub const PUBLISHED_KEYS: Setting = Setting::new(
    "AUTH_JWT_PUBLISHED_KEYS",
    Some("[]"),
    "JSON array of `{\"type\",\"key\",\"kid\"?}` public keys also published in the JWKS and accepted: the previous \
     key during a rotation, or the next one before it signs",
);
pub const CUSTOM_CLAIMS: Setting = Setting::new(
    "AUTH_JWT_CUSTOM_CLAIMS",
    None,
    "nhost's format, `{\"claim\": \"path\"}`; paths walk the user's columns (GraphQL names), `metadata` and the \
     relationships `roles`, `userProviders`, `securityKeys`, `defaultRoleByRole`; `[]` collects arrays, sent as \
     Postgres array literals. Resolved by one SQL query at token time",
);
pub const CUSTOM_CLAIMS_DEFAULTS: Setting =
    Setting::new("AUTH_JWT_CUSTOM_CLAIMS_DEFAULTS", None, "defaults of custom claims, `{\"claim\": value}`");
pub const PERMISSIONS_CLAIM: Setting = Setting::new(
    "AUTH_JWT_PERMISSIONS_CLAIM_ENABLED",
    Some("false"),
    "publish the permissions of the user's roles (`auth.role_permissions`) as `x-hasura-permissions`",
);
pub const AUDIENCE: Setting = Setting::new("AUTH_JWT_AUDIENCE", None, "sets `aud` (comma-separated for several)");
pub const ACCESS_TOKEN_EXPIRES_IN: Setting =
    Setting::new("AUTH_ACCESS_TOKEN_EXPIRES_IN", Some("900"), "access token lifetime, seconds");
pub const JWKS_MAX_AGE: Setting =
    Setting::new("AUTH_JWKS_MAX_AGE", Some("300"), "`Cache-Control: max-age` of `/.well-known/jwks.json`");

pub const SETTINGS: &[&Setting] = &[
    &JWT_SECRET,
    &PUBLISHED_KEYS,
    &ACCESS_TOKEN_EXPIRES_IN,
    &JWKS_MAX_AGE,
    &CUSTOM_CLAIMS,
    &CUSTOM_CLAIMS_DEFAULTS,
    &PERMISSIONS_CLAIM,
    &AUDIENCE,
];

/// Hasura's JWT secret JSON as Hasura reads it, plus hauth's signing material.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSecret {
    #[serde(rename = "type")]
    pub key_type: String,
    pub key: Option<SecretString>,
    pub signing_key: Option<SecretString>,
    pub kid: Option<String>,
    pub issuer: Option<String>,
    pub claims_namespace: Option<String>,
    pub claims_format: Option<String>,
    pub audience: Option<serde_json::Value>,
    pub allowed_skew: Option<u64>,
    pub jwk_url: Option<String>,
    pub header: Option<serde_json::Value>,
    pub claims_namespace_path: Option<String>,
    pub claims_map: Option<serde_json::Value>,
}

/// A public key published in the JWKS besides the signing key: the previous key during a rotation, or the
/// next key before it starts signing.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedKey {
    #[serde(rename = "type")]
    pub key_type: String,
    pub key: String,
    pub kid: Option<String>,
}

#[derive(Clone, Debug)]
pub struct JwtConfig {
    pub secret: JwtSecret,
    /// Custom claims resolved from the user at token time.
    pub custom_claims: CustomClaims,
    /// Publish the permissions of the user's roles as `x-hasura-permissions`.
    pub permissions_claim: bool,
    pub published_keys: Vec<PublishedKey>,
    pub access_token_expires_in: i64,
    /// `Cache-Control: max-age` of the JWKS, in seconds.
    pub jwks_max_age: u32,
}

/// The shortest key Hasura accepts for an HMAC type, `None` for other types.
pub fn hmac_minimum_bytes(key_type: &str) -> Option<usize> {
    match key_type {
        "HS256" => Some(32),
        "HS384" => Some(48),
        "HS512" => Some(64),
        _ => None,
    }
}

impl JwtConfig {
    pub fn load(env: &mut Env) -> Option<JwtConfig> {
        let secret = match env.secret(&JWT_SECRET) {
            None => {
                env.problem(&JWT_SECRET, "required (Hasura's JWT secret JSON)");
                None
            }
            Some(raw) => match serde_json::from_str::<JwtSecret>(raw.expose_secret()) {
                Ok(secret) => Some(secret),
                Err(error) => {
                    env.problem(&JWT_SECRET, format!("not valid JSON of the expected shape ({error})"));
                    None
                }
            },
        };
        if let Some(secret) = &secret {
            env.show(&JWT_SECRET, format!("<redacted: a {} key>", secret.key_type));
            if let Some(minimum) = hmac_minimum_bytes(&secret.key_type) {
                let length = secret.key.as_ref().map_or(0, |key| key.expose_secret().len());
                if length < minimum {
                    env.problem(
                        &JWT_SECRET,
                        format!(
                            "key for {} must be at least {minimum} bytes (Hasura refuses shorter keys)",
                            secret.key_type
                        ),
                    );
                }
            }
        }
        let published_keys = env.text(&PUBLISHED_KEYS).map_or_else(Vec::new, |raw| {
            serde_json::from_str::<Vec<PublishedKey>>(&raw).unwrap_or_else(|error| {
                env.problem(
                    &PUBLISHED_KEYS,
                    format!("expected a JSON array of {{\"type\",\"key\",\"kid\"?}} ({error})"),
                );
                Vec::new()
            })
        });
        let claims = env.text(&CUSTOM_CLAIMS);
        let defaults = env.text(&CUSTOM_CLAIMS_DEFAULTS);
        let custom_claims = CustomClaims::parse(claims.as_deref(), defaults.as_deref()).unwrap_or_else(|error| {
            env.problem(if error.in_defaults { &CUSTOM_CLAIMS_DEFAULTS } else { &CUSTOM_CLAIMS }, error.message);
            CustomClaims::default()
        });
        let audience = env.list(&AUDIENCE);
        let access_token_expires_in = env.parsed(&ACCESS_TOKEN_EXPIRES_IN);
        if access_token_expires_in <= 0 {
            env.problem(&ACCESS_TOKEN_EXPIRES_IN, "must be positive");
        }
        let mut secret = secret?;
        if !audience.is_empty() {
            secret.audience = Some(serde_json::Value::from(audience));
        }
        Some(JwtConfig {
            secret,
            custom_claims,
            permissions_claim: env.flag(&PERMISSIONS_CLAIM),
            published_keys,
            access_token_expires_in,
            jwks_max_age: env.parsed(&JWKS_MAX_AGE),
        })
    }
}
