//! Hasura's auth webhook: turns the credentials of a GraphQL request into Hasura session variables. A JWT
//! is checked by signature alone (no database query), so this runs at signature-verification speed. A
//! personal access token (a bearer in the 8-4-4-4-12 hex shape, which no JWT has) costs one indexed query
//! and yields the same variables as its owner's JWT would.
//!
//! The answer follows Hasura's contract: every value is a string, `X-Hasura-Role` is always present (the
//! client's requested role if the token allows it, the default role when none is requested; a role the
//! token does not allow is 401), and a `Cache-Control` body key says how long Hasura may cache the answer:
//! until the credential expires, but never longer than an access token lives, so a revoked PAT or a
//! disabled user stops working in Hasura within that time.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::domain::OpaqueToken;
use crate::error::AuthError;
use crate::jwt::HasuraClaims;
use crate::state::AppState;

/// The headers of the client's GraphQL request that matter here.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClientHeaders<'a> {
    pub authorization: Option<&'a str>,
    pub requested_role: Option<&'a str>,
}

/// `x-hasura-org-id` → `X-Hasura-Org-Id`, the spelling Hasura's own examples use.
fn canonical(key: &str) -> String {
    key.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The session variables for a request, or `Unauthenticated` (401) for bad, expired or insufficient ones.
pub async fn authorize(state: &AppState, headers: ClientHeaders<'_>) -> Result<BTreeMap<String, String>, AuthError> {
    let requested_role = headers.requested_role.map(str::trim).filter(|role| !role.is_empty());
    let Some(authorization) = headers.authorization.map(str::trim).filter(|value| !value.is_empty()) else {
        let role = state
            .config
            .hooks
            .webhook_unauthenticated_role
            .clone()
            .ok_or(AuthError::Unauthenticated("credentials are required"))?;
        if requested_role.is_some_and(|requested| requested != role) {
            return Err(AuthError::Unauthenticated("the requested role needs credentials"));
        }
        return Ok(BTreeMap::from([("X-Hasura-Role".to_string(), role)]));
    };
    let token = authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(AuthError::Unauthenticated("the Authorization header must be a bearer token"))?;
    if let Some(pat) = OpaqueToken::parse(token) {
        let (claims, expires_at) = super::pat::authenticate(state, &pat).await?;
        return session_variables(state, &claims, expires_at, requested_role);
    }
    let verified = super::session::authenticate(state, token)?;
    session_variables(state, &verified.claims, verified.expires_at, requested_role)
}

/// The answer for a user's claims: the requested role if the claims allow it (else 401), or the default
/// role; every value a string; cached until the credential expires.
fn session_variables(
    state: &AppState,
    claims: &HasuraClaims,
    expires_at: DateTime<Utc>,
    requested_role: Option<&str>,
) -> Result<BTreeMap<String, String>, AuthError> {
    let role = match requested_role {
        Some(requested) if claims.allowed_roles.iter().any(|allowed| allowed == requested) => requested.to_string(),
        Some(_) => return Err(AuthError::Unauthenticated("the requested role is not allowed for this user")),
        None => claims.default_role.clone(),
    };
    let remaining =
        (expires_at.timestamp() - state.clock.now().timestamp()).clamp(0, state.config.jwt.access_token_expires_in);
    let mut variables: BTreeMap<String, String> =
        claims.extra.iter().map(|(key, value)| (canonical(key), value.clone())).collect();
    variables.insert("X-Hasura-Role".into(), role);
    variables.insert("X-Hasura-User-Id".into(), claims.user_id.to_string());
    variables.insert("X-Hasura-User-Is-Anonymous".into(), claims.is_anonymous.to_string());
    variables.insert("Cache-Control".into(), format!("max-age={remaining}"));
    Ok(variables)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_spelled_like_hasuras_examples() {
        assert_eq!(super::canonical("x-hasura-organisation-id"), "X-Hasura-Organisation-Id");
        assert_eq!(super::canonical("x-hasura-role"), "X-Hasura-Role");
    }
}
