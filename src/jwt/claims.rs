//! The claims of an access token, exactly as nhost issues them: `sub`, `iat`, `exp`, `iss` and the Hasura
//! namespace (`https://hasura.io/jwt/claims` by default) holding lower-case `x-hasura-*` keys whose values
//! are all strings except `x-hasura-allowed-roles`. `iat` is the clock's now, never in the future.
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::keys::{JwtKeys, TokenRejected};
use crate::domain::claims::BUILT_IN;

pub const DEFAULT_NAMESPACE: &str = "https://hasura.io/jwt/claims";

/// What Hasura learns about the user from a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HasuraClaims {
    pub user_id: Uuid,
    pub default_role: String,
    pub allowed_roles: Vec<String>,
    pub is_anonymous: bool,
    /// Further `x-hasura-*` session variables (custom claims); never overwrite the four above.
    pub extra: Vec<(String, String)>,
}

impl HasuraClaims {
    fn to_namespace(&self) -> Map<String, Value> {
        let mut namespace = Map::new();
        for (key, value) in &self.extra {
            namespace.insert(key.to_ascii_lowercase(), Value::String(value.clone()));
        }
        namespace.insert(
            "x-hasura-allowed-roles".into(),
            Value::Array(self.allowed_roles.iter().cloned().map(Value::String).collect()),
        );
        namespace.insert("x-hasura-default-role".into(), Value::String(self.default_role.clone()));
        namespace.insert("x-hasura-user-id".into(), Value::String(self.user_id.to_string()));
        namespace.insert("x-hasura-user-is-anonymous".into(), Value::String(self.is_anonymous.to_string()));
        namespace
    }
}

/// A token that passed verification, with its Hasura claims.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub claims: HasuraClaims,
    /// The session (refresh token family) the token was issued for, from the `sid` claim.
    pub session_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
    /// Every session variable in the namespace (lower-case keys, string values; roles joined as given).
    pub session_variables: Map<String, Value>,
}

impl JwtKeys {
    /// Issues an access token for `claims`, valid for `expires_in` seconds from `now`. `session_id` (the
    /// refresh token family) goes in the OpenID `sid` claim, which Hasura ignores; it lets a password change
    /// keep the caller's own session while ending the others.
    pub fn issue(
        &self,
        claims: &HasuraClaims,
        session_id: Option<Uuid>,
        now: DateTime<Utc>,
        expires_in: i64,
    ) -> anyhow::Result<String> {
        let namespace = claims.to_namespace();
        let mut payload = Map::new();
        payload.insert("sub".into(), Value::String(claims.user_id.to_string()));
        if let Some(session_id) = session_id {
            payload.insert("sid".into(), Value::String(session_id.to_string()));
        }
        payload.insert("iat".into(), Value::from(now.timestamp()));
        payload.insert("exp".into(), Value::from(now.timestamp() + expires_in));
        payload.insert("iss".into(), Value::String(self.issuer.clone()));
        if let Some(audience) = &self.audience {
            if let [one] = audience.as_slice() {
                payload.insert("aud".into(), Value::String(one.clone()));
            } else {
                payload.insert("aud".into(), Value::from(audience.clone()));
            }
        }
        let namespace = if self.stringified_claims {
            Value::String(serde_json::to_string(&namespace)?)
        } else {
            Value::Object(namespace)
        };
        payload.insert(self.namespace.clone(), namespace);
        Ok(self.sign(&payload)?)
    }

    /// Verifies a token and reads its Hasura claims.
    pub fn verify_access_token(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, TokenRejected> {
        let mut payload = self.verify(token, now.timestamp())?;
        let namespace = match payload.remove(&self.namespace) {
            Some(Value::Object(map)) if !self.stringified_claims => map,
            Some(Value::String(text)) if self.stringified_claims => {
                serde_json::from_str::<Map<String, Value>>(&text).map_err(|_| TokenRejected::Invalid)?
            }
            _ => return Err(TokenRejected::Invalid),
        };
        let text = |key: &str| namespace.get(key).and_then(Value::as_str).map(str::to_string);
        let user_id =
            text("x-hasura-user-id").and_then(|id| Uuid::parse_str(&id).ok()).ok_or(TokenRejected::Invalid)?;
        if payload.get("sub").and_then(Value::as_str) != Some(user_id.to_string().as_str()) {
            return Err(TokenRejected::Invalid);
        }
        let allowed_roles = namespace
            .get("x-hasura-allowed-roles")
            .and_then(Value::as_array)
            .map(|roles| roles.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .ok_or(TokenRejected::Invalid)?;
        let claims = HasuraClaims {
            user_id,
            default_role: text("x-hasura-default-role").ok_or(TokenRejected::Invalid)?,
            allowed_roles,
            is_anonymous: text("x-hasura-user-is-anonymous").as_deref() == Some("true"),
            extra: namespace
                .iter()
                .filter(|(key, _)| !BUILT_IN.contains(&key.as_str()))
                .filter_map(|(key, value)| value.as_str().map(|v| (key.clone(), v.to_string())))
                .collect(),
        };
        let expires_at = payload
            .get("exp")
            .and_then(Value::as_i64)
            .and_then(|exp| DateTime::from_timestamp(exp, 0))
            .ok_or(TokenRejected::Invalid)?;
        let session_id = payload.get("sid").and_then(Value::as_str).and_then(|sid| Uuid::parse_str(sid).ok());
        Ok(VerifiedToken { claims, session_id, expires_at, session_variables: namespace })
    }
}
