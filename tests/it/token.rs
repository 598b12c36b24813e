use std::collections::HashSet;

use chrono::TimeDelta;
use poem::http::StatusCode;
use uuid::Uuid;

use crate::helpers::TestApp;

fn refresh_token_of(session: &serde_json::Value) -> String {
    session["refreshToken"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn refresh_rotates_the_token_and_returns_a_bare_session_with_the_user() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("t@example.com").await;
    let first = refresh_token_of(&session);
    app.clock.advance(TimeDelta::seconds(5));
    let reply = app.refresh(&first).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let second = refresh_token_of(&reply.body);
    assert_ne!(first, second);
    assert_eq!(reply.body["accessTokenExpiresIn"], 900);
    assert_eq!(reply.body["user"]["email"], "t@example.com");
    assert!(reply.body.get("session").is_none());
    // Only hashes are stored, never the token itself.
    let stored = app.rows("select refresh_token_hash from auth.refresh_tokens", &[]).await;
    for row in &stored {
        let hash: String = row.get(0);
        assert!(hash.starts_with("\\x") && hash.len() == 66, "{hash}");
        assert_ne!(hash, first);
    }
    assert_eq!(app.refresh(&second).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_rotated_token_replayed_inside_the_grace_window_still_yields_a_session() {
    let app = TestApp::spawn().await;
    let first = refresh_token_of(&app.signed_up_session("tabs@example.com").await);
    let tab_one = app.refresh(&first).await;
    app.clock.advance(TimeDelta::seconds(20));
    let tab_two = app.refresh(&first).await;
    assert_eq!(tab_two.status, StatusCode::OK, "{}", tab_two.text);
    // Both tabs stay signed in.
    assert_eq!(app.refresh(&refresh_token_of(&tab_one.body)).await.status, StatusCode::OK);
    assert_eq!(app.refresh(&refresh_token_of(&tab_two.body)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_rotated_token_replayed_after_the_grace_window_is_401_and_revokes_its_family() {
    let app = TestApp::spawn().await;
    let first = refresh_token_of(&app.signed_up_session("thief@example.com").await);
    let second = refresh_token_of(&app.refresh(&first).await.body);
    let third = refresh_token_of(&app.refresh(&second).await.body);
    app.clock.advance(TimeDelta::seconds(31));

    let replay = app.refresh(&first).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.error_code(), "invalid-refresh-token");

    // Every descendant is dead, including the newest one the legitimate client holds.
    let live = app.count("select count(*) from auth.refresh_tokens where revoked_at is null").await;
    assert_eq!(live, 0);
    assert_eq!(app.count("select count(*) from auth.refresh_tokens where revoked_at is not null").await, 3);
    assert_eq!(app.refresh(&third).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reuse_detection_leaves_other_sessions_of_the_user_alone() {
    let app = TestApp::spawn().await;
    let laptop = refresh_token_of(&app.signed_up_session("two@example.com").await);
    let phone = refresh_token_of(&app.signin("two@example.com", crate::helpers::app::PASSWORD).await.body["session"]);
    app.refresh(&laptop).await;
    app.clock.advance(TimeDelta::seconds(60));
    assert_eq!(app.refresh(&laptop).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(&phone).await.status, StatusCode::OK);
}

#[tokio::test]
async fn grace_period_is_a_setting() {
    let app = TestApp::spawn_with(&[("AUTH_REFRESH_TOKEN_REUSE_GRACE_PERIOD", "0")]).await;
    let first = refresh_token_of(&app.signed_up_session("strict@example.com").await);
    app.refresh(&first).await;
    app.clock.advance(TimeDelta::seconds(1));
    assert_eq!(app.refresh(&first).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn twenty_concurrent_refreshes_of_one_token_leave_exactly_one_live_family() {
    let app = TestApp::spawn_with(&[("AUTH_DATABASE_POOL_SIZE", "8")]).await;
    let first = refresh_token_of(&app.signed_up_session("race@example.com").await);
    let replies = futures::future::join_all((0..20).map(|_| app.refresh(&first))).await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let families = app.rows("select distinct family_id from auth.refresh_tokens where revoked_at is null", &[]).await;
    assert_eq!(families.len(), 1, "one family");
    let family: Uuid = families[0].get(0);
    // The original token was rotated exactly once and every new token is its child in that family.
    let rows = app.rows("select id, parent_id, rotated_at is not null from auth.refresh_tokens", &[]).await;
    assert_eq!(rows.len(), 21);
    let original: Uuid = rows.iter().find(|r| r.get::<_, Option<Uuid>>(1).is_none()).unwrap().get(0);
    assert_eq!(original, family);
    assert!(
        rows.iter()
            .filter(|r| r.get::<_, Option<Uuid>>(1).is_some())
            .all(|r| r.get::<_, Option<Uuid>>(1) == Some(original))
    );
    let tokens: HashSet<String> = replies.iter().map(|r| refresh_token_of(&r.body)).collect();
    assert_eq!(tokens.len(), 20, "every caller got its own token");
    // Reuse of the original after the window still kills the whole (single) family.
    app.clock.advance(TimeDelta::seconds(31));
    assert_eq!(app.refresh(&first).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("select count(*) from auth.refresh_tokens where revoked_at is null").await, 0);
}

#[tokio::test]
async fn expired_unknown_and_malformed_refresh_tokens_are_refused() {
    let app = TestApp::spawn_with(&[("AUTH_REFRESH_TOKEN_EXPIRES_IN", "60")]).await;
    let first = refresh_token_of(&app.signed_up_session("old@example.com").await);
    app.clock.advance(TimeDelta::seconds(61));
    let expired = app.refresh(&first).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.error_code(), "invalid-refresh-token");
    let unknown = app.refresh(&Uuid::new_v4().to_string()).await;
    assert_eq!(unknown.error_code(), "invalid-refresh-token");
    let malformed = app.refresh("not-a-token").await;
    assert_eq!(malformed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(malformed.error_code(), "invalid-refresh-token");
}

#[tokio::test]
async fn a_disabled_user_cannot_refresh() {
    let app = TestApp::spawn().await;
    let first = refresh_token_of(&app.signed_up_session("gone@example.com").await);
    app.db.connect().await.execute("update auth.users set disabled = true", &[]).await.unwrap();
    let reply = app.refresh(&first).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error_code(), "disabled-user");
}
