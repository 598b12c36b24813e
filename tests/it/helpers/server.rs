//! The real `hauth` binary serving on a free port over a fresh database, for black-box clients (the nhost
//! SDK, an independent JWT library). Killed when dropped.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::app::base_env;
use super::db::TestDb;

pub struct TestServer {
    pub url: String,
    /// The environment the server runs with (for CLI commands that must see the same configuration).
    pub env: std::collections::HashMap<String, String>,
    /// Kept alive for as long as the server uses it.
    _db: TestDb,
    child: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl TestServer {
    pub async fn start(overrides: &[(&str, &str)]) -> TestServer {
        let db = TestDb::create().await;
        let port = free_port();
        let mut env = base_env(&db.url);
        env.insert("AUTH_HOST".into(), "127.0.0.1".into());
        env.insert("AUTH_PORT".into(), port.to_string());
        env.insert("AUTH_SERVER_URL".into(), format!("http://127.0.0.1:{port}"));
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
            .expect("start hauth");
        let url = format!("http://127.0.0.1:{port}");
        let server = TestServer { url, env, _db: db, child };
        server.wait_healthy().await;
        server
    }

    /// Runs `hauth <args>` with the server's configuration and returns its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_hauth"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .output()
            .expect("run hauth");
        assert!(output.status.success(), "hauth {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    async fn wait_healthy(&self) {
        let started = Instant::now();
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(response) = client.get(format!("{}/healthz", self.url)).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("hauth did not become healthy at {}", self.url);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
