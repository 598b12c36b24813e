//! `hauth dev`: on a machine with only the Postgres binaries, one command starts a private cluster,
//! generates secrets, migrates, serves, and prints the secret Hasura needs.
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hauth::pgcluster::PrivateCluster;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn hauth_dev_runs_the_service_on_a_private_postgres() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("dev-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pg_port, http_port) = (free_port(), free_port());
    let log = std::fs::File::create(dir.join("stdout.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hauth"))
        .args(["dev", "--data-dir"])
        .arg(&dir)
        .args(["--pg-port", &pg_port.to_string()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AUTH_HOST", "127.0.0.1")
        .env("AUTH_PORT", http_port.to_string())
        .env("AUTH_LOG_LEVEL", "warn")
        .stdout(log)
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{http_port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut healthy = false;
    while started.elapsed() < Duration::from_secs(90) && !healthy {
        healthy = client.get(format!("{url}/healthz")).send().await.is_ok_and(|r| r.status().is_success());
        if !healthy {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let signup = client
        .post(format!("{url}/signup/email-password"))
        .json(&serde_json::json!({"email": "dev@example.com", "password": "dev-password-1"}))
        .send()
        .await;
    let _ = child.kill();
    let _ = child.wait();
    let cluster = PrivateCluster { data_dir: dir.join("postgres").canonicalize().unwrap(), port: pg_port };
    cluster.stop().unwrap();

    assert!(healthy, "hauth dev did not become healthy");
    let signup = signup.unwrap();
    assert_eq!(signup.status(), 200);
    let body: serde_json::Value = signup.json().await.unwrap();
    assert!(body["session"]["accessToken"].is_string(), "dev signs users in right away: {body}");
    let printed = std::fs::read_to_string(dir.join("stdout.log")).unwrap();
    let line = printed.lines().find(|l| l.starts_with("HASURA_GRAPHQL_JWT_SECRET=")).expect("secret printed");
    let json = line.trim_start_matches("HASURA_GRAPHQL_JWT_SECRET=").trim_matches('\'');
    let secret: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(secret["type"], "HS256");
    assert!(secret["key"].as_str().unwrap().len() >= 32);
}

fn hauth(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hauth"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn config_check_prints_the_configuration_with_secrets_redacted() {
    let output = hauth(
        &["config", "check"],
        &[
            ("DATABASE_URL", "postgres://app:db-password@db.internal/auth"),
            ("HASURA_GRAPHQL_JWT_SECRET", r#"{"type":"HS256","key":"a-very-secret-signing-key-of-32-bytes!"}"#),
            ("AUTH_SMTP_HOST", "smtp.example.com"),
            ("AUTH_SMTP_USER", "mailer"),
            ("AUTH_SMTP_PASS", "smtp-password"),
            ("AUTH_SMTP_SENDER", "auth@example.com"),
        ],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    for secret in ["db-password", "a-very-secret-signing-key", "smtp-password"] {
        assert!(!printed.contains(secret), "{secret} leaked:\n{printed}");
    }
    assert!(printed.contains("AUTH_PORT=4000"));
    assert!(printed.contains("AUTH_SMTP_HOST=smtp.example.com"));
}

#[test]
fn config_check_lists_every_problem_at_once_and_fails() {
    let output = hauth(
        &["config", "check"],
        &[("AUTH_PORT", "eighty"), ("HASURA_GRAPHQL_JWT_SECRET", r#"{"type":"HS256","key":"short"}"#)],
    );
    assert!(!output.status.success());
    let errors = String::from_utf8(output.stderr).unwrap();
    for expected in ["AUTH_PORT", "DATABASE_URL", "at least 32 bytes"] {
        assert!(errors.contains(expected), "{expected} missing from:\n{errors}");
    }
}
