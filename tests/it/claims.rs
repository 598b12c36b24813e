//! Claims beyond the built-in four: custom claims resolved by SQL, role permissions, the organisation.
use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::app::PASSWORD;

fn namespace(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let payload: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    payload["https://hasura.io/jwt/claims"].clone()
}

#[tokio::test]
async fn custom_claims_come_from_columns_metadata_and_relationships_with_defaults() {
    let app = TestApp::spawn_with(&[
        (
            "AUTH_JWT_CUSTOM_CLAIMS",
            r#"{"plan": "metadata.plan", "team": "metadata.team", "roles": "roles[].role", "locale": "locale", "x-hasura-User-Id-Copy": "id"}"#,
        ),
        ("AUTH_JWT_CUSTOM_CLAIMS_DEFAULTS", r#"{"team": "none"}"#),
    ])
    .await;
    let reply = app
        .post(
            "/signup/email-password",
            json!({"email": "claims@example.com", "password": PASSWORD, "options": {"metadata": {"plan": "pro"}}}),
        )
        .await;
    let session = &reply.body["session"];
    let claims = namespace(session["accessToken"].as_str().unwrap());
    assert_eq!(claims["x-hasura-plan"], "pro");
    assert_eq!(claims["x-hasura-team"], "none");
    assert_eq!(claims["x-hasura-roles"], r#"{"me","user"}"#);
    assert_eq!(claims["x-hasura-locale"], "en");
    assert_eq!(claims["x-hasura-user-id-copy"], session["user"]["id"]);
    assert_eq!(claims["x-hasura-user-id"], session["user"]["id"], "built-ins intact");
    // A refresh re-reads them: a changed metadata value shows up in the next token.
    app.db.connect().await.execute("update auth.users set metadata = '{\"plan\": \"team\"}'", &[]).await.unwrap();
    let refreshed = app.refresh(session["refreshToken"].as_str().unwrap()).await;
    assert_eq!(namespace(refreshed.body["accessToken"].as_str().unwrap())["x-hasura-plan"], "team");
}

#[test]
fn custom_claims_that_would_replace_a_built_in_are_refused_at_start() {
    let mut env = crate::helpers::app::base_env("postgres://localhost/x");
    env.insert("AUTH_JWT_CUSTOM_CLAIMS".into(), r#"{"default-role": "metadata.role"}"#.into());
    let error = hauth::config::Config::from_env(&env).unwrap_err().to_string();
    assert!(error.contains("built-in"), "{error}");
}

#[tokio::test]
async fn role_permissions_and_the_organisation_are_published_when_present() {
    let app = TestApp::spawn_with(&[("AUTH_JWT_PERMISSIONS_CLAIM_ENABLED", "true")]).await;
    let db = app.db.connect().await;
    db.batch_execute(
        "insert into auth.permissions (permission) values ('posts:read'), ('posts:write'), ('admin:all');
         insert into auth.role_permissions values ('user', 'posts:read'), ('me', 'posts:write'), ('me', 'posts:read');
         insert into auth.roles values ('admin') on conflict do nothing;
         insert into auth.role_permissions values ('admin', 'admin:all');",
    )
    .await
    .unwrap();
    let session = app.signed_up_session("perm@example.com").await;
    let claims = namespace(session["accessToken"].as_str().unwrap());
    assert_eq!(claims["x-hasura-permissions"], r#"{"posts:read","posts:write"}"#);
    assert!(claims.get("x-hasura-organisation-id").is_none());

    let org: uuid::Uuid =
        db.query_one("insert into auth.organisations (name) values ('Acme') returning id", &[]).await.unwrap().get(0);
    db.execute("update auth.users set organisation_id = $1", &[&org]).await.unwrap();
    let refreshed = app.refresh(session["refreshToken"].as_str().unwrap()).await;
    let claims = namespace(refreshed.body["accessToken"].as_str().unwrap());
    assert_eq!(claims["x-hasura-organisation-id"], org.to_string());
    assert!(claims.as_object().unwrap().iter().all(|(k, v)| k == "x-hasura-allowed-roles" || v.is_string()));
}

#[tokio::test]
async fn the_audience_is_set_only_when_configured() {
    let app = TestApp::spawn().await;
    let token = app.signed_up_session("noaud@example.com").await["accessToken"].as_str().unwrap().to_string();
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert!(payload.get("aud").is_none());

    let app = TestApp::spawn_with(&[("AUTH_JWT_AUDIENCE", "my-app")]).await;
    let token = app.signed_up_session("aud@example.com").await["accessToken"].as_str().unwrap().to_string();
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(payload["aud"], "my-app");
    assert_eq!(app.get("/user", Some(&token)).await.status, poem::http::StatusCode::OK);
}
