//! Black-box checks from outside the process: the real `hauth` binary on a port, driven by the real nhost
//! client `@nhost/hasura-auth-js` and verified with an independent JWT library (`jose`). Node and npm must
//! be installed; the npm packages are installed from `tests/sdk/package-lock.json` on first use.
use std::process::Command;

use crate::helpers::npm::{ensure_npm_packages, sdk_dir};
use crate::helpers::server::TestServer;
use crate::jwt::secret_for;

fn run_node(script: &str, env: &[(&str, &str)]) {
    ensure_npm_packages();
    let output =
        Command::new("node").arg(script).current_dir(sdk_dir()).envs(env.iter().copied()).output().expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[tokio::test]
async fn the_nhost_sdk_verifies_email_resets_passwords_uses_magic_links_deanonymizes_and_signs_in_with_a_pat() {
    let maildev = crate::helpers::maildev::MailDev::start().await;
    let smtp_port = maildev.smtp_port.to_string();
    let server = TestServer::start(&[
        ("AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED", "true"),
        ("AUTH_EMAIL_PASSWORDLESS_ENABLED", "true"),
        ("AUTH_ANONYMOUS_USERS_ENABLED", "true"),
        ("AUTH_CLIENT_URL", "http://localhost:3000"),
        ("AUTH_SMTP_HOST", "127.0.0.1"),
        ("AUTH_SMTP_PORT", &smtp_port),
        ("AUTH_SMTP_SECURE", "false"),
        ("AUTH_SMTP_STARTTLS", "none"),
        ("AUTH_SMTP_SENDER", "hauth@example.com"),
        ("AUTH_MAIL_POLL_INTERVAL_MS", "100"),
    ])
    .await;
    let maildev_url = format!("http://127.0.0.1:{}", maildev.web_port);
    run_node(
        "sdk-email-flows.mjs",
        &[("HAUTH_URL", &server.url), ("MAILDEV_URL", &maildev_url), ("CLIENT_URL", "http://localhost:3000")],
    );
}

#[tokio::test]
async fn the_nhost_sdk_signs_up_signs_in_reads_the_user_refreshes_and_signs_out() {
    let server = TestServer::start(&[]).await;
    run_node("sdk-flow.mjs", &[("HAUTH_URL", &server.url)]);
}

#[tokio::test]
async fn the_nhost_sdk_enrols_totp_signs_in_with_a_code_and_disables_it() {
    let server = TestServer::start(&[
        ("AUTH_MFA_ENABLED", "true"),
        ("AUTH_ENCRYPTION_KEYS", "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
    ])
    .await;
    run_node("sdk-mfa.mjs", &[("HAUTH_URL", &server.url)]);
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
