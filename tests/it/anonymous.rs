//! `POST /signin/anonymous`: a session for a new anonymous user, with or without a body (the nhost SDK sends
//! none but a JSON content type), refused when disabled, and a user row with no email and role `anonymous`.
use base64::Engine;
use poem::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::TestApp;
use crate::helpers::app::Reply;

const ENABLED: (&str, &str) = ("AUTH_ANONYMOUS_USERS_ENABLED", "true");

async fn signin_without_body(app: &TestApp) -> Reply {
    Reply::read(app.client.post("/signin/anonymous").content_type("application/json").send().await.0).await
}

fn claims(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    let payload: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    payload["https://hasura.io/jwt/claims"].clone()
}

#[tokio::test]
async fn an_empty_body_with_a_json_content_type_signs_in_an_anonymous_user() {
    let app = TestApp::spawn_with(&[ENABLED]).await;
    let reply = signin_without_body(&app).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let session = &reply.body["session"];
    assert!(session["accessToken"].is_string());
    assert_eq!(session["accessTokenExpiresIn"], 900);
    assert!(session["refreshToken"].is_string());
    let user = &session["user"];
    assert_eq!(user["isAnonymous"], true);
    assert_eq!(user["displayName"], "Anonymous User");
    assert_eq!(user["locale"], "en");
    assert_eq!(user["defaultRole"], "anonymous");
    assert_eq!(user["roles"], json!(["anonymous"]));
    assert_eq!(user["avatarUrl"], "");
    assert_eq!(user["metadata"], json!({}));
    assert!(user.get("email").is_none(), "{user}");
    assert_eq!(app.count("select count(*) from auth.users").await, 1);
    assert_eq!(app.count("select count(*) from auth.refresh_tokens where type = 'regular'").await, 1);

    // No content type at all, and a JSON `null`, are no body too.
    let bare = Reply::read(app.client.post("/signin/anonymous").send().await.0).await;
    assert_eq!(bare.status, StatusCode::OK, "{}", bare.text);
    assert_eq!(app.post_raw("/signin/anonymous", "null").await.status, StatusCode::OK);
    assert_eq!(app.count("select count(*) from auth.users where is_anonymous").await, 3);
}

#[tokio::test]
async fn a_body_sets_the_display_name_locale_and_metadata() {
    let app = TestApp::spawn_with(&[ENABLED, ("AUTH_LOCALE_ALLOWED_LOCALES", "en,fr")]).await;
    let reply = app
        .post("/signin/anonymous", json!({"displayName": "Guest 7", "locale": "fr", "metadata": {"source": "ad"}}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let user = &reply.body["session"]["user"];
    assert_eq!(user["displayName"], "Guest 7");
    assert_eq!(user["locale"], "fr");
    assert_eq!(user["metadata"], json!({"source": "ad"}));
    let id = Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
    let rows = app.rows("select display_name, locale::text, metadata from auth.users where id = $1", &[&id]).await;
    assert_eq!(rows[0].get::<_, String>(0), "Guest 7");
    assert_eq!(rows[0].get::<_, String>(1), "fr");
    assert_eq!(rows[0].get::<_, Value>(2), json!({"source": "ad"}));

    // A locale that is not allowed falls back to the default; an empty object is no body at all.
    let reply = app.post("/signin/anonymous", json!({"locale": "de"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["session"]["user"]["locale"], "en");
    assert_eq!(app.post("/signin/anonymous", json!({})).await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_fields_a_long_locale_and_non_object_metadata_are_400() {
    let app = TestApp::spawn_with(&[ENABLED]).await;
    for body in [json!({"email": "a@example.com"}), json!({"locale": "eng"}), json!({"metadata": [1]})] {
        let reply = app.post("/signin/anonymous", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body} -> {}", reply.text);
        assert_eq!(reply.error_code(), "invalid-request");
    }
    assert_eq!(app.count("select count(*) from auth.users").await, 0);
}

#[tokio::test]
async fn anonymous_sign_in_is_409_disabled_endpoint_unless_enabled() {
    let app = TestApp::spawn().await;
    let reply = signin_without_body(&app).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    assert_eq!(reply.error_code(), "disabled-endpoint");
    assert_eq!(app.count("select count(*) from auth.users").await, 0);
}

#[tokio::test]
async fn anonymous_sign_in_is_403_signup_disabled_when_sign_up_is_disabled() {
    let app = TestApp::spawn_with(&[ENABLED, ("AUTH_DISABLE_SIGNUP", "true")]).await;
    let reply = signin_without_body(&app).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(reply.error_code(), "signup-disabled");
    assert_eq!(app.count("select count(*) from auth.users").await, 0);
}

#[tokio::test]
async fn the_access_token_carries_the_anonymous_claims() {
    let app = TestApp::spawn_with(&[ENABLED]).await;
    let reply = signin_without_body(&app).await;
    let session = &reply.body["session"];
    let claims = claims(session["accessToken"].as_str().unwrap());
    assert_eq!(claims["x-hasura-user-is-anonymous"], "true");
    assert_eq!(claims["x-hasura-allowed-roles"], json!(["anonymous"]));
    assert_eq!(claims["x-hasura-default-role"], "anonymous");
    assert_eq!(claims["x-hasura-user-id"], session["user"]["id"]);
}

#[tokio::test]
async fn an_anonymous_session_refreshes_even_when_verified_emails_are_required() {
    let app = TestApp::spawn_with(&[ENABLED, ("AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED", "true")]).await;
    let reply = signin_without_body(&app).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let refreshed = app.refresh(reply.body["session"]["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    assert_eq!(refreshed.body["user"]["isAnonymous"], true);
    assert_eq!(refreshed.body["user"]["id"], reply.body["session"]["user"]["id"]);
    assert_eq!(claims(refreshed.body["accessToken"].as_str().unwrap())["x-hasura-user-is-anonymous"], "true");
}

#[tokio::test]
async fn the_stored_user_is_anonymous_with_no_email_and_only_the_anonymous_role() {
    let app = TestApp::spawn_with(&[ENABLED]).await;
    let reply = signin_without_body(&app).await;
    let id = Uuid::parse_str(reply.body["session"]["user"]["id"].as_str().unwrap()).unwrap();
    let rows = app
        .rows(
            "select is_anonymous, email::text, password_hash, default_role, avatar_url, disabled, email_verified \
             from auth.users where id = $1",
            &[&id],
        )
        .await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, Option<String>>(1), None);
    assert_eq!(row.get::<_, Option<String>>(2), None);
    assert_eq!(row.get::<_, String>(3), "anonymous");
    assert_eq!(row.get::<_, String>(4), "");
    assert!(!row.get::<_, bool>(5));
    assert!(!row.get::<_, bool>(6));
    let roles = app.rows("select role from auth.user_roles where user_id = $1", &[&id]).await;
    assert_eq!(roles.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>(), vec!["anonymous"]);
}

#[tokio::test]
async fn the_endpoints_are_in_the_openapi_document_with_the_reference_operation_ids() {
    let app = TestApp::spawn().await;
    let spec = app.get("/openapi.json", None).await;
    for (path, operation, tag) in [
        ("/signin/anonymous", "signInAnonymous", "Authentication"),
        ("/signin/pat", "signInPAT", "Authentication"),
        ("/pat", "createPAT", "Security"),
    ] {
        assert_eq!(spec.body["paths"][path]["post"]["operationId"], operation, "{path}");
        assert_eq!(spec.body["paths"][path]["post"]["tags"], json!([tag]), "{path}");
    }
    assert_eq!(spec.body["paths"]["/signin/anonymous"]["post"]["requestBody"]["required"], false);
    assert_eq!(spec.body["paths"]["/pat"]["post"]["security"], json!([{"BearerAuth": []}]));
}
