//! Sign-in with email and password: the answer never tells whether an address exists, bcrypt hashes from
//! nhost verify and are upgraded, and account checks follow the password check.
use poem::http::StatusCode;

use crate::helpers::TestApp;
use crate::helpers::app::PASSWORD;

#[tokio::test]
async fn signin_returns_a_session_with_roles_and_no_mfa() {
    let app = TestApp::spawn().await;
    let signed_up = app.signed_up_session("s@example.com").await;
    let reply = app.signin("S@EXAMPLE.COM", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.body["mfa"].is_null());
    let session = &reply.body["session"];
    assert_eq!(session["user"]["id"], signed_up["user"]["id"]);
    assert_eq!(session["user"]["roles"], serde_json::json!(["me", "user"]));
    assert_ne!(session["refreshToken"], signed_up["refreshToken"]);
    let last_seen = app.rows("select last_seen is not null from auth.users", &[]).await;
    assert!(last_seen[0].get::<_, bool>(0));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_401() {
    let app = TestApp::spawn().await;
    app.signed_up_session("known@example.com").await;
    let wrong = app.signin("known@example.com", "not-the-password").await;
    let unknown = app.signin("nobody@example.com", "not-the-password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.error_code(), "invalid-email-password");
    assert_eq!(wrong.body, unknown.body);
}

#[tokio::test]
async fn unknown_email_costs_a_password_check_like_a_known_one() {
    let app = TestApp::spawn().await;
    app.signed_up_session("timing@example.com").await;
    let checks = || app.state.passwords.verifications();
    let before = checks();
    app.signin("timing@example.com", "wrong-password").await;
    assert_eq!(checks() - before, 1, "a known email costs one argon2id check");
    let before = checks();
    app.signin("absent@example.com", "wrong-password").await;
    assert_eq!(checks() - before, 1, "an unknown email costs the same check, against a dummy hash");
}

#[tokio::test]
async fn bcrypt_hashes_from_nhost_sign_in_and_are_upgraded_to_argon2id() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("legacy@example.com").await;
    let bcrypt_hash = bcrypt::hash("legacy-password", 4).unwrap().replacen("$2b$", "$2a$", 1);
    let db = app.db.connect().await;
    db.execute("update auth.users set password_hash = $1", &[&bcrypt_hash]).await.unwrap();

    let reply = app.signin("legacy@example.com", "legacy-password").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["session"]["user"]["id"], session["user"]["id"]);
    let stored: String = db.query_one("select password_hash from auth.users", &[]).await.unwrap().get(0);
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert_eq!(app.signin("legacy@example.com", "legacy-password").await.status, StatusCode::OK);
}

#[tokio::test]
async fn disabled_users_cannot_sign_in_but_only_with_the_right_password_learn_why() {
    let app = TestApp::spawn().await;
    app.signed_up_session("off@example.com").await;
    app.db.connect().await.execute("update auth.users set disabled = true", &[]).await.unwrap();
    let reply = app.signin("off@example.com", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error_code(), "disabled-user");
    let reply = app.signin("off@example.com", "wrong-password").await;
    assert_eq!(reply.error_code(), "invalid-email-password");
}
