//! Mail-driven flows from the outside: an app wired to a real SMTP server (maildev), and a mailbox that
//! drains the outbox, finds a message by template and follows its link like a browser (GET shows the
//! confirmation page, POST uses the ticket).
use std::time::{Duration, Instant};

use poem::http::StatusCode;
use serde_json::Value;
use url::Url;

use super::TestApp;
use super::app::Reply;
use super::maildev::MailDev;

pub const CLIENT: &str = "https://app.example.com";

pub async fn spawn(extra: &[(&str, &str)]) -> (TestApp, MailDev) {
    let maildev = MailDev::start().await;
    let port = maildev.smtp_port.to_string();
    let mut env = vec![
        ("AUTH_SMTP_HOST", "127.0.0.1"),
        ("AUTH_SMTP_PORT", port.as_str()),
        ("AUTH_SMTP_SECURE", "false"),
        ("AUTH_SMTP_STARTTLS", "none"),
        ("AUTH_SMTP_SENDER", "hauth@example.com"),
        ("AUTH_CLIENT_URL", CLIENT),
    ];
    env.extend_from_slice(extra);
    (TestApp::spawn_with(&env).await, maildev)
}

/// Runs the outbox worker until it has sent something (mail for unknown-address flows is queued after the
/// answer, so it may take a moment to appear).
pub async fn deliver(app: &TestApp) -> usize {
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(5) {
        let outcome =
            hauth::workers::mail_outbox::process_batch(&app.state.pool, &app.state.mail, &app.clock).await.unwrap();
        sent += outcome.processed;
        if sent > 0 {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    sent
}

/// The `nth` (1-based) message to `to` whose `X-Email-Template` is `template`, draining the outbox while it
/// waits (requests that answer first may still be queueing their mail).
pub async fn mail(app: &TestApp, maildev: &MailDev, to: &str, template: &str, nth: usize) -> Value {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        hauth::workers::mail_outbox::process_batch(&app.state.pool, &app.state.mail, &app.clock).await.unwrap();
        let found: Vec<Value> = maildev
            .messages_to(to)
            .await
            .into_iter()
            .filter(|m| m["headers"]["x-email-template"] == template)
            .collect();
        if found.len() >= nth {
            return found[nth - 1].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {template} mail #{nth} to {to}");
}

/// The path and query of the link in a mail, to request from the in-process app.
pub fn link_of(message: &Value) -> String {
    let link = Url::parse(message["headers"]["x-link"].as_str().expect("X-Link header")).unwrap();
    assert!(
        message["html"].as_str().unwrap().contains(&link.query().unwrap().replace('&', "&amp;"))
            || message["html"].as_str().unwrap().contains(link.query().unwrap())
    );
    assert!(message["text"].as_str().unwrap().contains("/verify?"), "the text part has the link");
    format!("{}?{}", link.path(), link.query().unwrap())
}

pub fn hidden_input(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end]
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

pub async fn get(app: &TestApp, path_and_query: &str) -> Reply {
    Reply::read(app.client.get(path_and_query).send().await.0).await
}

/// Follows a link like a browser: GET shows the confirm page, POST uses the ticket. Returns the redirect's
/// query parameters and its target without them.
pub async fn follow(app: &TestApp, link: &str) -> (String, Vec<(String, String)>) {
    let page = get(app, link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(page.headers["cache-control"], "no-store");
    post_form(app, &hidden_input(&page.text, "ticket"), &hidden_input(&page.text, "redirectTo")).await
}

pub async fn post_form(app: &TestApp, ticket: &str, redirect_to: &str) -> (String, Vec<(String, String)>) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("ticket", ticket)
        .append_pair("redirectTo", redirect_to)
        .finish();
    let response = app.client.post("/verify").content_type("application/x-www-form-urlencoded").body(body).send().await;
    let reply = Reply::read(response.0).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text);
    redirect_of(&reply)
}

pub fn redirect_of(reply: &Reply) -> (String, Vec<(String, String)>) {
    let location = Url::parse(reply.headers["location"].to_str().unwrap()).unwrap();
    let params = location.query_pairs().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut bare = location.clone();
    bare.set_query(None);
    (bare.to_string(), params)
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub fn code_in(message: &Value) -> String {
    let text = message["text"].as_str().unwrap();
    let digits: Vec<String> =
        text.split(|c: char| !c.is_ascii_digit()).filter(|chunk| chunk.len() == 6).map(str::to_string).collect();
    digits.first().cloned().unwrap_or_else(|| panic!("no code in {text}"))
}
