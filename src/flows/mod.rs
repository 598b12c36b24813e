//! Use cases, one module per user-visible flow. Flows take the [`crate::app::AppState`], domain values and
//! the clock's now; they return domain results or an [`crate::error::AuthError`]. No HTTP, no SQL text.
pub mod session;
pub mod signin;
pub mod signup;
pub mod user;
pub mod webhook;

pub use session::Session;
