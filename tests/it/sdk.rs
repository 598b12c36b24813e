//! Black-box checks from outside the process: the real `hauth` binary on a port, driven by the real nhost
//! client `@nhost/hasura-auth-js` and verified with an independent JWT library (`jose`). Node and npm must
//! be installed; the npm packages are installed from `tests/sdk/package-lock.json` on first use.
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use crate::helpers::server::TestServer;
use crate::jwt::secret_for;

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

fn ensure_node_modules() {
    static INSTALL: Mutex<bool> = Mutex::new(false);
    let mut installed = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if *installed
        || sdk_dir().join("node_modules/@nhost/hasura-auth-js").is_dir() && sdk_dir().join("node_modules/jose").is_dir()
    {
        *installed = true;
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(sdk_dir())
        .status()
        .expect("npm is needed for the SDK black-box tests");
    assert!(status.success(), "npm ci in tests/sdk failed");
    *installed = true;
}

fn run_node(script: &str, env: &[(&str, &str)]) {
    ensure_node_modules();
    let output =
        Command::new("node").arg(script).current_dir(sdk_dir()).envs(env.iter().copied()).output().expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[tokio::test]
async fn the_nhost_sdk_signs_up_signs_in_reads_the_user_refreshes_and_signs_out() {
    let server = TestServer::start(&[]).await;
    run_node("sdk-flow.mjs", &[("HAUTH_URL", &server.url)]);
}

/// Starts hauth with `secret`, asks `hauth hasura jwt-secret` what Hasura should be given, and has `jose`
/// verify a fresh token with exactly that (the `jwk_url` form for asymmetric keys, the `key` form for HMAC).
async fn verify_with_jose(secret: &str, jose_alg: &str) {
    let server = TestServer::start(&[("HASURA_GRAPHQL_JWT_SECRET", secret)]).await;
    let printed = server.cli(&["hasura", "jwt-secret"]);
    let for_hasura: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    if jose_alg.starts_with("HS") {
        assert!(for_hasura.get("jwk_url").is_none(), "{for_hasura}");
        assert_eq!(for_hasura["type"], jose_alg);
    } else {
        assert_eq!(for_hasura["jwk_url"], format!("{}/.well-known/jwks.json", server.url));
        assert!(for_hasura.get("key").is_none(), "no key material for asymmetric types: {for_hasura}");
    }
    run_node(
        "verify-jwt.mjs",
        &[("HAUTH_URL", &server.url), ("JWT_ALG", jose_alg), ("HASURA_JWT_SECRET", printed.trim())],
    );
}

#[tokio::test]
async fn an_independent_library_verifies_hs256_tokens_with_the_shared_key() {
    verify_with_jose(&secret_for("HS256"), "HS256").await;
}

#[tokio::test]
async fn an_independent_library_verifies_rs256_tokens_against_the_jwks() {
    verify_with_jose(&secret_for("RS256"), "RS256").await;
}

#[tokio::test]
async fn an_independent_library_verifies_es256_tokens_against_the_jwks() {
    verify_with_jose(&secret_for("ES256"), "ES256").await;
}

#[tokio::test]
async fn an_independent_library_verifies_eddsa_tokens_against_the_jwks() {
    verify_with_jose(&secret_for("Ed25519"), "EdDSA").await;
}

#[tokio::test]
async fn stringified_claims_in_a_custom_namespace_verify_as_hasura_reads_them() {
    for (key_type, alg) in [("HS256", "HS256"), ("Ed25519", "EdDSA")] {
        let mut secret: serde_json::Value = serde_json::from_str(&secret_for(key_type)).unwrap();
        secret["claims_format"] = "stringified_json".into();
        secret["claims_namespace"] = "https://example.com/hasura".into();
        verify_with_jose(&secret.to_string(), alg).await;
    }
}
