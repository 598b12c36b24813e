//! Mail settings, under nhost's names plus hauth's own (STARTTLS, delivery attempts, polling). Every problem
//! is reported at once; the SMTP password is a [`SecretString`] and never printed.
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::SecretString;

use crate::config::env::{Env, Setting};

pub const HOST: Setting =
    Setting::new("AUTH_SMTP_HOST", None, "SMTP server; without one, mail waits in the outbox (`auth.email_outbox`)");
pub const PORT: Setting = Setting::new("AUTH_SMTP_PORT", Some("587"), "SMTP port");
pub const SECURE: Setting =
    Setting::new("AUTH_SMTP_SECURE", Some("false"), "implicit TLS from the first byte (port 465)");
pub const STARTTLS: Setting = Setting::new(
    "AUTH_SMTP_STARTTLS",
    Some("opportunistic"),
    "without implicit TLS: `required`, `opportunistic` or `none`",
);
pub const USER: Setting = Setting::new("AUTH_SMTP_USER", None, "SMTP login; none when unset");
pub const PASS: Setting = Setting::new("AUTH_SMTP_PASS", None, "SMTP password").secret();
pub const SENDER: Setting =
    Setting::new("AUTH_SMTP_SENDER", None, "the `From` of every message, `Name <address>` or an address");
pub const LOGIN_METHOD: Setting = Setting::new("AUTH_SMTP_AUTH_METHOD", Some("PLAIN"), "`PLAIN`, `LOGIN` or `XOAUTH2`");
pub const X_SMTPAPI_HEADER: Setting =
    Setting::new("AUTH_SMTP_X_SMTPAPI_HEADER", None, "sent as the `X-SMTPAPI` header (SendGrid's options)");
pub const TEMPLATES_PATH: Setting = Setting::new(
    "AUTH_EMAIL_TEMPLATES_PATH",
    Some("/app/email-templates"),
    "templates in nhost's layout, overriding the built-in English and French ones file by file",
);
pub const MAX_ATTEMPTS: Setting =
    Setting::new("AUTH_MAIL_MAX_ATTEMPTS", Some("8"), "delivery attempts before a message is given up on");
pub const POLL_INTERVAL_MS: Setting =
    Setting::new("AUTH_MAIL_POLL_INTERVAL_MS", Some("1000"), "how long the mail worker sleeps when nothing is due");

pub const SETTINGS: &[&Setting] = &[
    &HOST,
    &PORT,
    &SECURE,
    &STARTTLS,
    &USER,
    &PASS,
    &SENDER,
    &LOGIN_METHOD,
    &X_SMTPAPI_HEADER,
    &TEMPLATES_PATH,
    &MAX_ATTEMPTS,
    &POLL_INTERVAL_MS,
];

/// How a connection that does not start encrypted (no implicit TLS) uses STARTTLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTls {
    /// Refuse to talk to a server that does not offer STARTTLS.
    Required,
    /// Upgrade when the server offers it, else stay in plain text (nhost's behaviour).
    Opportunistic,
    /// Never upgrade: for local relays and test servers.
    None,
}

/// The SASL mechanism used to log in to the SMTP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpAuthMethod {
    Plain,
    Login,
    Xoauth2,
}

/// Parsed mail settings. Mail is sent only when an SMTP host is set; without one messages are still queued
/// and wait.
#[derive(Clone)]
pub struct MailConfig {
    pub host: Option<String>,
    pub port: u16,
    /// Implicit TLS from the first byte when true.
    pub secure: bool,
    /// Only used when `secure` is false.
    pub starttls: StartTls,
    /// No login when unset.
    pub user: Option<String>,
    pub password: Option<SecretString>,
    /// The `From` of every message, `Name <address>` or a bare address.
    pub sender: Option<Mailbox>,
    pub auth_method: SmtpAuthMethod,
    /// Sent as the `X-SMTPAPI` header when set (SendGrid's per-message options).
    pub x_smtpapi_header: Option<String>,
    /// `{locale}/{template}/{subject.txt,body.html}` overriding the built-in templates file by file.
    pub templates_path: PathBuf,
    /// Delivery attempts before a message is given up on.
    pub max_attempts: u32,
    /// How long the worker sleeps when nothing is due.
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

impl MailConfig {
    /// Reads the mail settings alone, or every problem found.
    pub fn from_env(vars: &std::collections::HashMap<String, String>) -> Result<MailConfig, Vec<String>> {
        crate::config::env::load_section(vars, MailConfig::load)
    }

    /// Reads the mail settings, listing every problem found.
    pub fn load(env: &mut Env) -> MailConfig {
        let host = env.text(&HOST);
        let port = env.parsed::<u16>(&PORT);
        if port == 0 {
            env.problem(&PORT, "expected a port number");
        }
        let secure = env.flag(&SECURE);
        let starttls = match env.string(&STARTTLS).to_ascii_lowercase().as_str() {
            "opportunistic" => StartTls::Opportunistic,
            "required" => StartTls::Required,
            "none" => StartTls::None,
            other => {
                env.problem(&STARTTLS, format!("expected required, opportunistic or none, got {other:?}"));
                StartTls::Opportunistic
            }
        };
        let user = env.text(&USER);
        let password = env.secret(&PASS);
        if user.is_some() && password.is_none() {
            env.problem(&PASS, format!("required when {} is set", USER.name));
        }
        if user.is_none() && password.is_some() {
            env.problem(&USER, format!("required when {} is set", PASS.name));
        }
        let sender = match env.text(&SENDER) {
            None => {
                if host.is_some() {
                    env.problem(&SENDER, format!("required when {} is set", HOST.name));
                }
                None
            }
            Some(value) => match value.parse::<Mailbox>() {
                Ok(mailbox) => Some(mailbox),
                Err(error) => {
                    env.problem(&SENDER, format!("not an email address or `Name <address>` ({error})"));
                    None
                }
            },
        };
        let auth_method = match env.string(&LOGIN_METHOD).to_ascii_uppercase().as_str() {
            "PLAIN" => SmtpAuthMethod::Plain,
            "LOGIN" => SmtpAuthMethod::Login,
            "XOAUTH2" => SmtpAuthMethod::Xoauth2,
            "CRAM-MD5" => {
                env.problem(
                    &LOGIN_METHOD,
                    "CRAM-MD5 is not supported (the SMTP client implements PLAIN, LOGIN and XOAUTH2); use PLAIN or \
                     LOGIN, which are encrypted by TLS",
                );
                SmtpAuthMethod::Plain
            }
            other => {
                env.problem(&LOGIN_METHOD, format!("expected PLAIN, LOGIN or XOAUTH2, got {other:?}"));
                SmtpAuthMethod::Plain
            }
        };
        let x_smtpapi_header = env.text(&X_SMTPAPI_HEADER);
        if x_smtpapi_header.as_deref().is_some_and(|v| v.contains(['\r', '\n'])) {
            env.problem(&X_SMTPAPI_HEADER, "must be a single line");
        }
        let max_attempts = env.parsed::<u32>(&MAX_ATTEMPTS);
        if !(1..=1000).contains(&max_attempts) {
            env.problem(&MAX_ATTEMPTS, "expected a number from 1 to 1000");
        }
        let poll_interval_ms = env.parsed::<u64>(&POLL_INTERVAL_MS);
        if poll_interval_ms == 0 {
            env.problem(&POLL_INTERVAL_MS, "expected a positive number");
        }
        MailConfig {
            host,
            port,
            secure,
            starttls,
            user,
            password,
            sender,
            auth_method,
            x_smtpapi_header,
            templates_path: PathBuf::from(env.string(&TEMPLATES_PATH)),
            max_attempts,
            poll_interval: Duration::from_millis(poll_interval_ms.max(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> (MailConfig, crate::config::env::Reading) {
        let vars: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut env = Env::new(&vars);
        let config = MailConfig::load(&mut env);
        (config, env.finish())
    }

    #[test]
    fn nhost_defaults_apply_and_mail_is_unconfigured_without_a_host() {
        let (config, reading) = load(&[]);
        assert!(reading.problems.is_empty(), "{:?}", reading.problems);
        assert_eq!(config.host, None);
        assert_eq!(config.port, 587);
        assert!(!config.secure);
        assert_eq!(config.starttls, StartTls::Opportunistic);
        assert_eq!(config.auth_method, SmtpAuthMethod::Plain);
        assert_eq!(config.templates_path, PathBuf::from("/app/email-templates"));
        assert_eq!(config.max_attempts, 8);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let (_, reading) = load(&[
            (HOST.name, "smtp.example.com"),
            (PORT.name, "http"),
            (SECURE.name, "maybe"),
            (STARTTLS.name, "sometimes"),
            (USER.name, "me"),
            (LOGIN_METHOD.name, "CRAM-MD5"),
            (MAX_ATTEMPTS.name, "0"),
        ]);
        let text = reading.problems.join("\n");
        for setting in [&PORT, &SECURE, &STARTTLS, &PASS, &SENDER, &LOGIN_METHOD, &MAX_ATTEMPTS] {
            assert!(text.contains(setting.name), "{} missing from {text}", setting.name);
        }
        assert!(text.contains("CRAM-MD5 is not supported"));
    }

    #[test]
    fn the_password_never_prints() {
        let (config, reading) = load(&[
            (HOST.name, "smtp.example.com"),
            (USER.name, "me"),
            (PASS.name, "hunter2-secret"),
            (SENDER.name, "Example <no-reply@example.com>"),
            (LOGIN_METHOD.name, "login"),
        ]);
        assert!(reading.problems.is_empty(), "{:?}", reading.problems);
        assert_eq!(config.auth_method, SmtpAuthMethod::Login);
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!format!("{:?}", reading.resolved).contains("hunter2"));
        assert_eq!(reading.resolved[PASS.name], "<redacted>");
        assert_eq!(reading.resolved[SENDER.name], "Example <no-reply@example.com>");
    }
}
