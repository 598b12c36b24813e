//! Who may sign up and sign in, by nhost's access-control lists in nhost's order: a blocked email or domain
//! is refused; an allowed email or domain passes; otherwise the email passes only when both allow-lists are
//! empty. Comparisons ignore case. Also where users may be sent back to.
use super::Email;
use crate::config::env::{Env, Setting};

pub const ALLOWED_EMAILS: Setting =
    Setting::new("AUTH_ACCESS_CONTROL_ALLOWED_EMAILS", None, "with an allow-list, only listed addresses (or domains)");
pub const ALLOWED_EMAIL_DOMAINS: Setting =
    Setting::new("AUTH_ACCESS_CONTROL_ALLOWED_EMAIL_DOMAINS", None, "domains whose addresses may sign up");
pub const BLOCKED_EMAILS: Setting =
    Setting::new("AUTH_ACCESS_CONTROL_BLOCKED_EMAILS", None, "addresses refused (a blocked entry wins)");
pub const BLOCKED_EMAIL_DOMAINS: Setting =
    Setting::new("AUTH_ACCESS_CONTROL_BLOCKED_EMAIL_DOMAINS", None, "domains refused");
pub const ALLOWED_REDIRECT_URLS: Setting = Setting::new(
    "AUTH_ACCESS_CONTROL_ALLOWED_REDIRECT_URLS",
    None,
    "besides the client URL: globs (`*` is one label or path segment) whose sub-paths are allowed as `redirectTo`",
);

pub const SETTINGS: &[&Setting] =
    &[&ALLOWED_EMAILS, &ALLOWED_EMAIL_DOMAINS, &BLOCKED_EMAILS, &BLOCKED_EMAIL_DOMAINS, &ALLOWED_REDIRECT_URLS];

/// Who may sign up, and where users may be sent back to.
#[derive(Clone, Debug, Default)]
pub struct AccessConfig {
    pub allowed_emails: Vec<String>,
    pub allowed_email_domains: Vec<String>,
    pub blocked_emails: Vec<String>,
    pub blocked_email_domains: Vec<String>,
    /// Glob patterns allowed as redirect targets besides the client URL.
    pub allowed_redirect_urls: Vec<String>,
}

impl AccessConfig {
    pub fn load(env: &mut Env) -> AccessConfig {
        AccessConfig {
            allowed_emails: env.list(&ALLOWED_EMAILS),
            allowed_email_domains: env.list(&ALLOWED_EMAIL_DOMAINS),
            blocked_emails: env.list(&BLOCKED_EMAILS),
            blocked_email_domains: env.list(&BLOCKED_EMAIL_DOMAINS),
            allowed_redirect_urls: env.list(&ALLOWED_REDIRECT_URLS),
        }
    }
}

pub fn email_allowed(access: &AccessConfig, email: &Email) -> bool {
    let email = email.as_str().to_ascii_lowercase();
    let domain = email.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
    let contains = |list: &[String], value: &str| list.iter().any(|item| item.trim().eq_ignore_ascii_case(value));
    if contains(&access.blocked_emails, &email) || contains(&access.blocked_email_domains, &domain) {
        return false;
    }
    if contains(&access.allowed_emails, &email) || contains(&access.allowed_email_domains, &domain) {
        return true;
    }
    access.allowed_emails.is_empty() && access.allowed_email_domains.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(raw: &str) -> Email {
        Email::parse(raw).unwrap_or_else(|_| Email::parse("x@invalid.example").unwrap_or_else(|_| unreachable!()))
    }

    #[test]
    fn blocked_beats_allowed_and_allow_lists_close_the_door() {
        let access = AccessConfig {
            allowed_email_domains: vec!["example.com".into()],
            blocked_emails: vec!["Mallory@Example.com".into()],
            ..Default::default()
        };
        assert!(email_allowed(&access, &email("alice@EXAMPLE.com")));
        assert!(!email_allowed(&access, &email("mallory@example.com")));
        assert!(!email_allowed(&access, &email("bob@other.org")));
        assert!(email_allowed(&AccessConfig::default(), &email("bob@other.org")));
        let blocked = AccessConfig { blocked_email_domains: vec!["spam.io".into()], ..Default::default() };
        assert!(!email_allowed(&blocked, &email("x@spam.io")));
    }
}
