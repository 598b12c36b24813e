//! Webhook throughput next to a bare poem handler, measured in the same run with the same load generator.
//!
//! `cargo bench --bench webhook` (optionally `-- <seconds> <connections>`). The webhook verifies a JWT
//! (HS256, then EdDSA, ES256 and RS256) and answers Hasura's session variables; it never touches the
//! database, so no Postgres is needed (the pool connects lazily and is never used).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hauth::clock::Clock;
use hauth::config::Config;
use hauth::jwt::HasuraClaims;
use hauth::state::AppState;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, handler};

#[handler]
fn bare() -> &'static str {
    r#"{"X-Hasura-Role":"user"}"#
}

async fn serve<E: poem::Endpoint + 'static>(endpoint: E) -> String {
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
    let address = acceptor.local_addr()[0].as_socket_addr().cloned().unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    format!("http://{address}")
}

/// Requests per second over `seconds`, with `connections` keep-alive connections each sending one request
/// at a time.
async fn measure(url: &str, bearer: Option<&str>, seconds: u64, connections: usize) -> f64 {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, count, url) = (client.clone(), count.clone(), url.to_string());
        let bearer = bearer.map(|b| format!("Bearer {b}"));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let mut request = client.get(&url);
                if let Some(bearer) = &bearer {
                    request = request.header("Authorization", bearer);
                }
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), 200);
                response.bytes().await.unwrap();
                count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    for task in tasks {
        task.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn secret(key_type: &str) -> String {
    let pair = |private: &str, public: &str| serde_json::json!({"type": key_type, "key": key_file(public), "signing_key": key_file(private)});
    match key_type {
        "HS256" => serde_json::json!({"type": "HS256", "key": "bench-key-bench-key-bench-key-bench-key!"}),
        "RS256" => pair("rs256.key.pem", "rs256.pub.pem"),
        "ES256" => pair("es256.key.pem", "es256.pub.pem"),
        _ => pair("ed25519.key.pem", "ed25519.pub.pem"),
    }
    .to_string()
}

async fn webhook_app(key_type: &str) -> (String, String) {
    let env: HashMap<String, String> = [
        (
            "DATABASE_URL",
            std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1/postgres".into()),
        ),
        ("HASURA_GRAPHQL_JWT_SECRET", secret(key_type)),
        ("AUTH_PASSWORD_HASH_MEMORY_KIB", "1024".into()),
        ("AUTH_PASSWORD_HASH_ITERATIONS", "1".into()),
        ("AUTH_LOG_LEVEL", "error".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = Config::from_env(&env).unwrap();
    let state = AppState::build(config, Clock::System).unwrap();
    let claims = HasuraClaims {
        user_id: uuid::Uuid::new_v4(),
        default_role: "user".into(),
        allowed_roles: vec!["user".into(), "me".into()],
        is_anonymous: false,
        extra: vec![("x-hasura-organisation-id".into(), uuid::Uuid::new_v4().to_string())],
    };
    let token = state.keys.issue(&claims, None, chrono::Utc::now(), 3600).unwrap();
    let url = serve(hauth::api::routes(state)).await;
    (format!("{url}/hasura/webhook"), token)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let seconds = args.first().and_then(|s| s.parse().ok()).unwrap_or(5);
    let connections = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(32);
    println!(
        "{seconds} s per run, {connections} connections, {} cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );

    let bare_url = serve(Route::new().at("/", poem::get(bare))).await;
    // Warm up both servers and the client pool.
    measure(&bare_url, None, 1, connections).await;
    let bare_rps = measure(&bare_url, None, seconds, connections).await;
    println!("{:<34} {:>10.0} req/s", "bare poem handler", bare_rps);
    for key_type in ["HS256", "Ed25519", "ES256", "RS256"] {
        let (url, token) = webhook_app(key_type).await;
        measure(&url, Some(&token), 1, connections).await;
        let rps = measure(&url, Some(&token), seconds, connections).await;
        println!(
            "{:<34} {:>10.0} req/s  ({:.0}% of bare)",
            format!("hauth webhook, {key_type} JWT"),
            rps,
            100.0 * rps / bare_rps
        );
    }
}
