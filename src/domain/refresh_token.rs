//! Refresh tokens: opaque tokens ([`OpaqueToken`]) that rotate. A rotated token keeps its child sealed
//! under a key derived from the token itself, so only its holder can get that child back.
use super::opaque_token::OpaqueToken;
use super::sealed::{open_under_secret, seal_under_secret};
use crate::random::Random;

/// A refresh token as the client holds it.
pub struct RefreshToken(OpaqueToken);

/// The HKDF purpose of the key that seals a rotated token's child.
const CHILD_CONTEXT: &[u8] = b"hauth refresh-token child v1";

impl RefreshToken {
    pub fn generate(random: &Random) -> Self {
        RefreshToken(OpaqueToken::generate(random))
    }

    pub fn parse(raw: &str) -> Option<Self> {
        OpaqueToken::parse(raw).map(RefreshToken)
    }

    /// The value stored in `auth.refresh_tokens.refresh_token_hash`.
    pub fn hash(&self) -> String {
        self.0.hash()
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_parent_opens_its_sealed_child() {
        let random = Random::System;
        let parent = RefreshToken::generate(&random);
        let child = RefreshToken::generate(&random);
        let sealed = parent.seal_child(&child);
        assert_eq!(parent.open_child(&sealed).map(|c| c.hash()), Some(child.hash()));
        assert!(RefreshToken::generate(&random).open_child(&sealed).is_none());
        assert!(child.open_child(&sealed).is_none());
    }
}
