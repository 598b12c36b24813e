//! Signing and verifying keys, built once from Hasura's JWT secret and the further published keys.
//!
//! Every token carries a `kid`. The JWKS publishes the signing key's public half and every published key
//! (the previous key during a rotation, the next key before it signs), so Hasura already knows a key when
//! the first token signed with it arrives. HMAC keys are never published: the JWKS is empty for HS*.
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::config::{JwtConfig, JwtSecret, PUBLISHED_KEYS, hmac_minimum_bytes};

/// How a key's `type` in Hasura's secret JSON maps to a JWS algorithm.
fn algorithm_for(key_type: &str) -> Result<Algorithm, String> {
    Ok(match key_type {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        // Hasura spells the EdDSA key type by its curve.
        "Ed25519" | "EdDSA" => Algorithm::EdDSA,
        other => {
            return Err(format!(
                "type {other:?} is not supported (HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, Ed25519)"
            ));
        }
    })
}

fn is_hmac(algorithm: Algorithm) -> bool {
    matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

fn decoding_key_from_pem(algorithm: Algorithm, pem: &[u8]) -> jsonwebtoken::errors::Result<DecodingKey> {
    match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem),
        Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
        _ => DecodingKey::from_rsa_pem(pem),
    }
}

fn encoding_key_from_pem(algorithm: Algorithm, pem: &[u8]) -> jsonwebtoken::errors::Result<EncodingKey> {
    match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
}

/// A key tokens may be verified with.
struct VerifyingKey {
    kid: String,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Everything needed to sign and verify access tokens.
pub struct JwtKeys {
    algorithm: Algorithm,
    signing_key: EncodingKey,
    signing_kid: String,
    verifying: Vec<VerifyingKey>,
    jwks_json: String,
    pub issuer: String,
    pub namespace: String,
    pub stringified_claims: bool,
    pub audience: Option<Vec<String>>,
    pub allowed_skew: u64,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("algorithm", &self.algorithm)
            .field("signing_kid", &self.signing_kid)
            .field("verifying_kids", &self.verifying.iter().map(|k| &k.kid).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct JwkSet<'a> {
    keys: &'a [Jwk],
}

/// Finishes a public JWK: `kid` (given, or the RFC 7638 thumbprint), `use: sig` and `alg`.
fn complete_jwk(mut jwk: Jwk, algorithm: Algorithm, kid: Option<&str>) -> Result<Jwk, String> {
    let kid = match kid {
        Some(kid) => kid.to_string(),
        None => jwk.thumbprint(ThumbprintHash::SHA256).map_err(|e| format!("cannot derive a kid: {e}"))?,
    };
    jwk.common.key_id = Some(kid);
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(key_algorithm(algorithm));
    Ok(jwk)
}

fn key_algorithm(algorithm: Algorithm) -> KeyAlgorithm {
    match algorithm {
        Algorithm::HS256 => KeyAlgorithm::HS256,
        Algorithm::HS384 => KeyAlgorithm::HS384,
        Algorithm::HS512 => KeyAlgorithm::HS512,
        Algorithm::RS256 => KeyAlgorithm::RS256,
        Algorithm::RS384 => KeyAlgorithm::RS384,
        Algorithm::RS512 => KeyAlgorithm::RS512,
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::ES384 => KeyAlgorithm::ES384,
        Algorithm::PS256 => KeyAlgorithm::PS256,
        Algorithm::PS384 => KeyAlgorithm::PS384,
        Algorithm::PS512 => KeyAlgorithm::PS512,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        _ => KeyAlgorithm::UNKNOWN_ALGORITHM,
    }
}

/// A stable, non-reversible kid for an HMAC key (its hash, domain-separated, truncated).
fn hmac_kid(secret: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"hauth-kid\0");
    hasher.update(secret);
    hex::encode(&hasher.finalize()[..8])
}

impl JwtKeys {
    pub fn from_config(config: &JwtConfig) -> Result<Self, String> {
        let secret: &JwtSecret = &config.secret;
        let algorithm = algorithm_for(&secret.key_type)?;
        if secret.claims_map.is_some() || secret.claims_namespace_path.is_some() {
            return Err(
                "claims_map and claims_namespace_path are not supported by the issuer; use claims_namespace".into()
            );
        }
        let stringified_claims = match secret.claims_format.as_deref() {
            None | Some("json") => false,
            Some("stringified_json") => true,
            Some(other) => return Err(format!("claims_format {other:?} must be json or stringified_json")),
        };
        let mut jwks = Vec::new();
        let mut verifying = Vec::new();

        let (signing_key, signing_kid) = if is_hmac(algorithm) {
            let key = secret.key.as_ref().ok_or("key is required for HS* types")?;
            let bytes = key.expose_secret().as_bytes();
            let minimum = hmac_minimum_bytes(&secret.key_type).unwrap_or(32);
            if bytes.len() < minimum {
                return Err(format!(
                    "key for {} must be at least {minimum} bytes (Hasura refuses shorter keys)",
                    secret.key_type
                ));
            }
            let kid = secret.kid.clone().unwrap_or_else(|| hmac_kid(bytes));
            verifying.push(VerifyingKey { kid: kid.clone(), algorithm, key: DecodingKey::from_secret(bytes) });
            (EncodingKey::from_secret(bytes), kid)
        } else {
            let signing_pem = secret
                .signing_key
                .as_ref()
                .ok_or_else(|| format!("signing_key (the private PEM) is required for {}", secret.key_type))?;
            let signing_key = encoding_key_from_pem(algorithm, signing_pem.expose_secret().as_bytes())
                .map_err(|e| format!("signing_key is not a valid {} private key PEM: {e}", secret.key_type))?;
            let public_jwk = Jwk::from_encoding_key(&signing_key, algorithm)
                .map_err(|e| format!("cannot derive the public key from signing_key: {e}"))?;
            let public_jwk = complete_jwk(public_jwk, algorithm, secret.kid.as_deref())?;
            let decoding = match &secret.key {
                Some(pem) => decoding_key_from_pem(algorithm, pem.expose_secret().as_bytes())
                    .map_err(|e| format!("key is not a valid {} public key PEM: {e}", secret.key_type))?,
                None => DecodingKey::from_jwk(&public_jwk).map_err(|e| format!("bad derived public key: {e}"))?,
            };
            let kid = public_jwk.common.key_id.clone().unwrap_or_default();
            verifying.push(VerifyingKey { kid: kid.clone(), algorithm, key: decoding });
            jwks.push(public_jwk);
            (signing_key, kid)
        };

        let published_name = PUBLISHED_KEYS.name;
        for (index, published) in config.published_keys.iter().enumerate() {
            let published_algorithm =
                algorithm_for(&published.key_type).map_err(|e| format!("{published_name}[{index}]: {e}"))?;
            if is_hmac(published_algorithm) {
                return Err(format!("{published_name}[{index}]: HMAC keys cannot be published"));
            }
            let key = decoding_key_from_pem(published_algorithm, published.key.as_bytes())
                .map_err(|e| format!("{published_name}[{index}]: not a public key PEM: {e}"))?;
            let jwk = Jwk::from_decoding_key(&key, Some(published_algorithm))
                .map_err(|e| format!("{published_name}[{index}]: {e}"))?;
            let jwk = complete_jwk(jwk, published_algorithm, published.kid.as_deref())?;
            let kid = jwk.common.key_id.clone().unwrap_or_default();
            if verifying.iter().any(|k| k.kid == kid) {
                return Err(format!("{published_name}[{index}]: kid {kid:?} is used twice"));
            }
            verifying.push(VerifyingKey { kid, algorithm: published_algorithm, key });
            jwks.push(jwk);
        }

        let audience = match &secret.audience {
            None => None,
            Some(serde_json::Value::String(one)) => Some(vec![one.clone()]),
            Some(serde_json::Value::Array(many)) => Some(
                many.iter()
                    .map(|v| v.as_str().map(str::to_string).ok_or("audience must hold strings"))
                    .collect::<Result<_, _>>()?,
            ),
            Some(_) => return Err("audience must be a string or a list of strings".into()),
        };
        let jwks_json = serde_json::to_string(&JwkSet { keys: &jwks }).map_err(|e| e.to_string())?;
        let issuer = secret.issuer.clone().unwrap_or_else(|| "hasura-auth".to_string());
        let keys = JwtKeys {
            algorithm,
            signing_key,
            signing_kid,
            verifying,
            jwks_json,
            issuer,
            namespace: secret.claims_namespace.clone().unwrap_or_else(|| super::claims::DEFAULT_NAMESPACE.to_string()),
            stringified_claims,
            audience,
            allowed_skew: secret.allowed_skew.unwrap_or(0),
        };
        keys.check_pair()?;
        Ok(keys)
    }

    /// Signs and verifies a probe so a `key` that does not match `signing_key` fails at start, not in Hasura.
    fn check_pair(&self) -> Result<(), String> {
        let probe = serde_json::json!({"sub": "probe", "exp": i64::MAX / 2});
        let token = self.sign(&probe).map_err(|e| format!("cannot sign with the configured key: {e}"))?;
        let mut validation = Validation::new(self.algorithm);
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let key = self.verifying.first().ok_or("no verifying key")?;
        jsonwebtoken::decode::<serde_json::Value>(&token, &key.key, &validation)
            .map(|_| ())
            .map_err(|_| "key (public) does not match signing_key (private)".to_string())
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn is_hmac(&self) -> bool {
        is_hmac(self.algorithm)
    }

    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// The JWKS document, serialised once at start.
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    /// Signs any claims object with the current key and its `kid`.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.signing_kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing_key)
    }

    /// Verifies signature, algorithm, `iss`, (when configured) `aud`, and `exp`/`nbf` against `now` (the
    /// application clock, not the system's); returns the raw claims. Tokens without a `kid` are tried
    /// against the signing key only.
    pub fn verify(&self, token: &str, now: i64) -> Result<serde_json::Map<String, serde_json::Value>, TokenRejected> {
        // Each part is decoded once: the webhook runs this on every GraphQL request, and the crate's
        // `decode` reads the header three times and the claims twice.
        let (message, signature) = token.rsplit_once('.').ok_or(TokenRejected::Malformed)?;
        let (_, payload) = message.split_once('.').ok_or(TokenRejected::Malformed)?;
        if payload.contains('.') {
            return Err(TokenRejected::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejected::Malformed)?;
        let key = match &header.kid {
            Some(kid) => self.verifying.iter().find(|k| &k.kid == kid).ok_or(TokenRejected::UnknownKey)?,
            None => self.verifying.first().ok_or(TokenRejected::UnknownKey)?,
        };
        if header.alg != key.algorithm {
            return Err(TokenRejected::WrongAlgorithm);
        }
        if !jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.key, key.algorithm).unwrap_or(false) {
            return Err(TokenRejected::Invalid);
        }
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenRejected::Invalid)?;
        let claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&payload).map_err(|_| TokenRejected::Invalid)?;
        self.check_registered_claims(&claims, now)?;
        Ok(claims)
    }

    /// `sub` is present, `iss` is ours, `aud` (when configured) names one of ours, and `exp`/`nbf` hold
    /// at `now` within the allowed skew.
    fn check_registered_claims(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
        now: i64,
    ) -> Result<(), TokenRejected> {
        use serde_json::Value;
        if !claims.get("sub").is_some_and(Value::is_string) {
            return Err(TokenRejected::Invalid);
        }
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(TokenRejected::Invalid);
        }
        if let Some(audience) = &self.audience {
            let ours = |value: &Value| value.as_str().is_some_and(|aud| audience.iter().any(|our| our == aud));
            let accepted = match claims.get("aud") {
                Some(Value::Array(presented)) => presented.iter().any(ours),
                Some(presented) => ours(presented),
                None => false,
            };
            if !accepted {
                return Err(TokenRejected::Invalid);
            }
        }
        let skew = i64::try_from(self.allowed_skew).unwrap_or(i64::MAX);
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or(TokenRejected::Invalid)?;
        if now >= exp.saturating_add(skew) {
            return Err(TokenRejected::Expired);
        }
        if let Some(nbf) = claims.get("nbf")
            && now < nbf.as_i64().ok_or(TokenRejected::Invalid)?.saturating_sub(skew)
        {
            return Err(TokenRejected::Invalid);
        }
        Ok(())
    }
}

/// Why a presented access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token's algorithm does not match its key")]
    WrongAlgorithm,
    #[error("the token has expired")]
    Expired,
    #[error("the token is invalid")]
    Invalid,
}
