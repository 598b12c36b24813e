//! Outgoing email. A flow calls [`Mail::enqueue`] inside its own transaction: the message is rendered from
//! its template at once and written to the `auth.email_outbox` table, never sent from the request. The mail
//! outbox worker (`workers::mail_outbox`) delivers it over SMTP later, retrying with backoff, so a slow or
//! failing SMTP server never fails or slows a request, and a message committed is never lost on restart.
//!
//! [`config`] reads the SMTP settings, [`templates`] holds nhost's template layout with built-in
//! English and French texts, [`text`] derives the plain-text part from the HTML, and [`transport`] speaks
//! SMTP through lettre.
pub mod config;
pub mod templates;
pub mod text;
pub mod transport;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

pub use self::config::{MailConfig, SmtpAuthMethod, StartTls};
use self::templates::{Rendered, TemplateSet};
use self::transport::SmtpSender;
use crate::db::outbox::{self, NewOutboxEmail};
use crate::error::AuthError;

/// The emails hauth sends; each is a folder of nhost's template layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    EmailVerify,
    PasswordReset,
    EmailConfirmChange,
    SigninPasswordless,
    SigninOtp,
    /// A notice to the old address after an email change, with a link that undoes it.
    EmailChanged,
    /// A notice after a password change or reset.
    PasswordChanged,
}

impl Template {
    pub const ALL: [Template; 7] = [
        Template::EmailVerify,
        Template::PasswordReset,
        Template::EmailConfirmChange,
        Template::SigninPasswordless,
        Template::SigninOtp,
        Template::EmailChanged,
        Template::PasswordChanged,
    ];

    /// The template's folder name, also recorded with each queued message.
    pub fn dir_name(self) -> &'static str {
        match self {
            Template::EmailVerify => "email-verify",
            Template::PasswordReset => "password-reset",
            Template::EmailConfirmChange => "email-confirm-change",
            Template::SigninPasswordless => "signin-passwordless",
            Template::SigninOtp => "signin-otp",
            Template::EmailChanged => "email-changed",
            Template::PasswordChanged => "password-changed",
        }
    }
}

/// The values a template can use, as `${link}`, `${displayName}`, `${email}`, `${newEmail}`, `${ticket}`,
/// `${redirectTo}`, `${locale}`, `${serverUrl}` and `${clientUrl}`. No `Debug`: links and tickets are secrets.
#[derive(Default, Clone)]
pub struct TemplateVariables {
    pub link: String,
    pub display_name: String,
    pub email: String,
    pub new_email: String,
    pub ticket: String,
    pub redirect_to: String,
    pub locale: String,
    pub server_url: String,
    pub client_url: String,
}

/// One email to queue.
#[derive(Clone)]
pub struct OutgoingEmail {
    pub to: String,
    pub template: Template,
    pub locale: String,
    pub variables: TemplateVariables,
    /// Extra headers like nhost's X-Ticket, X-Redirect-To, X-Email-Template, X-Link.
    pub headers: Vec<(String, String)>,
}

/// The templates, loaded once, and the SMTP server (none when no SMTP host is set).
pub struct Mail {
    templates: TemplateSet,
    smtp: Option<SmtpSender>,
    max_attempts: u32,
    poll_interval: Duration,
    warned_unconfigured: AtomicBool,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("configured", &self.smtp.is_some())
            .field("max_attempts", &self.max_attempts)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl Mail {
    /// Reads the templates folder and sets up the SMTP transport (which connects only when sending).
    pub fn new(config: &MailConfig) -> anyhow::Result<Mail> {
        Ok(Mail {
            templates: TemplateSet::load(&config.templates_path)?,
            smtp: SmtpSender::new(config)?,
            max_attempts: config.max_attempts,
            poll_interval: config.poll_interval,
            warned_unconfigured: AtomicBool::new(false),
        })
    }

    /// Renders `template` in `locale` (falling back to English) without queuing anything.
    pub fn render(
        &self,
        template: Template,
        locale: &str,
        variables: &TemplateVariables,
    ) -> Result<Rendered, AuthError> {
        self.templates.render(template, locale, variables).map_err(AuthError::Internal)
    }

    /// Renders the template now (locale falls back to "en" when the locale has no template) and inserts the
    /// message into the outbox in the caller's transaction; never talks to SMTP.
    pub async fn enqueue(
        &self,
        client: &impl GenericClient,
        email: &OutgoingEmail,
        now: DateTime<Utc>,
    ) -> Result<Uuid, AuthError> {
        let recipient = email.to.trim();
        if recipient.parse::<lettre::Address>().is_err() {
            return Err(AuthError::InvalidRequest("email is not a valid email address".to_string()));
        }
        let rendered = self.render(email.template, &email.locale, &email.variables)?;
        let mut headers = Vec::with_capacity(email.headers.len());
        for (name, value) in &email.headers {
            // Checked now so a bad header is a bug at the call site, not a message that can never be sent.
            transport::header(name, value).map_err(AuthError::Internal)?;
            headers.push((name.clone(), value.replace(['\r', '\n'], " ")));
        }
        let row = NewOutboxEmail {
            recipient,
            subject: &rendered.subject,
            html_body: &rendered.html_body,
            text_body: &rendered.text_body,
            headers: &headers,
            template: email.template.dir_name(),
        };
        let id = outbox::insert_email(client, &row, now).await?;
        tracing::debug!(email_id = %id, template = email.template.dir_name(), "email queued");
        Ok(id)
    }

    /// Whether an SMTP server is configured; without one, queued messages wait.
    pub fn is_configured(&self) -> bool {
        self.smtp.is_some()
    }

    /// Delivery attempts before a message is given up on.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// How long the worker sleeps when nothing is due.
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval
    }

    /// The SMTP server, if configured.
    pub fn smtp(&self) -> Option<&SmtpSender> {
        self.smtp.as_ref()
    }

    /// True the first time it is called: the worker's "mail is not configured" warning is logged once.
    pub fn first_unconfigured_warning(&self) -> bool {
        !self.warned_unconfigured.swap(true, Ordering::Relaxed)
    }
}
