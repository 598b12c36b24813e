//! Rate limits: nhost's buckets per client address and per identifier, kept in Postgres so replicas share
//! them (or in Redis), the client address from `X-Forwarded-For` only behind a trusted proxy, and 429
//! `too-many-requests` with `Retry-After`.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::app::base_env;
use crate::helpers::db::TestDb;

/// A `hauth serve` process on a free port over `database_url`; killed when dropped.
pub struct Replica {
    pub url: String,
    pub env: std::collections::HashMap<String, String>,
    child: Child,
}

impl Replica {
    pub async fn start(database_url: &str, overrides: &[(&str, &str)]) -> Replica {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut env = base_env(database_url);
        env.insert("AUTH_HOST".into(), "127.0.0.1".into());
        env.insert("AUTH_PORT".into(), port.to_string());
        env.insert("AUTH_LOG_LEVEL".into(), "warn".into());
        for (key, value) in overrides {
            env.insert(key.to_string(), value.to_string());
        }
        let child = Command::new(env!("CARGO_BIN_EXE_hauth"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&env)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let replica = Replica { url: format!("http://127.0.0.1:{port}"), env, child };
        let started = Instant::now();
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(30) {
            if client.get(format!("{}/healthz", replica.url)).send().await.is_ok_and(|r| r.status().is_success()) {
                return replica;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("hauth did not start at {}", replica.url);
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn reset_request(client: &reqwest::Client, url: &str, email: &str, forwarded_for: Option<&str>) -> u16 {
    let mut request = client.post(format!("{url}/user/password/reset")).json(&json!({"email": email}));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn two_hundred_requests_to_a_send_endpoint_from_one_address_end_in_429_with_retry_after() {
    let app = TestApp::spawn_with(&[("AUTH_RATE_LIMIT_ENABLE", "true")]).await;
    let mut statuses = Vec::new();
    let mut last = None;
    for n in 0..200 {
        let reply = app.post("/user/password/reset", json!({"email": format!("user{n}@example.com")})).await;
        statuses.push(reply.status.as_u16());
        last = Some(reply);
    }
    // nhost's default for routes that send email: 10 an hour per client address.
    assert!(statuses[..10].iter().all(|status| *status == 200), "{statuses:?}");
    assert!(statuses[10..].iter().all(|status| *status == 429), "{statuses:?}");
    let last = last.unwrap();
    assert_eq!(last.error_code(), "too-many-requests");
    let retry_after: u64 = last.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(retry_after, 360, "one request comes back every hour / 10");
    let state = app.count("select count(*) from auth.rate_limits where key = 'email:ip:unknown'").await;
    assert_eq!(state, 1);

    app.clock.advance(TimeDelta::seconds(360));
    let reply = app.post("/user/password/reset", json!({"email": "later@example.com"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let reply = app.post("/user/password/reset", json!({"email": "again@example.com"})).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_identifier_is_limited_whatever_address_asks_and_routes_for_hasura_never_are() {
    let app = TestApp::spawn_with(&[
        ("AUTH_RATE_LIMIT_ENABLE", "true"),
        ("AUTH_RATE_LIMIT_BRUTE_FORCE_BURST", "3"),
        ("AUTH_RATE_LIMIT_GLOBAL_BURST", "1000"),
    ])
    .await;
    app.signup("victim@example.com").await;
    for _ in 0..3 {
        let reply = app.signin("Victim@example.com", "wrong-password").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    }
    let reply = app.signin("victim@example.com", "wrong-password").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{}", reply.text);
    assert_eq!(reply.error_code(), "too-many-requests");
    let keys: Vec<String> =
        app.rows("select key from auth.rate_limits order by key", &[]).await.iter().map(|row| row.get(0)).collect();
    assert!(keys.contains(&"brute-force:id:victim@example.com".to_string()), "{keys:?}");
    for _ in 0..50 {
        let reply = app.webhook_get(&[]).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let db = TestDb::create().await;
    let limits = [("AUTH_RATE_LIMIT_ENABLE", "true"), ("AUTH_RATE_LIMIT_EMAIL_BURST", "5")];
    let client = reqwest::Client::new();

    let trusted = [limits.as_slice(), &[("AUTH_TRUSTED_PROXIES", "127.0.0.1/32, ::1")]].concat();
    let behind_proxy = Replica::start(&db.url, &trusted).await;
    for n in 0..20 {
        let address = format!("203.0.113.{n}");
        let status =
            reset_request(&client, &behind_proxy.url, &format!("a{n}@example.com"), Some(address.as_str())).await;
        assert_eq!(status, 200, "request {n} from its own address");
    }
    drop(behind_proxy);

    let direct = Replica::start(&db.url, &limits).await;
    let mut statuses = Vec::new();
    for n in 0..8 {
        let address = format!("198.51.100.{n}");
        statuses.push(reset_request(&client, &direct.url, &format!("b{n}@example.com"), Some(address.as_str())).await);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429], "a forged header is ignored");
}

#[tokio::test]
async fn three_replicas_on_one_database_hold_the_limit_of_one() {
    let db = TestDb::create().await;
    let limits = [
        ("AUTH_RATE_LIMIT_ENABLE", "true"),
        ("AUTH_RATE_LIMIT_GLOBAL_BURST", "10000"),
        ("AUTH_RATE_LIMIT_EMAIL_BURST", "100"),
        ("AUTH_RATE_LIMIT_EMAIL_INTERVAL", "24h"),
    ];
    let replicas = futures::future::join_all((0..3).map(|_| Replica::start(&db.url, &limits))).await;
    let client = reqwest::Client::new();
    let requests = (0..200).map(|n| {
        let url = replicas[n % 3].url.clone();
        let client = client.clone();
        async move { reset_request(&client, &url, &format!("r{n}@example.com"), None).await }
    });
    let statuses = futures::future::join_all(requests).await;
    let allowed = statuses.iter().filter(|status| **status == 200).count();
    let limited = statuses.iter().filter(|status| **status == 429).count();
    eprintln!("3 replicas, 200 requests, limit 100: {allowed} allowed, {limited} limited");
    assert_eq!(allowed + limited, 200, "{statuses:?}");
    assert!((90..=110).contains(&allowed), "{allowed} allowed across three replicas for a limit of 100");
}

#[tokio::test]
async fn the_redis_store_holds_the_same_limits() {
    let db = TestDb::create().await;
    let replica = Replica::start(
        &db.url,
        &[
            ("AUTH_RATE_LIMIT_ENABLE", "true"),
            ("AUTH_RATE_LIMIT_EMAIL_BURST", "4"),
            ("AUTH_RATE_LIMIT_REDIS_URL", "redis://127.0.0.1:6379"),
            ("AUTH_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    // A client address of its own, so earlier runs' keys (which expire by themselves) do not count.
    let id = uuid::Uuid::new_v4().as_bytes().to_vec();
    let address = format!("10.{}.{}.{}", id[0], id[1], id[2]);
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for n in 0..6 {
        let email = format!("redis{n}-{}@example.com", hex::encode(&id));
        statuses.push(reset_request(&client, &replica.url, &email, Some(&address)).await);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    let rows = db.connect().await.query("select count(*) from auth.rate_limits", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 0, "nothing is kept in Postgres with Redis");
}

#[tokio::test]
async fn spent_keys_are_pruned_once_they_would_allow_a_full_burst() {
    let app = TestApp::spawn_with(&[("AUTH_RATE_LIMIT_ENABLE", "true")]).await;
    app.post("/user/password/reset", json!({"email": "someone@example.com"})).await;
    let pruned = hauth::workers::rate_limits::process_batch(&app.state.pool, &app.clock).await.unwrap();
    assert_eq!(pruned.processed, 0, "live state stays");
    app.clock.advance(TimeDelta::hours(2));
    let pruned = hauth::workers::rate_limits::process_batch(&app.state.pool, &app.clock).await.unwrap();
    assert!(pruned.processed >= 2, "{pruned:?}");
    assert_eq!(app.count("select count(*) from auth.rate_limits").await, 0);
}

#[tokio::test]
async fn every_route_a_limit_can_refuse_documents_429_with_retry_after() {
    let app = TestApp::spawn_with(&[("AUTH_RATE_LIMIT_ENABLE", "true")]).await;
    let document = app.get("/openapi.json", None).await.body;
    let mut undocumented = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<poem::http::Method>() else { continue };
            if hauth::api::rate_limit::buckets(&app.state, &method, path).is_empty() {
                continue;
            }
            let refused = &operation["responses"]["429"];
            let headers = refused["headers"].as_object().into_iter().flat_map(|headers| headers.keys());
            let has_retry_after = headers.into_iter().any(|name| name.eq_ignore_ascii_case("retry-after"));
            if !has_retry_after {
                undocumented.push(format!("{method} {path}"));
            }
        }
    }
    assert!(undocumented.is_empty(), "429 not documented on {undocumented:#?}");
}
