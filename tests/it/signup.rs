//! Sign-up with email and password: roles, locale, display name and metadata options, the access-control
//! lists, and the session (or none, when a verified email is required).
use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::app::PASSWORD;

#[tokio::test]
async fn signup_returns_a_session_and_stores_the_user_with_roles() {
    let app = TestApp::spawn().await;
    let reply = app
        .post(
            "/signup/email-password",
            json!({"email": "Ada@Example.com", "password": PASSWORD,
                   "options": {"displayName": "Ada", "metadata": {"team": "core"}, "locale": "en"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let session = &reply.body["session"];
    assert_eq!(session["accessTokenExpiresIn"], 900);
    assert!(session["accessToken"].as_str().unwrap().split('.').count() == 3);
    let user = &session["user"];
    assert_eq!(user["email"], "Ada@Example.com");
    assert_eq!(user["displayName"], "Ada");
    assert_eq!(user["defaultRole"], "user");
    assert_eq!(user["isAnonymous"], false);
    assert_eq!(user["emailVerified"], false);
    assert_eq!(user["metadata"], json!({"team": "core"}));
    assert!(user["avatarUrl"].as_str().unwrap().starts_with("https://www.gravatar.com/avatar/"));
    assert!(user.get("phoneNumber").is_none(), "null phone numbers are omitted, as nhost does");

    let rows = app.rows("select u.password_hash, u.display_name, u.locale::text from auth.users u", &[]).await;
    assert_eq!(rows.len(), 1);
    let hash: String = rows[0].get(0);
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    let roles = app.rows("select role from auth.user_roles order by role", &[]).await;
    let roles: Vec<String> = roles.iter().map(|r| r.get(0)).collect();
    assert_eq!(roles, vec!["me", "user"]);
    assert_eq!(app.count("select count(*) from auth.refresh_tokens").await, 1);
}

#[tokio::test]
async fn duplicate_email_is_409_email_already_in_use_case_insensitively() {
    let app = TestApp::spawn().await;
    app.signed_up_session("dup@example.com").await;
    let reply = app.signup("DUP@example.com").await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error_code(), "email-already-in-use");
    assert_eq!(app.count("select count(*) from auth.users").await, 1);
}

#[tokio::test]
async fn short_password_is_400_password_too_short_and_stores_nothing() {
    let app = TestApp::spawn_with(&[("AUTH_PASSWORD_MIN_LENGTH", "12")]).await;
    let reply = app.post("/signup/email-password", json!({"email": "a@example.com", "password": "short-pw"})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "password-too-short");
    assert_eq!(app.count("select count(*) from auth.users").await, 0);
}

#[tokio::test]
async fn roles_outside_the_allowed_set_are_refused() {
    let app = TestApp::spawn().await;
    let reply = app
        .post(
            "/signup/email-password",
            json!({"email": "r@example.com", "password": PASSWORD, "options": {"allowedRoles": ["admin"]}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "role-not-allowed");

    let reply = app
        .post(
            "/signup/email-password",
            json!({"email": "r@example.com", "password": PASSWORD,
                   "options": {"allowedRoles": ["me"], "defaultRole": "user"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "default-role-must-be-in-allowed-roles");
    assert_eq!(app.count("select count(*) from auth.users").await, 0);
}

#[tokio::test]
async fn chosen_roles_end_up_in_the_token() {
    let app = TestApp::spawn().await;
    let reply = app
        .post(
            "/signup/email-password",
            json!({"email": "me@example.com", "password": PASSWORD,
                   "options": {"allowedRoles": ["me", "user"], "defaultRole": "me"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let token = reply.body["session"]["accessToken"].as_str().unwrap();
    let verified = app.state.keys.verify_access_token(token, app.clock.now()).unwrap();
    assert_eq!(verified.claims.default_role, "me");
    assert_eq!(verified.claims.allowed_roles, vec!["me", "user"]);
}

#[tokio::test]
async fn disabled_signup_is_403() {
    let app = TestApp::spawn_with(&[("AUTH_DISABLE_SIGNUP", "true")]).await;
    let reply = app.signup("x@example.com").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error_code(), "signup-disabled");
    assert_eq!(app.count("select count(*) from auth.users").await, 0);
}

#[tokio::test]
async fn required_email_verification_gives_no_session_and_blocks_sign_in() {
    let app = TestApp::spawn_with(&[("AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED", "true")]).await;
    let reply = app.signup("verify@example.com").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body, json!({}), "nhost omits the session");
    assert_eq!(app.count("select count(*) from auth.refresh_tokens").await, 0);
    let reply = app.signin("verify@example.com", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error_code(), "unverified-user");
}

#[tokio::test]
async fn disabled_new_users_are_stored_disabled_and_get_401() {
    let app = TestApp::spawn_with(&[("AUTH_DISABLE_NEW_USERS", "true")]).await;
    let reply = app.signup("new@example.com").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error_code(), "disabled-user");
    assert_eq!(app.count("select count(*) from auth.users where disabled").await, 1);
}

#[tokio::test]
async fn locale_outside_the_allowed_list_falls_back_to_the_default() {
    let app = TestApp::spawn_with(&[("AUTH_LOCALE_ALLOWED_LOCALES", "en,fr")]).await;
    let reply = app
        .post(
            "/signup/email-password",
            json!({"email": "fr@example.com", "password": PASSWORD, "options": {"locale": "fr"}}),
        )
        .await;
    assert_eq!(reply.body["session"]["user"]["locale"], "fr");
    let reply = app
        .post(
            "/signup/email-password",
            json!({"email": "de@example.com", "password": PASSWORD, "options": {"locale": "de"}}),
        )
        .await;
    assert_eq!(reply.body["session"]["user"]["locale"], "en");
}
