//! What the edge records about each answer: the request and latency metrics by route template, sign-ins by
//! method and outcome, refreshes and webhook calls (all read from the route and the status, so no flow has
//! to know about metrics); and nhost's concealed errors ([`super::config::CONCEAL_ERRORS`]), which turns the answers that would reveal
//! whether an account exists into a plain `400 invalid-request`.
use poem::Response;
use poem::http::StatusCode;

use crate::state::AppState;

/// The sign-in method of each route that completes a sign-in.
const SIGN_IN_ROUTES: &[(&str, &str)] = &[
    ("/signin/email-password", "password"),
    ("/signin/anonymous", "anonymous"),
    ("/signin/pat", "pat"),
    ("/signin/idtoken", "idtoken"),
    ("/signin/mfa/totp", "mfa-totp"),
    ("/signin/otp/email/verify", "email-otp"),
    ("/signin/passwordless/sms/otp", "sms-otp"),
    ("/signin/provider/{provider}/callback", "provider"),
    ("/oauth/{provider}/callback", "provider"),
    ("/verify", "link"),
];

/// nhost's sensitive error codes: with errors concealed, each becomes `400 invalid-request`.
const SENSITIVE_ERRORS: &[&str] = &[
    "disabled-user",
    "email-already-in-use",
    "email-already-verified",
    "forbidden-anonymous",
    "invalid-email-password",
    "invalid-pat",
    "role-not-allowed",
    "signup-disabled",
    "unverified-user",
    "invalid-refresh-token",
    "invalid-ticket",
    "disabled-mfa-totp",
    "invalid-totp",
    "invalid-otp",
    "no-totp-secret",
];

fn outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=399 => "success",
        429 => "rate-limited",
        503 => "unavailable",
        500..=599 => "error",
        _ => "failure",
    }
}

/// Counts and times one answered request.
pub fn record(state: &AppState, route: &str, method: &str, status: StatusCode, seconds: f64) {
    let metrics = &state.metrics;
    metrics.http_requests.with_label_values(&[route, method, status.as_str()]).inc();
    metrics.http_duration.with_label_values(&[route, method]).observe(seconds);
    let completes_sign_in = method == "POST" || route.ends_with("/callback");
    if let Some((_, sign_in)) = SIGN_IN_ROUTES.iter().find(|(path, _)| *path == route).filter(|_| completes_sign_in) {
        metrics.sign_ins.with_label_values(&[sign_in, outcome(status)]).inc();
    }
    if route == "/token" {
        metrics.refreshes.with_label_values(&[outcome(status)]).inc();
    }
    if route == "/hasura/webhook" {
        let answer = match status.as_u16() {
            200 => "allowed",
            401 => "denied",
            _ => "error",
        };
        metrics.webhook_calls.with_label_values(&[answer]).inc();
    }
}

/// With errors concealed, replaces an answer that carries a sensitive error code with `400 invalid-request`.
pub async fn conceal(state: &AppState, response: Response) -> Response {
    let status = response.status();
    if !state.config.http.conceal_errors || !matches!(status.as_u16(), 400 | 401 | 403 | 409) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = body.into_bytes().await.unwrap_or_default();
    let code = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|value| value.get("error").and_then(|code| code.as_str()).map(str::to_string));
    if code.is_some_and(|code| SENSITIVE_ERRORS.contains(&code.as_str())) {
        let body = serde_json::json!({"status": 400, "error": "invalid-request", "message": "invalid-request"});
        let mut concealed = Response::from_parts(parts, poem::Body::from_json(body).unwrap_or_default());
        concealed.set_status(StatusCode::BAD_REQUEST);
        return concealed;
    }
    Response::from_parts(parts, poem::Body::from(bytes))
}
