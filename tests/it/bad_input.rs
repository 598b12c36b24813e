//! Malformed requests: every one gets a JSON error with a stable code, never a 500, and stores nothing.
use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::app::PASSWORD;

async fn assert_refused(app: &TestApp, path: &str, body: &str, status: StatusCode) {
    let reply = app.post_raw(path, body).await;
    assert_eq!(reply.status, status, "{path} {body} -> {}", reply.text);
    assert_eq!(reply.error_code(), "invalid-request");
}

#[tokio::test]
async fn malformed_bodies_are_400_invalid_request_and_store_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        "{not json",
        "",
        "[]",
        r#"{"email": 5, "password": "secret-password"}"#,
        r#"{"email": "a@example.com"}"#,
        r#"{"email": "a@example.com", "password": "secret-password", "admin": true}"#,
        r#"{"email": "not-an-email", "password": "secret-password"}"#,
        r#"{"email": "a@example.com", "password": "secret-password", "options": {"allowedRoles": "user"}}"#,
        r#"{"email": "a@example.com", "password": "secret-password", "options": {"unknown": 1}}"#,
        r#"{"email": "a@example.com", "password": "secret-password", "options": {"displayName": "<a href=x:y>"}}"#,
        r#"{"email": "a@example.com", "password": "secret-password", "options": {"metadata": [1]}}"#,
    ];
    for body in cases {
        assert_refused(&app, "/signup/email-password", body, StatusCode::BAD_REQUEST).await;
    }
    let long_password = "x".repeat(51);
    let reply = app.post("/signup/email-password", json!({"email": "a@example.com", "password": long_password})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    for body in ["{", r#"{"email": "a@example.com"}"#, r#"{"email": "a@example.com", "password": 1}"#] {
        assert_refused(&app, "/signin/email-password", body, StatusCode::BAD_REQUEST).await;
    }
    for body in ["{}", r#"{"refreshToken": 12}"#, r#"{"refreshToken": "x", "extra": 1}"#] {
        assert_refused(&app, "/token", body, StatusCode::BAD_REQUEST).await;
    }
    assert_eq!(app.count("select count(*) from auth.users").await, 0);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = TestApp::spawn_with(&[("AUTH_MAX_BODY_BYTES", "1024")]).await;
    let padding = "x".repeat(2048);
    let body = json!({"email": "big@example.com", "password": PASSWORD, "options": {"metadata": {"pad": padding}}});
    let reply = app.post("/signup/email-password", body).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.error_code(), "invalid-request");
    assert_eq!(app.count("select count(*) from auth.users").await, 0);
}

#[tokio::test]
async fn a_wrong_content_type_is_a_client_error_not_a_500() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post("/signin/email-password")
        .content_type("text/plain")
        .body(r#"{"email": "a@example.com", "password": "pw-pw-pw"}"#)
        .send()
        .await;
    let status = response.0.status();
    assert!(status.is_client_error(), "{status}");
}
