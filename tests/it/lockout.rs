//! Account lockout: failed password sign-ins on one account, from any number of addresses, lock it for a
//! growing period; a locked account answers as a wrong password does; a reset by ticket and
//! `hauth users unlock` lift the lock.
use std::process::Command;

use chrono::{DateTime, TimeDelta, Utc};
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::app::PASSWORD;
use crate::helpers::db::TestDb;
use crate::rate_limits::Replica;

async fn signin_from(client: &reqwest::Client, url: &str, address: &str, password: &str) -> (u16, Value) {
    let response = client
        .post(format!("{url}/signin/email-password"))
        .header("x-forwarded-for", address)
        .json(&json!({"email": "target@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn thirty_wrong_passwords_from_many_addresses_end_in_the_lockout() {
    let db = TestDb::create().await;
    let replica = Replica::start(
        &db.url,
        &[
            ("AUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("AUTH_RATE_LIMIT_ENABLE", "true"),
            // The per-account rate limit would stop this attacker first; the lockout is what is shown here.
            ("AUTH_RATE_LIMIT_BRUTE_FORCE_BURST", "1000"),
            ("AUTH_RATE_LIMIT_SIGNUPS_BURST", "1000"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let signup = client
        .post(format!("{}/signup/email-password", replica.url))
        .json(&json!({"email": "target@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 200);

    let mut wrong_answers = Vec::new();
    for n in 0..30 {
        let address = format!("198.51.{}.{}", n / 200, n % 200 + 1);
        wrong_answers.push(signin_from(&client, &replica.url, &address, "not-the-password").await);
    }
    assert!(wrong_answers.iter().all(|(status, _)| *status == 401), "{wrong_answers:?}");
    let wrong = wrong_answers[0].1.clone();
    assert_eq!(wrong["error"], "invalid-email-password");

    // The right password now gets the very answer a wrong one gets.
    let (status, body) = signin_from(&client, &replica.url, "192.0.2.1", PASSWORD).await;
    assert_eq!((status, body), (401, wrong.clone()));
    let rows = db
        .connect()
        .await
        .query(
            "select l.lockouts, l.locked_until from auth.sign_in_lockouts l join auth.users u on u.id = l.user_id \
             where u.email = 'target@example.com'",
            &[],
        )
        .await
        .unwrap();
    let locked_until: DateTime<Utc> = rows[0].get(1);
    assert_eq!(rows[0].get::<_, i32>(0), 1, "failures while locked do not lock again");
    assert!(locked_until > Utc::now() + TimeDelta::seconds(250), "{locked_until}");
    let audited = db
        .connect()
        .await
        .query("select count(*) from auth.audit_log where event = 'account.locked'", &[])
        .await
        .unwrap();
    assert_eq!(audited[0].get::<_, i64>(0), 1);

    let output = Command::new(env!("CARGO_BIN_EXE_hauth"))
        .args(["users", "unlock", "target@example.com"])
        .env_clear()
        .envs(&replica.env)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (status, body) = signin_from(&client, &replica.url, "192.0.2.1", PASSWORD).await;
    assert_eq!(status, 200, "{body}");

    let unknown = Command::new(env!("CARGO_BIN_EXE_hauth"))
        .args(["users", "unlock", "nobody@example.com"])
        .env_clear()
        .envs(&replica.env)
        .output()
        .unwrap();
    assert!(!unknown.status.success());
}

async fn fail(app: &TestApp, times: usize) {
    for _ in 0..times {
        let reply = app.signin("grow@example.com", "wrong-password").await;
        assert_eq!(reply.error_code(), "invalid-email-password");
    }
}

async fn lock_seconds(app: &TestApp) -> Option<i64> {
    let rows = app.rows("select locked_until from auth.sign_in_lockouts", &[]).await;
    let until: Option<DateTime<Utc>> = rows.first().and_then(|row| row.get(0));
    until.map(|until| (until - app.clock.now()).num_seconds()).filter(|seconds| *seconds > 0)
}

#[tokio::test]
async fn each_lockout_in_a_row_lasts_twice_as_long_and_ends_by_itself() {
    let app = TestApp::spawn_with(&[("AUTH_LOCKOUT_THRESHOLD", "3")]).await;
    app.signup("grow@example.com").await;
    fail(&app, 2).await;
    assert_eq!(lock_seconds(&app).await, None);
    fail(&app, 1).await;
    assert_eq!(lock_seconds(&app).await, Some(300));
    assert_eq!(app.signin("grow@example.com", PASSWORD).await.status, StatusCode::UNAUTHORIZED);

    app.clock.advance(TimeDelta::seconds(301));
    fail(&app, 3).await;
    assert_eq!(lock_seconds(&app).await, Some(600));

    app.clock.advance(TimeDelta::seconds(601));
    let reply = app.signin("grow@example.com", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(app.count("select count(*) from auth.sign_in_lockouts").await, 0, "success forgets");
}

#[tokio::test]
async fn a_reset_by_ticket_lifts_the_lock() {
    let app =
        TestApp::spawn_with(&[("AUTH_LOCKOUT_THRESHOLD", "3"), ("AUTH_CLIENT_URL", "https://app.example.com")]).await;
    app.signup("grow@example.com").await;
    fail(&app, 3).await;
    assert!(lock_seconds(&app).await.is_some());
    let reply = app.post("/user/password/reset", json!({"email": "grow@example.com"})).await;
    assert_eq!(reply.status, StatusCode::OK);
    let mut ticket = None;
    for _ in 0..100 {
        let rows = app
            .rows(
                "select headers from auth.email_outbox where template = 'password-reset' and recipient = $1",
                &[&"grow@example.com"],
            )
            .await;
        if let Some(row) = rows.first() {
            let headers: Value = row.get(0);
            ticket = headers
                .as_array()
                .unwrap()
                .iter()
                .find(|pair| pair[0].as_str().is_some_and(|name| name.eq_ignore_ascii_case("x-ticket")))
                .map(|pair| pair[1].as_str().unwrap().to_string());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let ticket = ticket.expect("the reset mail is queued");
    let reply = app.post("/user/password", json!({"newPassword": "a-fresh-password", "ticket": ticket})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(lock_seconds(&app).await, None);
    let reply = app.signin("grow@example.com", "a-fresh-password").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}
