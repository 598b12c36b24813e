//! Hasura's auth webhook, GET and POST modes: 200 with string-only session variables, or 401.
use base64::Engine;
use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

fn assert_all_strings(body: &Value) {
    let map = body.as_object().expect("an object");
    assert!(map.values().all(Value::is_string), "every value is a string: {body}");
}

#[tokio::test]
async fn get_mode_answers_with_the_tokens_session_variables() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("hook@example.com").await;
    let bearer = format!("Bearer {}", session["accessToken"].as_str().unwrap());
    let reply = app.webhook_get(&[("Authorization", &bearer)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_all_strings(&reply.body);
    assert_eq!(reply.body["X-Hasura-Role"], "user");
    assert_eq!(reply.body["X-Hasura-User-Id"], session["user"]["id"]);
    assert_eq!(reply.body["X-Hasura-User-Is-Anonymous"], "false");
    assert_eq!(reply.body["Cache-Control"], "max-age=900");
}

#[tokio::test]
async fn post_mode_reads_the_forwarded_headers_in_any_case() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("post@example.com").await;
    let bearer = format!("Bearer {}", session["accessToken"].as_str().unwrap());
    let reply = app.webhook_post(json!({"AUTHORIZATION": bearer, "x-hasura-ROLE": "me", "User-Agent": "x"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_all_strings(&reply.body);
    assert_eq!(reply.body["X-Hasura-Role"], "me");
    assert_eq!(reply.body["X-Hasura-User-Id"], session["user"]["id"]);
}

#[tokio::test]
async fn a_requested_role_outside_the_allowed_roles_is_401() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("role@example.com").await;
    let bearer = format!("Bearer {}", session["accessToken"].as_str().unwrap());
    let allowed = app.webhook_get(&[("Authorization", &bearer), ("X-Hasura-Role", "me")]).await;
    assert_eq!(allowed.body["X-Hasura-Role"], "me");
    let refused = app.webhook_get(&[("Authorization", &bearer), ("X-Hasura-Role", "admin")]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let refused = app.webhook_post(json!({"Authorization": bearer, "X-Hasura-Role": "admin"})).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_tampered_alg_none_and_wrong_key_tokens_are_401() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("bad@example.com").await;
    let token = session["accessToken"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: Value = serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
    payload["https://hasura.io/jwt/claims"]["x-hasura-allowed-roles"] = json!(["admin"]);
    payload["https://hasura.io/jwt/claims"]["x-hasura-default-role"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], engine.encode(payload.to_string()), parts[2]);
    let alg_none = format!("{}.{}.", engine.encode(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let wrong_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &payload,
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-key-not-the-key-not-the-key"),
    )
    .unwrap();
    for bad in [tampered, alg_none, wrong_key, "garbage".to_string()] {
        let reply = app.webhook_get(&[("Authorization", &format!("Bearer {bad}"))]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad}");
        let reply = app.webhook_post(json!({"Authorization": format!("Bearer {bad}")})).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    let basic = app.webhook_get(&[("Authorization", "Basic dXNlcjpwYXNz")]).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);

    app.clock.advance(TimeDelta::seconds(901));
    let expired = app.webhook_get(&[("Authorization", &format!("Bearer {token}"))]).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn no_credentials_get_the_unauthenticated_role_or_401_when_disabled() {
    let app = TestApp::spawn().await;
    let reply = app.webhook_get(&[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"X-Hasura-Role": "public"}));
    let reply = app.webhook_post(json!({})).await;
    assert_eq!(reply.body, json!({"X-Hasura-Role": "public"}));
    let escalate = app.webhook_get(&[("X-Hasura-Role", "user")]).await;
    assert_eq!(escalate.status, StatusCode::UNAUTHORIZED, "no role without credentials");

    let app = TestApp::spawn_with(&[("AUTH_WEBHOOK_UNAUTHENTICATED_ROLE", "anonymous")]).await;
    assert_eq!(app.webhook_get(&[]).await.body, json!({"X-Hasura-Role": "anonymous"}));
    let app = TestApp::spawn_with(&[("AUTH_WEBHOOK_ALLOW_UNAUTHENTICATED", "false")]).await;
    assert_eq!(app.webhook_get(&[]).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cache_control_counts_down_with_the_tokens_remaining_life() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("ttl@example.com").await;
    let bearer = format!("Bearer {}", session["accessToken"].as_str().unwrap());
    assert_eq!(app.webhook_get(&[("Authorization", &bearer)]).await.body["Cache-Control"], "max-age=900");
    app.clock.advance(TimeDelta::seconds(100));
    assert_eq!(app.webhook_get(&[("Authorization", &bearer)]).await.body["Cache-Control"], "max-age=800");
    app.clock.advance(TimeDelta::seconds(799));
    assert_eq!(app.webhook_get(&[("Authorization", &bearer)]).await.body["Cache-Control"], "max-age=1");
}

#[tokio::test]
async fn unreadable_webhook_requests_are_401_never_another_status() {
    let app = TestApp::spawn().await;
    for body in ["{not json", "[]", r#"{"headers": 5}"#, ""] {
        let reply = app.post_raw("/hasura/webhook", body).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{body:?} -> {}", reply.text);
    }
}

#[tokio::test]
async fn custom_claims_reach_hasura_as_session_variables() {
    let app =
        TestApp::spawn_with(&[("AUTH_JWT_CUSTOM_CLAIMS", r#"{"plan": "metadata.plan", "roles": "roles[].role"}"#)])
            .await;
    let reply = app
        .post(
            "/signup/email-password",
            json!({"email": "cc@example.com", "password": crate::helpers::app::PASSWORD, "options": {"metadata": {"plan": "pro"}}}),
        )
        .await;
    let bearer = format!("Bearer {}", reply.body["session"]["accessToken"].as_str().unwrap());
    let reply = app.webhook_get(&[("Authorization", &bearer)]).await;
    assert_all_strings(&reply.body);
    assert_eq!(reply.body["X-Hasura-Plan"], "pro");
    assert_eq!(reply.body["X-Hasura-Roles"], r#"{"me","user"}"#);
}
