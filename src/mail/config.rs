//! Mail settings from the environment, under nhost's names (`AUTH_SMTP_*`, `AUTH_EMAIL_TEMPLATES_PATH`) plus
//! hauth's own (`AUTH_SMTP_STARTTLS`, `AUTH_MAIL_MAX_ATTEMPTS`, `AUTH_MAIL_POLL_INTERVAL_MS`). Every problem is
//! reported at once; the SMTP password is a [`SecretString`] and never printed.
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::SecretString;

/// How a connection that does not start encrypted (`AUTH_SMTP_SECURE=false`) uses STARTTLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTls {
    /// Refuse to talk to a server that does not offer STARTTLS.
    Required,
    /// Upgrade when the server offers it, else stay in plain text (nhost's behaviour).
    Opportunistic,
    /// Never upgrade: for local relays and test servers.
    None,
}

impl StartTls {
    fn as_str(self) -> &'static str {
        match self {
            StartTls::Required => "required",
            StartTls::Opportunistic => "opportunistic",
            StartTls::None => "none",
        }
    }
}

/// The SASL mechanism used to log in to the SMTP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpAuthMethod {
    Plain,
    Login,
    Xoauth2,
}

impl SmtpAuthMethod {
    fn as_str(self) -> &'static str {
        match self {
            SmtpAuthMethod::Plain => "PLAIN",
            SmtpAuthMethod::Login => "LOGIN",
            SmtpAuthMethod::Xoauth2 => "XOAUTH2",
        }
    }
}

/// Parsed mail settings. Mail is configured (sent) only when `AUTH_SMTP_HOST` is set; without it messages
/// are still queued and wait.
#[derive(Clone)]
pub struct MailConfig {
    /// `AUTH_SMTP_HOST`; `None` when unset or empty.
    pub host: Option<String>,
    /// `AUTH_SMTP_PORT` (587).
    pub port: u16,
    /// `AUTH_SMTP_SECURE` (false): implicit TLS from the first byte when true.
    pub secure: bool,
    /// `AUTH_SMTP_STARTTLS` (opportunistic); only used when `secure` is false.
    pub starttls: StartTls,
    /// `AUTH_SMTP_USER`; no login when unset.
    pub user: Option<String>,
    /// `AUTH_SMTP_PASS`.
    pub password: Option<SecretString>,
    /// `AUTH_SMTP_SENDER`: the `From` of every message, `Name <address>` or a bare address.
    pub sender: Option<Mailbox>,
    /// `AUTH_SMTP_AUTH_METHOD` (PLAIN).
    pub auth_method: SmtpAuthMethod,
    /// `AUTH_SMTP_X_SMTPAPI_HEADER`: sent as the `X-SMTPAPI` header when set (SendGrid's per-message options).
    pub x_smtpapi_header: Option<String>,
    /// `AUTH_EMAIL_TEMPLATES_PATH` (`/app/email-templates`): `{locale}/{template}/{subject.txt,body.html}`
    /// overriding the built-in templates file by file.
    pub templates_path: PathBuf,
    /// `AUTH_MAIL_MAX_ATTEMPTS` (8): delivery attempts before a message is given up on.
    pub max_attempts: u32,
    /// `AUTH_MAIL_POLL_INTERVAL_MS` (1000): how long the worker sleeps when nothing is due.
    pub poll_interval: Duration,
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("secure", &self.secure)
            .field("starttls", &self.starttls)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("sender", &self.sender.as_ref().map(ToString::to_string))
            .field("auth_method", &self.auth_method)
            .field("x_smtpapi_header", &self.x_smtpapi_header)
            .field("templates_path", &self.templates_path)
            .field("max_attempts", &self.max_attempts)
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

pub const DEFAULT_TEMPLATES_PATH: &str = "/app/email-templates";

impl MailConfig {
    /// Reads the mail settings out of an environment map, listing every problem found.
    pub fn from_env(vars: &HashMap<String, String>) -> Result<MailConfig, Vec<String>> {
        let mut problems = Vec::new();
        let raw = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        let host = raw("AUTH_SMTP_HOST").map(str::to_string);
        let port = match raw("AUTH_SMTP_PORT") {
            None => 587,
            Some(value) => value.parse::<u16>().ok().filter(|port| *port > 0).unwrap_or_else(|| {
                problems.push(format!("AUTH_SMTP_PORT: expected a port number, got {value:?}"));
                587
            }),
        };
        let secure = match raw("AUTH_SMTP_SECURE").map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no" | "off") => false,
            Some("true" | "1" | "yes" | "on") => true,
            Some(other) => {
                problems.push(format!("AUTH_SMTP_SECURE: expected true or false, got {other:?}"));
                false
            }
        };
        let starttls = match raw("AUTH_SMTP_STARTTLS").map(str::to_ascii_lowercase).as_deref() {
            None | Some("opportunistic") => StartTls::Opportunistic,
            Some("required") => StartTls::Required,
            Some("none") => StartTls::None,
            Some(other) => {
                problems.push(format!("AUTH_SMTP_STARTTLS: expected required, opportunistic or none, got {other:?}"));
                StartTls::Opportunistic
            }
        };
        let user = raw("AUTH_SMTP_USER").map(str::to_string);
        // Passwords may legitimately start or end with spaces: take the value as given.
        let password = vars.get("AUTH_SMTP_PASS").filter(|v| !v.is_empty()).map(|v| SecretString::from(v.as_str()));
        if user.is_some() && password.is_none() {
            problems.push("AUTH_SMTP_PASS: required when AUTH_SMTP_USER is set".to_string());
        }
        if user.is_none() && password.is_some() {
            problems.push("AUTH_SMTP_USER: required when AUTH_SMTP_PASS is set".to_string());
        }
        let sender = match raw("AUTH_SMTP_SENDER") {
            None => {
                if host.is_some() {
                    problems.push("AUTH_SMTP_SENDER: required when AUTH_SMTP_HOST is set".to_string());
                }
                None
            }
            Some(value) => match value.parse::<Mailbox>() {
                Ok(mailbox) => Some(mailbox),
                Err(e) => {
                    problems.push(format!("AUTH_SMTP_SENDER: not an email address or `Name <address>` ({e})"));
                    None
                }
            },
        };
        let auth_method = match raw("AUTH_SMTP_AUTH_METHOD").map(str::to_ascii_uppercase).as_deref() {
            None | Some("PLAIN") => SmtpAuthMethod::Plain,
            Some("LOGIN") => SmtpAuthMethod::Login,
            Some("XOAUTH2") => SmtpAuthMethod::Xoauth2,
            Some("CRAM-MD5") => {
                problems.push(
                    "AUTH_SMTP_AUTH_METHOD: CRAM-MD5 is not supported (the SMTP client implements PLAIN, LOGIN and \
                     XOAUTH2); use PLAIN or LOGIN, which are encrypted by TLS"
                        .to_string(),
                );
                SmtpAuthMethod::Plain
            }
            Some(other) => {
                problems.push(format!("AUTH_SMTP_AUTH_METHOD: expected PLAIN, LOGIN or XOAUTH2, got {other:?}"));
                SmtpAuthMethod::Plain
            }
        };
        let x_smtpapi_header = raw("AUTH_SMTP_X_SMTPAPI_HEADER").map(str::to_string);
        if x_smtpapi_header.as_deref().is_some_and(|v| v.contains(['\r', '\n'])) {
            problems.push("AUTH_SMTP_X_SMTPAPI_HEADER: must be a single line".to_string());
        }
        let templates_path = PathBuf::from(raw("AUTH_EMAIL_TEMPLATES_PATH").unwrap_or(DEFAULT_TEMPLATES_PATH));
        let max_attempts = match raw("AUTH_MAIL_MAX_ATTEMPTS") {
            None => 8,
            Some(value) => value.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)).unwrap_or_else(|| {
                problems.push(format!("AUTH_MAIL_MAX_ATTEMPTS: expected a number from 1 to 1000, got {value:?}"));
                8
            }),
        };
        let poll_interval = match raw("AUTH_MAIL_POLL_INTERVAL_MS") {
            None => Duration::from_millis(1000),
            Some(value) => {
                value.parse::<u64>().ok().filter(|ms| *ms > 0).map(Duration::from_millis).unwrap_or_else(|| {
                    problems.push(format!("AUTH_MAIL_POLL_INTERVAL_MS: expected a positive number, got {value:?}"));
                    Duration::from_millis(1000)
                })
            }
        };

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(MailConfig {
            host,
            port,
            secure,
            starttls,
            user,
            password,
            sender,
            auth_method,
            x_smtpapi_header,
            templates_path,
            max_attempts,
            poll_interval,
        })
    }

    /// The effective settings as `(name, value)` pairs, the password replaced by `<redacted>`.
    pub fn redacted_lines(&self) -> Vec<(String, String)> {
        let lines = [
            ("AUTH_SMTP_HOST", self.host.clone().unwrap_or_default()),
            ("AUTH_SMTP_PORT", self.port.to_string()),
            ("AUTH_SMTP_SECURE", self.secure.to_string()),
            (
                "AUTH_SMTP_STARTTLS",
                if self.secure { "<implicit TLS>".to_string() } else { self.starttls.as_str().to_string() },
            ),
            ("AUTH_SMTP_USER", self.user.clone().unwrap_or_default()),
            ("AUTH_SMTP_PASS", if self.password.is_some() { "<redacted>" } else { "<unset>" }.to_string()),
            ("AUTH_SMTP_SENDER", self.sender.as_ref().map(ToString::to_string).unwrap_or_default()),
            ("AUTH_SMTP_AUTH_METHOD", self.auth_method.as_str().to_string()),
            ("AUTH_SMTP_X_SMTPAPI_HEADER", self.x_smtpapi_header.clone().unwrap_or_default()),
            ("AUTH_EMAIL_TEMPLATES_PATH", self.templates_path.display().to_string()),
            ("AUTH_MAIL_MAX_ATTEMPTS", self.max_attempts.to_string()),
            ("AUTH_MAIL_POLL_INTERVAL_MS", self.poll_interval.as_millis().to_string()),
        ];
        lines.into_iter().map(|(name, value)| (name.to_string(), value)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn nhost_defaults_apply_and_mail_is_unconfigured_without_a_host() -> Result<(), Vec<String>> {
        let config = MailConfig::from_env(&env(&[]))?;
        assert_eq!(config.host, None);
        assert_eq!(config.port, 587);
        assert!(!config.secure);
        assert_eq!(config.starttls, StartTls::Opportunistic);
        assert_eq!(config.auth_method, SmtpAuthMethod::Plain);
        assert_eq!(config.templates_path, PathBuf::from("/app/email-templates"));
        assert_eq!(config.max_attempts, 8);
        Ok(())
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let problems = MailConfig::from_env(&env(&[
            ("AUTH_SMTP_HOST", "smtp.example.com"),
            ("AUTH_SMTP_PORT", "http"),
            ("AUTH_SMTP_SECURE", "maybe"),
            ("AUTH_SMTP_STARTTLS", "sometimes"),
            ("AUTH_SMTP_USER", "me"),
            ("AUTH_SMTP_AUTH_METHOD", "CRAM-MD5"),
            ("AUTH_MAIL_MAX_ATTEMPTS", "0"),
        ]))
        .expect_err("must be refused");
        let text = problems.join("\n");
        for name in [
            "AUTH_SMTP_PORT",
            "AUTH_SMTP_SECURE",
            "AUTH_SMTP_STARTTLS",
            "AUTH_SMTP_PASS",
            "AUTH_SMTP_SENDER",
            "AUTH_SMTP_AUTH_METHOD: CRAM-MD5 is not supported",
            "AUTH_MAIL_MAX_ATTEMPTS",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
    }

    #[test]
    fn the_password_never_prints() -> Result<(), Vec<String>> {
        let config = MailConfig::from_env(&env(&[
            ("AUTH_SMTP_HOST", "smtp.example.com"),
            ("AUTH_SMTP_USER", "me"),
            ("AUTH_SMTP_PASS", "hunter2-secret"),
            ("AUTH_SMTP_SENDER", "Example <no-reply@example.com>"),
            ("AUTH_SMTP_AUTH_METHOD", "login"),
        ]))?;
        assert_eq!(config.auth_method, SmtpAuthMethod::Login);
        assert!(!format!("{config:?}").contains("hunter2"));
        let lines = config.redacted_lines();
        assert!(!format!("{lines:?}").contains("hunter2"));
        assert!(lines.contains(&("AUTH_SMTP_PASS".to_string(), "<redacted>".to_string())));
        assert!(lines.contains(&("AUTH_SMTP_SENDER".to_string(), "Example <no-reply@example.com>".to_string())));
        Ok(())
    }
}
