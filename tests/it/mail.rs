//! Mail: messages queued in the caller's transaction reach a real SMTP server (maildev) through the outbox
//! worker, rendered from the built-in or on-disk templates, and survive an SMTP server that is down.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hauth::clock::Clock;
use hauth::db::Pool;
use hauth::mail::{Mail, MailConfig, OutgoingEmail, Template, TemplateVariables};
use hauth::workers::mail_outbox::process_batch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::helpers::db::TestDb;
use crate::helpers::maildev::MailDev;

/// The settings the tests send with: plain SMTP to 127.0.0.1 on `smtp_port`, plus `overrides`.
fn mail_config(smtp_port: u16, overrides: &[(&str, &str)]) -> MailConfig {
    let mut env: HashMap<String, String> = [
        ("AUTH_SMTP_HOST", "127.0.0.1".to_string()),
        ("AUTH_SMTP_PORT", smtp_port.to_string()),
        ("AUTH_SMTP_SECURE", "false".to_string()),
        ("AUTH_SMTP_STARTTLS", "none".to_string()),
        ("AUTH_SMTP_SENDER", "hauth@example.com".to_string()),
        ("AUTH_EMAIL_TEMPLATES_PATH", format!("{}/no-such-templates-folder", env!("CARGO_TARGET_TMPDIR"))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (key, value) in overrides {
        env.insert(key.to_string(), value.to_string());
    }
    MailConfig::from_env(&env).unwrap()
}

fn mail_to(smtp_port: u16, overrides: &[(&str, &str)]) -> Mail {
    Mail::new(&mail_config(smtp_port, overrides)).unwrap()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Outbox {
    db: TestDb,
    pool: Pool,
    clock: Clock,
}

impl Outbox {
    async fn new() -> Outbox {
        let db = TestDb::create().await;
        let pool = hauth::db::connect(&db.url, 4).unwrap();
        Outbox { db, pool, clock: Clock::manual() }
    }

    /// Queues `email` in a transaction and commits it.
    async fn enqueue(&self, mail: &Mail, email: &OutgoingEmail) -> Uuid {
        let mut client = self.pool.get().await.unwrap();
        let transaction = client.transaction().await.unwrap();
        let id = mail.enqueue(&transaction, email, self.clock.now()).await.unwrap();
        transaction.commit().await.unwrap();
        id
    }

    async fn row(&self, id: Uuid) -> OutboxRow {
        let client = self.db.connect().await;
        let row = client
            .query_one(
                "select attempts, next_attempt_at, last_error, sent_at, failed_at, html_body, text_body, template \
                 from auth.email_outbox where id = $1",
                &[&id],
            )
            .await
            .unwrap();
        OutboxRow {
            attempts: row.get("attempts"),
            next_attempt_at: row.get("next_attempt_at"),
            last_error: row.get("last_error"),
            sent_at: row.get("sent_at"),
            failed_at: row.get("failed_at"),
            html_body: row.get("html_body"),
            text_body: row.get("text_body"),
            template: row.get("template"),
        }
    }

    async fn count(&self) -> i64 {
        let client = self.db.connect().await;
        client.query_one("select count(*) from auth.email_outbox", &[]).await.unwrap().get(0)
    }
}

#[derive(Debug)]
struct OutboxRow {
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    sent_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    html_body: String,
    text_body: String,
    template: String,
}

fn email(to: &str, template: Template, locale: &str) -> OutgoingEmail {
    OutgoingEmail {
        to: to.to_string(),
        template,
        locale: locale.to_string(),
        variables: TemplateVariables {
            link: "https://auth.example.com/verify?ticket=verifyEmail:abc&type=emailVerify".to_string(),
            display_name: "Eve".to_string(),
            email: to.to_string(),
            ticket: "424242".to_string(),
            locale: locale.to_string(),
            ..Default::default()
        },
        headers: Vec::new(),
    }
}

/// The address in `<...>` after `label` in a plain-text part.
fn link_after(text: &str, label: &str) -> String {
    let start = text.find(label).unwrap_or_else(|| panic!("{label:?} not in {text}")) + label.len();
    let rest = &text[start..];
    let open = rest.find('<').unwrap() + 1;
    let close = rest.find('>').unwrap();
    rest[open..close].to_string()
}

/// A one-request HTTP server: answers 200 and hands back the request target it was asked for.
async fn one_request_server() -> (u16, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = socket.read(&mut buffer).await.unwrap();
            if read == 0 {
                break;
            }
            request.extend_from_slice(&buffer[..read]);
        }
        socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await.unwrap();
        let request = String::from_utf8_lossy(&request).to_string();
        request.split(' ').nth(1).unwrap_or_default().to_string()
    });
    (port, handle)
}

#[tokio::test]
async fn a_queued_email_reaches_the_smtp_server_with_html_and_text_parts_escaped_variables_and_extra_headers() {
    let outbox = Outbox::new().await;
    let maildev = MailDev::start().await;
    let mail = mail_to(maildev.smtp_port, &[]);
    let (link_port, link_request) = one_request_server().await;
    let link = format!(
        "http://127.0.0.1:{link_port}/verify?ticket=verifyEmail%3Aabc-123&type=emailVerify&redirectTo=http%3A%2F%2Flocalhost%3A3000%2Fwelcome"
    );
    let mut message = email("eve@example.com", Template::EmailVerify, "en");
    message.variables.link = link.clone();
    message.variables.display_name = "<b>Eve & Co</b>".to_string();
    message.headers = vec![
        ("X-Ticket".to_string(), "verifyEmail:abc-123".to_string()),
        ("X-Redirect-To".to_string(), "http://localhost:3000/welcome".to_string()),
        ("X-Email-Template".to_string(), "email-verify".to_string()),
        ("X-Link".to_string(), link.clone()),
    ];
    let id = outbox.enqueue(&mail, &message).await;

    let outcome = process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap();
    assert_eq!((outcome.processed, outcome.failed, outcome.empty), (1, 0, false));

    let received = maildev.wait_for("eve@example.com").await;
    assert_eq!(received["subject"], "Confirm your email address");
    assert_eq!(received["from"][0]["address"], "hauth@example.com");
    let html = received["html"].as_str().unwrap();
    let text = received["text"].as_str().unwrap();
    assert!(html.contains("Hello &lt;b&gt;Eve &amp; Co&lt;/b&gt;,"), "{html}");
    assert!(!html.contains("<b>Eve"), "{html}");
    assert!(html.contains(&format!(r#"href="{}""#, link.replace('&', "&amp;"))), "{html}");
    assert!(text.contains("Hello <b>Eve & Co</b>,"), "{text}");
    assert!(!text.contains("<p>"), "{text}");
    let headers = &received["headers"];
    assert_eq!(headers["x-ticket"], "verifyEmail:abc-123");
    assert_eq!(headers["x-redirect-to"], "http://localhost:3000/welcome");
    assert_eq!(headers["x-email-template"], "email-verify");
    assert_eq!(headers["x-link"], link.as_str());

    // The link read out of the delivered text part is intact and leads where it should.
    let delivered_link = link_after(text, "Confirm my email address");
    assert_eq!(delivered_link, link);
    let response = reqwest::get(&delivered_link).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        link_request.await.unwrap(),
        "/verify?ticket=verifyEmail%3Aabc-123&type=emailVerify&redirectTo=http%3A%2F%2Flocalhost%3A3000%2Fwelcome"
    );

    // Delivered once, recorded, and the one-time link no longer rests in the table.
    let row = outbox.row(id).await;
    assert_eq!(row.sent_at, Some(outbox.clock.now()));
    assert_eq!((row.attempts, row.html_body.as_str(), row.text_body.as_str()), (1, "", ""));
    assert_eq!(row.template, "email-verify");
    assert!(process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap().empty);
    assert_eq!(maildev.messages().await.len(), 1);
}

#[tokio::test]
async fn a_french_locale_gets_the_french_text_and_an_unknown_locale_falls_back_to_english() {
    let outbox = Outbox::new().await;
    let maildev = MailDev::start().await;
    let mail = mail_to(maildev.smtp_port, &[]);
    outbox.enqueue(&mail, &email("amelie@example.com", Template::PasswordReset, "fr")).await;
    outbox.enqueue(&mail, &email("kim@example.com", Template::PasswordReset, "xx")).await;
    outbox.enqueue(&mail, &email("otp@example.com", Template::SigninOtp, "fr")).await;

    let outcome = process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap();
    assert_eq!((outcome.processed, outcome.failed), (3, 0));

    let french = maildev.wait_for("amelie@example.com").await;
    assert_eq!(french["subject"], "Réinitialisez votre mot de passe");
    let text = french["text"].as_str().unwrap();
    assert!(text.starts_with("Bonjour Eve,"), "{text}");
    assert_eq!(
        link_after(text, "Choisir un nouveau mot de passe"),
        "https://auth.example.com/verify?ticket=verifyEmail:abc&type=emailVerify"
    );

    let fallback = maildev.wait_for("kim@example.com").await;
    assert_eq!(fallback["subject"], "Reset your password");
    assert!(fallback["text"].as_str().unwrap().starts_with("Hello Eve,"));

    let otp = maildev.wait_for("otp@example.com").await;
    assert_eq!(otp["subject"], "Votre code de connexion");
    assert!(otp["text"].as_str().unwrap().contains("424242"));
}

#[tokio::test]
async fn a_templates_folder_overrides_the_files_it_has_and_the_built_in_templates_fill_in_the_rest() {
    let folder = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("templates-{}", Uuid::new_v4()));
    let reset = folder.join("en/password-reset");
    std::fs::create_dir_all(&reset).unwrap();
    std::fs::write(reset.join("subject.txt"), "Reset for ${displayName} (${locale})\n").unwrap();
    std::fs::write(
        reset.join("body.html"),
        r#"<html><body><p>Custom ${displayName}</p><p><a href="${link}">Reset now</a></p></body></html>"#,
    )
    .unwrap();
    // Only a subject for this one: its body stays the built-in one.
    let verify = folder.join("en/email-verify");
    std::fs::create_dir_all(&verify).unwrap();
    std::fs::write(verify.join("subject.txt"), "Welcome, ${displayName}").unwrap();

    let outbox = Outbox::new().await;
    let maildev = MailDev::start().await;
    let mail = mail_to(maildev.smtp_port, &[("AUTH_EMAIL_TEMPLATES_PATH", folder.to_str().unwrap())]);
    let mut reset_email = email("custom@example.com", Template::PasswordReset, "en");
    reset_email.variables.display_name = "Eve & Co\r\nBcc: intruder@example.com".to_string();
    outbox.enqueue(&mail, &reset_email).await;
    outbox.enqueue(&mail, &email("verify@example.com", Template::EmailVerify, "en")).await;
    outbox.enqueue(&mail, &email("french@example.com", Template::PasswordReset, "fr")).await;
    process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap();

    let custom = maildev.wait_for("custom@example.com").await;
    // Raw in the subject, on one line; escaped in the body.
    assert_eq!(custom["subject"], "Reset for Eve & Co  Bcc: intruder@example.com (en)");
    assert!(custom["html"].as_str().unwrap().contains("<p>Custom Eve &amp; Co"), "{}", custom["html"]);
    assert!(custom["headers"].get("bcc").is_none());
    assert_eq!(maildev.messages_to("intruder@example.com").await.len(), 0);
    assert_eq!(
        link_after(custom["text"].as_str().unwrap(), "Reset now"),
        "https://auth.example.com/verify?ticket=verifyEmail:abc&type=emailVerify"
    );

    let verify = maildev.wait_for("verify@example.com").await;
    assert_eq!(verify["subject"], "Welcome, Eve");
    assert!(verify["text"].as_str().unwrap().contains("Confirm my email address <https://auth.example.com/"));

    let french = maildev.wait_for("french@example.com").await;
    assert_eq!(french["subject"], "Réinitialisez votre mot de passe");
}

#[tokio::test]
async fn when_the_smtp_server_is_down_the_attempt_is_recorded_and_the_message_is_delivered_once_it_is_back() {
    let outbox = Outbox::new().await;
    let port = closed_port();
    let mail = mail_to(port, &[]);
    let started = std::time::Instant::now();
    let id = outbox.enqueue(&mail, &email("patient@example.com", Template::EmailVerify, "en")).await;
    assert!(started.elapsed() < Duration::from_secs(2), "queuing never waits for SMTP");

    let outcome = process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap();
    assert_eq!((outcome.processed, outcome.failed), (1, 1));
    let row = outbox.row(id).await;
    assert_eq!(row.attempts, 1);
    assert!(row.next_attempt_at > outbox.clock.now());
    assert!(row.last_error.as_deref().is_some_and(|e| !e.is_empty()), "{row:?}");
    assert!(row.sent_at.is_none() && row.failed_at.is_none());
    assert!(row.html_body.contains("Confirm my email address"), "the message is kept for the retry");

    // Not due yet: nothing is tried.
    assert!(process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap().empty);

    // The server comes back on the same port; once the backoff has passed the same worker delivers.
    let maildev = MailDev::start_on(port).await;
    outbox.clock.advance(TimeDelta::seconds(11));
    let outcome = process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap();
    assert_eq!((outcome.processed, outcome.failed), (1, 0));
    maildev.wait_for("patient@example.com").await;
    let row = outbox.row(id).await;
    assert_eq!(row.attempts, 2);
    assert_eq!(row.sent_at, Some(outbox.clock.now()));
    assert_eq!((row.html_body.as_str(), row.text_body.as_str()), ("", ""));

    outbox.clock.advance(TimeDelta::hours(2));
    assert!(process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap().empty);
    assert_eq!(maildev.messages_to("patient@example.com").await.len(), 1);
}

#[tokio::test]
async fn a_rolled_back_transaction_queues_nothing() {
    let outbox = Outbox::new().await;
    let maildev = MailDev::start().await;
    let mail = mail_to(maildev.smtp_port, &[]);
    {
        let mut client = outbox.pool.get().await.unwrap();
        let transaction = client.transaction().await.unwrap();
        mail.enqueue(&transaction, &email("ghost@example.com", Template::EmailVerify, "en"), outbox.clock.now())
            .await
            .unwrap();
        transaction.rollback().await.unwrap();
    }
    assert_eq!(outbox.count().await, 0);
    assert!(process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap().empty);
    assert!(maildev.messages().await.is_empty());
}

#[tokio::test]
async fn after_the_last_attempt_the_message_is_marked_failed_and_never_tried_again() {
    let outbox = Outbox::new().await;
    let mail = mail_to(closed_port(), &[("AUTH_MAIL_MAX_ATTEMPTS", "2")]);
    let id = outbox.enqueue(&mail, &email("unlucky@example.com", Template::SigninOtp, "en")).await;

    process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap();
    let first = outbox.row(id).await;
    assert_eq!((first.attempts, first.failed_at), (1, None));

    outbox.clock.advance(TimeDelta::seconds(11));
    let outcome = process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap();
    assert_eq!((outcome.processed, outcome.failed), (1, 1));
    let second = outbox.row(id).await;
    assert_eq!(second.attempts, 2);
    assert_eq!(second.failed_at, Some(outbox.clock.now()));
    assert!(second.last_error.is_some());
    assert_eq!((second.html_body.as_str(), second.text_body.as_str()), ("", ""), "the code is wiped");

    outbox.clock.advance(TimeDelta::days(1));
    assert!(process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap().empty);
    assert_eq!(outbox.row(id).await.attempts, 2);
}

/// Runs rounds until nothing is due; returns (processed, failed).
async fn drain(pool: &Pool, mail: &Mail, clock: &Clock) -> (usize, usize) {
    let (mut processed, mut failed) = (0, 0);
    loop {
        let outcome = process_batch(pool, mail, clock).await.unwrap();
        if outcome.empty {
            return (processed, failed);
        }
        processed += outcome.processed;
        failed += outcome.failed;
    }
}

#[tokio::test]
async fn two_workers_running_at_once_deliver_each_message_exactly_once() {
    let outbox = Outbox::new().await;
    let maildev = MailDev::start().await;
    // Two replicas: each its own pool and transport.
    let replica_a = (hauth::db::connect(&outbox.db.url, 2).unwrap(), mail_to(maildev.smtp_port, &[]));
    let replica_b = (hauth::db::connect(&outbox.db.url, 2).unwrap(), mail_to(maildev.smtp_port, &[]));
    let recipients: Vec<String> = (0..30).map(|i| format!("user{i}@example.com")).collect();
    for recipient in &recipients {
        outbox.enqueue(&replica_a.1, &email(recipient, Template::SigninPasswordless, "en")).await;
    }

    let (a, b) = tokio::join!(
        drain(&replica_a.0, &replica_a.1, &outbox.clock),
        drain(&replica_b.0, &replica_b.1, &outbox.clock)
    );
    assert_eq!((a.0 + b.0, a.1 + b.1), (30, 0), "replica a {a:?}, replica b {b:?}");

    let messages = maildev.messages().await;
    assert_eq!(messages.len(), 30);
    for recipient in &recipients {
        let count = messages.iter().filter(|m| m["to"][0]["address"] == recipient.as_str()).count();
        assert_eq!(count, 1, "{recipient}");
    }
    let client = outbox.db.connect().await;
    let unsent: i64 =
        client.query_one("select count(*) from auth.email_outbox where sent_at is null", &[]).await.unwrap().get(0);
    assert_eq!(unsent, 0);
}

#[tokio::test]
async fn without_an_smtp_host_messages_stay_queued() {
    let outbox = Outbox::new().await;
    let env: HashMap<String, String> = HashMap::new();
    let mail = Mail::new(&MailConfig::from_env(&env).unwrap()).unwrap();
    assert!(!mail.is_configured());
    let id = outbox.enqueue(&mail, &email("later@example.com", Template::EmailVerify, "en")).await;
    assert!(process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap().empty);
    let row = outbox.row(id).await;
    assert_eq!((row.attempts, row.sent_at, row.failed_at), (0, None, None));
    assert!(row.html_body.contains("Confirm my email address"));
}

#[tokio::test]
async fn the_worker_loop_delivers_queued_mail_and_stops_when_cancelled() {
    let outbox = Outbox::new().await;
    let maildev = MailDev::start().await;
    let mail = Arc::new(mail_to(maildev.smtp_port, &[("AUTH_MAIL_POLL_INTERVAL_MS", "50")]));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(hauth::workers::mail_outbox::run(
        outbox.pool.clone(),
        mail.clone(),
        outbox.clock.clone(),
        shutdown.clone(),
    ));
    outbox.enqueue(&mail, &email("looped@example.com", Template::EmailVerify, "en")).await;
    maildev.wait_for("looped@example.com").await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), worker).await.expect("the worker stops").unwrap();
}

#[tokio::test]
async fn an_invalid_recipient_is_refused_when_queuing() {
    let outbox = Outbox::new().await;
    let mail = mail_to(closed_port(), &[]);
    let client = outbox.pool.get().await.unwrap();
    let result = mail.enqueue(&client, &email("not an address", Template::EmailVerify, "en"), outbox.clock.now()).await;
    assert!(matches!(result, Err(hauth::error::AuthError::InvalidRequest(_))));
    assert_eq!(outbox.count().await, 0);
}

#[tokio::test]
async fn the_smtp_login_uses_the_configured_user_password_and_method() {
    let outbox = Outbox::new().await;
    let maildev = MailDev::start_with(&["--incoming-user", "mailer", "--incoming-pass", "s3cret-pass"]).await;
    for method in ["PLAIN", "LOGIN"] {
        let login =
            [("AUTH_SMTP_USER", "mailer"), ("AUTH_SMTP_PASS", "s3cret-pass"), ("AUTH_SMTP_AUTH_METHOD", method)];
        let mail = mail_to(maildev.smtp_port, &login);
        let to = format!("{}@example.com", method.to_lowercase());
        outbox.enqueue(&mail, &email(&to, Template::EmailVerify, "en")).await;
        let outcome = process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap();
        assert_eq!((outcome.processed, outcome.failed), (1, 0), "{method}");
        maildev.wait_for(&to).await;
    }

    let wrong = [("AUTH_SMTP_USER", "mailer"), ("AUTH_SMTP_PASS", "wrong-pass-123")];
    let mail = mail_to(maildev.smtp_port, &wrong);
    let id = outbox.enqueue(&mail, &email("refused@example.com", Template::EmailVerify, "en")).await;
    let outcome = process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap();
    assert_eq!(outcome.failed, 1);
    let error = outbox.row(id).await.last_error.unwrap();
    assert!(!error.contains("wrong-pass-123"), "{error}");
}

#[tokio::test]
async fn implicit_tls_checks_the_server_certificate() {
    let folder = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&folder).unwrap();
    let (cert, key) = (folder.join("cert.pem"), folder.join("key.pem"));
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl makes the test certificate");
    assert!(status.success());
    let maildev = MailDev::start_with(&[
        "--incoming-secure",
        "--incoming-cert",
        cert.to_str().unwrap(),
        "--incoming-key",
        key.to_str().unwrap(),
    ])
    .await;
    let outbox = Outbox::new().await;
    let mail = mail_to(maildev.smtp_port, &[("AUTH_SMTP_SECURE", "true")]);
    let id = outbox.enqueue(&mail, &email("tls@example.com", Template::EmailVerify, "en")).await;

    // A self-signed certificate is not trusted: the message is not handed over in the clear instead.
    let outcome = process_batch(&outbox.pool, &mail, &outbox.clock).await.unwrap();
    assert_eq!(outcome.failed, 1);
    let error = outbox.row(id).await.last_error.unwrap();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    assert!(maildev.messages().await.is_empty());
}
