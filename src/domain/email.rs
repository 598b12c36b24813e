//! An email address accepted by the `auth.email` domain (nhost's pattern), stored as given and compared
//! case-insensitively by the database (citext).
use std::fmt;

use crate::error::AuthError;

#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address with the same rules as the `auth.email` check constraint, so a value accepted here
    /// is never refused by the database.
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let raw = raw.trim();
        let invalid = || AuthError::InvalidRequest("email is not a valid email address".to_string());
        if raw.len() > 254 {
            return Err(invalid());
        }
        let (local, domain) = raw.rsplit_once('@').ok_or_else(invalid)?;
        let local_ok =
            !local.is_empty() && local.chars().all(|c| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c));
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !local_ok || !domain.split('.').all(label_ok) {
            return Err(invalid());
        }
        Ok(Email(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in ["a@b.co", "john.smith+tag@example.com", "x@localhost", "O'Brien@mail.example.org"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_the_database_would_refuse() {
        for bad in ["", "no-at", "@example.com", "a@", "a@-bad.com", "a b@example.com", "a@exa_mple.com", "a@b..c"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
