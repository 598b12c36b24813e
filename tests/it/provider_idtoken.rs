//! Native sign-in: ID tokens an app got from Apple's or Google's SDK, posted to `/signin/idtoken` and
//! `/link/idtoken`. The tokens are signed by the provider stand-ins' keys (served at their JWKS URLs), so
//! hauth verifies them exactly as it would Apple's and Google's.
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use poem::http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::app::TestApp;
use crate::helpers::provider_flow::{Setup, access_token, client_for};
use crate::helpers::provider_standin::StandinKind;

const APP_ID: &str = "com.example.native-app";
const OTHER_KEY: &str = include_str!("../fixtures/keys/rs256-next.key.pem");

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

async fn setup(kind: StandinKind) -> Setup {
    let audience = format!("AUTH_PROVIDER_{}_AUDIENCE", if kind == StandinKind::Apple { "APPLE" } else { "GOOGLE" });
    Setup::new(kind, &[(audience.as_str(), &format!("{APP_ID}, com.example.other-app"))]).await
}

/// The claims a platform SDK puts in a token for `sub`, issued to the app, with the hashed nonce; `changes`
/// overrides or (with `null`) removes claims.
fn claims(setup: &Setup, sub: &str, email: &str, raw_nonce: &str, changes: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": setup.standin.issuer(),
        "aud": APP_ID,
        "sub": sub,
        "iat": now,
        "exp": now + 600,
        "email": email,
        "email_verified": if setup.name == "apple" { json!("true") } else { json!(true) },
        "nonce": sha256_hex(raw_nonce),
    });
    for (key, value) in changes.as_object().cloned().unwrap_or_default() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(&key);
        } else {
            claims[key] = value;
        }
    }
    claims
}

async fn sign_in(app: &TestApp, provider: &str, id_token: &str, nonce: Option<&str>) -> crate::helpers::app::Reply {
    let mut body = json!({"provider": provider, "idToken": id_token});
    if let Some(nonce) = nonce {
        body["nonce"] = json!(nonce);
    }
    app.post("/signin/idtoken", body).await
}

async fn identities(app: &TestApp) -> Vec<(String, String, String)> {
    app.rows("select user_id::text, provider_id, provider_user_id from auth.user_providers order by created_at", &[])
        .await
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

async fn signs_up_then_signs_in_the_same_user(kind: StandinKind) {
    let setup = setup(kind).await;
    let app = &setup.app;
    let name = setup.name;
    let email = format!("ada.native.{name}@example.com");
    let token = setup.standin.sign_app_id_token(&claims(&setup, "native-1", &email, "raw-nonce-1", json!({})));

    let first = sign_in(app, name, &token, Some("raw-nonce-1")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(first.body["mfa"].is_null(), "{}", first.text);
    let session = &first.body["session"];
    assert_eq!(session["user"]["email"], email.as_str());
    assert_eq!(session["user"]["emailVerified"], true);
    let user_id = session["user"]["id"].as_str().unwrap().to_string();
    let me = app.get("/user", Some(&access_token(session))).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["id"], user_id.as_str());
    let refreshed = app.refresh(session["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);

    // A fresh token for the same account, issued to the web client id this time, without a nonce.
    let web = claims(&setup, "native-1", &email, "", json!({"aud": client_for(kind).client_id, "nonce": null}));
    let second = sign_in(app, name, &setup.standin.sign_app_id_token(&web), None).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(second.body["session"]["user"]["id"], user_id.as_str());

    assert_eq!(app.count("select count(*) from auth.users").await, 1);
    assert_eq!(identities(app).await, vec![(user_id.clone(), name.to_string(), "native-1".to_string())]);
    let events: Vec<String> = app
        .rows(
            "select event from auth.audit_log where user_id::text = $1 and event like 'provider.%' order by created_at",
            &[&user_id],
        )
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(events, ["provider.signup", "provider.signin"]);
    assert_eq!(
        app.count("select count(*) from auth.refresh_tokens where revoked_at is null and rotated_at is null").await,
        2,
        "two sessions, one per sign-in"
    );
}

#[tokio::test]
async fn an_apple_id_token_signs_up_then_signs_in_the_same_user() {
    signs_up_then_signs_in_the_same_user(StandinKind::Apple).await;
}

#[tokio::test]
async fn a_google_id_token_signs_up_then_signs_in_the_same_user() {
    signs_up_then_signs_in_the_same_user(StandinKind::Google).await;
}

/// A JWT with `alg: none` and no signature.
fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// Signed by a key the provider never published.
fn signed_by_unknown_key(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("not-published".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(OTHER_KEY.as_bytes()).unwrap()).unwrap()
}

/// Signed with the client secret (HS256): a shared secret never vouches for a token from an app.
fn signed_with_client_secret(claims: &Value) -> String {
    let secret = client_for(StandinKind::Google).client_secret;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

#[tokio::test]
async fn id_tokens_are_refused_unless_every_check_passes() {
    for kind in [StandinKind::Apple, StandinKind::Google] {
        let setup = setup(kind).await;
        let app = &setup.app;
        let name = setup.name;
        let email = format!("eve.{name}@example.com");
        let good = |changes: Value| claims(&setup, "native-2", &email, "raw-nonce-2", changes);
        let sign = |claims: &Value| setup.standin.sign_app_id_token(claims);
        let now = chrono::Utc::now().timestamp();
        let hashed = sha256_hex("raw-nonce-2");
        let cases: Vec<(&str, String, Option<&str>)> = vec![
            ("another app's audience", sign(&good(json!({"aud": "com.example.someone-else"}))), Some("raw-nonce-2")),
            ("another issuer", sign(&good(json!({"iss": "https://issuer.example"}))), Some("raw-nonce-2")),
            ("a wrong nonce", sign(&good(json!({}))), Some("another-nonce")),
            ("no nonce sent for a token that has one", sign(&good(json!({}))), None),
            ("a nonce sent for a token without one", sign(&good(json!({"nonce": null}))), Some("raw-nonce-2")),
            ("the hashed claim sent as the nonce", sign(&good(json!({}))), Some(hashed.as_str())),
            ("alg none", unsigned(&good(json!({}))), Some("raw-nonce-2")),
            ("an unknown key", signed_by_unknown_key(&good(json!({}))), Some("raw-nonce-2")),
            ("the client secret as key", signed_with_client_secret(&good(json!({}))), Some("raw-nonce-2")),
            ("an expired token", sign(&good(json!({"iat": now - 1200, "exp": now - 600}))), Some("raw-nonce-2")),
            ("not a JWT", "not-a-jwt".to_string(), None),
        ];
        for (what, token, nonce) in cases {
            let reply = sign_in(app, name, &token, nonce).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {what} was not refused: {}", reply.text);
            assert_eq!(reply.error_code(), "invalid-request", "{name}: {what}");
        }
        assert_eq!(app.count("select count(*) from auth.users").await, 0, "{name}: nobody signed up");
        assert_eq!(app.count("select count(*) from auth.refresh_tokens").await, 0);
        assert!(app.count("select count(*) from auth.audit_log where event = 'provider.failure'").await >= 11);

        // The right token still works afterwards.
        let reply = sign_in(app, name, &sign(&good(json!({}))), Some("raw-nonce-2")).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text);
    }
}

#[tokio::test]
async fn id_token_requests_that_cannot_be_served_get_json_errors() {
    let setup = setup(StandinKind::Apple).await;
    let app = &setup.app;
    let token = setup.standin.sign_app_id_token(&claims(&setup, "n-3", "n3@example.com", "n", json!({})));
    let disabled = sign_in(app, "google", &token, Some("n")).await;
    assert_eq!(disabled.status, StatusCode::CONFLICT, "{}", disabled.text);
    assert_eq!(disabled.error_code(), "disabled-endpoint");
    for body in [
        json!({"provider": "github", "idToken": token}),
        json!({"provider": "apple"}),
        json!({"provider": "apple", "idToken": token, "unknown": 1}),
        json!({"provider": "apple", "idToken": 7}),
    ] {
        let reply = app.post("/signin/idtoken", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.text);
        assert_eq!(reply.error_code(), "invalid-request");
    }
    let no_bearer = app.post("/link/idtoken", json!({"provider": "apple", "idToken": token})).await;
    assert_eq!(no_bearer.status, StatusCode::UNAUTHORIZED, "{}", no_bearer.text);
    assert_eq!(app.count("select count(*) from auth.users").await, 0);
}

#[tokio::test]
async fn an_id_token_joins_a_verified_address_only_when_the_provider_vouches_for_it() {
    let setup = setup(StandinKind::Google).await;
    let app = &setup.app;
    let owner = app.signed_up_session("grace.native@example.com").await;
    let owner_id = owner["user"]["id"].as_str().unwrap().to_string();

    // Google does not vouch for the address: it never joins the account.
    let unverified = claims(&setup, "g-9", "grace.native@example.com", "n", json!({"email_verified": false}));
    let refused = sign_in(app, "google", &setup.standin.sign_app_id_token(&unverified), Some("n")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.error_code(), "email-needs-linking");
    assert!(identities(app).await.is_empty());

    // It does: the identity joins the account, and the password set by whoever signed up without proving
    // the address goes (the takeover rule of every provider sign-in).
    let verified = claims(&setup, "g-9", "grace.native@example.com", "n", json!({}));
    let joined = sign_in(app, "google", &setup.standin.sign_app_id_token(&verified), Some("n")).await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.text);
    assert_eq!(joined.body["session"]["user"]["id"], owner_id.as_str());
    assert_eq!(identities(app).await, vec![(owner_id.clone(), "google".into(), "g-9".into())]);
    let password: Option<String> =
        app.rows("select password_hash from auth.users where id::text = $1", &[&owner_id]).await[0].get(0);
    assert_eq!(password, None, "the unverified account's password is removed");
}

#[tokio::test]
async fn link_id_token_links_to_a_password_account_and_refuses_an_identity_linked_elsewhere() {
    let setup = setup(StandinKind::Apple).await;
    let app = &setup.app;
    let owner = app.signed_up_session("owner.native@example.com").await;
    let owner_id = owner["user"]["id"].as_str().unwrap().to_string();
    let token = setup.standin.sign_app_id_token(&claims(
        &setup,
        "apple-77",
        "relay-77@privaterelay.appleid.com",
        "link-nonce",
        json!({"is_private_email": "true"}),
    ));
    let body = json!({"provider": "apple", "idToken": token, "nonce": "link-nonce"});

    let linked = app.post_with("/link/idtoken", body.clone(), Some(&access_token(&owner))).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text);
    assert_eq!(linked.body, json!("OK"));
    assert_eq!(identities(app).await, vec![(owner_id.clone(), "apple".into(), "apple-77".into())]);
    let listed = app.get("/user/providers", Some(&access_token(&owner))).await;
    assert_eq!(listed.body[0]["provider"], "apple", "{}", listed.text);
    assert_eq!(
        app.count("select count(*) from auth.audit_log where event = 'provider.link'").await,
        1,
        "the link is recorded"
    );
    // Linking the same identity again to its own user is fine.
    let again = app.post_with("/link/idtoken", body.clone(), Some(&access_token(&owner))).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);

    // The identity now signs in to the password account.
    let signed_in = sign_in(app, "apple", &token, Some("link-nonce")).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    assert_eq!(signed_in.body["session"]["user"]["id"], owner_id.as_str());

    // Another user cannot take it.
    let other = app.signed_up_session("other.native@example.com").await;
    let refused = app.post_with("/link/idtoken", body.clone(), Some(&access_token(&other))).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.error_code(), "provider-already-linked");
    assert_eq!(identities(app).await, vec![(owner_id, "apple".into(), "apple-77".into())]);

    // A refused token links nothing.
    let wrong_nonce = json!({"provider": "apple", "idToken": token, "nonce": "other"});
    let refused = app.post_with("/link/idtoken", wrong_nonce, Some(&access_token(&other))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(refused.error_code(), "invalid-request");
}

#[tokio::test]
async fn a_native_sign_in_of_an_account_with_a_second_factor_is_challenged() {
    let setup =
        Setup::new(StandinKind::Google, &[("AUTH_PROVIDER_GOOGLE_AUDIENCE", APP_ID), ("AUTH_MFA_ENABLED", "true")])
            .await;
    let app = &setup.app;
    let email = "native.mfa@example.com";
    let first = setup.standin.sign_app_id_token(&claims(&setup, "native-mfa", email, "nonce-a", json!({})));
    let session = sign_in(app, "google", &first, Some("nonce-a")).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text);
    let (secret, _) = crate::helpers::totp::enrol(app, &access_token(&session.body["session"])).await;

    let again = setup.standin.sign_app_id_token(&claims(&setup, "native-mfa", email, "nonce-b", json!({})));
    let challenged = sign_in(app, "google", &again, Some("nonce-b")).await;
    assert_eq!(challenged.status, StatusCode::OK, "{}", challenged.text);
    assert!(challenged.body["session"].is_null(), "{}", challenged.text);
    let ticket = challenged.body["mfa"]["ticket"].as_str().unwrap();
    let code = crate::helpers::totp::code_for(app, &secret);
    let done = app.post("/signin/mfa/totp", json!({"ticket": ticket, "otp": code})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["session"]["user"]["email"], email);
}
