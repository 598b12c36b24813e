//! The published OpenAPI document: poem-openapi's, generated from the handlers, plus the rules its derive
//! cannot express, so that the document says what the service enforces:
//! - request objects refuse unknown fields (`additionalProperties: false`; Hasura's webhook body excepted);
//! - `email` and `newEmail` are email addresses, `metadata` is an object;
//! - a password being set is between the configured minimum length and 50 characters;
//! - a PKCE verifier is 43 to 128 unreserved characters (RFC 7636 §4.1);
//! - with the refresh-token cookie, `refreshToken` is optional everywhere: answers leave it out and `/token`
//!   reads the cookie.
//!
//! It is built once at start, served at `/openapi.json` and inside the `/docs` page, and gives the `Allow`
//! header of a `405`.
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::domain::password::PASSWORD_MAX_CHARS;

/// Request objects that accept fields they do not know: Hasura may add headers or request fields.
const LENIENT: &[&str] = &["WebhookRequest"];

/// Where a password is chosen (signing in takes any length up to the maximum).
const NEW_PASSWORD_SCHEMAS: &[&str] = &["SignUpEmailPasswordRequest", "UserPasswordRequest", "UserDeanonymizeRequest"];

/// The generated document (`spec`, as JSON text) with the rules above added.
pub fn publish(spec: &str, config: &Config) -> Value {
    let mut document: Value = serde_json::from_str(spec).unwrap_or_default();
    let request_schemas = request_schema_names(&document);
    let Some(schemas) = document.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return document;
    };
    if config.http.refresh_token_cookie {
        for schema in schemas.values_mut() {
            if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
                required.retain(|field| field != "refreshToken");
            }
        }
    }
    for name in &request_schemas {
        let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) else { continue };
        if !LENIENT.contains(&name.as_str()) {
            schema.insert("additionalProperties".into(), Value::Bool(false));
        }
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else { continue };
        for (property, rules) in properties.iter_mut() {
            let Some(rules) = rules.as_object_mut() else { continue };
            match property.as_str() {
                "email" | "newEmail" => {
                    rules.insert("format".into(), json!("email"));
                    rules.insert("maxLength".into(), json!(254));
                }
                "metadata" => {
                    rules.insert("type".into(), json!("object"));
                }
                "password" | "newPassword" => {
                    rules.insert("maxLength".into(), json!(PASSWORD_MAX_CHARS));
                    if NEW_PASSWORD_SCHEMAS.contains(&name.as_str()) {
                        rules.insert("minLength".into(), json!(config.passwords.min_length));
                    }
                }
                "codeVerifier" | "code_verifier" => {
                    rules.insert("minLength".into(), json!(43));
                    rules.insert("maxLength".into(), json!(128));
                    rules.insert("pattern".into(), json!("^[A-Za-z0-9._~-]+$"));
                }
                _ => {}
            }
        }
    }
    document
}

/// The component schemas a request body refers to, directly or through their properties.
fn request_schema_names(document: &Value) -> Vec<String> {
    let mut pending: Vec<String> = Vec::new();
    for operations in document["paths"].as_object().into_iter().flat_map(Map::values) {
        for operation in operations.as_object().into_iter().flat_map(Map::values) {
            for media in operation["requestBody"]["content"].as_object().into_iter().flat_map(Map::values) {
                collect_refs(&media["schema"], &mut pending);
            }
        }
    }
    let mut names = Vec::new();
    while let Some(name) = pending.pop() {
        if names.contains(&name) {
            continue;
        }
        collect_refs(&document["components"]["schemas"][&name], &mut pending);
        names.push(name);
    }
    names
}

fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(fields) => {
            if let Some(name) = fields.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) {
                out.push(name.to_string());
            }
            fields.values().for_each(|value| collect_refs(value, out));
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

/// The methods each documented path answers, for the `Allow` header of a `405`.
#[derive(Debug, Default)]
pub struct AllowedMethods {
    routes: Vec<(Vec<String>, String)>,
    /// The documented path template of each entry of `routes`, without the prefix (metric labels).
    templates: Vec<String>,
    /// The entries without parameters, by their path's segments joined with `/`: every request looks its
    /// path up here first, so the common case costs one hash lookup.
    exact: std::collections::HashMap<String, usize>,
}

impl AllowedMethods {
    /// From the document's paths, under the API prefix, plus the document and docs pages themselves.
    pub fn new(document: &Value, prefix: &str) -> Self {
        let mut routes: Vec<(Vec<String>, String)> = Vec::new();
        let mut templates = Vec::new();
        let documented = document["paths"].as_object().into_iter().flat_map(Map::iter);
        let served = [("/openapi.json".to_string(), vec!["GET"]), ("/docs".to_string(), vec!["GET"])];
        let documented = documented.map(|(path, operations)| {
            let methods = operations.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
            (path.clone(), methods)
        });
        for (path, methods) in documented.collect::<Vec<(String, Vec<&str>)>>().into_iter().chain(served) {
            let mut methods: Vec<String> = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
            if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
                methods.push("HEAD".into());
            }
            methods.sort();
            routes.push((segments(&format!("{prefix}{path}")), methods.join(", ")));
            templates.push(path);
        }
        let exact = routes
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, (pattern, _))| !pattern.iter().any(|segment| is_parameter(segment)))
            .map(|(index, (pattern, _))| (pattern.join("/"), index))
            .collect();
        AllowedMethods { routes, templates, exact }
    }

    /// The `Allow` value for a request path, if a documented path matches it.
    pub fn for_path(&self, path: &str) -> Option<&str> {
        self.position(path).map(|index| self.routes[index].1.as_str())
    }

    /// The documented template a request path matches (`/user/pats/{id}`), if any.
    pub fn template_for(&self, path: &str) -> Option<&str> {
        self.position(path).map(|index| self.templates[index].as_str())
    }

    /// The first route whose pattern matches, preferring one without parameters.
    fn position(&self, path: &str) -> Option<usize> {
        let requested = || path.split('/').filter(|segment| !segment.is_empty());
        let joined = path.trim_matches('/');
        let exact = if joined.contains("//") {
            self.exact.get(&requested().collect::<Vec<_>>().join("/"))
        } else {
            self.exact.get(joined)
        };
        exact.copied().or_else(|| {
            let length = requested().count();
            self.routes.iter().position(|(pattern, _)| {
                pattern.len() == length && pattern.iter().zip(requested()).all(|(p, r)| p == r || is_parameter(p))
            })
        })
    }
}

fn is_parameter(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

fn segments(path: &str) -> Vec<String> {
    path.split('/').filter(|segment| !segment.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_methods_match_templates_under_the_prefix() {
        let document = json!({"paths": {
            "/user/pats/{id}": {"delete": {}},
            "/verify": {"get": {}, "post": {}},
        }});
        let allowed = AllowedMethods::new(&document, "/v1");
        assert_eq!(allowed.for_path("/v1/user/pats/123"), Some("DELETE"));
        assert_eq!(allowed.for_path("/v1/verify"), Some("GET, HEAD, POST"));
        assert_eq!(allowed.for_path("/v1/openapi.json"), Some("GET, HEAD"));
        assert_eq!(allowed.for_path("/verify"), None);
        assert_eq!(allowed.for_path("/v1/user/pats"), None);
        assert_eq!(allowed.template_for("/v1/user/pats/123"), Some("/user/pats/{id}"));
        assert_eq!(allowed.template_for("/v1/verify"), Some("/verify"));
    }
}
