//! The httpOnly refresh-token cookie ([`super::config::REFRESH_TOKEN_COOKIE`]), for applications that do not
//! want the refresh token within reach of the page's JavaScript. One layer around every route does all of
//! it, so no handler knows about cookies:
//! - an answer that carries a session (a `refreshToken` at the top of its JSON or in its `session`) loses the
//!   token from its body, and sets it in a cookie instead: `HttpOnly; SameSite=Strict`, `Secure` unless the
//!   service's URL is plain http on a loopback host (local development), its `Path` the path of the service's
//!   URL (the API prefix), living as long as a refresh token;
//! - `POST /token` and `POST /signout` take the token from the cookie when their JSON body names none;
//! - a successful sign-out, or a refresh refused with the cookie's token, clears it;
//! - the frontend's origin (the client URL) may send credentials (`Access-Control-Allow-Credentials`).
//!
//! Cross-site requests cannot use the cookie: `SameSite=Strict` keeps browsers from attaching it to a request
//! started by another site, and the token is only read from it for a body sent as `application/json`, which
//! an HTML form cannot send and a cross-origin script can only send after a CORS preflight.
//! Hasura's routes (`/hasura/*`) are server-to-server and keep the token in their bodies.
use poem::Response;
use poem::http::{HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::state::AppState;

/// The cookie's name.
pub const COOKIE_NAME: &str = "hauthRefreshToken";

/// The routes that read a refresh token from their body.
const READING_ROUTES: &[&str] = &["/token", "/signout"];

/// What the request told the answer: whether the token came from the cookie, and the caller's origin.
#[derive(Default)]
pub struct CookieRequest {
    token_from_cookie: bool,
    origin: Option<String>,
}

fn enabled(state: &AppState, route: &str) -> bool {
    state.config.http.refresh_token_cookie && !route.starts_with("/hasura/")
}

/// The value of the refresh-token cookie of a request, if any.
fn cookie_token(req: &poem::Request) -> Option<String> {
    req.headers().get_all(header::COOKIE).iter().filter_map(|value| value.to_str().ok()).find_map(|line| {
        line.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE_NAME && !value.is_empty()).then(|| value.to_string())
        })
    })
}

fn is_json(content_type: Option<&str>) -> bool {
    matches!(content_type.and_then(|value| value.parse::<mime::Mime>().ok()),
        Some(mime) if mime.type_() == "application" && mime.subtype() == "json")
}

/// Before the handler: fills in the cookie's token where `/token` or `/signout` got a JSON object without one.
/// The body has already been read (and bounded) into memory.
pub async fn fill_request(state: &AppState, route: &str, req: &mut poem::Request) -> CookieRequest {
    let mut seen = CookieRequest { token_from_cookie: false, origin: req.header("origin").map(str::to_string) };
    if !enabled(state, route) || req.method() != poem::http::Method::POST || !READING_ROUTES.contains(&route) {
        return seen;
    }
    let Some(token) = cookie_token(req) else { return seen };
    if !is_json(req.header("content-type")) {
        return seen;
    }
    let bytes = req.take_body().into_bytes().await.unwrap_or_default();
    let mut body = serde_json::from_slice::<Value>(&bytes).ok();
    if let Some(fields) = body.as_mut().and_then(Value::as_object_mut)
        && !fields.contains_key("refreshToken")
    {
        fields.insert("refreshToken".into(), Value::String(token));
        seen.token_from_cookie = true;
        req.set_body(body.map(|value| value.to_string()).unwrap_or_default());
        return seen;
    }
    req.set_body(bytes);
    seen
}

/// The `Set-Cookie` value holding `token`, or clearing the cookie when `None`.
fn set_cookie(state: &AppState, token: Option<&str>) -> Option<HeaderValue> {
    let server_url = &state.config.http.server_url;
    let path = match server_url.path().trim_end_matches('/') {
        "" => "/",
        path => path,
    };
    let loopback = match server_url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    };
    let secure = if server_url.scheme() == "http" && loopback { "" } else { "; Secure" };
    let (value, max_age) = match token {
        Some(token) => (token, state.config.session.refresh_token_expires_in),
        None => ("", 0),
    };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

/// Whether `origin` is the frontend's (the client URL's), which may call with credentials.
fn is_client_origin(state: &AppState, origin: &str) -> bool {
    state.config.http.client_url.as_ref().is_some_and(|url| url.origin().ascii_serialization() == origin)
}

/// After the handler: moves a session's refresh token from the body into the cookie, clears the cookie after
/// a sign-out or a refused cookie token, and lets the frontend's origin send credentials.
pub async fn rewrite_response(state: &AppState, route: &str, seen: CookieRequest, response: Response) -> Response {
    if !enabled(state, route) {
        return response;
    }
    let mut response = response;
    if let Some(origin) = seen.origin.as_deref().filter(|origin| is_client_origin(state, origin))
        && response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_some_and(|allowed| allowed == origin)
    {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
    let status = response.status();
    let cleared = (route == "/signout" && status.is_success())
        || (route == "/token" && seen.token_from_cookie && status == StatusCode::UNAUTHORIZED);
    if cleared {
        if let Some(clear) = set_cookie(state, None) {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
        return response;
    }
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    if !status.is_success() || !is_json(content_type) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = body.into_bytes().await.unwrap_or_default();
    let mut value = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
    let token = take_refresh_token(&mut value);
    let Some(token) = token else { return Response::from_parts(parts, poem::Body::from(bytes)) };
    if let Some(cookie) = set_cookie(state, Some(&token)) {
        parts.headers.append(header::SET_COOKIE, cookie);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, poem::Body::from(value.to_string()))
}

/// Removes a session's refresh token from an answer's JSON (`refreshToken` at the top, or in `session`).
fn take_refresh_token(value: &mut Value) -> Option<String> {
    let fields = value.as_object_mut()?;
    let holder = match fields.get_mut("session").and_then(Value::as_object_mut) {
        Some(session) if session.contains_key("refreshToken") => session,
        _ => fields,
    };
    match holder.remove("refreshToken")? {
        Value::String(token) => Some(token),
        other => {
            holder.insert("refreshToken".into(), other);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_refresh_token_is_taken_from_the_session_or_the_top() {
        let mut signed_in = json!({"session": {"accessToken": "a", "refreshToken": "r1"}, "mfa": null});
        assert_eq!(take_refresh_token(&mut signed_in).as_deref(), Some("r1"));
        assert_eq!(signed_in, json!({"session": {"accessToken": "a"}, "mfa": null}));
        let mut refreshed = json!({"accessToken": "a", "refreshToken": "r2", "refreshTokenId": "i"});
        assert_eq!(take_refresh_token(&mut refreshed).as_deref(), Some("r2"));
        assert_eq!(refreshed, json!({"accessToken": "a", "refreshTokenId": "i"}));
        let mut challenged = json!({"session": null, "mfa": {"ticket": "t"}});
        assert_eq!(take_refresh_token(&mut challenged), None);
        assert_eq!(challenged, json!({"session": null, "mfa": {"ticket": "t"}}));
    }
}
