//! Black-box checks from outside the process: the real `hauth` binary on a port, driven by the real nhost
//! client `@nhost/hasura-auth-js` and verified with an independent JWT library (`jose`). Node and npm must
//! be installed; the npm packages are installed from `tests/sdk/package-lock.json` on first use.
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use crate::helpers::app::HS256_KEY;
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

async fn verify_with_jose(key_type: &str, jose_alg: &str) {
    let secret = secret_for(key_type);
    let server = TestServer::start(&[("HASURA_GRAPHQL_JWT_SECRET", &secret)]).await;
    let hs_key = if key_type == "HS256" { HS256_KEY } else { "" };
    run_node("verify-jwt.mjs", &[("HAUTH_URL", &server.url), ("JWT_ALG", jose_alg), ("HS_KEY", hs_key)]);
}

#[tokio::test]
async fn an_independent_library_verifies_hs256_tokens_with_the_shared_key() {
    verify_with_jose("HS256", "HS256").await;
}

#[tokio::test]
async fn an_independent_library_verifies_rs256_tokens_against_the_jwks() {
    verify_with_jose("RS256", "RS256").await;
}

#[tokio::test]
async fn an_independent_library_verifies_es256_tokens_against_the_jwks() {
    verify_with_jose("ES256", "ES256").await;
}

#[tokio::test]
async fn an_independent_library_verifies_eddsa_tokens_against_the_jwks() {
    verify_with_jose("Ed25519", "EdDSA").await;
}
