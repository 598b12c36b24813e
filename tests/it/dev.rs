//! `hauth dev`: on a machine with only the Postgres binaries, one command starts a private cluster,
//! generates secrets, migrates, serves, and prints the secret Hasura needs.
use std::process::Command;
use std::time::{Duration, Instant};

use hauth::pgcluster::PrivateCluster;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether something listens on `port` at 127.0.0.1 only (not on every address), from `/proc/net/tcp`.
fn listens_on_loopback_only(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let listening: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (address, state) = (fields.get(1)?, fields.get(3)?);
            let (ip, hex_port) = address.split_once(':')?;
            (*state == "0A" && u16::from_str_radix(hex_port, 16).ok()? == port).then(|| ip.to_string())
        })
        .collect();
    !listening.is_empty() && listening.iter().all(|ip| ip == "0100007F")
}

#[tokio::test]
async fn hauth_dev_runs_the_service_on_a_private_postgres_and_stops_it_on_exit() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("dev-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pg_port, http_port) = (free_port(), free_port());
    let log = std::fs::File::create(dir.join("stdout.log")).unwrap();
    let errors = std::fs::File::create(dir.join("stderr.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hauth"))
        .args(["dev", "--data-dir"])
        .arg(&dir)
        .args(["--pg-port", &pg_port.to_string()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AUTH_PORT", http_port.to_string())
        .env("AUTH_LOG_LEVEL", "info")
        .stdout(log)
        .stderr(errors)
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
    let loopback_only = listens_on_loopback_only(http_port);
    let signup = client
        .post(format!("{url}/signup/email-password"))
        .json(&serde_json::json!({"email": "dev@example.com", "password": "dev-password-1"}))
        .send()
        .await;
    // Stopped as a terminal's Ctrl-C or a service manager would: the Postgres it started stops too.
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let exited = Instant::now();
    while child.try_wait().unwrap().is_none() && exited.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cluster = PrivateCluster { data_dir: dir.join("postgres").canonicalize().unwrap(), port: pg_port };
    let postgres_left_running = hauth::pgcluster::port_open(pg_port);
    if postgres_left_running || child.try_wait().unwrap().is_none() {
        let _ = child.kill();
        let _ = cluster.stop();
    }

    assert!(healthy, "hauth dev did not become healthy");
    assert!(loopback_only, "hauth dev must listen on 127.0.0.1 only");
    assert!(child.try_wait().unwrap().is_some(), "hauth dev did not exit on SIGTERM");
    assert!(!postgres_left_running, "the Postgres hauth dev started is still running");
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
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(dir.join("jwt-key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key file is readable by its owner only");
    // Logs written to a file carry no colour codes.
    let logs = std::fs::read_to_string(dir.join("stderr.log")).unwrap();
    assert!(logs.contains("hauth listening"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "colour codes in a log file: {logs}");
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

#[test]
fn config_check_warns_when_a_custom_claim_reads_user_writable_metadata() {
    let output = hauth(
        &["config", "check"],
        &[
            ("DATABASE_URL", "postgres://localhost/auth"),
            ("HASURA_GRAPHQL_JWT_SECRET", r#"{"type":"HS256","key":"a-very-secret-signing-key-of-32-bytes!"}"#),
            ("AUTH_JWT_CUSTOM_CLAIMS", r#"{"tier":"metadata.tier","org":"organisationId"}"#),
        ],
    );
    assert!(output.status.success(), "a warning is not an error");
    let warnings = String::from_utf8(output.stderr).unwrap();
    assert!(warnings.contains("x-hasura-tier") && warnings.contains("metadata"), "{warnings}");
    assert!(!warnings.contains("x-hasura-org"), "{warnings}");
}
