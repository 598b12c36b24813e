//! The provider-token refresh queue, against provider stand-ins that count refresh grants per refresh token:
//! a token nearing expiry is refreshed once and rescheduled (rotating and non-rotating refresh tokens), an
//! outage is retried with backoff until the attempts run out, a refusal stops at once and flags the
//! identity, the token endpoint and the worker share the lease, three `hauth serve` replicas refresh a
//! thousand due tokens exactly once, and the worker rides out a database restart. The `hauth oauth` CLI is
//! driven as a cron job would, and the queue's figures are read from `/metrics`.
use std::collections::HashMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use hauth::clock::Clock;
use hauth::config::Config;
use hauth::providers::TokenSet;
use hauth::state::AppState;
use hauth::workers::BatchOutcome;
use hauth::workers::provider_tokens::process_batch;
use poem::http::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::app::{TestApp, base_env};
use crate::helpers::provider_flow::*;
use crate::helpers::provider_standin::{ProviderStandin, StandinKind, StandinUser};

const LEAD: TimeDelta = TimeDelta::minutes(5);
const NOTHING_DUE: BatchOutcome = BatchOutcome { processed: 0, failed: 0, empty: true };

/// The queue row of the (one) linked identity.
#[derive(Debug)]
struct QueueRow {
    scheduled_at: DateTime<Utc>,
    attempts: i32,
    refreshable: bool,
    error_message: Option<String>,
    last_refreshed_at: Option<DateTime<Utc>>,
    token_expires_at: Option<DateTime<Utc>>,
}

async fn queue_row(app: &TestApp) -> QueueRow {
    let rows = app
        .rows(
            "select q.scheduled_at, q.attempts, q.refreshable, q.error_message, q.last_refreshed_at,
                    p.access_token_expires_at
             from auth.oauth_token_refresh_queue q join auth.user_providers p on p.id = q.user_provider_id",
            &[],
        )
        .await;
    assert_eq!(rows.len(), 1, "one linked identity, one queue row");
    let row = &rows[0];
    QueueRow {
        scheduled_at: row.get(0),
        attempts: row.get(1),
        refreshable: row.get(2),
        error_message: row.get(3),
        last_refreshed_at: row.get(4),
        token_expires_at: row.get(5),
    }
}

/// A user signed up with the provider; returns their hauth session.
async fn signed_in(setup: &Setup, id: &str) -> Value {
    setup.provider_user(id, &format!("user{id}@example.com"), true);
    let mut browser = setup.browser();
    let start = format!("/signin/provider/{}", setup.name);
    let landed = sign_in(setup, &mut browser, &start).await;
    session_of(&setup.app, &landed).await
}

/// Moves the app's clock to just past `at`.
fn advance_past(app: &TestApp, at: DateTime<Utc>) {
    let now = app.clock.now();
    if at >= now {
        app.clock.advance(at - now + TimeDelta::seconds(1));
    }
}

/// A fresh bearer for the session, which is renewed (the clock may have moved past its access token).
async fn bearer(app: &TestApp, session: &mut Value) -> String {
    let reply = app.refresh(session["refreshToken"].as_str().unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    *session = reply.body;
    access_token(session)
}

#[tokio::test]
async fn a_token_nearing_expiry_is_refreshed_once_and_rescheduled() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    let app = &setup.app;
    let mut session = signed_in(&setup, "7001").await;

    // Signing in scheduled the refresh five minutes before the token expires.
    let linked = queue_row(app).await;
    let expires_at = linked.token_expires_at.unwrap();
    assert_eq!(linked.scheduled_at, expires_at - LEAD);
    assert!(linked.refreshable);
    assert_eq!(process_batch(&app.state).await.unwrap(), NOTHING_DUE, "not due yet");
    assert_eq!(setup.standin.token_calls().refresh, 0);

    advance_past(app, linked.scheduled_at);
    assert_eq!(process_batch(&app.state).await.unwrap(), BatchOutcome { processed: 1, failed: 0, empty: false });
    let calls = setup.standin.token_calls();
    assert_eq!(calls.refresh, 1);
    assert!(calls.refresh_by_token.values().all(|count| *count == 1));

    let refreshed = queue_row(app).await;
    let new_expiry = refreshed.token_expires_at.unwrap();
    assert!(new_expiry > expires_at, "a new token was stored");
    assert_eq!(refreshed.scheduled_at, new_expiry - LEAD, "rescheduled before the new expiry");
    assert_eq!((refreshed.attempts, refreshed.error_message), (0, None));
    assert_eq!(refreshed.last_refreshed_at, Some(app.clock.now()));
    assert_eq!(process_batch(&app.state).await.unwrap(), NOTHING_DUE, "refreshed once");

    // The application gets the refreshed token as it is, with no further call to the provider.
    let bearer = bearer(app, &mut session).await;
    let token = app.get("/user/providers/google/token", Some(&bearer)).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    assert!(setup.standin.is_access_token_live(token.body["accessToken"].as_str().unwrap()));
    assert_eq!(setup.standin.token_calls().refresh, 1);
    no_plaintext_tokens(app, token.body["accessToken"].as_str().unwrap()).await;
}

#[tokio::test]
async fn rotating_and_non_rotating_refresh_tokens_are_both_handled() {
    // X rotates refresh tokens (the old one dies); Google keeps the one it issued.
    for (kind, rotates) in [(StandinKind::Twitter, true), (StandinKind::Google, false)] {
        let setup = Setup::new(kind, &[]).await;
        let app = &setup.app;
        signed_in(&setup, "7002").await;
        for round in 1..=2 {
            advance_past(app, queue_row(app).await.scheduled_at);
            let outcome = process_batch(&app.state).await.unwrap();
            assert_eq!(outcome, BatchOutcome { processed: 1, failed: 0, empty: false }, "{kind:?} round {round}");
        }
        let calls = setup.standin.token_calls();
        assert_eq!(calls.refresh, 2, "{kind:?}");
        let mut counts: Vec<usize> = calls.refresh_by_token.values().copied().collect();
        counts.sort();
        if rotates {
            assert_eq!(counts, [1, 1], "X: the second refresh used the rotated token");
            assert!(calls.refresh_by_token.keys().all(|token| !setup.standin.is_refresh_token_live(token)));
        } else {
            assert_eq!(counts, [2], "Google: the refresh token is kept and used again");
        }
        let row = queue_row(app).await;
        assert!(row.refreshable && row.attempts == 0 && row.scheduled_at > app.clock.now(), "{kind:?}: {row:?}");
    }
}

#[tokio::test]
async fn a_5xx_is_retried_with_backoff_then_succeeds() {
    let setup = Setup::new(StandinKind::Twitter, &[]).await;
    let app = &setup.app;
    signed_in(&setup, "7003").await;
    advance_past(app, queue_row(app).await.scheduled_at);

    setup.standin.fail_next_token_requests(1, 503, None);
    assert_eq!(process_batch(&app.state).await.unwrap(), BatchOutcome { processed: 1, failed: 1, empty: false });
    let failed = queue_row(app).await;
    assert_eq!(failed.attempts, 1);
    assert!(failed.error_message.as_deref().unwrap().contains("503"), "{failed:?}");
    let delay = failed.scheduled_at - app.clock.now();
    assert!(
        delay >= TimeDelta::seconds(15) && delay < TimeDelta::seconds(45),
        "first retry after 30 s ± half: {delay}"
    );
    assert_eq!(process_batch(&app.state).await.unwrap(), NOTHING_DUE, "waits for its backoff");

    // A 429's Retry-After is honoured.
    advance_past(app, failed.scheduled_at);
    setup.standin.fail_next_token_requests(1, 429, Some(600));
    assert_eq!(process_batch(&app.state).await.unwrap().failed, 1);
    let limited = queue_row(app).await;
    assert_eq!(limited.attempts, 2);
    assert!(limited.scheduled_at - app.clock.now() >= TimeDelta::seconds(600), "{limited:?}");

    advance_past(app, limited.scheduled_at);
    assert_eq!(process_batch(&app.state).await.unwrap(), BatchOutcome { processed: 1, failed: 0, empty: false });
    let calls = setup.standin.token_calls();
    assert_eq!(calls.refresh, 3, "two failures, one success");
    assert_eq!(calls.refresh_by_token.len(), 1, "the same refresh token each time: a failure does not spend it");
    let recovered = queue_row(app).await;
    assert_eq!((recovered.attempts, recovered.error_message.as_deref()), (0, None));
    assert!(recovered.last_refreshed_at.is_some());
}

#[tokio::test]
async fn invalid_grant_stops_after_one_call_and_flags_the_identity() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    let app = &setup.app;
    let mut session = signed_in(&setup, "7004").await;
    advance_past(app, queue_row(app).await.scheduled_at);
    setup.standin.revoke_every_refresh_token();

    assert_eq!(process_batch(&app.state).await.unwrap(), BatchOutcome { processed: 1, failed: 1, empty: false });
    let stopped = queue_row(app).await;
    assert!(!stopped.refreshable, "stopped for good: {stopped:?}");
    assert!(stopped.error_message.as_deref().unwrap().starts_with("invalid_grant"), "{stopped:?}");
    // (A small step: the ID token of the sign-in below must still be valid by the app's clock.)
    app.clock.advance(TimeDelta::minutes(3));
    assert_eq!(process_batch(&app.state).await.unwrap(), NOTHING_DUE);
    assert_eq!(setup.standin.token_calls().refresh, 1, "one call, never retried");

    let bearer = bearer(app, &mut session).await;
    let listed = app.get("/user/providers", Some(&bearer)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body[0]["needsReauthentication"], true);
    let token = app.get("/user/providers/google/token", Some(&bearer)).await;
    assert_eq!(token.status, StatusCode::CONFLICT);
    assert_eq!(token.error_code(), "provider-reauthentication-required");
    let audited =
        app.rows("select provider, metadata from auth.audit_log where event = 'provider.refresh_refused'", &[]).await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].get::<_, Option<String>>(0).as_deref(), Some("google"));
    assert_eq!(audited[0].get::<_, Value>(1), json!({"error": "invalid_grant", "background": true}));

    // Signing in with the provider again starts over.
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/google").await;
    session_of(app, &landed).await;
    let fresh = queue_row(app).await;
    assert!(fresh.attempts == 0 && fresh.error_message.is_none(), "{fresh:?}");
    let flagged: bool = app.rows("select needs_reauthentication from auth.user_providers", &[]).await[0].get(0);
    assert!(!flagged);
}

#[tokio::test]
async fn three_transient_failures_exhaust_the_row_until_retry_failed() {
    let setup = Setup::new(StandinKind::Discord, &[]).await;
    let app = &setup.app;
    signed_in(&setup, "7005").await;
    setup.standin.fail_next_token_requests(10, 500, None);
    for attempt in 1..=3 {
        advance_past(app, queue_row(app).await.scheduled_at);
        assert_eq!(process_batch(&app.state).await.unwrap().failed, 1, "attempt {attempt}");
        assert_eq!(queue_row(app).await.attempts, attempt);
    }
    app.clock.advance(TimeDelta::days(1));
    assert_eq!(process_batch(&app.state).await.unwrap(), NOTHING_DUE, "exhausted after max_attempts (3)");
    assert_eq!(setup.standin.token_calls().refresh, 3);
    let exhausted = queue_row(app).await;
    assert!(exhausted.refreshable, "an outage does not end the link");
    let status = hauth::flows::token_refresh::status(&app.state).await.unwrap();
    assert_eq!((status.exhausted, status.depth, status.failed_last_hour), (1, 0, 0));
    let audited = app.count("select count(*) from auth.audit_log where event = 'provider.refresh_failed'").await;
    assert_eq!(audited, 1, "exhaustion is audited");
    let flagged: bool = app.rows("select needs_reauthentication from auth.user_providers", &[]).await[0].get(0);
    assert!(!flagged);

    // nself's manual reset makes it due again.
    setup.standin.fail_next_token_requests(0, 500, None);
    assert_eq!(hauth::flows::token_refresh::retry_failed(&app.state).await.unwrap(), 1);
    assert_eq!(process_batch(&app.state).await.unwrap(), BatchOutcome { processed: 1, failed: 0, empty: false });
    assert_eq!(queue_row(app).await.attempts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_and_the_token_endpoint_never_refresh_the_same_token_at_once() {
    // GitLab rotates and retires the old tokens on refresh: a second refresh with the same token would fail.
    let setup = Setup::new(StandinKind::Gitlab, &[]).await;
    let app = &setup.app;
    let mut session = signed_in(&setup, "7006").await;
    setup.standin.set_latency(300);
    for first_is_worker in [true, false] {
        app.clock.advance(TimeDelta::hours(3));
        let bearer = bearer(app, &mut session).await;
        let worker = async {
            if !first_is_worker {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            process_batch(&app.state).await.unwrap()
        };
        let endpoint = async {
            if first_is_worker {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            app.get("/user/providers/gitlab/token", Some(&bearer)).await
        };
        let before = setup.standin.token_calls().refresh;
        let (outcome, token) = tokio::join!(worker, endpoint);
        assert_eq!(token.status, StatusCode::OK, "{}", token.text);
        assert!(setup.standin.is_access_token_live(token.body["accessToken"].as_str().unwrap()));
        assert_eq!(setup.standin.token_calls().refresh, before + 1, "one refresh (worker first: {first_is_worker})");
        assert_eq!(outcome.failed, 0);
        assert_eq!(outcome.processed, usize::from(first_is_worker), "a leased row is skipped by the worker");
        assert!(setup.standin.token_calls().refresh_by_token.values().all(|count| *count == 1));
    }
}

/// `count` users, each with an identity at the stand-in linked directly (no browser) whose access token
/// expires in `lifetime` seconds; returns their refresh tokens.
async fn link_many(
    state: &AppState,
    standin: &ProviderStandin,
    provider: &str,
    count: usize,
    lifetime: i64,
) -> Vec<String> {
    let keys = hauth::flows::provider_tokens::keys(state).unwrap();
    let client = state.pool.get().await.unwrap();
    hauth::db::user_providers::ensure_provider(&client, provider).await.unwrap();
    let mut refresh_tokens = Vec::with_capacity(count);
    for index in 0..count {
        let provider_user_id = format!("{}", 900_000 + index);
        standin.add_user(StandinUser { id: provider_user_id.clone(), ..StandinUser::default() });
        let (access, refresh) = standin.grant_tokens(&provider_user_id, &["users.read", "offline.access"], lifetime);
        let (user_id, identity_id) = (Uuid::new_v4(), Uuid::new_v4());
        client.execute("insert into auth.users (id, locale) values ($1, 'en')", &[&user_id]).await.unwrap();
        let tokens = TokenSet {
            access_token: SecretString::from(access),
            refresh_token: Some(SecretString::from(refresh.clone())),
            id_token: None,
            expires_in: Some(lifetime),
            scopes: None,
        };
        let now = state.clock.now();
        let sealed = hauth::flows::provider_tokens::seal_token_set(keys, identity_id, &tokens, None, now);
        let identity = hauth::db::user_providers::NewIdentity {
            id: identity_id,
            user_id,
            provider_id: provider,
            provider_user_id: &provider_user_id,
            tokens: sealed.as_tokens(),
            email: None,
            profile: &json!({}),
            now,
        };
        hauth::db::user_providers::insert_identity(&client, &identity).await.unwrap();
        hauth::flows::token_refresh::schedule(state, &client, identity_id, &sealed.as_tokens()).await.unwrap();
        refresh_tokens.push(refresh);
    }
    refresh_tokens
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `done` every 100 ms until it holds or `limit` passes; returns whether it held.
async fn eventually<F: std::future::Future<Output = bool>>(limit: Duration, mut done: impl FnMut() -> F) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Rows whose refresh has been recorded, read on a fresh connection (the server may be restarting).
async fn refreshed_rows(url: &str) -> i64 {
    let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await else { return -1 };
    tokio::spawn(connection);
    client
        .query_one("select count(*) from auth.oauth_token_refresh_queue where last_refreshed_at is not null", &[])
        .await
        .map_or(-1, |row| row.get(0))
}

/// Every refresh token was presented exactly once.
fn assert_each_refreshed_once(standin: &ProviderStandin, refresh_tokens: &[String]) {
    let calls = standin.token_calls();
    assert_eq!(calls.refresh, refresh_tokens.len(), "one refresh grant per token");
    let twice: Vec<_> = calls.refresh_by_token.iter().filter(|(_, count)| **count != 1).collect();
    assert!(twice.is_empty(), "refreshed more than once: {twice:?}");
    assert!(refresh_tokens.iter().all(|token| calls.refresh_by_token.get(token) == Some(&1)));
}

/// A `hauth serve` process, stopped (SIGTERM) when dropped.
struct Replica {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Replica {
    fn serve(env: &HashMap<String, String>, log: std::path::PathBuf) -> Replica {
        let child = Command::new(env!("CARGO_BIN_EXE_hauth"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .env("AUTH_PORT", free_port().to_string())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Replica { child, log }
    }

    /// Stops it as an orchestrator would; returns whether it exited cleanly, and its log.
    fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > Duration::from_secs(20) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status.is_some_and(|status| status.success()), std::fs::read_to_string(&self.log).unwrap_or_default())
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_refresh_a_thousand_due_tokens_exactly_once() {
    let setup = Setup::new(StandinKind::Twitter, &[]).await;
    setup.standin.set_latency(5);
    // Due at once: each access token expires within the lead time.
    let refresh_tokens = link_many(&setup.app.state, &setup.standin, "twitter", 1000, 60).await;

    let mut env = base_env(&setup.app.db.url);
    env.extend(setup.env.iter().cloned());
    for (name, value) in [
        ("AUTH_HOST", "127.0.0.1"),
        ("AUTH_SKIP_MIGRATIONS", "true"),
        ("AUTH_DATABASE_POOL_SIZE", "6"),
        ("AUTH_PROVIDER_TOKEN_REFRESH_INTERVAL", "1"),
        ("AUTH_PROVIDER_TOKEN_REFRESH_BATCH_SIZE", "25"),
        ("AUTH_PROVIDER_TOKEN_REFRESH_CONCURRENCY", "8"),
        ("AUTH_LOG_LEVEL", "info"),
    ] {
        env.insert(name.into(), value.into());
    }
    let dir = std::env::temp_dir().join(format!("hauth-replicas-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let replicas: Vec<Replica> = (0..3).map(|index| Replica::serve(&env, dir.join(format!("{index}.log")))).collect();

    let url = setup.app.db.url.clone();
    let all_refreshed = eventually(Duration::from_secs(180), || async { refreshed_rows(&url).await == 1000 }).await;
    let mut shares = Vec::new();
    for replica in replicas {
        let (clean, log) = replica.terminate();
        assert!(clean, "a replica did not stop cleanly:\n{log}");
        assert!(log.contains("provider token refresh worker stopped"), "{log}");
        shares.push(log.matches("provider token refreshed").count());
    }
    assert!(all_refreshed, "only {} of 1000 refreshed", refreshed_rows(&url).await);
    println!("refreshes per replica: {shares:?}");
    assert_eq!(shares.iter().sum::<usize>(), 1000);
    assert_each_refreshed_once(&setup.standin, &refresh_tokens);
    let rescheduled = setup
        .app
        .count("select count(*) from auth.oauth_token_refresh_queue where attempts = 0 and lease_id is null and scheduled_at > now()")
        .await;
    assert_eq!(rescheduled, 1000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_worker_recovers_from_a_database_restart_without_refreshing_anything_twice() {
    let setup = Setup::new(StandinKind::Twitter, &[]).await;
    setup.standin.set_latency(20);
    let dir = std::env::temp_dir().join(format!("hauth-refresh-restart-{}", Uuid::new_v4().simple()));
    let port = free_port();
    let start = {
        let dir = dir.clone();
        move || hauth::pgcluster::PrivateCluster::start(&dir, port, true).unwrap()
    };
    let cluster = tokio::task::spawn_blocking(start.clone()).await.unwrap();
    let admin_url = cluster.url("postgres");
    let (admin, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    admin.batch_execute("create database hauth").await.unwrap();
    let url = cluster.url("hauth");
    hauth::db::migrate::run(&url).await.unwrap();

    let mut env = base_env(&url);
    env.extend(setup.env.iter().cloned());
    env.insert("AUTH_PROVIDER_TOKEN_REFRESH_INTERVAL".into(), "1".into());
    env.insert("AUTH_PROVIDER_TOKEN_REFRESH_BATCH_SIZE".into(), "10".into());
    let state = AppState::build(Config::from_env(&env).unwrap(), Clock::System).unwrap();
    let refresh_tokens = link_many(&state, &setup.standin, "twitter", 200, 60).await;

    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(hauth::workers::provider_tokens::run(state.clone(), shutdown.clone()));
    assert!(eventually(Duration::from_secs(60), || async { setup.standin.token_calls().refresh >= 30 }).await);

    // Restarted mid-run: connections in the pool die, refreshes in flight cannot record their outcome.
    let restart = {
        let cluster = cluster.clone();
        move || {
            cluster.stop().unwrap();
            std::thread::sleep(Duration::from_millis(500));
            start()
        }
    };
    tokio::task::spawn_blocking(restart).await.unwrap();
    let calls_at_restart = setup.standin.token_calls().refresh;
    assert!(calls_at_restart < 200, "the restart came mid-run ({calls_at_restart} refreshed)");

    let recovered = eventually(Duration::from_secs(120), || async { refreshed_rows(&url).await == 200 }).await;
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(15), worker).await;
    let cluster_stopped = tokio::task::spawn_blocking(move || cluster.stop()).await.unwrap();
    assert!(recovered, "the worker did not finish after the restart");
    assert!(matches!(stopped, Ok(Ok(()))), "the worker stops on shutdown");
    assert_each_refreshed_once(&setup.standin, &refresh_tokens);
    cluster_stopped.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn hauth_cli(env: &HashMap<String, String>, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hauth"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .env("AUTH_LOG_LEVEL", "warn")
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {} / {}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_cli_reports_the_queue_and_accounts_and_refreshes_once_for_cron() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    let app = &setup.app;
    let session = signed_in(&setup, "7007").await;
    let user_id = session["user"]["id"].as_str().unwrap().to_string();
    let mut env = base_env(&app.db.url);
    env.extend(setup.env.iter().cloned());

    let status = hauth_cli(&env, &["oauth", "refresh", "status", "--json"]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let status = json_of(&status);
    assert_eq!(
        (status["depth"].as_i64(), status["due"].as_i64(), status["lagSeconds"].as_i64()),
        (Some(1), Some(0), Some(0))
    );

    let accounts = json_of(&hauth_cli(&env, &["oauth", "accounts", "user7007@example.com", "--json"]));
    assert_eq!(accounts[0]["provider"], "google");
    assert_eq!(accounts[0]["userId"], user_id.as_str());
    assert_eq!(accounts[0]["needsReauthentication"], false);
    assert!(accounts[0]["tokenExpiresAt"].is_string());

    let list = json_of(&hauth_cli(&env, &["oauth", "list", "--json"]));
    let google = list.as_array().unwrap().iter().find(|p| p["provider"] == "google").unwrap();
    assert_eq!((google["enabled"].as_bool(), google["configured"].as_bool()), (Some(true), Some(true)));
    assert_eq!(google["callbackUrls"][0], format!("{SERVER}/signin/provider/google/callback"));
    let github = list.as_array().unwrap().iter().find(|p| p["provider"] == "github").unwrap();
    assert_eq!(github["enabled"], false);
    let table = String::from_utf8(hauth_cli(&env, &["oauth", "list"]).stdout).unwrap();
    assert!(table.starts_with("provider   enabled  configured  callback URLs\n"), "{table}");

    let tested = hauth_cli(&env, &["oauth", "test", "google", "--json"]);
    assert!(tested.status.success(), "{}", String::from_utf8_lossy(&tested.stdout));
    assert_eq!(json_of(&tested)["ok"], true);
    assert_eq!(hauth_cli(&env, &["oauth", "test", "github"]).status.code(), Some(1), "github is not enabled");

    // Cron: one pass over what is due; the exit code says whether something failed.
    let due_now = "update auth.oauth_token_refresh_queue set scheduled_at = now() - interval '1 minute'";
    app.rows(due_now, &[]).await;
    let once = hauth_cli(&env, &["oauth", "refresh", "once"]);
    assert!(once.status.success(), "{}", String::from_utf8_lossy(&once.stderr));
    assert_eq!(String::from_utf8_lossy(&once.stdout), "refreshed 1 of 1 due token(s), 0 failed\n");
    assert_eq!(setup.standin.token_calls().refresh, 1);
    let nothing = json_of(&hauth_cli(&env, &["oauth", "refresh", "once", "--json"]));
    assert_eq!(nothing, json!({"processed": 0, "failed": 0, "refreshed": 0}));

    setup.standin.revoke_every_refresh_token();
    app.rows(due_now, &[]).await;
    let refused = hauth_cli(&env, &["oauth", "refresh", "once", "--json"]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(json_of(&refused)["failed"], 1);
    let table = String::from_utf8(hauth_cli(&env, &["oauth", "accounts", &user_id]).stdout).unwrap();
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("provider  email") && header.ends_with("needs re-authentication"), "{table}");
    let cells: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(cells[cells.len() - 2..], ["never", "yes"], "{table}");
    let status = json_of(&hauth_cli(&env, &["oauth", "refresh", "status", "--json"]));
    assert_eq!((status["refreshedLastHour"].as_i64(), status["failedLastHour"].as_i64()), (Some(1), Some(1)));
    assert_eq!(json_of(&hauth_cli(&env, &["oauth", "refresh", "retry-failed", "--json"])), json!({"reset": 0}));

    // Link and unlink, with the API's rules.
    let not_enabled = hauth_cli(&env, &["oauth", "link", "user7007@example.com", "github"]);
    assert_eq!(not_enabled.status.code(), Some(2), "github is not enabled");
    let linked = hauth_cli(&env, &["oauth", "link", &user_id, "google", "--json"]);
    assert!(linked.status.success(), "{}", String::from_utf8_lossy(&linked.stderr));
    let url = json_of(&linked)["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{SERVER}/signin/provider/google?linkTicket=")), "{url}");
    let unlinked = hauth_cli(&env, &["oauth", "unlink", &user_id, "google"]);
    assert_eq!(unlinked.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unlinked.stderr).contains("last way to sign in"));
    assert_eq!(app.count("select count(*) from auth.user_providers").await, 1);
}

/// Refreshes per second of the worker against a stand-in answering in 50 ms, serial and at concurrency 16
/// (`bench/provider-token-refresh.sh` runs it; `BENCH_TOKENS` sets how many tokens the concurrent run
/// refreshes, a quarter of that the serial one). Not a timed test: it prints, and fails only when the
/// concurrent run is not at least 8× the serial one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bench/provider-token-refresh.sh"]
async fn bench_provider_token_refreshes_per_second() {
    let tokens: usize = std::env::var("BENCH_TOKENS").ok().and_then(|n| n.parse().ok()).unwrap_or(640);
    let mut rates = Vec::new();
    for (concurrency, count) in [(1, (tokens / 4).max(16)), (16, tokens)] {
        let concurrency = concurrency.to_string();
        let setup = Setup::new(
            StandinKind::Twitter,
            &[("AUTH_PROVIDER_TOKEN_REFRESH_CONCURRENCY", &concurrency), ("AUTH_DATABASE_POOL_SIZE", "8")],
        )
        .await;
        setup.standin.set_latency(50);
        let refresh_tokens = link_many(&setup.app.state, &setup.standin, "twitter", count, 60).await;
        let started = Instant::now();
        let outcome = hauth::workers::provider_tokens::process_due(&setup.app.state).await.unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!((outcome.processed, outcome.failed), (count, 0));
        assert_each_refreshed_once(&setup.standin, &refresh_tokens);
        let rate = count as f64 / elapsed;
        println!("concurrency {concurrency:>2}: {count} refreshes in {elapsed:.2} s = {rate:.1} refreshes/s");
        rates.push(rate);
    }
    let speedup = rates[1] / rates[0];
    println!("speed-up at concurrency 16: {speedup:.1}x serial");
    assert!(speedup >= 8.0, "concurrency 16 is only {speedup:.1}x serial");
}

/// `/metrics`, parsed by a Prometheus text parser.
async fn scrape(app: &TestApp) -> prometheus_parse::Scrape {
    let reply = app.get("/metrics", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    prometheus_parse::Scrape::parse(reply.text.lines().map(|line| Ok(line.to_string()))).expect("the text format")
}

#[tokio::test]
async fn the_queue_shows_on_metrics_refreshes_by_outcome_rows_by_state_and_lag() {
    use crate::operations::value;
    let setup = Setup::new(StandinKind::Twitter, &[]).await;
    let app = &setup.app;
    signed_in(&setup, "7010").await;
    let queue = |metrics: &prometheus_parse::Scrape, state: &str| {
        value(metrics, "hauth_provider_token_refresh_queue", &[("state", state)])
    };
    let refreshes = |metrics: &prometheus_parse::Scrape, outcome: &str| {
        value(metrics, "hauth_provider_token_refreshes_total", &[("trigger", "background"), ("outcome", outcome)])
    };
    let lag = |metrics: &prometheus_parse::Scrape| value(metrics, "hauth_provider_token_refresh_lag_seconds", &[]);

    let waiting = scrape(app).await;
    assert_eq!((queue(&waiting, "waiting"), queue(&waiting, "due"), lag(&waiting)), (Some(1.0), Some(0.0), Some(0.0)));
    assert_eq!(refreshes(&waiting, "refreshed"), None, "nothing refreshed yet");

    // Due for a minute and a half without a worker: the lag says so.
    let scheduled_at = queue_row(app).await.scheduled_at;
    app.clock.advance(scheduled_at - app.clock.now() + TimeDelta::seconds(90));
    let overdue = scrape(app).await;
    assert_eq!((queue(&overdue, "due"), lag(&overdue)), (Some(1.0), Some(90.0)));

    // A 503: retried later.
    setup.standin.fail_next_token_requests(1, 503, None);
    assert_eq!(process_batch(&app.state).await.unwrap().failed, 1);
    let retrying = scrape(app).await;
    assert_eq!(refreshes(&retrying, "retry"), Some(1.0));
    assert_eq!(
        (queue(&retrying, "retrying"), queue(&retrying, "due"), lag(&retrying)),
        (Some(1.0), Some(0.0), Some(0.0))
    );

    // Then refreshed.
    advance_past(app, queue_row(app).await.scheduled_at);
    assert_eq!(process_batch(&app.state).await.unwrap().failed, 0);
    let refreshed = scrape(app).await;
    assert_eq!(refreshes(&refreshed, "refreshed"), Some(1.0));
    assert_eq!((queue(&refreshed, "waiting"), queue(&refreshed, "retrying")), (Some(1.0), Some(0.0)));

    // Then refused: failed, and the row is no longer refreshable.
    setup.standin.revoke_every_refresh_token();
    advance_past(app, queue_row(app).await.scheduled_at);
    assert_eq!(process_batch(&app.state).await.unwrap().failed, 1);
    let refused = scrape(app).await;
    assert_eq!(refreshes(&refused, "failed"), Some(1.0));
    assert_eq!((queue(&refused, "waiting"), queue(&refused, "not-refreshable")), (Some(0.0), Some(1.0)));
    assert_eq!((refreshes(&refused, "refreshed"), refreshes(&refused, "retry")), (Some(1.0), Some(1.0)));
}
