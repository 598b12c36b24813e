//! Access tokens: the signing and verifying keys with their JWKS ([`keys`]) and the Hasura claims carried
//! in every token ([`claims`]).
pub mod claims;
pub mod config;
pub mod keys;

pub use claims::{HasuraClaims, VerifiedToken};
pub use keys::JwtKeys;
