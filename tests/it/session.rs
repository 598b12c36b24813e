//! Sign-out (one session, or every session and personal access token with a bearer) and `/user` with a
//! bearer token.
use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::app::{PASSWORD, Reply};

#[tokio::test]
async fn signout_ends_that_session_only() {
    let app = TestApp::spawn().await;
    let laptop = app.signed_up_session("out@example.com").await;
    let phone = app.signin("out@example.com", PASSWORD).await.body["session"].clone();
    let laptop_token = laptop["refreshToken"].as_str().unwrap();
    let rotated = app.refresh(laptop_token).await.body["refreshToken"].as_str().unwrap().to_string();

    let reply = app.post("/signout", json!({"refreshToken": rotated})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body, json!("OK"));
    // The whole laptop family is gone, the phone session is not.
    assert_eq!(app.refresh(&rotated).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(laptop_token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(phone["refreshToken"].as_str().unwrap()).await.status, StatusCode::OK);
}

#[tokio::test]
async fn signout_all_needs_a_bearer_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let laptop = app.signed_up_session("all@example.com").await;
    let phone = app.signin("all@example.com", PASSWORD).await.body["session"].clone();
    let reply = app.post("/signout", json!({"refreshToken": laptop["refreshToken"], "all": true})).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error_code(), "invalid-request");

    let reply = app
        .post_with(
            "/signout",
            json!({"refreshToken": laptop["refreshToken"], "all": true}),
            laptop["accessToken"].as_str(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(app.count("select count(*) from auth.refresh_tokens").await, 0);
    assert_eq!(app.refresh(phone["refreshToken"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signout_of_an_unknown_token_is_ok_and_of_a_malformed_one_is_400() {
    let app = TestApp::spawn().await;
    let reply = app.post("/signout", json!({"refreshToken": uuid::Uuid::new_v4().to_string()})).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app.post("/signout", json!({"refreshToken": "nope"})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "invalid-request");
}

#[tokio::test]
async fn get_user_returns_the_bearers_profile() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("me@example.com").await;
    let reply = app.get("/user", session["accessToken"].as_str()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["id"], session["user"]["id"]);
    assert_eq!(reply.body["email"], "me@example.com");
    assert_eq!(reply.body["roles"], json!(["me", "user"]));
    assert_eq!(reply.body["activeMfaType"], serde_json::Value::Null);
    for field in [
        "avatarUrl",
        "createdAt",
        "defaultRole",
        "displayName",
        "emailVerified",
        "isAnonymous",
        "locale",
        "metadata",
        "phoneNumberVerified",
    ] {
        assert!(reply.body.get(field).is_some(), "{field} missing from {}", reply.text);
    }
}

#[tokio::test]
async fn get_user_refuses_missing_tampered_and_expired_tokens() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("guard@example.com").await;
    let token = session["accessToken"].as_str().unwrap();

    let missing = app.get("/user", None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.error_code(), "invalid-request");

    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    let tampered = app.get("/user", Some(&parts.join("."))).await;
    assert_eq!(tampered.status, StatusCode::UNAUTHORIZED);

    app.clock.advance(TimeDelta::seconds(901));
    let expired = app.get("/user", Some(token)).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.error_code(), "invalid-request");
}

#[tokio::test]
async fn token_verify_accepts_body_or_bearer_and_refuses_bad_tokens() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("v@example.com").await;
    let token = session["accessToken"].as_str().unwrap();
    let by_body = app.post("/token/verify", json!({"token": token})).await;
    assert_eq!(by_body.status, StatusCode::OK, "{}", by_body.text);
    assert_eq!(by_body.body, json!("OK"));
    let reply = app.client.post("/token/verify").header("Authorization", format!("Bearer {token}")).send().await;
    reply.assert_status_is_ok();
    let bad = app.post("/token/verify", json!({"token": "a.b.c"})).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.error_code(), "invalid-request");
}

#[tokio::test]
async fn sessions_are_listed_with_their_device_and_one_is_ended() {
    let app = TestApp::spawn().await;
    let laptop = app.signed_up_session("devices@example.com").await;
    let signin = |agent: &'static str| {
        app.client
            .post("/signin/email-password")
            .header("user-agent", agent)
            .header("x-forwarded-for", "203.0.113.7")
            .body_json(&json!({"email": "devices@example.com", "password": PASSWORD}))
            .send()
    };
    let phone = Reply::read(signin("PhoneBrowser/1.0").await.0).await;
    assert_eq!(phone.status, StatusCode::OK, "{}", phone.text);
    let phone = phone.body["session"].clone();
    // A refresh keeps the session (and its device), with a new last use.
    app.clock.advance(TimeDelta::seconds(60));
    let laptop_rotated = app.refresh(laptop["refreshToken"].as_str().unwrap()).await.body.clone();
    let phone_token = phone["accessToken"].as_str().unwrap();

    let listed = app.get("/user/sessions", Some(phone_token)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let sessions = listed.body.as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let mine: Vec<_> = sessions.iter().filter(|session| session["current"] == true).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["userAgent"], "PhoneBrowser/1.0");
    let other = sessions.iter().find(|session| session["current"] == false).unwrap();
    let other_id = other["id"].as_str().unwrap().to_string();
    assert!(other["lastUsedAt"].as_str().unwrap() > other["createdAt"].as_str().unwrap(), "{other}");

    // Ending the laptop's session stops its refresh token; nobody else's session can be named.
    let stranger = app.signed_up_session("stranger@example.com").await;
    let refused = Reply::read(
        app.client
            .delete(format!("/user/sessions/{other_id}"))
            .header("authorization", format!("Bearer {}", stranger["accessToken"].as_str().unwrap()))
            .send()
            .await
            .0,
    )
    .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.text);
    let ended = Reply::read(
        app.client
            .delete(format!("/user/sessions/{other_id}"))
            .header("authorization", format!("Bearer {phone_token}"))
            .send()
            .await
            .0,
    )
    .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    assert_eq!(app.refresh(laptop_rotated["refreshToken"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
    let listed = app.get("/user/sessions", Some(phone_token)).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(app.refresh(phone["refreshToken"].as_str().unwrap()).await.status, StatusCode::OK);
}
