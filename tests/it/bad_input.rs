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
    let long_password = "x".repeat(hauth::domain::password::PASSWORD_MAX_CHARS + 1);
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

/// JSON bodies whose values Postgres cannot store, or cannot give back: a NUL character, and the largest
/// double (stored as 309 digits that no JSON reader takes back).
const UNSTORABLE: [&str; 3] = [r#"{"a":"\u0000"}"#, r#"{"a\u0000":1}"#, r#"{"n":1.7976931348623157e308}"#];

#[tokio::test]
async fn values_that_cannot_round_trip_are_400_on_every_path_that_stores_them() {
    let app = TestApp::spawn_with(&[
        ("AUTH_ANONYMOUS_USERS_ENABLED", "true"),
        ("AUTH_EMAIL_PASSWORDLESS_ENABLED", "true"),
        ("AUTH_OTP_EMAIL_ENABLED", "true"),
        ("AUTH_ACTIONS_SECRET", "actions-secret-for-tests"),
        ("AUTH_CLIENT_URL", "https://app.example.com"),
    ])
    .await;
    let session = app.signed_up_session("owner@example.com").await;
    let bearer = session["accessToken"].as_str().unwrap();
    let anonymous =
        app.post_raw("/signin/anonymous", "{}").await.body["session"]["accessToken"].as_str().unwrap().to_string();
    let expires = (app.clock.now() + chrono::TimeDelta::days(1)).to_rfc3339();
    for metadata in UNSTORABLE {
        let options = format!(r#"{{"metadata":{metadata}}}"#);
        let cases: Vec<(&str, String, Option<&str>)> = vec![
            (
                "/signup/email-password",
                format!(r#"{{"email":"new@example.com","password":"{PASSWORD}","options":{options}}}"#),
                None,
            ),
            ("/signin/anonymous", format!(r#"{{"metadata":{metadata}}}"#), None),
            ("/signin/passwordless/email", format!(r#"{{"email":"magic@example.com","options":{options}}}"#), None),
            ("/signin/otp/email", format!(r#"{{"email":"code@example.com","options":{options}}}"#), None),
            ("/pat", format!(r#"{{"expiresAt":"{expires}","metadata":{metadata}}}"#), Some(bearer)),
            (
                "/user/deanonymize",
                format!(
                    r#"{{"signInMethod":"email-password","email":"up@example.com","password":"{PASSWORD}","options":{options}}}"#
                ),
                Some(anonymous.as_str()),
            ),
        ];
        for (path, body, bearer) in cases {
            let mut request = app.client.post(path).content_type("application/json").body(body.clone());
            if let Some(token) = bearer {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            let reply = crate::helpers::app::Reply::read(request.send().await.0).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} {body} -> {}", reply.text);
            assert_eq!(reply.error_code(), "invalid-request", "{path}");
        }
        let action = format!(
            r#"{{"action":{{"name":"signUpEmailPassword"}},"input":{{"email":"act@example.com","password":"{PASSWORD}","options":{options}}},"session_variables":{{"x-hasura-role":"public"}}}}"#
        );
        let reply = crate::helpers::app::Reply::read(
            app.client
                .post("/hasura/actions")
                .header("X-Hauth-Actions-Secret", "actions-secret-for-tests")
                .content_type("application/json")
                .body(action)
                .send()
                .await
                .0,
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "action: {}", reply.text);
    }
    // A NUL in a redirect target is refused before anything is stored or sent.
    for (path, body) in [
        (
            "/user/password/reset",
            r#"{"email":"owner@example.com","options":{"redirectTo":"https://app.example.com/\u0000"}}"#,
        ),
        (
            "/signin/passwordless/email",
            r#"{"email":"owner@example.com","options":{"redirectTo":"https://app.example.com/\u0000"}}"#,
        ),
    ] {
        let reply = app.post_raw(path, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} -> {}", reply.text);
        assert_eq!(reply.error_code(), "redirectTo-not-allowed");
    }
    assert_eq!(app.count("select count(*) from auth.users").await, 2, "nothing new was stored");
    assert_eq!(app.count("select count(*) from auth.refresh_tokens where type = 'pat'").await, 0);
    assert_eq!(app.count("select count(*) from auth.one_time_codes").await, 0);
}

#[tokio::test]
async fn an_account_already_holding_an_unreadable_number_still_signs_in() {
    let app = TestApp::spawn_with(&[
        ("AUTH_EMAIL_PASSWORDLESS_ENABLED", "true"),
        ("AUTH_JWT_CUSTOM_CLAIMS", r#"{"score":"metadata.n"}"#),
    ])
    .await;
    let session = app.signed_up_session("stored@example.com").await;
    let bearer = session["accessToken"].as_str().unwrap().to_string();
    let pat = app
        .post_with(
            "/pat",
            json!({"expiresAt": (app.clock.now() + chrono::TimeDelta::days(1)).to_rfc3339()}),
            Some(&bearer),
        )
        .await;
    // Written before values were checked: Postgres keeps the number as 309 digits.
    let client = app.db.connect().await;
    client
        .batch_execute(
            r#"update auth.users set metadata = '{"n": 1.7976931348623157e308, "note": "kept"}';
               update auth.refresh_tokens set metadata = '{"n": 1.7976931348623157e308}' where type = 'pat'"#,
        )
        .await
        .unwrap();

    let signin = app.signin("stored@example.com", PASSWORD).await;
    assert_eq!(signin.status, StatusCode::OK, "{}", signin.text);
    let user = &signin.body["session"]["user"];
    assert_eq!(user["metadata"]["note"], "kept");
    assert_eq!(user["metadata"]["n"].as_f64(), Some(f64::MAX));
    let me = app.get("/user", Some(&bearer)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    let refreshed = app.refresh(signin.body["session"]["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let listed = app.get("/user/pats", Some(&bearer)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let with_pat = app.post("/signin/pat", json!({"personalAccessToken": pat.body["personalAccessToken"]})).await;
    assert_eq!(with_pat.status, StatusCode::OK, "{}", with_pat.text);
    assert_eq!(
        app.post("/signin/passwordless/email", json!({"email": "stored@example.com"})).await.status,
        StatusCode::OK
    );
    assert_eq!(app.post("/user/password/reset", json!({"email": "stored@example.com"})).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_refused_body_names_the_field_at_fault() {
    let app = TestApp::spawn().await;
    let cases = [
        ("/signup/email-password", r#"{"email":"a@example.com","password":5}"#, "password"),
        ("/signup/email-password", r#"{"email":"a@example.com"}"#, "password"),
        (
            "/signup/email-password",
            r#"{"email":"a@example.com","password":"secret-password","options":{"allowedRoles":"user"}}"#,
            "options.allowedRoles",
        ),
        ("/signup/email-password", r#"{"email":"a@example.com","password":"secret-password","admin":1}"#, "admin"),
        ("/token", r#"{"refreshToken":5}"#, "refreshToken"),
    ];
    for (path, body, field) in cases {
        let reply = app.post_raw(path, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body} -> {}", reply.text);
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.contains(field), "{body}: {message:?} does not name {field}");
        assert!(!message.contains("string_password") && !message.contains("occurred while parsing"), "{message}");
    }
}
