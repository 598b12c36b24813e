//! The application state's inputs and lifecycle: randomness is an input like the clock (a seeded generator
//! gives the same ids and tokens on every run), and shutdown waits for the work flows started after
//! answering.
use std::time::Duration;

use hauth::clock::Clock;
use hauth::config::Config;
use hauth::state::AppState;
use poem::http::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::TestApp;
use crate::helpers::app::base_env;
use crate::helpers::db::TestDb;

#[tokio::test]
async fn a_seeded_generator_gives_the_same_ids_and_tokens_on_every_run() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let app = TestApp::spawn_seeded(42, &[("AUTH_ANONYMOUS_USERS_ENABLED", "true")]).await;
        let reply = app.post_raw("/signin/anonymous", "").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let session = &reply.body["session"];
        runs.push((session["user"]["id"].clone(), session["refreshToken"].clone(), session["refreshTokenId"].clone()));
    }
    assert_eq!(runs[0], runs[1]);
    let other = TestApp::spawn_seeded(43, &[("AUTH_ANONYMOUS_USERS_ENABLED", "true")]).await;
    let reply = other.post_raw("/signin/anonymous", "").await;
    assert_ne!(reply.body["session"]["user"]["id"], runs[0].0);
}

#[tokio::test]
async fn shutdown_waits_for_mail_queued_after_the_answer() {
    let db = TestDb::create().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut env = base_env(&db.url);
    env.insert("AUTH_HOST".into(), "127.0.0.1".into());
    env.insert("AUTH_PORT".into(), port.to_string());
    let config = Config::from_env(&env).unwrap();
    let state = AppState::build(config, Clock::System).unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(hauth::app::serve(state, shutdown.clone()));
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        ready = client.get(format!("{url}/healthz")).send().await.is_ok_and(|r| r.status().is_success());
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready);
    let signup = client
        .post(format!("{url}/signup/email-password"))
        .json(&json!({"email": "late@example.com", "password": crate::helpers::app::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 200);
    // The reset mail is looked up and queued after the answer; stopping right away must not lose it.
    let reset = client
        .post(format!("{url}/user/password/reset"))
        .json(&json!({"email": "late@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    shutdown.cancel();
    server.await.unwrap().unwrap();
    let queued = db
        .connect()
        .await
        .query_one("select count(*) from auth.email_outbox where template = 'password-reset'", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(queued, 1);
}
