//! The SMTP side: a pooled lettre transport built from [`MailConfig`] (implicit TLS, STARTTLS required or
//! opportunistic, or plain text; PLAIN, LOGIN or XOAUTH2 login), and the MIME message built from an outbox
//! row: `multipart/alternative` with a text part and an HTML part, `From` = the configured sender, the row's
//! extra headers and `X-SMTPAPI` when configured.
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::config::{MailConfig, SmtpAuthMethod, StartTls};
use crate::db::outbox::OutboxEmail;

/// How long one SMTP command may take before the attempt fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// A configured SMTP server.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    sender: Mailbox,
    x_smtpapi_header: Option<String>,
}

impl SmtpSender {
    /// The sender for `config`, or `None` when no SMTP host is configured. Connects lazily.
    pub fn new(config: &MailConfig) -> anyhow::Result<Option<SmtpSender>> {
        let Some(host) = &config.host else { return Ok(None) };
        let sender = config.sender.clone().with_context(|| format!("{} is required", super::config::SENDER.name))?;
        let tls_parameters = || TlsParameters::new(host.clone()).context("cannot set up TLS for the SMTP host");
        let tls = if config.secure {
            Tls::Wrapper(tls_parameters()?)
        } else {
            match config.starttls {
                StartTls::Required => Tls::Required(tls_parameters()?),
                StartTls::Opportunistic => Tls::Opportunistic(tls_parameters()?),
                StartTls::None => Tls::None,
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(config.port)
            .tls(tls)
            .timeout(Some(COMMAND_TIMEOUT));
        if let (Some(user), Some(password)) = (&config.user, &config.password) {
            let mechanism = match config.auth_method {
                SmtpAuthMethod::Plain => Mechanism::Plain,
                SmtpAuthMethod::Login => Mechanism::Login,
                SmtpAuthMethod::Xoauth2 => Mechanism::Xoauth2,
            };
            builder = builder
                .credentials(Credentials::new(user.clone(), password.expose_secret().to_string()))
                .authentication(vec![mechanism]);
        }
        Ok(Some(SmtpSender { transport: builder.build(), sender, x_smtpapi_header: config.x_smtpapi_header.clone() }))
    }

    /// Builds the MIME message for an outbox row, dated `now`.
    pub fn build_message(&self, email: &OutboxEmail, now: DateTime<Utc>) -> anyhow::Result<Message> {
        let recipient: Mailbox = email.recipient.parse().context("the recipient is not a valid email address")?;
        let domain = self.sender.email.domain();
        let mut builder = Message::builder()
            .from(self.sender.clone())
            .to(recipient)
            .subject(email.subject.clone())
            .date(SystemTime::from(now))
            // Stable across retries, so a server that got a message twice can tell.
            .message_id(Some(format!("<{}@{domain}>", email.id)));
        for (name, value) in &email.headers {
            builder = builder.raw_header(header(name, value)?);
        }
        if let Some(value) = &self.x_smtpapi_header {
            builder = builder.raw_header(header("X-SMTPAPI", value)?);
        }
        builder
            .multipart(MultiPart::alternative_plain_html(email.text_body.clone(), email.html_body.clone()))
            .context("cannot build the email message")
    }

    /// Hands one message to the SMTP server.
    pub async fn send(&self, message: Message) -> Result<(), lettre::transport::smtp::Error> {
        self.transport.send(message).await.map(|_| ())
    }
}

/// An extra header; line breaks in the value are flattened so it cannot start another header.
pub fn header(name: &str, value: &str) -> anyhow::Result<HeaderValue> {
    let name =
        HeaderName::new_from_ascii(name.to_string()).map_err(|_| anyhow::anyhow!("invalid header name {name:?}"))?;
    Ok(HeaderValue::new(name, value.replace(['\r', '\n'], " ")))
}
