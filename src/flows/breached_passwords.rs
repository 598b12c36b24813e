//! Refusing breached passwords when one is set (sign-up, change, reset, deanonymize): always against the list
//! of the most common breached passwords built into the binary, and, with Have I Been Pwned enabled (nhost's
//! setting), against its Pwned Passwords range API with k-anonymity: only the first five hex characters of
//! the password's SHA-1 leave the service, and the suffixes that come back are compared here. Either refusal
//! is 400 `password-in-hibp-database`. When the range API cannot be reached the password is let through
//! (with a warning): the offline list still applied, and a sign-up must not depend on a third party.
use secrecy::{ExposeSecret, SecretString};
use sha1::{Digest, Sha1};
use url::Url;

use crate::config::env::{Env, Setting};
use crate::error::AuthError;
use crate::state::AppState;

pub const HIBP_ENABLED: Setting = Setting::new(
    "AUTH_PASSWORD_HIBP_ENABLED",
    Some("false"),
    "refuse new passwords found by Have I Been Pwned (k-anonymity: only 5 hex characters of the SHA-1 are sent)",
);
pub const HIBP_URL: Setting = Setting::new(
    "AUTH_PASSWORD_HIBP_URL",
    Some("https://api.pwnedpasswords.com"),
    "base URL of the Pwned Passwords range API (`<url>/range/<prefix>`)",
);

pub const SETTINGS: &[&Setting] = &[&HIBP_ENABLED, &HIBP_URL];

#[derive(Clone, Debug)]
pub struct BreachedPasswordsConfig {
    /// The range API's base URL, when the check is enabled.
    pub hibp_url: Option<Url>,
}

impl BreachedPasswordsConfig {
    pub fn load(env: &mut Env) -> BreachedPasswordsConfig {
        let enabled = env.flag(&HIBP_ENABLED);
        let url = env.url(&HIBP_URL);
        BreachedPasswordsConfig { hibp_url: url.filter(|_| enabled) }
    }
}

/// The SHA-1 of the password in upper-case hex, split into the prefix sent and the suffix looked for.
pub fn range_key(password: &SecretString) -> (String, String) {
    let digest = hex::encode_upper(Sha1::digest(password.expose_secret().as_bytes()));
    let (prefix, suffix) = digest.split_at(5);
    (prefix.to_string(), suffix.to_string())
}

/// Whether a range answer (`SUFFIX:COUNT` lines) lists `suffix` with a count above zero (padding entries
/// have a count of zero).
pub fn range_lists(answer: &str, suffix: &str) -> bool {
    answer.lines().filter_map(|line| line.trim().split_once(':')).any(|(candidate, count)| {
        candidate.eq_ignore_ascii_case(suffix) && count.trim().parse::<u64>().is_ok_and(|count| count > 0)
    })
}

/// Refuses a new password that is known from breaches.
pub async fn refuse_breached(state: &AppState, password: &SecretString) -> Result<(), AuthError> {
    if crate::domain::password::is_common_password(password) {
        return Err(AuthError::PasswordInHibpDatabase);
    }
    let Some(base) = &state.config.breached_passwords.hibp_url else {
        return Ok(());
    };
    let (prefix, suffix) = range_key(password);
    let url = format!("{}/range/{prefix}", base.as_str().trim_end_matches('/'));
    let answer = async {
        let response = state.http.get(&url).header("Add-Padding", "true").send().await?.error_for_status()?;
        response.text().await
    };
    match answer.await {
        Ok(text) if range_lists(&text, &suffix) => Err(AuthError::PasswordInHibpDatabase),
        Ok(_) => Ok(()),
        Err(error) => {
            tracing::warn!(error = %error, "the Pwned Passwords range API failed: the password was not checked there");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_key_is_the_sha1_split_after_five_characters() {
        // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
        let (prefix, suffix) = range_key(&SecretString::from("password"));
        assert_eq!(prefix, "5BAA6");
        assert_eq!(suffix, "1E4C9B93F3F0682250B6CF8331B7EE68FD8");
    }

    #[test]
    fn a_suffix_counts_only_with_a_positive_count() {
        let answer = "003D68EB55068C33ACE09247EE4C639306B:3\r\n1E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824\r\n";
        assert!(range_lists(answer, "1E4C9B93F3F0682250B6CF8331B7EE68FD8"));
        assert!(!range_lists(answer, "FFFFFB93F3F0682250B6CF8331B7EE68FD8"));
        assert!(!range_lists("1E4C9B93F3F0682250B6CF8331B7EE68FD8:0", "1E4C9B93F3F0682250B6CF8331B7EE68FD8"));
    }
}
