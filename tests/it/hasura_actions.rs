//! `POST /hasura/actions` with Hasura's exact payload: outputs match actions.graphql, errors use Hasura's
//! `{"message", "extensions": {"code"}}` shape with the REST API's codes.
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::app::{PASSWORD, Reply};

const SECRET: &str = "actions-secret-for-tests";

async fn spawn() -> TestApp {
    TestApp::spawn_with(&[("AUTH_ACTIONS_SECRET", SECRET)]).await
}

/// Exactly what Hasura POSTs to an action handler.
async fn call(app: &TestApp, name: &str, input: Value, session_variables: Value) -> Reply {
    let body = json!({
        "action": {"name": name},
        "input": input,
        "session_variables": session_variables,
        "request_query": format!("mutation {{ {name} {{ __typename }} }}"),
    });
    let request = app.client.post("/hasura/actions").header("X-Hauth-Actions-Secret", SECRET).body_json(&body);
    Reply::read(request.send().await.0).await
}

fn public() -> Value {
    json!({"x-hasura-role": "public"})
}

fn assert_action_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert!(reply.body["message"].is_string(), "{}", reply.text);
    assert_eq!(reply.body["extensions"]["code"], code, "{}", reply.text);
}

#[tokio::test]
async fn sign_up_sign_in_refresh_me_and_sign_out_through_actions() {
    let app = spawn().await;
    let up = call(
        &app,
        "signUpEmailPassword",
        json!({"email": "act@example.com", "password": PASSWORD, "options": {"displayName": "Act"}}),
        public(),
    )
    .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.text);
    assert_eq!(up.body["session"]["user"]["displayName"], "Act");

    let signed_in =
        call(&app, "signInEmailPassword", json!({"email": "act@example.com", "password": PASSWORD}), public()).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    assert!(signed_in.body["mfa"].is_null());
    let session = signed_in.body["session"].clone();
    for field in ["accessToken", "refreshToken", "refreshTokenId"] {
        assert!(session[field].is_string(), "{field}");
    }
    assert!(session["accessTokenExpiresIn"].is_i64());

    let refreshed = call(&app, "refreshToken", json!({"refreshToken": session["refreshToken"]}), public()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    assert!(refreshed.body["user"]["id"].is_string());

    let user_id = session["user"]["id"].as_str().unwrap();
    let me = call(&app, "me", json!({}), json!({"x-hasura-role": "user", "x-hasura-user-id": user_id})).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["email"], "act@example.com");
    assert_eq!(me.body["roles"], json!(["me", "user"]));

    let out = call(&app, "signOut", json!({"refreshToken": refreshed.body["refreshToken"]}), public()).await;
    assert_eq!(out.body, json!({"ok": true}));
    assert_eq!(app.refresh(refreshed.body["refreshToken"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_out_all_uses_the_hasura_session_user() {
    let app = spawn().await;
    let session = app.signed_up_session("outall@example.com").await;
    let refused = call(&app, "signOut", json!({"all": true}), public()).await;
    assert_action_error(&refused, StatusCode::UNAUTHORIZED, "invalid-request");
    let vars = json!({"x-hasura-role": "user", "x-hasura-user-id": session["user"]["id"]});
    let out = call(&app, "signOut", json!({"all": true}), vars).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    assert_eq!(app.count("select count(*) from auth.refresh_tokens").await, 0);
}

#[tokio::test]
async fn action_errors_carry_the_rest_api_codes() {
    let app = spawn().await;
    app.signed_up_session("taken@example.com").await;
    let dup =
        call(&app, "signUpEmailPassword", json!({"email": "taken@example.com", "password": PASSWORD}), public()).await;
    assert_action_error(&dup, StatusCode::CONFLICT, "email-already-in-use");
    let wrong =
        call(&app, "signInEmailPassword", json!({"email": "taken@example.com", "password": "nope-nope"}), public())
            .await;
    assert_action_error(&wrong, StatusCode::UNAUTHORIZED, "invalid-email-password");
    let bad_refresh =
        call(&app, "refreshToken", json!({"refreshToken": uuid::Uuid::new_v4().to_string()}), public()).await;
    assert_action_error(&bad_refresh, StatusCode::UNAUTHORIZED, "invalid-refresh-token");
    let me = call(&app, "me", json!({}), public()).await;
    assert_action_error(&me, StatusCode::UNAUTHORIZED, "invalid-request");
    let bad_input = call(&app, "signInEmailPassword", json!({"email": "x@example.com"}), public()).await;
    assert_action_error(&bad_input, StatusCode::BAD_REQUEST, "invalid-request");
    let unknown = call(&app, "dropTables", json!({}), public()).await;
    assert_action_error(&unknown, StatusCode::BAD_REQUEST, "invalid-request");
}

#[tokio::test]
async fn calls_without_the_shared_secret_are_refused() {
    let app = spawn().await;
    let body = json!({"action": {"name": "me"}, "input": {}, "session_variables": {"x-hasura-role": "user"}});
    let missing = Reply::read(app.client.post("/hasura/actions").body_json(&body).send().await.0).await;
    assert_action_error(&missing, StatusCode::UNAUTHORIZED, "invalid-request");
    let wrong = Reply::read(
        app.client.post("/hasura/actions").header("X-Hauth-Actions-Secret", "guess").body_json(&body).send().await.0,
    )
    .await;
    assert_action_error(&wrong, StatusCode::UNAUTHORIZED, "invalid-request");
    let unconfigured = TestApp::spawn().await;
    let reply = Reply::read(
        unconfigured
            .client
            .post("/hasura/actions")
            .header("X-Hauth-Actions-Secret", SECRET)
            .body_json(&body)
            .send()
            .await
            .0,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}
