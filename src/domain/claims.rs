//! Custom Hasura claims in nhost's format: a claim name mapped to a path into the
//! user, e.g. `{"admin": "metadata.isAdmin", "roles": "roles[].role"}`. Paths are dot-separated; a `[]` (or
//! `[*]`) suffix walks every element of an array and collects the results. They are evaluated over a JSON
//! document of the user (its columns under their GraphQL names, `metadata`, and the relationships `roles`,
//! `userProviders`, `securityKeys`, `defaultRoleByRole`) read with one SQL query at token time, so issuing a
//! token never calls Hasura.
//!
//! Values are encoded as Hasura expects session variables: strings as they are, arrays as a Postgres array
//! literal (`{"a","b"}`), anything else as its JSON text.
use std::collections::BTreeMap;

use serde_json::Value;

/// The fields a path may start with: the user's columns and relationships.
pub const ROOT_FIELDS: &[&str] = &[
    "id",
    "createdAt",
    "updatedAt",
    "lastSeen",
    "disabled",
    "displayName",
    "avatarUrl",
    "locale",
    "email",
    "phoneNumber",
    "emailVerified",
    "phoneNumberVerified",
    "defaultRole",
    "isAnonymous",
    "activeMfaType",
    "metadata",
    "organisationId",
    "roles",
    "userProviders",
    "securityKeys",
    "defaultRoleByRole",
];

/// The four claims hauth always sets; custom claims never replace them.
pub const BUILT_IN: [&str; 4] =
    ["x-hasura-allowed-roles", "x-hasura-default-role", "x-hasura-user-id", "x-hasura-user-is-anonymous"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    /// `field[]`: the field is an array; walk every element.
    Each(String),
}

/// One configured claim.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomClaim {
    /// The session variable, e.g. `x-hasura-organisation-id`.
    pub key: String,
    steps: Vec<Step>,
    default: Option<Value>,
}

/// A problem with the configured claims, or (`in_defaults`) with their defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsError {
    pub in_defaults: bool,
    pub message: String,
}

impl std::fmt::Display for ClaimsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ClaimsError> for String {
    fn from(error: ClaimsError) -> String {
        error.message
    }
}

/// Every configured custom claim.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomClaims(pub Vec<CustomClaim>);

fn claim_key(name: &str) -> String {
    if name.to_ascii_lowercase().starts_with("x-hasura-") { name.to_string() } else { format!("x-hasura-{name}") }
        .to_ascii_lowercase()
}

fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for segment in path.split('.') {
        let (name, each) = match segment.strip_suffix("[]").or_else(|| segment.strip_suffix("[*]")) {
            Some(name) => (name, true),
            None => (segment, false),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(format!("path {path:?}: segment {segment:?} is not a field name (filters are not supported)"));
        }
        steps.push(if each { Step::Each(name.to_string()) } else { Step::Field(name.to_string()) });
    }
    match steps.first() {
        Some(Step::Field(root) | Step::Each(root)) if ROOT_FIELDS.contains(&root.as_str()) => Ok(steps),
        Some(Step::Field(root) | Step::Each(root)) => {
            Err(format!("path {path:?}: {root:?} is not a field of the user (one of {})", ROOT_FIELDS.join(", ")))
        }
        None => Err(format!("path {path:?} is empty")),
    }
}

impl CustomClaim {
    /// Whether the claim's value comes from the user's `metadata`, which users write themselves.
    pub fn reads_metadata(&self) -> bool {
        matches!(self.steps.first(), Some(Step::Field(root) | Step::Each(root)) if root == "metadata")
    }
}

impl CustomClaims {
    /// Parses the claims (`{"name": "path"}`) and their defaults (keyed by the unprefixed name). An error
    /// says which of the two is wrong.
    pub fn parse(claims: Option<&str>, defaults: Option<&str>) -> Result<Self, ClaimsError> {
        let in_claims = |message: String| ClaimsError { in_defaults: false, message };
        let in_defaults = |message: String| ClaimsError { in_defaults: true, message };
        let claims: BTreeMap<String, String> = match claims {
            None => return Ok(CustomClaims::default()),
            Some(raw) => serde_json::from_str(raw)
                .map_err(|e| in_claims(format!("must be a JSON object of name → path ({e})")))?,
        };
        let mut defaults: BTreeMap<String, Value> = match defaults {
            None => BTreeMap::new(),
            Some(raw) => serde_json::from_str(raw).map_err(|e| in_defaults(format!("must be a JSON object ({e})")))?,
        };
        let mut parsed = Vec::new();
        for (name, path) in claims {
            let key = claim_key(&name);
            if BUILT_IN.contains(&key.as_str()) {
                return Err(in_claims(format!("{name:?} would replace the built-in claim {key}")));
            }
            let steps = parse_path(&path).map_err(|e| in_claims(format!("[{name}]: {e}")))?;
            parsed.push(CustomClaim { key, steps, default: defaults.remove(&name) });
        }
        if let Some(unused) = defaults.keys().next() {
            return Err(in_defaults(format!("{unused:?} is not a configured claim")));
        }
        Ok(CustomClaims(parsed))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The claims for one user document, encoded for Hasura. A claim whose path finds nothing takes its
    /// default, or is left out.
    pub fn evaluate(&self, user: &Value) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|claim| {
                let value = walk(user, &claim.steps).filter(|v| !v.is_null()).or_else(|| claim.default.clone())?;
                Some((claim.key.clone(), encode(&value)))
            })
            .collect()
    }
}

fn walk(value: &Value, steps: &[Step]) -> Option<Value> {
    let Some((step, rest)) = steps.split_first() else {
        return Some(value.clone());
    };
    match step {
        Step::Field(name) => walk(value.get(name)?, rest),
        Step::Each(name) => {
            let items = value.get(name)?.as_array()?;
            let mut collected = Vec::new();
            for item in items {
                match walk(item, rest) {
                    Some(Value::Array(inner)) if rest.iter().any(|s| matches!(s, Step::Each(_))) => {
                        collected.extend(inner)
                    }
                    Some(Value::Null) | None => {}
                    Some(found) => collected.push(found),
                }
            }
            Some(Value::Array(collected))
        }
    }
}

/// Encodes a claim value as a Hasura session variable (always a string).
pub fn encode(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => postgres_array_literal(items.iter().map(|item| match item {
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })),
        other => other.to_string(),
    }
}

/// `{"a","b"}`: the text form of a Postgres array, with every element quoted and escaped.
pub fn postgres_array_literal(items: impl IntoIterator<Item = Option<String>>) -> String {
    let items: Vec<String> = items
        .into_iter()
        .map(|item| match item {
            Some(text) => format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")),
            None => "NULL".to_string(),
        })
        .collect();
    format!("{{{}}}", items.join(","))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Value {
        json!({
            "id": "u1",
            "email": "a@example.com",
            "metadata": {"isAdmin": true, "org": {"id": 42}, "tags": ["x", "y\"z"]},
            "roles": [{"role": "user"}, {"role": "editor"}],
            "userProviders": [],
        })
    }

    #[test]
    fn paths_walk_columns_metadata_and_relationships() -> Result<(), String> {
        let claims = CustomClaims::parse(
            Some(
                r#"{"admin": "metadata.isAdmin", "org-id": "metadata.org.id", "roles": "roles[].role", "mail": "email", "providers": "userProviders[].providerId", "tags": "metadata.tags"}"#,
            ),
            None,
        )?;
        let values: BTreeMap<String, String> = claims.evaluate(&user()).into_iter().collect();
        assert_eq!(values["x-hasura-admin"], "true");
        assert_eq!(values["x-hasura-org-id"], "42");
        assert_eq!(values["x-hasura-roles"], r#"{"user","editor"}"#);
        assert_eq!(values["x-hasura-mail"], "a@example.com");
        assert_eq!(values["x-hasura-providers"], "{}");
        assert_eq!(values["x-hasura-tags"], r#"{"x","y\"z"}"#);
        Ok(())
    }

    #[test]
    fn defaults_fill_missing_values_and_absent_claims_are_left_out() -> Result<(), String> {
        let claims = CustomClaims::parse(
            Some(r#"{"team": "metadata.team", "plan": "metadata.plan"}"#),
            Some(r#"{"plan": "free"}"#),
        )?;
        assert_eq!(claims.evaluate(&user()), vec![("x-hasura-plan".to_string(), "free".to_string())]);
        Ok(())
    }

    #[test]
    fn built_in_claims_cannot_be_replaced() {
        let error = CustomClaims::parse(Some(r#"{"user-id": "email"}"#), None);
        assert!(error.is_err_and(|e| e.message.contains("built-in") && !e.in_defaults));
        let error = CustomClaims::parse(Some(r#"{"X-Hasura-Default-Role": "email"}"#), None);
        assert!(error.is_err());
    }

    #[test]
    fn unknown_roots_filters_and_stray_defaults_are_configuration_errors() {
        assert!(CustomClaims::parse(Some(r#"{"org": "profile.organisation.id"}"#), None).is_err());
        assert!(CustomClaims::parse(Some(r#"{"org": "roles[?(@.role == 'x')].role"}"#), None).is_err());
        assert!(CustomClaims::parse(Some(r#"{"org": "email"}"#), Some(r#"{"other": 1}"#)).is_err());
    }

    #[test]
    fn encoding_follows_hasura_session_variable_rules() {
        assert_eq!(encode(&json!("plain")), "plain");
        assert_eq!(encode(&json!([1, 2])), r#"{"1","2"}"#);
        assert_eq!(encode(&json!([])), "{}");
        assert_eq!(encode(&json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(encode(&json!(false)), "false");
    }
}
