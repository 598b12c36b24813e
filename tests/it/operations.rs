//! Operations: Prometheus metrics that a Prometheus text parser reads, liveness and readiness, nhost's
//! concealed errors, a stopped database answered with 503 `database-unavailable` (not 500) while the rest
//! keeps answering, a failing SMS provider answered with 503 `cannot-send-sms`, and a graceful shutdown
//! that finishes the requests in flight.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use hauth::clock::Clock;
use hauth::config::Config;
use hauth::pgcluster::PrivateCluster;
use hauth::state::AppState;
use poem::EndpointExt;
use poem::http::StatusCode;
use poem::test::TestClient;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::TestApp;
use crate::helpers::app::{PASSWORD, Reply, base_env};
use crate::helpers::db::TestDb;
use crate::helpers::sms_standin::SmsStandin;

/// The samples of one metric family, by their labels.
fn samples(metrics: &prometheus_parse::Scrape, name: &str) -> Vec<(HashMap<String, String>, f64)> {
    metrics
        .samples
        .iter()
        .filter(|sample| sample.metric == name)
        .map(|sample| {
            let labels = sample.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let value = match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            };
            (labels, value)
        })
        .collect()
}

pub(crate) fn value(metrics: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(metrics, name)
        .into_iter()
        .find(|(have, _)| labels.iter().all(|(k, v)| have.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, value)| value)
}

#[tokio::test]
async fn metrics_parse_with_a_prometheus_text_parser_and_count_what_happened() {
    let app = TestApp::spawn_with(&[("AUTH_RATE_LIMIT_ENABLE", "true"), ("AUTH_RATE_LIMIT_EMAIL_BURST", "1")]).await;
    let session = app.signed_up_session("metered@example.com").await;
    assert_eq!(app.signin("metered@example.com", "wrong-password").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.signin("metered@example.com", PASSWORD).await.status, StatusCode::OK);
    let old = session["refreshToken"].as_str().unwrap();
    assert_eq!(app.refresh(old).await.status, StatusCode::OK);
    app.clock.advance(TimeDelta::seconds(60));
    assert_eq!(app.refresh(old).await.status, StatusCode::UNAUTHORIZED, "reused after the grace period");
    assert_eq!(app.webhook_get(&[]).await.status, StatusCode::OK);
    app.post("/user/password/reset", json!({"email": "metered@example.com"})).await;
    let limited = app.post("/user/password/reset", json!({"email": "metered@example.com"})).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);

    // The reset mail is queued after the answer.
    for _ in 0..100 {
        if app.count("select count(*) from auth.email_outbox").await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reply = app.get("/metrics", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    let lines = reply.text.lines().map(|line| Ok(line.to_string()));
    let metrics = prometheus_parse::Scrape::parse(lines).expect("the Prometheus text format");

    let sign_in = |outcome| value(&metrics, "hauth_sign_ins_total", &[("method", "password"), ("outcome", outcome)]);
    assert_eq!(sign_in("success"), Some(1.0));
    assert_eq!(sign_in("failure"), Some(1.0));
    let requests = [("route", "/signin/email-password"), ("method", "POST"), ("status", "401")];
    assert_eq!(value(&metrics, "hauth_http_requests_total", &requests), Some(1.0));
    assert_eq!(value(&metrics, "hauth_refreshes_total", &[("outcome", "success")]), Some(1.0));
    assert_eq!(value(&metrics, "hauth_refreshes_total", &[("outcome", "failure")]), Some(1.0));
    assert_eq!(value(&metrics, "hauth_refresh_token_reuse_total", &[]), Some(1.0));
    assert_eq!(value(&metrics, "hauth_webhook_calls_total", &[("outcome", "allowed")]), Some(1.0));
    assert!(value(&metrics, "hauth_rate_limited_total", &[("bucket", "email")]).unwrap_or_default() >= 1.0);
    assert_eq!(value(&metrics, "hauth_db_pool_connections", &[("state", "max")]), Some(4.0));
    assert_eq!(value(&metrics, "hauth_mail_outbox_depth", &[]), Some(1.0), "the reset mail waits: no SMTP");
    let latency = metrics
        .samples
        .iter()
        .find(|sample| {
            sample.metric == "hauth_http_request_duration_seconds"
                && sample.labels.get("route") == Some("/signin/email-password")
        })
        .expect("a latency histogram");
    assert!(matches!(latency.value, prometheus_parse::Value::Histogram(_)), "{:?}", latency.value);
}

#[tokio::test]
async fn readyz_wants_the_database_migrated_while_healthz_only_wants_the_process() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/readyz", None).await.status, StatusCode::OK);
    app.rows("delete from auth.hauth_migrations where version = (select max(version) from auth.hauth_migrations)", &[])
        .await;
    let reply = app.get("/readyz", None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error_code(), "database-unavailable");
    assert!(reply.headers.contains_key("retry-after"));
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn concealed_errors_do_not_tell_whether_an_account_exists() {
    let app = TestApp::spawn_with(&[("AUTH_CONCEAL_ERRORS", "true")]).await;
    app.signup("known@example.com").await;
    for reply in [app.signin("known@example.com", "wrong-password").await, app.signup("known@example.com").await] {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert_eq!(reply.body, json!({"status": 400, "error": "invalid-request", "message": "invalid-request"}));
    }
    let reply = app.post("/signup/email-password", json!({"email": "new@example.com", "password": "ab"})).await;
    assert_eq!(reply.error_code(), "password-too-short", "errors that reveal nothing keep their code");
}

async fn call(client: &TestClient<poem::endpoint::BoxEndpoint<'static, poem::Response>>, path: &str) -> Reply {
    let request = if path.starts_with("/signin") {
        client.post(path).body_json(&json!({"email": "outage@example.com", "password": PASSWORD}))
    } else {
        client.get(path)
    };
    Reply::read(request.send().await.0).await
}

#[tokio::test]
async fn with_the_database_stopped_routes_that_need_it_answer_503_and_the_rest_keeps_answering() {
    let dir = std::env::temp_dir().join(format!("hauth-pg-outage-{}", uuid::Uuid::new_v4().simple()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cluster = PrivateCluster::start(&dir, port, true).unwrap();
    let url = cluster.url("postgres");
    hauth::db::migrate::run(&url).await.unwrap();
    let config = Config::from_env(&base_env(&url)).unwrap();
    let state = AppState::build(config, Clock::System).unwrap();
    let client = TestClient::new(hauth::api::routes(state).boxed());
    let signup = client
        .post("/signup/email-password")
        .body_json(&json!({"email": "outage@example.com", "password": PASSWORD}))
        .send()
        .await;
    let signup = Reply::read(signup.0).await;
    assert_eq!(signup.status, StatusCode::OK, "{}", signup.text);
    let refresh_token = signup.body["session"]["refreshToken"].as_str().unwrap().to_string();

    cluster.stop().unwrap();
    let started = Instant::now();
    let mut answers: HashMap<(String, u16), usize> = HashMap::new();
    while started.elapsed() < Duration::from_secs(4) {
        for path in ["/signin/email-password", "/readyz", "/healthz", "/version", "/.well-known/jwks.json"] {
            let reply = call(&client, path).await;
            if reply.status == StatusCode::SERVICE_UNAVAILABLE {
                assert_eq!(reply.error_code(), "database-unavailable");
                assert_eq!(reply.headers["retry-after"], "5");
            }
            *answers.entry((path.to_string(), reply.status.as_u16())).or_default() += 1;
        }
    }
    let statuses = |path: &str| -> Vec<u16> {
        let mut found: Vec<u16> =
            answers.keys().filter(|(p, _)| p == path).map(|(_, status)| *status).collect::<Vec<_>>();
        found.sort();
        found
    };
    eprintln!("answers while the database was stopped: {answers:?}");
    assert_eq!(statuses("/signin/email-password"), [503]);
    assert_eq!(statuses("/readyz"), [503]);
    for path in ["/healthz", "/version", "/.well-known/jwks.json"] {
        assert_eq!(statuses(path), [200], "{path}");
    }

    let cluster = PrivateCluster::start(&dir, port, true).unwrap();
    let mut recovered = false;
    for _ in 0..50 {
        if call(&client, "/readyz").await.status == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "readiness comes back by itself");
    let refreshed =
        Reply::read(client.post("/token").body_json(&json!({"refreshToken": refresh_token})).send().await.0).await;
    assert_eq!(refreshed.status, StatusCode::OK, "sessions survive: {}", refreshed.text);
    cluster.stop().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_failing_sms_provider_is_503_cannot_send_sms_not_an_internal_error() {
    let standin = SmsStandin::start("AC0123456789abcdef0123456789abcdef", "the-real-token").await;
    let app = TestApp::spawn_with_sms(
        &standin,
        "MG0123456789abcdef0123456789abcdef",
        &[("AUTH_SMS_TWILIO_AUTH_TOKEN", "a-wrong-token")],
    )
    .await;
    let reply = app.post("/signin/passwordless/sms", json!({"phoneNumber": "+14155550123"})).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text);
    assert_eq!(reply.error_code(), "cannot-send-sms");
    assert!(reply.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn shutdown_finishes_the_requests_in_flight() {
    let db = TestDb::create().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut env = base_env(&db.url);
    env.insert("AUTH_HOST".into(), "127.0.0.1".into());
    env.insert("AUTH_PORT".into(), port.to_string());
    // Production hashing cost: each sign-up takes a while, so some are in flight when shutdown starts.
    env.remove("AUTH_PASSWORD_HASH_MEMORY_KIB");
    env.remove("AUTH_PASSWORD_HASH_ITERATIONS");
    let state = AppState::build(Config::from_env(&env).unwrap(), Clock::System).unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(hauth::app::serve(state, shutdown.clone()));
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{url}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let requests: Vec<_> = (0..8)
        .map(|n| {
            let request = client
                .post(format!("{url}/signup/email-password"))
                .json(&json!({"email": format!("inflight{n}@example.com"), "password": PASSWORD}))
                .send();
            tokio::spawn(request)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    shutdown.cancel();
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap().map(|response| response.status().as_u16()).map_err(|e| e.to_string()));
    }
    assert!(statuses.iter().all(|status| status == &Ok(200)), "{statuses:?}");
    server.await.unwrap().unwrap();
    assert_eq!(db.connect().await.query("select count(*) from auth.users", &[]).await.unwrap()[0].get::<_, i64>(0), 8);
    assert!(client.get(format!("{url}/healthz")).send().await.is_err(), "no new connections after shutdown");
}
