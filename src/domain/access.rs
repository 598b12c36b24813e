//! Who may sign up: `AUTH_ACCESS_CONTROL_{ALLOWED,BLOCKED}_{EMAILS,EMAIL_DOMAINS}`, in nhost's order: a
//! blocked email or domain is refused; an allowed email or domain passes; otherwise the email passes only
//! when both allow-lists are empty. Comparisons ignore case.
use super::Email;
use crate::config::AccessConfig;

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
