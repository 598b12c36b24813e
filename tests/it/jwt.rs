//! Access tokens for every supported key type: header, claims rules Hasura v2 and v3 both accept, and
//! verification against the served JWKS (asymmetric) or the shared key (HMAC). An independent JWT library
//! checks the same things from outside in `sdk.rs`.
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::app::HS256_KEY;

pub fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// `HASURA_GRAPHQL_JWT_SECRET` for a key type, with the fixture key pair.
pub fn secret_for(key_type: &str) -> String {
    let pair = |private: &str, public: &str| json!({"type": key_type, "key": key_file(public), "signing_key": key_file(private)});
    match key_type {
        "HS256" => json!({"type": "HS256", "key": HS256_KEY}),
        "HS384" | "HS512" => json!({"type": key_type, "key": "k".repeat(64)}),
        "RS256" | "RS384" | "RS512" => pair("rs256.key.pem", "rs256.pub.pem"),
        "ES256" => pair("es256.key.pem", "es256.pub.pem"),
        "Ed25519" => pair("ed25519.key.pem", "ed25519.pub.pem"),
        other => panic!("no fixture for {other}"),
    }
    .to_string()
}

fn decode_part(part: &str) -> Value {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The claims rules of the Hasura contract (§5): what both engines accept.
pub fn assert_hasura_claims(payload: &Value, namespace: &str, user_id: &str, now: i64) {
    assert_eq!(payload["sub"], user_id);
    assert_eq!(payload["iss"], "hasura-auth");
    let exp = payload["exp"].as_i64().expect("exp is always set");
    let iat = payload["iat"].as_i64().expect("iat is set");
    assert!(exp > now && iat <= now + 1, "iat {iat} exp {exp} now {now}");
    if let Some(nbf) = payload.get("nbf") {
        assert!(nbf.as_i64().unwrap() <= now);
    }
    let claims = payload[namespace].as_object().expect("namespace holds an object");
    for (key, value) in claims {
        assert!(key.starts_with("x-hasura-") && key.to_lowercase() == *key, "{key}");
        if key == "x-hasura-allowed-roles" {
            assert!(value.as_array().unwrap().iter().all(Value::is_string));
        } else {
            assert!(value.is_string(), "{key} must be a string, is {value}");
        }
    }
    assert_eq!(claims["x-hasura-user-id"], user_id);
    assert_eq!(claims["x-hasura-default-role"], "user");
    assert_eq!(claims["x-hasura-user-is-anonymous"], "false");
    assert_eq!(claims["x-hasura-allowed-roles"], json!(["me", "user"]));
    assert_eq!(claims.len(), 4, "exactly the four built-in claims: {claims:?}");
}

async fn check_key_type(key_type: &str, algorithm: Algorithm) {
    let app = TestApp::spawn_with(&[("HASURA_GRAPHQL_JWT_SECRET", &secret_for(key_type))]).await;
    let session = app.signed_up_session(&format!("{}@example.com", key_type.to_lowercase())).await;
    let token = session["accessToken"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let header = decode_part(parts[0]);
    let payload = decode_part(parts[1]);
    assert_eq!(header["alg"], serde_json::to_value(algorithm).unwrap(), "{key_type}");
    let kid = header["kid"].as_str().expect("every token carries a kid");
    let now = app.clock.now().timestamp();
    assert_hasura_claims(&payload, "https://hasura.io/jwt/claims", session["user"]["id"].as_str().unwrap(), now);

    let jwks = app.get("/.well-known/jwks.json", None).await;
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&["hasura-auth"]);
    let decoding = if key_type.starts_with("HS") {
        assert_eq!(jwks.body, json!({"keys": []}), "HMAC secrets are never published");
        let key = if key_type == "HS256" { HS256_KEY.to_string() } else { "k".repeat(64) };
        DecodingKey::from_secret(key.as_bytes())
    } else {
        let set: JwkSet = serde_json::from_value(jwks.body.clone()).unwrap();
        let jwk = set.find(kid).expect("the token's kid is in the JWKS");
        assert_eq!(jwk.common.public_key_use, Some(jsonwebtoken::jwk::PublicKeyUse::Signature));
        for key in jwks.body["keys"].as_array().unwrap() {
            assert!(key.get("d").is_none() && key.get("k").is_none(), "no private material: {key}");
        }
        DecodingKey::from_jwk(jwk).unwrap()
    };
    jsonwebtoken::decode::<Value>(token, &decoding, &validation).unwrap_or_else(|e| panic!("{key_type}: {e}"));
}

#[tokio::test]
async fn hs256_tokens_verify_with_the_shared_key() {
    check_key_type("HS256", Algorithm::HS256).await;
}

#[tokio::test]
async fn hs384_and_hs512_tokens_verify_with_the_shared_key() {
    check_key_type("HS384", Algorithm::HS384).await;
    check_key_type("HS512", Algorithm::HS512).await;
}

#[tokio::test]
async fn rsa_tokens_verify_against_the_jwks() {
    check_key_type("RS256", Algorithm::RS256).await;
    check_key_type("RS384", Algorithm::RS384).await;
    check_key_type("RS512", Algorithm::RS512).await;
}

#[tokio::test]
async fn es256_tokens_verify_against_the_jwks() {
    check_key_type("ES256", Algorithm::ES256).await;
}

#[tokio::test]
async fn ed25519_tokens_verify_against_the_jwks() {
    check_key_type("Ed25519", Algorithm::EdDSA).await;
}

#[tokio::test]
async fn alg_none_wrong_key_and_tampered_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let session = app.signed_up_session("forge@example.com").await;
    let token = session["accessToken"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();

    let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let mut claims = decode_part(parts[1]);
    claims["https://hasura.io/jwt/claims"]["x-hasura-default-role"] = json!("admin");
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    let wrong_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &decode_part(parts[1]),
        &jsonwebtoken::EncodingKey::from_secret(b"another-key-another-key-another-key!"),
    )
    .unwrap();
    for bad in [alg_none, tampered, wrong_key] {
        let reply = app.post("/token/verify", json!({"token": bad})).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(app.get("/user", Some(&bad)).await.status, StatusCode::UNAUTHORIZED);
    }
}

/// Signs `claims` with the test service's own HS256 key and `kid`, as a token that only its claims can spoil.
fn signed_with_our_key(kid: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(HS256_KEY.as_bytes())).unwrap()
}

#[tokio::test]
async fn correctly_signed_tokens_with_a_foreign_issuer_audience_or_shape_are_refused() {
    let app = TestApp::spawn_with(&[("AUTH_JWT_AUDIENCE", "my-app")]).await;
    let token = app.signed_up_session("claims@example.com").await["accessToken"].as_str().unwrap().to_string();
    let parts: Vec<&str> = token.split('.').collect();
    let kid = decode_part(parts[0])["kid"].as_str().unwrap().to_string();
    let claims = decode_part(parts[1]);
    let with = |key: &str, value: Value| {
        let mut changed = claims.clone();
        match value {
            Value::Null => changed.as_object_mut().unwrap().remove(key),
            value => changed.as_object_mut().unwrap().insert(key.to_string(), value),
        };
        signed_with_our_key(&kid, &changed)
    };
    // The re-signed original and a list of audiences naming ours are accepted: only the change below spoils each.
    for good in [with("aud", json!("my-app")), with("aud", json!(["other-app", "my-app"]))] {
        assert_eq!(app.get("/hasura/webhook", Some(&good)).await.status, StatusCode::OK, "{good}");
    }
    let now = app.clock.now().timestamp();
    let refused = [
        ("another issuer", with("iss", json!("someone-else"))),
        ("no issuer", with("iss", Value::Null)),
        ("another audience", with("aud", json!("other-app"))),
        ("no audience", with("aud", Value::Null)),
        ("no subject", with("sub", Value::Null)),
        ("expired", with("exp", json!(now - 1))),
        ("not yet valid", with("nbf", json!(now + 600))),
        ("a fourth part", format!("{token}.{}", parts[2])),
        ("two parts", format!("{}.{}", parts[0], parts[1])),
    ];
    for (what, bad) in refused {
        let reply = app.get("/hasura/webhook", Some(&bad)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}: {}", reply.text);
        assert_eq!(app.post("/token/verify", json!({"token": bad})).await.status, StatusCode::UNAUTHORIZED, "{what}");
    }
}

#[tokio::test]
async fn published_keys_are_in_the_jwks_and_still_verify_during_a_rotation() {
    // The service used to sign with the "next" pair; now it signs with the current one and still publishes
    // the old public key, so tokens issued before the switch keep working.
    let old_secret =
        json!({"type": "RS256", "key": key_file("rs256-next.pub.pem"), "signing_key": key_file("rs256-next.key.pem")})
            .to_string();
    let old_app = TestApp::spawn_with(&[("HASURA_GRAPHQL_JWT_SECRET", &old_secret)]).await;
    let old_token = old_app.signed_up_session("rotate@example.com").await["accessToken"].as_str().unwrap().to_string();

    let published = json!([{"type": "RS256", "key": key_file("rs256-next.pub.pem"), "kid": "previous"}]).to_string();
    let app = TestApp::spawn_with(&[
        ("HASURA_GRAPHQL_JWT_SECRET", &secret_for("RS256")),
        ("AUTH_JWT_PUBLISHED_KEYS", &published),
    ])
    .await;
    let jwks = app.get("/.well-known/jwks.json", None).await;
    let kids: Vec<&str> = jwks.body["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&"previous"));
    let old_kid = decode_part(old_token.split('.').next().unwrap())["kid"].as_str().unwrap().to_string();
    assert_ne!(old_kid, "previous", "kid derived by thumbprint when not configured");
    // With the explicit kid "previous" the old token's thumbprint kid is unknown: publish it under its own kid.
    let published = json!([{"type": "RS256", "key": key_file("rs256-next.pub.pem")}]).to_string();
    let app = TestApp::spawn_with(&[
        ("HASURA_GRAPHQL_JWT_SECRET", &secret_for("RS256")),
        ("AUTH_JWT_PUBLISHED_KEYS", &published),
    ])
    .await;
    let reply = app.post("/token/verify", json!({"token": old_token})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn stringified_claims_and_a_custom_namespace_are_honoured() {
    let secret =
        json!({"type": "HS256", "key": HS256_KEY, "claims_format": "stringified_json", "claims_namespace": "hasura"})
            .to_string();
    let app = TestApp::spawn_with(&[("HASURA_GRAPHQL_JWT_SECRET", &secret)]).await;
    let session = app.signed_up_session("str@example.com").await;
    let token = session["accessToken"].as_str().unwrap();
    let payload = decode_part(token.split('.').nth(1).unwrap());
    let inner: Value = serde_json::from_str(payload["hasura"].as_str().expect("a string")).unwrap();
    assert_eq!(inner["x-hasura-user-id"], session["user"]["id"]);
    assert_eq!(app.get("/user", Some(token)).await.status, StatusCode::OK);
}

#[test]
fn a_public_key_that_does_not_match_the_signing_key_is_a_configuration_error() {
    let secret =
        json!({"type": "RS256", "key": key_file("rs256-next.pub.pem"), "signing_key": key_file("rs256.key.pem")})
            .to_string();
    let mut env = crate::helpers::app::base_env("postgres://localhost/x");
    env.insert("HASURA_GRAPHQL_JWT_SECRET".into(), secret);
    // The keys are parsed once, when the application state is built: the service does not start.
    let config = hauth::config::Config::from_env(&env).unwrap();
    let err = hauth::state::AppState::build(config, hauth::clock::Clock::manual()).err().expect("refused").to_string();
    assert!(err.contains("does not match"), "{err}");
    // `hauth config check` reports it too.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hauth"))
        .args(["config", "check"])
        .env_clear()
        .envs(&env)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not match"));
}
