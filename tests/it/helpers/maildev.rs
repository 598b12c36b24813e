//! `MailDev`: a real SMTP server for tests, the npm package `maildev` (installed in `tests/sdk` from its
//! lockfile on first use) listening on 127.0.0.1, with its REST API (`GET /api/email`) to read what it
//! received. Each instance keeps its mail in memory and a folder of its own; it is killed when dropped.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::npm::sdk_dir;

fn maildev_bin() -> PathBuf {
    sdk_dir().join("node_modules/.bin/maildev")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct MailDev {
    pub smtp_port: u16,
    pub web_port: u16,
    child: Child,
    mail_dir: PathBuf,
    http: reqwest::Client,
}

impl MailDev {
    /// A maildev on free ports.
    pub async fn start() -> MailDev {
        Self::start_with(&[]).await
    }

    /// A maildev on free ports with extra command-line options (`--incoming-user`, `--incoming-secure`, ...).
    pub async fn start_with(options: &[&str]) -> MailDev {
        for _ in 0..5 {
            if let Some(maildev) = Self::try_start(free_port(), free_port(), options).await {
                return maildev;
            }
        }
        panic!("maildev did not start");
    }

    /// A maildev whose SMTP server listens on `smtp_port` (e.g. a port a test saw closed before).
    pub async fn start_on(smtp_port: u16) -> MailDev {
        for _ in 0..5 {
            if let Some(maildev) = Self::try_start(smtp_port, free_port(), &[]).await {
                return maildev;
            }
        }
        panic!("maildev did not start on SMTP port {smtp_port}");
    }

    /// Starts maildev and waits until both ports answer; `None` if it exited (a port was taken).
    async fn try_start(smtp_port: u16, web_port: u16, options: &[&str]) -> Option<MailDev> {
        super::npm::ensure_npm_packages();
        let mail_dir =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("maildev-{}", uuid::Uuid::new_v4().simple()));
        let log = std::env::var_os("TEST_LOG").is_some();
        let child = Command::new(maildev_bin())
            .args(["--smtp", &smtp_port.to_string(), "--web", &web_port.to_string()])
            .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1"])
            .arg("--mail-directory")
            .arg(&mail_dir)
            .arg(if log { "--verbose" } else { "--silent" })
            .args(options)
            .current_dir(sdk_dir())
            .stdin(Stdio::null())
            .stdout(if log { Stdio::inherit() } else { Stdio::null() })
            .stderr(if log { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .expect("start maildev");
        let mut maildev = MailDev { smtp_port, web_port, child, mail_dir, http: reqwest::Client::new() };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if maildev.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            let smtp_up = tokio::net::TcpStream::connect(("127.0.0.1", smtp_port)).await.is_ok();
            if smtp_up && maildev.try_messages().await.is_some() {
                return Some(maildev);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("maildev did not answer on ports {smtp_port}/{web_port}");
    }

    fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/email", self.web_port)
    }

    async fn try_messages(&self) -> Option<Vec<Value>> {
        let response = self.http.get(self.api_url()).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// Every message received so far, as maildev's JSON (`subject`, `html`, `text`, `headers`, `to`, ...).
    pub async fn messages(&self) -> Vec<Value> {
        self.try_messages().await.expect("read maildev's messages")
    }

    /// The messages received for `to`.
    pub async fn messages_to(&self, to: &str) -> Vec<Value> {
        self.messages().await.into_iter().filter(|message| is_to(message, to)).collect()
    }

    /// Waits (up to 15 s) for a message to `to` and returns it.
    pub async fn wait_for(&self, to: &str) -> Value {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Some(message) = self.messages_to(to).await.into_iter().next() {
                return message;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no email to {to} arrived; maildev has {:#}", Value::Array(self.messages().await));
    }
}

fn is_to(message: &Value, to: &str) -> bool {
    message["to"].as_array().is_some_and(|recipients| {
        recipients.iter().any(|r| r["address"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(to)))
    })
}

impl Drop for MailDev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.mail_dir);
    }
}
