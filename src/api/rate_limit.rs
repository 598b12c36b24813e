//! Which of nhost's rate-limit buckets a request falls in, by its route, and the account identifier (email
//! address or phone number) its JSON body names; the count itself is [`crate::flows::rate_limit`]'s.
//!
//! Routes Hasura or monitoring call on every request (the webhook, actions, health, metrics, keys, the
//! document) are never limited: Hasura calls from one address on behalf of every user. Nor are provider
//! callbacks: they only redirect back to the application, and the state they carry is one-time and
//! server-side, so there is nothing to guess.
use poem::Request;

use crate::flows::rate_limit::{Bucket, LimitedRequest};
use crate::state::AppState;

/// Routes that send an email.
const EMAIL_ROUTES: &[&str] = &[
    "/signin/passwordless/email",
    "/signin/otp/email",
    "/user/email/change",
    "/user/email/send-verification-email",
    "/user/password/reset",
];

/// Routes that are never limited.
const UNLIMITED_PREFIXES: &[&str] =
    &["/hasura/", "/healthz", "/readyz", "/metrics", "/.well-known/", "/version", "/openapi.json", "/docs"];

/// The buckets of a request to `path` (without the API prefix).
pub fn buckets(state: &AppState, method: &poem::http::Method, path: &str) -> Vec<Bucket> {
    let unlimited = UNLIMITED_PREFIXES.iter().any(|prefix| path.starts_with(prefix)) || path.ends_with("/callback");
    if unlimited || method == poem::http::Method::OPTIONS {
        return Vec::new();
    }
    let mut buckets = vec![Bucket::Global];
    let verification_mails = state.config.users.email_verified_required;
    if EMAIL_ROUTES.contains(&path)
        || (verification_mails && (path == "/signup/email-password" || path == "/user/deanonymize"))
    {
        buckets.push(Bucket::Email);
    }
    if path == "/signin/passwordless/sms" {
        buckets.push(Bucket::Sms);
    }
    if path.starts_with("/signin/")
        || path.ends_with("/verify")
        || path.ends_with("/otp")
        || path.starts_with("/elevate/")
    {
        buckets.push(Bucket::BruteForce);
    }
    if path.starts_with("/signup/") {
        buckets.push(Bucket::Signups);
    }
    buckets
}

/// The email address or phone number a JSON body names, lower-cased.
fn identifier(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["email", "newEmail", "phoneNumber"].iter().find_map(|field| {
        let text = value.get(field)?.as_str()?.trim();
        (!text.is_empty() && text.len() <= 320).then(|| text.to_lowercase())
    })
}

/// What `req` (its body already read into memory by the request context) counts against.
pub async fn limited_request(state: &AppState, req: &mut Request, client_ip: Option<String>) -> LimitedRequest {
    let prefix = &state.config.http.api_prefix;
    let path = req.uri().path();
    let path = path.strip_prefix(prefix.as_str()).unwrap_or(path).to_string();
    let buckets = buckets(state, req.method(), &path);
    if buckets.len() <= 1 {
        return LimitedRequest { buckets, client_ip, identifier: None };
    }
    let bytes = req.take_body().into_bytes_limit(state.config.http.max_body_bytes).await.unwrap_or_default();
    let identifier = identifier(&bytes);
    req.set_body(bytes);
    LimitedRequest { buckets, client_ip, identifier }
}
