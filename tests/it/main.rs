//! The integration test binary: every test owns a fresh database cloned from a migrated template and drives
//! the real HTTP app. `TEST_LOG=1` shows the service's logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod helpers;

mod account_security;
mod admin;
mod anonymous;
mod audit;
mod bad_input;
mod breached_passwords;
mod claims;
mod code_guessing;
mod configuration;
mod deployment;
mod dev;
mod email_flows;
mod hasura_actions;
mod hasura_metadata;
mod hasura_webhook;
mod jwt;
mod lifecycle;
mod lockout;
mod mail;
mod mfa;
mod mfa_sms;
mod migrations;
mod nself_adoption;
mod operations;
mod pat;
mod postgres_tls;
mod provider_attacks;
mod provider_catalog;
mod provider_idtoken;
mod provider_mobile;
mod provider_oidc;
mod provider_token_refresh;
mod providers;
mod rate_limits;
mod sdk;
mod session;
mod signin;
mod signup;
mod sms;
mod sms_signin;
mod sql_statements;
mod system;
mod token;
