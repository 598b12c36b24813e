//! Opaque tokens: 128 random bits shown to their holder once, formatted like a UUID (the shape nhost's
//! clients and the reference API expect), and stored only as a SHA-256 hash in nhost's format (`\x` + hex),
//! so tokens issued by nhost keep working in an adopted database. Refresh tokens, personal access tokens
//! and the secret part of emailed tickets are opaque tokens.
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::random::Random;

/// An opaque token as its holder has it.
pub struct OpaqueToken(SecretString);

impl OpaqueToken {
    /// 128 bits from `random`.
    pub fn generate(random: &Random) -> Self {
        let mut bytes = [0u8; 16];
        random.fill(&mut bytes);
        let hex = hex::encode(bytes);
        OpaqueToken(SecretString::from(format!(
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
        shape_ok.then(|| OpaqueToken(SecretString::from(raw.to_ascii_lowercase())))
    }

    /// What is stored: `\x` + hex(sha256(token)).
    pub fn hash(&self) -> String {
        hash_token(self.0.expose_secret())
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// `\x` + hex(sha256(token)), exactly as nhost stores it.
pub fn hash_token(token: &str) -> String {
    format!("\\x{}", hex::encode(Sha256::digest(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_uuid_shape_and_parse_back() {
        let token = OpaqueToken::generate(&Random::System);
        assert_eq!(token.expose().len(), 36);
        assert_eq!(OpaqueToken::parse(token.expose()).map(|p| p.hash()), Some(token.hash()));
        assert_ne!(token.expose(), OpaqueToken::generate(&Random::System).expose());
    }

    #[test]
    fn hash_matches_the_nhost_format() {
        assert_eq!(hash_token("abc"), "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in ["", "abc", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "1234567-1234-1234-1234-1234567890123"] {
            assert!(OpaqueToken::parse(bad).is_none(), "{bad}");
        }
    }
}
