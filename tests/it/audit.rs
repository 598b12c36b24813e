//! The audit log: security events (sign-ins and their failures, sign-ups, refresh-token reuse, password and
//! PAT changes, second factors, code guessing) recorded with the request that caused them, read back by their
//! user and by an administrator, and pruned after the retention period.
use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::app::{PASSWORD, Reply};

const ADMIN_SECRET: &str = "audit-admin-secret";

async fn post_as(app: &TestApp, path: &str, body: Value, bearer: Option<&str>, request_id: &str) -> Reply {
    let mut request = app.client.post(path).header("x-request-id", request_id).body_json(&body);
    if let Some(bearer) = bearer {
        request = request.header("authorization", format!("Bearer {bearer}"));
    }
    Reply::read(request.send().await.0).await
}

fn events(list: &Reply) -> Vec<(String, String)> {
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    list.body
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (event["event"].as_str().unwrap().to_string(), event["requestId"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

#[tokio::test]
async fn security_events_carry_their_request_and_are_read_by_their_user_and_the_admin() {
    let app = TestApp::spawn_with(&[("HASURA_GRAPHQL_ADMIN_SECRET", ADMIN_SECRET)]).await;
    let signup = post_as(
        &app,
        "/signup/email-password",
        json!({"email": "audited@example.com", "password": PASSWORD}),
        None,
        "req-signup",
    )
    .await;
    assert_eq!(signup.status, StatusCode::OK, "{}", signup.text);
    let session = signup.body["session"].clone();
    let wrong = post_as(
        &app,
        "/signin/email-password",
        json!({"email": "audited@example.com", "password": "nope-nope-1"}),
        None,
        "req-wrong",
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let signin = post_as(
        &app,
        "/signin/email-password",
        json!({"email": "audited@example.com", "password": PASSWORD}),
        None,
        "req-signin",
    )
    .await;
    let bearer = signin.body["session"]["accessToken"].as_str().unwrap().to_string();
    let expires = (app.clock.now() + TimeDelta::days(1)).to_rfc3339();
    post_as(&app, "/pat", json!({"expiresAt": expires}), Some(&bearer), "req-pat").await;
    post_as(&app, "/user/password", json!({"newPassword": "a-new-password-2"}), Some(&bearer), "req-password").await;

    // Refresh-token reuse: a rotated token presented after the grace window revokes its family.
    let first = session["refreshToken"].as_str().unwrap().to_string();
    let rotated = app.refresh(&first).await;
    assert_eq!(rotated.status, StatusCode::UNAUTHORIZED, "the password change ended the other sessions");

    let signin = app.signin("audited@example.com", "a-new-password-2").await;
    let token = signin.body["session"]["refreshToken"].as_str().unwrap().to_string();
    let bearer = signin.body["session"]["accessToken"].as_str().unwrap().to_string();
    assert_eq!(app.refresh(&token).await.status, StatusCode::OK);
    app.clock.advance(TimeDelta::seconds(120));
    assert_eq!(app.refresh(&token).await.status, StatusCode::UNAUTHORIZED);

    let mine = events(&app.get("/user/security-events", Some(&bearer)).await);
    let names: Vec<&str> = mine.iter().map(|(name, _)| name.as_str()).collect();
    for expected in ["signup", "signin.failure", "signin", "pat.create", "password.change", "refresh_token.reuse"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(mine.contains(&("signup".to_string(), "req-signup".to_string())), "{mine:?}");
    assert!(mine.contains(&("signin.failure".to_string(), "req-wrong".to_string())), "{mine:?}");
    assert!(mine.contains(&("pat.create".to_string(), "req-pat".to_string())), "{mine:?}");
    assert!(mine.contains(&("password.change".to_string(), "req-password".to_string())), "{mine:?}");
    assert_eq!(names[0], "refresh_token.reuse", "newest first: {names:?}");

    // Another user sees none of them; the admin sees them with the admin secret only.
    let other = app.signed_up_session("other@example.com").await;
    let theirs = events(&app.get("/user/security-events", Some(other["accessToken"].as_str().unwrap())).await);
    assert!(theirs.iter().all(|(name, _)| name != "pat.create"), "{theirs:?}");
    let user_id = signin.body["session"]["user"]["id"].as_str().unwrap();
    let refused = Reply::read(app.client.get(format!("/admin/security-events?userId={user_id}")).send().await.0).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let admin = Reply::read(
        app.client
            .get(format!("/admin/security-events?userId={user_id}&limit=100"))
            .header("x-hasura-admin-secret", ADMIN_SECRET)
            .send()
            .await
            .0,
    )
    .await;
    assert_eq!(events(&admin).len(), mine.len());
}

#[tokio::test]
async fn events_older_than_the_retention_period_are_pruned() {
    let app = TestApp::spawn_with(&[("AUTH_AUDIT_RETENTION_DAYS", "30")]).await;
    app.signed_up_session("old@example.com").await;
    assert!(app.count("select count(*) from auth.audit_log").await >= 1);
    app.clock.advance(TimeDelta::days(31));
    let fresh = app.signin("old@example.com", PASSWORD).await;
    assert_eq!(fresh.status, StatusCode::OK);
    let before = app.count("select count(*) from auth.audit_log").await;
    let outcome = hauth::workers::audit_retention::process_batch(&app.state).await.unwrap();
    assert!(outcome.processed >= 1, "{outcome:?}");
    let after = app.count("select count(*) from auth.audit_log").await;
    assert_eq!(after, before - outcome.processed as i64);
    let left =
        events(&app.get("/user/security-events", Some(fresh.body["session"]["accessToken"].as_str().unwrap())).await);
    assert_eq!(left, vec![("signin".to_string(), left[0].1.clone())], "only the recent sign-in is left");
    assert!(hauth::workers::audit_retention::process_batch(&app.state).await.unwrap().empty);
}
