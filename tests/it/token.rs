//! Refresh tokens: rotation, one live token per family (a replay inside the grace window gives back the same
//! child), reuse detection, revocation racing a rotation, and the session's maximum lifetime.
use std::collections::HashSet;

use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::json;
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
async fn a_rotated_token_replayed_inside_the_grace_window_gives_back_the_same_child() {
    let app = TestApp::spawn().await;
    let first = refresh_token_of(&app.signed_up_session("tabs@example.com").await);
    let tab_one = app.refresh(&first).await;
    app.clock.advance(TimeDelta::seconds(20));
    let tab_two = app.refresh(&first).await;
    assert_eq!(tab_two.status, StatusCode::OK, "{}", tab_two.text);
    // Both tabs now hold the one live token of the family, with access tokens of their own.
    let child = refresh_token_of(&tab_one.body);
    assert_eq!(refresh_token_of(&tab_two.body), child);
    assert_eq!(tab_two.body["refreshTokenId"], tab_one.body["refreshTokenId"]);
    assert!(tab_two.body["accessToken"].is_string());
    assert_eq!(app.count("select count(*) from auth.refresh_tokens").await, 2);
    // The child is not stored in the clear: only its hash, and a sealed copy in the parent's row.
    let sealed = app.rows("select child_token_sealed from auth.refresh_tokens where rotated_at is not null", &[]).await;
    let sealed: Vec<u8> = sealed[0].get(0);
    assert!(!sealed.windows(child.len()).any(|w| w == child.as_bytes()));
    assert_eq!(app.refresh(&child).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_thief_replaying_inside_the_window_shares_the_owners_chain_and_the_next_late_replay_revokes_it() {
    let app = TestApp::spawn().await;
    let stolen = refresh_token_of(&app.signed_up_session("victim@example.com").await);
    let owner = refresh_token_of(&app.refresh(&stolen).await.body);
    let thief = refresh_token_of(&app.refresh(&stolen).await.body);
    assert_eq!(owner, thief);
    app.clock.advance(TimeDelta::seconds(31));
    assert_eq!(app.refresh(&stolen).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(&owner).await.status, StatusCode::UNAUTHORIZED);
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
async fn twenty_concurrent_refreshes_of_one_token_leave_exactly_one_live_token() {
    let app = TestApp::spawn_with(&[("AUTH_DATABASE_POOL_SIZE", "8")]).await;
    let first = refresh_token_of(&app.signed_up_session("race@example.com").await);
    let replies = futures::future::join_all((0..20).map(|_| app.refresh(&first))).await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    // The original token was rotated exactly once; every caller got its one child.
    let tokens: HashSet<String> = replies.iter().map(|r| refresh_token_of(&r.body)).collect();
    assert_eq!(tokens.len(), 1, "every caller got the same child");
    assert_eq!(app.count("select count(*) from auth.refresh_tokens").await, 2);
    let families = app.rows("select distinct family_id from auth.refresh_tokens where revoked_at is null", &[]).await;
    assert_eq!(families.len(), 1, "one family");
    let family: Uuid = families[0].get(0);

    // Past the window, exactly one token of the family still refreshes.
    app.clock.advance(TimeDelta::seconds(31));
    let mut live = 0;
    for token in tokens.iter().chain([&first]).collect::<Vec<_>>().into_iter().rev() {
        if token != &first && app.refresh(token).await.status == StatusCode::OK {
            live += 1;
        }
    }
    assert_eq!(live, 1);
    // Reuse of the original after the window still kills the whole family.
    assert_eq!(app.refresh(&first).await.status, StatusCode::UNAUTHORIZED);
    let alive = app
        .rows("select count(*) from auth.refresh_tokens where family_id = $1 and revoked_at is null", &[&family])
        .await;
    assert_eq!(alive[0].get::<_, i64>(0), 0);
}

/// Refreshes in a tight loop, always with the newest token, until a refresh fails or `limit` is reached;
/// returns the last token held and how many refreshes succeeded.
async fn rotate_until_refused(
    app: &TestApp,
    mut token: String,
    rotations: &std::cell::Cell<usize>,
    limit: usize,
) -> String {
    for _ in 0..limit {
        let reply = app.refresh(&token).await;
        if reply.status != StatusCode::OK {
            break;
        }
        token = refresh_token_of(&reply.body);
        rotations.set(rotations.get() + 1);
        tokio::task::yield_now().await;
    }
    token
}

#[tokio::test]
async fn a_client_rotating_in_a_loop_while_its_sessions_are_revoked_ends_up_with_a_dead_token() {
    let app = TestApp::spawn_with(&[("AUTH_DATABASE_POOL_SIZE", "8")]).await;
    let session = app.signed_up_session("loop@example.com").await;
    let mut total = 0;
    for round in 0..10 {
        let session = if round == 0 {
            session.clone()
        } else {
            app.signin("loop@example.com", crate::helpers::app::PASSWORD).await.body["session"].clone()
        };
        let access_token = session["accessToken"].as_str().unwrap().to_string();
        let rotations = std::cell::Cell::new(0);
        let revoke_after = 15 + round * 2;
        let revoke = async {
            while rotations.get() < revoke_after {
                tokio::task::yield_now().await;
            }
            let reply = app.post_with("/signout", json!({"all": true}), Some(&access_token)).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        };
        let (last, ()) = tokio::join!(rotate_until_refused(&app, refresh_token_of(&session), &rotations, 80), revoke);
        total += rotations.get();
        assert_eq!(app.refresh(&last).await.status, StatusCode::UNAUTHORIZED, "round {round}: a token survived");
        assert_eq!(app.count("select count(*) from auth.refresh_tokens where revoked_at is null").await, 0);
    }
    assert!(total >= 200, "only {total} rotations");
}

#[tokio::test]
async fn a_password_change_and_reuse_detection_also_catch_a_child_being_minted() {
    let app = TestApp::spawn_with(&[("AUTH_DATABASE_POOL_SIZE", "8")]).await;
    let mut total = 0;
    for round in 0..6 {
        let session = if round == 0 {
            app.signed_up_session("race2@example.com").await
        } else {
            app.signin("race2@example.com", crate::helpers::app::PASSWORD).await.body["session"].clone()
        };
        // A second session whose bearer changes the password: every other session must end.
        let other = app.signin("race2@example.com", crate::helpers::app::PASSWORD).await.body["session"].clone();
        let bearer = other["accessToken"].as_str().unwrap().to_string();
        let rotations = std::cell::Cell::new(0);
        let revoke = async {
            while rotations.get() < 8 + round * 2 {
                tokio::task::yield_now().await;
            }
            let body = json!({"newPassword": crate::helpers::app::PASSWORD});
            let reply = app.post_with("/user/password", body, Some(&bearer)).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        };
        let (last, ()) = tokio::join!(rotate_until_refused(&app, refresh_token_of(&session), &rotations, 80), revoke);
        total += rotations.get();
        assert_eq!(app.refresh(&last).await.status, StatusCode::UNAUTHORIZED, "round {round}: a token survived");
        // Only the changing session's own family is left.
        let families = app
            .rows(
                "select distinct family_id from auth.refresh_tokens where revoked_at is null and type = 'regular'",
                &[],
            )
            .await;
        assert_eq!(families.len(), 1, "round {round}");
        let reply = app.post_with("/signout", json!({"all": true}), Some(&bearer)).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    assert!(total >= 50, "only {total} rotations");

    // Reuse detection: a stale replay while the owner keeps rotating revokes the newest child too.
    let first = refresh_token_of(&app.signin("race2@example.com", crate::helpers::app::PASSWORD).await.body["session"]);
    let second = refresh_token_of(&app.refresh(&first).await.body);
    app.clock.advance(TimeDelta::seconds(31));
    let rotations = std::cell::Cell::new(0);
    let replay = async {
        while rotations.get() < 5 {
            tokio::task::yield_now().await;
        }
        assert_eq!(app.refresh(&first).await.status, StatusCode::UNAUTHORIZED);
    };
    let (last, ()) = tokio::join!(rotate_until_refused(&app, second, &rotations, 80), replay);
    assert_eq!(app.refresh(&last).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_session_cannot_be_refreshed_past_its_maximum_lifetime() {
    let app = TestApp::spawn_with(&[("AUTH_SESSION_MAX_LIFETIME", "3600")]).await;
    let mut token = refresh_token_of(&app.signed_up_session("short@example.com").await);
    for _ in 0..5 {
        app.clock.advance(TimeDelta::minutes(11));
        let reply = app.refresh(&token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        token = refresh_token_of(&reply.body);
    }
    // Its tokens never outlive the session either.
    let latest = app.rows("select max(expires_at - signed_in_at) from auth.refresh_tokens", &[]).await;
    let longest: Option<String> =
        app.rows("select (max(expires_at - signed_in_at))::text from auth.refresh_tokens", &[]).await[0].get(0);
    assert_eq!(latest.len(), 1);
    assert_eq!(longest.as_deref(), Some("01:00:00"));
    app.clock.advance(TimeDelta::minutes(6));
    let reply = app.refresh(&token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error_code(), "invalid-refresh-token");
    // A fresh sign-in starts a new session.
    let again = app.signin("short@example.com", crate::helpers::app::PASSWORD).await;
    assert_eq!(app.refresh(&refresh_token_of(&again.body["session"])).await.status, StatusCode::OK);
}

#[tokio::test]
async fn without_a_maximum_lifetime_sessions_refresh_indefinitely() {
    let app = TestApp::spawn().await;
    let mut token = refresh_token_of(&app.signed_up_session("long@example.com").await);
    for _ in 0..4 {
        app.clock.advance(TimeDelta::days(20));
        let reply = app.refresh(&token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        token = refresh_token_of(&reply.body);
    }
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
