//! A phone number in E.164 form (`+14155550123`), the only form SMS providers accept and the form stored in
//! `auth.users.phone_number`. Input is parsed with libphonenumber's rules (the `phonenumber` crate), so
//! spaces, dashes, brackets and an international `00` prefix are accepted, and a number without a country
//! code is read in the configured default region. Phone numbers are not secrets: `Debug` shows them.
use std::fmt;

use crate::error::AuthError;

/// Longest input considered: E.164 has at most 15 digits; the rest allows for generous formatting.
const MAX_INPUT_LENGTH: usize = 64;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses `raw` into E.164. A number without `+` (or `00`) is read in `default_region` (an ISO 3166
    /// code such as `US`); without a region such a number is refused. Letters (vanity numbers), extensions
    /// and numbers libphonenumber does not consider valid are refused: an SMS could not reach them.
    pub fn parse(raw: &str, default_region: Option<&str>) -> Result<PhoneNumber, AuthError> {
        let invalid = || AuthError::InvalidRequest("phoneNumber is not a valid phone number".to_string());
        let trimmed = raw.trim();
        let allowed = |c: char| c.is_ascii_digit() || " +-()./\u{a0}".contains(c);
        if trimmed.is_empty() || trimmed.len() > MAX_INPUT_LENGTH || !trimmed.chars().all(allowed) {
            return Err(invalid());
        }
        // `00` is the ITU's international prefix; libphonenumber only recognises it for a region that uses
        // it, so it is rewritten to `+` first ("00 44 20 ..." is a UK number whatever the default region).
        let normalised = match trimmed.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => trimmed.to_string(),
        };
        let region =
            default_region.and_then(|r| r.trim().to_ascii_uppercase().parse::<phonenumber::country::Id>().ok());
        let parsed = phonenumber::parse(region, &normalised).map_err(|_| invalid())?;
        if parsed.extension().is_some() || !parsed.is_valid() {
            return Err(invalid());
        }
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        Ok(PhoneNumber(e164))
    }

    /// The number in E.164 form, e.g. `+14155550123`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `region` names a region libphonenumber knows (used to validate the default region setting).
    pub fn is_known_region(region: &str) -> bool {
        region.trim().to_ascii_uppercase().parse::<phonenumber::country::Id>().is_ok()
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::PhoneNumber;

    #[test]
    fn formats_accepted_numbers_as_e164() {
        let cases = [
            ("+1 415 555 0123", None, "+14155550123"),
            ("(415) 555-0123", Some("US"), "+14155550123"),
            ("00 44 20 7946 0958", None, "+442079460958"),
            ("00 44 20 7946 0958", Some("US"), "+442079460958"),
            ("020 7946 0958", Some("gb"), "+442079460958"),
            ("+33 6 12 34 56 78", Some("US"), "+33612345678"),
        ];
        for (raw, region, expected) in cases {
            let phone = PhoneNumber::parse(raw, region).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(phone.as_str(), expected, "{raw}");
            assert_eq!(phone.to_string(), expected);
        }
    }

    #[test]
    fn refuses_garbage_and_invalid_numbers() {
        let cases = [
            ("", None),
            ("hello", None),
            ("+1 555", None),
            ("123", Some("US")),
            ("(415) 555-0123", None),
            ("+999 1234 5678", None),
            ("+1-800-FLOWERS", None),
            ("+1 415 555 0123 ext. 5", None),
            ("+1 415 555 0123 1234", None),
        ];
        for (raw, region) in cases {
            let error = PhoneNumber::parse(raw, region).expect_err(raw);
            assert_eq!(error.to_string(), "phoneNumber is not a valid phone number");
        }
    }

    #[test]
    fn debug_shows_the_number() -> Result<(), crate::error::AuthError> {
        let phone = PhoneNumber::parse("+14155550123", None)?;
        assert_eq!(format!("{phone:?}"), "PhoneNumber(+14155550123)");
        Ok(())
    }
}
