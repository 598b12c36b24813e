//! hauth: authentication for applications built on the Hasura GraphQL engine.
//!
//! The crate is layered and each layer only calls inward:
//! - [`api`] is the HTTP edge (poem + poem-openapi, one API struct per tag). It parses requests into domain
//!   values, calls one flow, and maps [`error::AuthError`] to HTTP in exactly one place (`api/error.rs`).
//! - [`flows`] are the use cases (sign up, sign in, sessions, user). They hold no SQL and know no HTTP.
//! - [`domain`] holds value types and pure rules (emails, passwords, refresh tokens, roles), [`jwt`] the
//!   signing keys, the Hasura claims and the JWKS.
//! - [`db`] is the only module with SQL: one statement per `.sql` file, migrations embedded.
//!
//! [`config`] turns the environment (nhost's variable names) into a validated [`config::Config`] once;
//! [`app`] builds the [`app::AppState`] and the routes; [`cli`] is the command line; [`pgcluster`] runs a
//! private Postgres cluster for `hauth dev` and for the test suite.
//! [`metrics`] holds the Prometheus registry `/metrics` serves.
pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod flows;
pub mod jwt;
pub mod mail;
pub mod metrics;
pub mod pgcluster;
pub mod providers;
pub mod random;
pub mod sms;
pub mod state;
pub mod telemetry;
pub mod workers;
