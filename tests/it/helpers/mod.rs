//! Test helpers: a fresh database per test cloned from a migrated template ([`db`]), the app driven
//! in-process over HTTP ([`app`]), and the real `hauth` binary on a port for black-box clients ([`server`]).
pub mod app;
pub mod db;
pub mod mailbox;
pub mod maildev;
pub mod nhost;
pub mod npm;
pub mod oidc_provider;
pub mod provider_flow;
pub mod provider_standin;
pub mod server;
pub mod sms_standin;
pub mod totp;

pub use app::TestApp;
