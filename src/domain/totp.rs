//! Time-based one-time passwords (RFC 6238) with nhost's parameters: SHA-1, 6 digits, 30-second steps,
//! one step of skew either way, through the `totp-rs` crate. A code is accepted only for a step later than
//! the last one accepted, so a code seen over a shoulder or replayed from a log is refused. Also the
//! recovery codes that stand in for a code when the authenticator is lost: ten, single-use, shown once,
//! stored only hashed.
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::domain::opaque_token::hash_token;
use crate::random::Random;

/// Bytes in a generated secret (160 bits, RFC 4226's recommendation).
const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;

/// A TOTP secret (raw bytes). No `Debug`: it is a credential.
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    pub fn generate(random: &Random) -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        random.fill(&mut bytes);
        TotpSecret(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        TotpSecret(bytes)
    }

    /// A secret as authenticator apps and nhost's `totp_secret` column write it (base32).
    pub fn from_base32(encoded: &str) -> Option<Self> {
        let cleaned: String = encoded.chars().filter(|c| !c.is_whitespace() && *c != '=').collect();
        Secret::try_from_base32(cleaned.to_ascii_uppercase())
            .ok()
            .map(|secret| TotpSecret(secret.as_bytes().to_vec()))
            .filter(|secret| !secret.0.is_empty())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn to_base32(&self) -> String {
        Secret::from(self.0.clone()).to_base32()
    }

    /// The generator. Not `build()`: secrets adopted from nhost may be shorter than the 128 bits it asks
    /// for, and still work in the user's authenticator app. The parameters are fixed and valid; an empty
    /// secret is refused.
    fn totp(&self, issuer: &str, account: &str) -> Option<Totp> {
        if self.0.is_empty() {
            return None;
        }
        // `:` separates issuer and account in the otpauth label.
        let clean = |text: &str| text.replace(':', " ");
        Some(
            Builder::new()
                .with_algorithm(Algorithm::SHA1)
                .with_digits(6)
                .with_skew(1)
                .with_step_duration(30)
                .with_secret(self.0.clone())
                .with_issuer(Some(clean(issuer)))
                .with_account_name(clean(account))
                .build_noncompliant(),
        )
    }

    /// The step `code` is valid for at `unix_time` (within one step either way), if any.
    pub fn step_of(&self, code: &str, unix_time: u64) -> Option<u64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.totp("hauth", "user")?.check(code, unix_time)
    }

    /// The code for `unix_time` (for tests and tools).
    pub fn code_at(&self, unix_time: u64) -> Option<String> {
        Some(self.totp("hauth", "user")?.generate(unix_time).to_string())
    }

    /// What an authenticator app scans: the `otpauth://` URL as a PNG QR code, in a data URL.
    pub fn qr_data_url(&self, issuer: &str, account: &str) -> Option<String> {
        let png = self.totp(issuer, account)?.to_qr_base64().ok()?;
        Some(format!("data:image/png;base64,{png}"))
    }
}

/// A recovery code as shown once: ten lower-case base32 characters in two groups (50 bits).
pub fn generate_recovery_code(random: &Random) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 10];
    random.fill(&mut bytes);
    let chars: String = bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// The stored form of a recovery code, whatever its presented spelling (case, dashes, spaces).
pub fn recovery_code_hash(code: &str) -> String {
    let normalized: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    hash_token(&format!("recovery:{normalized}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1, 8 digits "94287082" at T=59: its last six digits.
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        assert_eq!(secret.code_at(59).as_deref(), Some("287082"));
        assert_eq!(secret.code_at(1_111_111_109).as_deref(), Some("081804"));
    }

    #[test]
    fn codes_are_valid_one_step_either_way_and_name_their_step() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let now = 1_700_000_000;
        let code = secret.code_at(now).unwrap_or_default();
        assert_eq!(secret.step_of(&code, now), Some(now / 30));
        assert_eq!(secret.step_of(&code, now + 30), Some(now / 30));
        assert_eq!(secret.step_of(&code, now - 30), Some(now / 30));
        assert_eq!(secret.step_of(&code, now + 90), None);
        assert_eq!(secret.step_of("12345", now), None);
        assert_eq!(secret.step_of("abcdef", now), None);
    }

    #[test]
    fn base32_round_trips_and_nhost_secrets_read() {
        let secret = TotpSecret::from_bytes(vec![7u8; 20]);
        let encoded = secret.to_base32();
        let back = TotpSecret::from_base32(&encoded.to_ascii_lowercase()).map(|s| s.as_bytes().to_vec());
        assert_eq!(back, Some(vec![7u8; 20]));
        assert!(TotpSecret::from_base32("not base32 !!").is_none());
        // An 80-bit secret, as older nhost deployments hold, still works.
        let short = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").map(|secret| secret.code_at(59));
        assert!(matches!(short, Some(Some(code)) if code.len() == 6));
    }

    #[test]
    fn recovery_codes_hash_the_same_however_typed() {
        assert_eq!(recovery_code_hash("abcde-fghij"), recovery_code_hash("ABCDE FGHIJ"));
        assert_ne!(recovery_code_hash("abcde-fghij"), recovery_code_hash("abcde-fghik"));
    }
}
