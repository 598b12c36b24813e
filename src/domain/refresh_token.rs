//! Refresh tokens: 128 random bits shown to the client once, formatted like a UUID (the shape nhost clients
//! and the reference API expect), and stored only as a SHA-256 hash in nhost's format (`\x` + hex), so
//! sessions issued by nhost keep working in an adopted database.
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::sealed::{open_under_secret, seal_under_secret};

/// A refresh token as the client holds it.
pub struct RefreshToken(SecretString);

impl RefreshToken {
    /// 128 bits from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let hex = hex::encode(bytes);
        RefreshToken(SecretString::from(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )))
    }

    /// Accepts a presented token if it has the expected shape (8-4-4-4-12 hex digits).
    pub fn parse(raw: &str) -> Option<Self> {
        let groups: Vec<&str> = raw.split('-').collect();
        let shape_ok = groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()));
        shape_ok.then(|| RefreshToken(SecretString::from(raw.to_ascii_lowercase())))
    }

    /// The value stored in `auth.refresh_tokens.refresh_token_hash`.
    pub fn hash(&self) -> String {
        hash_token(self.0.expose_secret())
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Seals `child` under a key only this token's plaintext yields: the database alone cannot open it.
    pub fn seal_child(&self, child: &RefreshToken) -> Vec<u8> {
        seal_under_secret(self.expose().as_bytes(), CHILD_CONTEXT, child.expose().as_bytes())
    }

    /// Opens a child sealed by [`RefreshToken::seal_child`] of this same token.
    pub fn open_child(&self, sealed: &[u8]) -> Option<RefreshToken> {
        let child = open_under_secret(self.expose().as_bytes(), CHILD_CONTEXT, sealed)?;
        RefreshToken::parse(std::str::from_utf8(&child).ok()?)
    }
}

/// The HKDF purpose of the key that seals a rotated token's child.
const CHILD_CONTEXT: &[u8] = b"hauth refresh-token child v1";

/// `\x` + hex(sha256(token)), exactly as nhost stores it.
pub fn hash_token(token: &str) -> String {
    format!("\\x{}", hex::encode(Sha256::digest(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_uuid_shape_and_parse_back() {
        let token = RefreshToken::generate();
        assert_eq!(token.expose().len(), 36);
        let parsed = RefreshToken::parse(token.expose()).map(|p| p.hash());
        assert_eq!(parsed, Some(token.hash()));
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(RefreshToken::generate().expose(), RefreshToken::generate().expose());
    }

    #[test]
    fn hash_matches_the_nhost_format() {
        assert_eq!(hash_token("abc"), "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn only_the_parent_opens_its_sealed_child() {
        let parent = RefreshToken::generate();
        let child = RefreshToken::generate();
        let sealed = parent.seal_child(&child);
        assert_eq!(parent.open_child(&sealed).map(|c| c.hash()), Some(child.hash()));
        assert!(RefreshToken::generate().open_child(&sealed).is_none());
        assert!(child.open_child(&sealed).is_none());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in ["", "abc", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "1234567-1234-1234-1234-1234567890123"] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad}");
        }
    }
}
