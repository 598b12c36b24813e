//! `AUTH_REFRESH_TOKEN_COOKIE`: sessions answer their refresh token in an httpOnly cookie and never in the
//! body, `/token` and `/signout` work from the cookie alone, and a cross-site form cannot use it.
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::app::{PASSWORD, Reply};

const COOKIE: &str = "hauthRefreshToken";

/// The refresh-token cookie an answer sets: its value and its attributes, lower-cased.
fn set_cookie(reply: &Reply) -> Option<(String, Vec<String>)> {
    let line = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|line| line.starts_with(&format!("{COOKIE}=")))?;
    let mut parts = line.split(';').map(str::trim);
    let value = parts.next()?.split_once('=')?.1.to_string();
    Some((value, parts.map(str::to_ascii_lowercase).collect()))
}

async fn post_with_cookie(app: &TestApp, path: &str, content_type: &str, body: &str, token: &str) -> Reply {
    let request = app
        .client
        .post(format!("{}{path}", app.prefix))
        .header("content-type", content_type)
        .header("cookie", format!("theme=dark; {COOKIE}={token}"))
        .body(body.to_string());
    Reply::read(request.send().await.0).await
}

async fn refresh_tokens_in_db(app: &TestApp) -> i64 {
    app.count("select count(*) from auth.refresh_tokens").await
}

#[tokio::test]
async fn a_session_sets_an_httponly_strict_secure_cookie_under_the_prefix_and_no_token_in_the_body() {
    let app = TestApp::spawn_with(&[
        ("AUTH_REFRESH_TOKEN_COOKIE", "true"),
        ("AUTH_API_PREFIX", "/v1"),
        ("AUTH_SERVER_URL", "https://auth.example.com/v1"),
    ])
    .await;
    for reply in [app.signup("jar@example.com").await, app.signin("jar@example.com", PASSWORD).await] {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let session = &reply.body["session"];
        assert!(session["accessToken"].is_string(), "{}", reply.text);
        assert!(session["refreshTokenId"].is_string(), "{}", reply.text);
        assert_eq!(session.get("refreshToken"), None, "{}", reply.text);
        assert!(!reply.text.contains("refreshToken\""), "{}", reply.text);
        let (token, attributes) = set_cookie(&reply).expect("a refresh-token cookie");
        assert_eq!(token.len(), 36, "{token}");
        for attribute in ["httponly", "samesite=strict", "secure", "path=/v1", "max-age=2592000"] {
            assert!(attributes.contains(&attribute.to_string()), "{attribute} missing from {attributes:?}");
        }
        assert!(!reply.text.contains(&token));
    }
    // The document no longer promises a refresh token in the session, nor demands one from `/token`.
    let document = app.get("/openapi.json", None).await.body;
    let required = |schema: &str| document["components"]["schemas"][schema]["required"].clone();
    assert!(!required("Session").as_array().unwrap().contains(&json!("refreshToken")));
    assert!(required("RefreshTokenRequest").as_array().is_none_or(|fields| fields.is_empty()));
}

#[tokio::test]
async fn refresh_and_sign_out_work_from_the_cookie_alone() {
    let app = TestApp::spawn_with(&[("AUTH_REFRESH_TOKEN_COOKIE", "true")]).await;
    let signed_up = app.signup("crumb@example.com").await;
    let (first, attributes) = set_cookie(&signed_up).unwrap();
    // Plain http on localhost: development, where a `Secure` cookie would not be kept.
    assert!(!attributes.contains(&"secure".to_string()), "{attributes:?}");
    assert!(attributes.contains(&"path=/".to_string()), "{attributes:?}");

    let refreshed = post_with_cookie(&app, "/token", "application/json", "{}", &first).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    assert!(refreshed.body["accessToken"].is_string());
    assert_eq!(refreshed.body.get("refreshToken"), None, "{}", refreshed.text);
    let (second, _) = set_cookie(&refreshed).expect("the rotated token in the cookie");
    assert_ne!(second, first);
    let user = app.get("/user", refreshed.body["accessToken"].as_str()).await;
    assert_eq!(user.body["email"], "crumb@example.com");

    // A token in the body still wins over the cookie (clients that kept it).
    let by_body =
        post_with_cookie(&app, "/token", "application/json", &json!({"refreshToken": second}).to_string(), "junk")
            .await;
    assert_eq!(by_body.status, StatusCode::OK, "{}", by_body.text);
    let (third, _) = set_cookie(&by_body).unwrap();

    let signed_out = post_with_cookie(&app, "/signout", "application/json", "{}", &third).await;
    assert_eq!(signed_out.status, StatusCode::OK, "{}", signed_out.text);
    assert_eq!(signed_out.body, json!("OK"));
    let (cleared, attributes) = set_cookie(&signed_out).expect("the cookie cleared");
    assert_eq!(cleared, "");
    assert!(attributes.contains(&"max-age=0".to_string()), "{attributes:?}");
    assert_eq!(refresh_tokens_in_db(&app).await, 0);

    let refused = post_with_cookie(&app, "/token", "application/json", "{}", &third).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    assert_eq!(refused.error_code(), "invalid-refresh-token");
    assert_eq!(set_cookie(&refused).map(|(value, _)| value).as_deref(), Some(""), "a dead cookie is cleared");
}

#[tokio::test]
async fn a_cross_site_form_post_cannot_refresh_with_the_cookie() {
    let app = TestApp::spawn_with(&[
        ("AUTH_REFRESH_TOKEN_COOKIE", "true"),
        ("AUTH_CLIENT_URL", "https://app.example.com/welcome"),
    ])
    .await;
    let (token, _) = set_cookie(&app.signup("form@example.com").await).unwrap();
    let before: Vec<Value> = app
        .rows("select to_jsonb(t) - 'updated_at' from auth.refresh_tokens t", &[])
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();

    // What an HTML form can send: urlencoded, multipart, or text/plain dressed as JSON; and a bodiless POST.
    let attempts = [
        ("application/x-www-form-urlencoded", format!("refreshToken={token}")),
        ("application/x-www-form-urlencoded", String::new()),
        (
            "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--".into(),
        ),
        ("text/plain", "{}".to_string()),
        ("text/plain", String::new()),
    ];
    for (content_type, body) in attempts {
        let reply = post_with_cookie(&app, "/token", content_type, &body, &token).await;
        assert!(reply.status.is_client_error(), "{content_type}: {} {}", reply.status, reply.text);
        assert!(!reply.text.contains("accessToken"), "{}", reply.text);
        assert_eq!(set_cookie(&reply), None, "{content_type}");
    }
    let bodiless = app.client.post("/token").header("cookie", format!("{COOKIE}={token}")).send().await.0;
    let bodiless = Reply::read(bodiless).await;
    assert!(bodiless.status.is_client_error(), "{}", bodiless.text);
    assert_eq!(set_cookie(&bodiless), None);

    // Nothing was rotated: the token is as it was, and the app's own JSON call still refreshes with it.
    let after: Vec<Value> = app
        .rows("select to_jsonb(t) - 'updated_at' from auth.refresh_tokens t", &[])
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(before, after);
    assert_eq!(post_with_cookie(&app, "/token", "application/json", "{}", &token).await.status, StatusCode::OK);

    // Only the frontend's origin may send credentials; any other origin is answered without them.
    let preflight = |origin: &'static str| {
        app.client
            .options("/token")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let own = preflight("https://app.example.com").await.0;
    assert_eq!(own.headers().get("access-control-allow-credentials").map(|v| v.to_str().unwrap()), Some("true"));
    let other = preflight("https://evil.example.net").await.0;
    assert_eq!(other.headers().get("access-control-allow-credentials"), None);
}
