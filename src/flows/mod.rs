//! Use cases, one module per user-visible flow. Flows take the [`crate::state::AppState`], domain values and
//! the clock's now; they return domain results or an [`crate::error::AuthError`]. No HTTP, no SQL text.
pub mod admin;
pub mod anonymous;
pub mod audit;
pub mod breached_passwords;
pub mod code_guard;
pub mod config;
pub mod deanonymize;
pub mod elevation;
pub mod email_change;
pub mod health;
pub mod id_token;
pub mod lockout;
pub mod mfa;
pub mod nself_adoption;
pub mod password;
pub mod passwordless;
pub mod pat;
pub mod provider_tokens;
pub mod providers;
pub mod rate_limit;
pub mod session;
pub mod signin;
pub mod signup;
pub mod tickets;
pub mod token_refresh;
pub mod user;
pub mod verification;
pub mod webhook;

pub use session::Session;
