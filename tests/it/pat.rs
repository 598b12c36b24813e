//! Personal access tokens: `POST /pat` creates one (bearer required, never for anonymous users, stored only
//! hashed), `POST /signin/pat` exchanges it for a session with a new regular refresh token, `POST /token`
//! refuses it, and the Hasura webhook accepts it as a bearer token until it expires.
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use poem::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::TestApp;
use crate::helpers::app::Reply;

const DAY: i64 = 86_400;

fn in_seconds(app: &TestApp, seconds: i64) -> DateTime<Utc> {
    // Whole seconds, so the stored expiry compares exactly.
    DateTime::from_timestamp(app.clock.now().timestamp() + seconds, 0).unwrap()
}

fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn create_pat(app: &TestApp, access_token: &str, body: Value) -> Reply {
    app.post_with("/pat", body, Some(access_token)).await
}

/// Signs up `email` and creates a PAT valid for a day; returns (session, PAT id, PAT).
async fn user_with_pat(app: &TestApp, email: &str) -> (Value, String, String) {
    let session = app.signed_up_session(email).await;
    let reply = create_pat(
        app,
        session["accessToken"].as_str().unwrap(),
        json!({"expiresAt": iso(in_seconds(app, DAY)), "metadata": {"name": "ci"}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let id = reply.body["id"].as_str().unwrap().to_string();
    let pat = reply.body["personalAccessToken"].as_str().unwrap().to_string();
    (session, id, pat)
}

async fn signin_pat(app: &TestApp, pat: &str) -> Reply {
    app.post("/signin/pat", json!({"personalAccessToken": pat})).await
}

fn is_uuid_shaped(value: &Value) -> bool {
    value.as_str().is_some_and(|s| Uuid::parse_str(s).is_ok() && s.len() == 36 && s == s.to_ascii_lowercase())
}

#[tokio::test]
async fn creating_a_pat_needs_a_valid_bearer_token() {
    let app = TestApp::spawn().await;
    let body = json!({"expiresAt": iso(in_seconds(&app, DAY))});
    let reply = app.post("/pat", body.clone()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_eq!(reply.error_code(), "invalid-request");
    let reply = create_pat(&app, "not-a-jwt", body).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_eq!(reply.error_code(), "invalid-request");
    assert_eq!(app.count("select count(*) from auth.refresh_tokens where type = 'pat'").await, 0);
}

#[tokio::test]
async fn a_pat_is_returned_once_and_stored_only_as_its_hash_with_its_expiry_and_metadata() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("pat@example.com").await;
    let expires_at = in_seconds(&app, 30 * DAY);
    let reply = create_pat(
        &app,
        session["accessToken"].as_str().unwrap(),
        json!({"expiresAt": iso(expires_at), "metadata": {"name": "deploy bot"}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body.as_object().unwrap().len(), 2, "{}", reply.text);
    assert!(is_uuid_shaped(&reply.body["id"]), "{}", reply.text);
    assert!(is_uuid_shaped(&reply.body["personalAccessToken"]), "{}", reply.text);
    let pat = reply.body["personalAccessToken"].as_str().unwrap();
    assert_ne!(reply.body["id"], reply.body["personalAccessToken"]);

    let id = Uuid::parse_str(reply.body["id"].as_str().unwrap()).unwrap();
    let user_id = Uuid::parse_str(session["user"]["id"].as_str().unwrap()).unwrap();
    let rows = app
        .rows(
            "select refresh_token_hash, type, metadata, expires_at, family_id, user_id, revoked_at \
             from auth.refresh_tokens where id = $1",
            &[&id],
        )
        .await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let hash: String = row.get(0);
    assert_ne!(hash, pat);
    assert!(!hash.contains(pat));
    assert_eq!(hash, hauth::domain::opaque_token::hash_token(pat));
    assert_eq!(row.get::<_, String>(1), "pat");
    assert_eq!(row.get::<_, Value>(2), json!({"name": "deploy bot"}));
    assert_eq!(row.get::<_, DateTime<Utc>>(3), expires_at);
    assert_eq!(row.get::<_, Uuid>(4), id);
    assert_eq!(row.get::<_, Uuid>(5), user_id);
    assert_eq!(row.get::<_, Option<DateTime<Utc>>>(6), None);
    // The secret is nowhere in the table.
    let leaked =
        app.rows("select count(*) from auth.refresh_tokens t where t::text like '%' || $1 || '%'", &[&pat]).await;
    assert_eq!(leaked[0].get::<_, i64>(0), 0);
}

#[tokio::test]
async fn signing_in_with_a_pat_returns_a_session_with_a_new_regular_refresh_token() {
    let app = TestApp::spawn().await;
    let (session, pat_id, pat) = user_with_pat(&app, "signin-pat@example.com").await;
    let reply = signin_pat(&app, &pat).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let new_session = &reply.body["session"];
    assert_eq!(new_session["user"]["id"], session["user"]["id"]);
    assert_eq!(new_session["user"]["email"], "signin-pat@example.com");
    let refresh_token = new_session["refreshToken"].as_str().unwrap();
    assert_ne!(refresh_token, pat);
    assert_ne!(new_session["refreshTokenId"].as_str().unwrap(), pat_id);

    let id = Uuid::parse_str(new_session["refreshTokenId"].as_str().unwrap()).unwrap();
    let rows = app.rows("select type, refresh_token_hash from auth.refresh_tokens where id = $1", &[&id]).await;
    assert_eq!(rows[0].get::<_, String>(0), "regular");
    assert_eq!(rows[0].get::<_, String>(1), hauth::domain::opaque_token::hash_token(refresh_token));

    // The session works: its access token reads the user, its refresh token refreshes.
    let user = app.get("/user", new_session["accessToken"].as_str()).await;
    assert_eq!(user.status, StatusCode::OK, "{}", user.text);
    assert_eq!(user.body["email"], "signin-pat@example.com");
    assert_eq!(app.refresh(refresh_token).await.status, StatusCode::OK);
    // The PAT itself is unchanged and signs in again.
    assert_eq!(signin_pat(&app, &pat).await.status, StatusCode::OK);
    assert_eq!(app.count("select count(*) from auth.refresh_tokens where type = 'pat'").await, 1);
}

#[tokio::test]
async fn expired_unknown_and_malformed_pats_are_401_invalid_pat() {
    let app = TestApp::spawn().await;
    let (_, _, pat) = user_with_pat(&app, "expiring@example.com").await;
    for bad in [Uuid::new_v4().to_string(), "not-a-pat".to_string(), String::new()] {
        let reply = signin_pat(&app, &bad).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad:?} -> {}", reply.text);
        assert_eq!(reply.error_code(), "invalid-pat");
        assert_eq!(reply.body["message"], "Invalid or expired personal access token");
    }
    app.clock.advance(TimeDelta::seconds(DAY - 1));
    assert_eq!(signin_pat(&app, &pat).await.status, StatusCode::OK);
    app.clock.advance(TimeDelta::seconds(1));
    let reply = signin_pat(&app, &pat).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_eq!(reply.error_code(), "invalid-pat");
}

#[tokio::test]
async fn a_disabled_users_pat_does_not_sign_in() {
    let app = TestApp::spawn().await;
    let (session, _, pat) = user_with_pat(&app, "disabled-pat@example.com").await;
    let user_id = Uuid::parse_str(session["user"]["id"].as_str().unwrap()).unwrap();
    app.rows("update auth.users set disabled = true where id = $1", &[&user_id]).await;
    let reply = signin_pat(&app, &pat).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_eq!(reply.error_code(), "disabled-user");
}

#[tokio::test]
async fn a_pat_presented_as_a_refresh_token_is_401_invalid_refresh_token() {
    let app = TestApp::spawn().await;
    let (_, _, pat) = user_with_pat(&app, "pat-token@example.com").await;
    let reply = app.refresh(&pat).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_eq!(reply.error_code(), "invalid-refresh-token");
    // Nothing rotated, nothing issued; the PAT still works.
    let rows = app.rows("select rotated_at from auth.refresh_tokens where type = 'pat'", &[]).await;
    assert_eq!(rows[0].get::<_, Option<DateTime<Utc>>>(0), None);
    assert_eq!(signin_pat(&app, &pat).await.status, StatusCode::OK);
}

#[tokio::test]
async fn anonymous_users_may_not_create_pats() {
    let app = TestApp::spawn_with(&[("AUTH_ANONYMOUS_USERS_ENABLED", "true")]).await;
    let anonymous = app.post("/signin/anonymous", json!({})).await;
    assert_eq!(anonymous.status, StatusCode::OK, "{}", anonymous.text);
    let access_token = anonymous.body["session"]["accessToken"].as_str().unwrap();
    let reply = create_pat(&app, access_token, json!({"expiresAt": iso(in_seconds(&app, DAY))})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(reply.error_code(), "forbidden-anonymous");
    assert_eq!(app.count("select count(*) from auth.refresh_tokens where type = 'pat'").await, 0);
}

#[tokio::test]
async fn an_expiry_in_the_past_a_missing_expiry_and_unknown_fields_are_400() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("past@example.com").await;
    let access_token = session["accessToken"].as_str().unwrap();
    for body in [
        json!({"expiresAt": iso(in_seconds(&app, -60))}),
        json!({"expiresAt": iso(in_seconds(&app, 0))}),
        json!({}),
        json!({"expiresAt": "tomorrow"}),
        json!({"expiresAt": iso(in_seconds(&app, DAY)), "name": "x"}),
        json!({"expiresAt": iso(in_seconds(&app, DAY)), "metadata": "x"}),
    ] {
        let reply = create_pat(&app, access_token, body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body} -> {}", reply.text);
        assert_eq!(reply.error_code(), "invalid-request");
    }
    assert_eq!(app.count("select count(*) from auth.refresh_tokens where type = 'pat'").await, 0);
}

#[tokio::test]
async fn signing_out_everywhere_deletes_the_users_pats() {
    let app = TestApp::spawn().await;
    let (session, _, pat) = user_with_pat(&app, "signout-pat@example.com").await;
    let reply = app.post_with("/signout", json!({"all": true}), session["accessToken"].as_str()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(app.count("select count(*) from auth.refresh_tokens").await, 0);
    assert_eq!(signin_pat(&app, &pat).await.error_code(), "invalid-pat");
}

#[tokio::test]
async fn the_webhook_accepts_a_pat_in_get_and_post_modes() {
    let app = TestApp::spawn().await;
    let (session, _, pat) = user_with_pat(&app, "hook-pat@example.com").await;
    let bearer = format!("Bearer {pat}");
    let get = app.webhook_get(&[("Authorization", &bearer)]).await;
    let post = app.webhook_post(json!({"authorization": bearer})).await;
    for reply in [get, post] {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert!(reply.body.as_object().unwrap().values().all(Value::is_string), "{}", reply.text);
        assert_eq!(reply.body["X-Hasura-Role"], "user");
        assert_eq!(reply.body["X-Hasura-User-Id"], session["user"]["id"]);
        assert_eq!(reply.body["X-Hasura-User-Is-Anonymous"], "false");
        // Cached no longer than an access token lives, so revoking the PAT takes effect in Hasura soon.
        assert_eq!(reply.body["Cache-Control"], "max-age=900");
    }
}

#[tokio::test]
async fn the_webhook_grants_a_requested_role_only_if_the_pats_user_has_it() {
    let app = TestApp::spawn().await;
    let (_, _, pat) = user_with_pat(&app, "role-pat@example.com").await;
    let bearer = format!("Bearer {pat}");
    let me = app.webhook_get(&[("Authorization", &bearer), ("X-Hasura-Role", "me")]).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["X-Hasura-Role"], "me");
    let user = app.webhook_post(json!({"Authorization": bearer, "x-hasura-role": "user"})).await;
    assert_eq!(user.body["X-Hasura-Role"], "user");
    let admin = app.webhook_get(&[("Authorization", &bearer), ("X-Hasura-Role", "admin")]).await;
    assert_eq!(admin.status, StatusCode::UNAUTHORIZED, "{}", admin.text);
    let admin = app.webhook_post(json!({"Authorization": bearer, "X-Hasura-Role": "admin"})).await;
    assert_eq!(admin.status, StatusCode::UNAUTHORIZED, "{}", admin.text);
}

#[tokio::test]
async fn the_webhooks_cache_control_is_capped_then_counts_down_to_the_pats_expiry_then_401() {
    let app = TestApp::spawn().await;
    let (_, _, pat) = user_with_pat(&app, "ttl-pat@example.com").await;
    let bearer = format!("Bearer {pat}");
    let cache_control = |reply: Reply| reply.body["Cache-Control"].clone();
    assert_eq!(cache_control(app.webhook_get(&[("Authorization", &bearer)]).await), "max-age=900");
    app.clock.advance(TimeDelta::seconds(DAY - 600));
    assert_eq!(cache_control(app.webhook_get(&[("Authorization", &bearer)]).await), "max-age=600");
    app.clock.advance(TimeDelta::seconds(599));
    assert_eq!(cache_control(app.webhook_get(&[("Authorization", &bearer)]).await), "max-age=1");
    app.clock.advance(TimeDelta::seconds(1));
    let expired = app.webhook_get(&[("Authorization", &bearer)]).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "{}", expired.text);
    let expired = app.webhook_post(json!({"Authorization": bearer})).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "{}", expired.text);
}

#[tokio::test]
async fn the_webhook_refuses_unknown_pats_and_pats_of_disabled_users() {
    let app = TestApp::spawn().await;
    let unknown = format!("Bearer {}", Uuid::new_v4());
    assert_eq!(app.webhook_get(&[("Authorization", &unknown)]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.webhook_post(json!({"Authorization": unknown})).await.status, StatusCode::UNAUTHORIZED);

    let (session, _, pat) = user_with_pat(&app, "disabled-hook@example.com").await;
    let bearer = format!("Bearer {pat}");
    assert_eq!(app.webhook_get(&[("Authorization", &bearer)]).await.status, StatusCode::OK);
    let user_id = Uuid::parse_str(session["user"]["id"].as_str().unwrap()).unwrap();
    app.rows("update auth.users set disabled = true where id = $1", &[&user_id]).await;
    assert_eq!(app.webhook_get(&[("Authorization", &bearer)]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.webhook_post(json!({"Authorization": bearer})).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_regular_refresh_token_is_not_a_credential_at_the_webhook() {
    // A regular refresh token has the PAT shape too; it must not pass as one.
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("refresh-hook@example.com").await;
    let bearer = format!("Bearer {}", session["refreshToken"].as_str().unwrap());
    assert_eq!(app.webhook_get(&[("Authorization", &bearer)]).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_pat_may_not_outlive_the_configured_maximum() {
    let app = TestApp::spawn_with(&[("AUTH_PAT_MAX_EXPIRES_IN", "3600")]).await;
    let session = app.signed_up_session("max@example.com").await;
    let bearer = session["accessToken"].as_str().unwrap();
    let too_far = create_pat(&app, bearer, json!({"expiresAt": iso(in_seconds(&app, 3601))})).await;
    assert_eq!(too_far.status, StatusCode::BAD_REQUEST, "{}", too_far.text);
    assert_eq!(too_far.error_code(), "invalid-request");
    assert!(too_far.body["message"].as_str().unwrap().contains("AUTH_PAT_MAX_EXPIRES_IN"));
    let within = create_pat(&app, bearer, json!({"expiresAt": iso(in_seconds(&app, 3600))})).await;
    assert_eq!(within.status, StatusCode::OK, "{}", within.text);
    assert_eq!(app.count("select count(*) from auth.refresh_tokens where type = 'pat'").await, 1);

    // The default is one year.
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("year@example.com").await;
    let bearer = session["accessToken"].as_str().unwrap();
    let refused = create_pat(&app, bearer, json!({"expiresAt": iso(in_seconds(&app, 366 * DAY))})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let accepted = create_pat(&app, bearer, json!({"expiresAt": iso(in_seconds(&app, 364 * DAY))})).await;
    assert_eq!(accepted.status, StatusCode::OK);
}

#[tokio::test]
async fn a_user_lists_their_pats_without_the_tokens_and_revokes_one() {
    let app = TestApp::spawn().await;
    let (session, id, pat) = user_with_pat(&app, "list@example.com").await;
    let bearer = session["accessToken"].as_str().unwrap();
    let first_expiry = in_seconds(&app, DAY);
    app.clock.advance(TimeDelta::seconds(1));
    let second = create_pat(&app, bearer, json!({"expiresAt": iso(in_seconds(&app, 2 * DAY))})).await;
    let (_, _, other_users_pat_id) = {
        let (s, i, p) = user_with_pat(&app, "other@example.com").await;
        (s, p, i)
    };

    let listed = app.get("/user/pats", Some(bearer)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let pats = listed.body.as_array().unwrap();
    assert_eq!(pats.len(), 2, "only the caller's own: {}", listed.text);
    assert_eq!(pats[0]["id"], id.as_str());
    assert_eq!(pats[0]["metadata"], json!({"name": "ci"}));
    assert_eq!(pats[0]["expiresAt"].as_str().map(|s| s.parse::<DateTime<Utc>>().unwrap()), Some(first_expiry));
    assert!(pats[0]["createdAt"].is_string());
    assert_eq!(pats[1]["id"], second.body["id"]);
    assert!(!listed.text.contains(&pat), "the token itself is never listed");
    assert!(pats.iter().all(|p| p.get("personalAccessToken").is_none()));

    // Another user's PAT cannot be revoked by this one.
    let foreign = app
        .client
        .delete(format!("/user/pats/{other_users_pat_id}"))
        .header("Authorization", format!("Bearer {bearer}"))
        .send()
        .await;
    let foreign = Reply::read(foreign.0).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.error_code(), "not-found");

    let deleted =
        app.client.delete(format!("/user/pats/{id}")).header("Authorization", format!("Bearer {bearer}")).send().await;
    let deleted = Reply::read(deleted.0).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(signin_pat(&app, &pat).await.error_code(), "invalid-pat");
    assert_eq!(app.webhook_get(&[("Authorization", &format!("Bearer {pat}"))]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/user/pats", Some(bearer)).await.body.as_array().unwrap().len(), 1);
    assert_eq!(app.get("/user/pats", None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_change_and_sign_out_everywhere_delete_the_users_pats() {
    let app = TestApp::spawn().await;
    let (session, _, pat) = user_with_pat(&app, "change-pat@example.com").await;
    let bearer = session["accessToken"].as_str().unwrap();
    let reply = app.post_with("/user/password", json!({"newPassword": "another-password"}), Some(bearer)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(signin_pat(&app, &pat).await.error_code(), "invalid-pat");
    // The session that changed the password stays.
    assert_eq!(app.refresh(session["refreshToken"].as_str().unwrap()).await.status, StatusCode::OK);

    let (session, _, pat) = user_with_pat(&app, "signout-pat@example.com").await;
    let bearer = session["accessToken"].as_str().unwrap();
    let reply = app.post_with("/signout", json!({"all": true}), Some(bearer)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(signin_pat(&app, &pat).await.error_code(), "invalid-pat");
}
