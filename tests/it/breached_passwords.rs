//! Breached and weak passwords: the most common breached passwords are refused offline, Have I Been Pwned's
//! range API is asked with only a 5-character SHA-1 prefix (here a local stand-in speaking its wire format),
//! and `hauth config check` warns about a short minimum.
use std::sync::{Arc, Mutex};

use poem::http::StatusCode;
use poem::web::Path;
use poem::{EndpointExt, Route, handler};
use serde_json::json;
use sha1::{Digest, Sha1};

use crate::helpers::TestApp;
use crate::helpers::app::PASSWORD;

#[tokio::test]
async fn a_known_breached_password_is_refused_offline() {
    // No range API is configured or reachable: the built-in list alone refuses these.
    let app = TestApp::spawn().await;
    for password in ["password", "Qwerty123", "iloveyou", " letmein "] {
        let reply =
            app.post("/signup/email-password", json!({"email": "weak@example.com", "password": password})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{password}: {}", reply.text);
        assert_eq!(reply.error_code(), "password-in-hibp-database");
    }
    assert_eq!(app.count("select count(*) from auth.users").await, 0);

    let session = app.signed_up_session("strong@example.com").await;
    let reply =
        app.post_with("/user/password", json!({"newPassword": "monkey"}), session["accessToken"].as_str()).await;
    assert_eq!(reply.error_code(), "password-in-hibp-database");
    let long = "a long passphrase that is well past fifty characters and still fine";
    assert!(long.chars().count() > 64);
    let reply = app.post_with("/user/password", json!({"newPassword": long}), session["accessToken"].as_str()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(app.signin("strong@example.com", long).await.status, StatusCode::OK);
}

/// A stand-in for the Pwned Passwords range API: lists `breached` (and a padding entry with count 0), and
/// records the prefixes it was asked for.
async fn range_api(breached: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let digest = hex::encode_upper(Sha1::digest(breached.as_bytes()));
    #[handler]
    fn range(Path(prefix): Path<String>, data: poem::web::Data<&(String, Arc<Mutex<Vec<String>>>)>) -> String {
        let (digest, asked) = *data;
        asked.lock().unwrap().push(prefix.clone());
        let mut lines = vec!["0018A45C4D1DEF81644B54AB7F969B88D65:0".to_string()];
        if digest.starts_with(&prefix) {
            lines.push(format!("{}:42", &digest[5..]));
        }
        lines.join("\r\n")
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Route::new().at("/range/:prefix", range).data((digest, asked.clone()));
    let std_listener = listener.into_std().unwrap();
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
        let _ =
            poem::Server::new_with_acceptor(poem::listener::TcpAcceptor::from_tokio(listener).unwrap()).run(app).await;
    });
    (format!("http://{address}"), asked)
}

#[tokio::test]
async fn with_hibp_enabled_a_password_the_range_api_lists_is_refused_and_only_a_prefix_is_sent() {
    let (url, asked) = range_api("breached-but-not-common-42").await;
    let app = TestApp::spawn_with(&[("AUTH_PASSWORD_HIBP_ENABLED", "true"), ("AUTH_PASSWORD_HIBP_URL", &url)]).await;
    let reply = app
        .post("/signup/email-password", json!({"email": "a@example.com", "password": "breached-but-not-common-42"}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.error_code(), "password-in-hibp-database");
    let reply = app.signup("b@example.com").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    assert!(asked.iter().all(|prefix| prefix.len() == 5 && prefix.chars().all(|c| c.is_ascii_hexdigit())));
    assert_eq!(asked[1], hex::encode_upper(Sha1::digest(PASSWORD.as_bytes()))[..5]);
}

#[tokio::test]
async fn an_unreachable_range_api_does_not_stop_a_sign_up() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{closed}");
    let app = TestApp::spawn_with(&[("AUTH_PASSWORD_HIBP_ENABLED", "true"), ("AUTH_PASSWORD_HIBP_URL", &url)]).await;
    assert_eq!(app.signup("c@example.com").await.status, StatusCode::OK);
    let reply = app.post("/signup/email-password", json!({"email": "d@example.com", "password": "password1"})).await;
    assert_eq!(reply.error_code(), "password-in-hibp-database", "the offline list still applies");
}

fn config_check_warnings(min_length: &str) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hauth"))
        .args(["config", "check"])
        .env_clear()
        .env("DATABASE_URL", "postgres://localhost/auth")
        .env("HASURA_GRAPHQL_JWT_SECRET", r#"{"type":"HS256","key":"a-very-secret-signing-key-of-32-bytes!"}"#)
        .env("AUTH_PASSWORD_MIN_LENGTH", min_length)
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn config_check_warns_about_a_minimum_below_eight() {
    assert!(config_check_warnings("3").contains("AUTH_PASSWORD_MIN_LENGTH"));
    assert!(!config_check_warnings("8").contains("AUTH_PASSWORD_MIN_LENGTH"));
}
