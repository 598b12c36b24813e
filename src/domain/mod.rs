//! Value types and pure rules. Request strings become these types at the edge, so nothing below `api/`
//! handles a raw string that carries meaning.
pub mod access;
pub mod claims;
pub mod email;
pub mod json;
pub mod opaque_token;
pub mod password;
pub mod phone;
pub mod redirect;
pub mod refresh_token;
pub mod sealed;
pub mod totp;
pub mod user;

pub use email::Email;
pub use opaque_token::OpaqueToken;
pub use refresh_token::RefreshToken;
