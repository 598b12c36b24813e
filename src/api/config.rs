//! HTTP settings: where the service listens, its public URL and route prefix, the frontend's URL and the
//! request body limit.
use url::Url;

use crate::config::env::{Env, Setting};

pub const HOST: Setting = Setting::new("AUTH_HOST", Some("0.0.0.0"), "address to listen on");
pub const PORT: Setting = Setting::new("AUTH_PORT", Some("4000"), "port to listen on");
pub const API_PREFIX: Setting = Setting::new("AUTH_API_PREFIX", Some(""), "prefix for every route, e.g. `/v1`");
pub const SERVER_URL: Setting = Setting::new(
    "AUTH_SERVER_URL",
    Some("<http://localhost:port/prefix>"),
    "public URL of this service, used in links and in the JWKS URL Hasura is given",
);
pub const CLIENT_URL: Setting =
    Setting::new("AUTH_CLIENT_URL", None, "the frontend's URL: where links and provider sign-ins return by default");
pub const MAX_BODY_BYTES: Setting = Setting::new("AUTH_MAX_BODY_BYTES", Some("65536"), "larger request bodies get 413");

pub const SETTINGS: &[&Setting] = &[&HOST, &PORT, &API_PREFIX, &SERVER_URL, &CLIENT_URL, &MAX_BODY_BYTES];

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub host: String,
    pub port: u16,
    /// Prefix for every route, e.g. `/v1` (nhost's); empty for none.
    pub api_prefix: String,
    /// Public URL of this service, used in links and in `hauth hasura jwt-secret`.
    pub server_url: Url,
    pub client_url: Option<Url>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl HttpConfig {
    pub fn load(env: &mut Env) -> Option<HttpConfig> {
        let port = env.parsed(&PORT);
        let api_prefix = normalise_prefix(&env.string(&API_PREFIX));
        let server_url = if env.raw(&SERVER_URL).is_some() {
            env.url(&SERVER_URL)
        } else {
            let default = format!("http://localhost:{port}{api_prefix}");
            env.show(&SERVER_URL, default.clone());
            Url::parse(&default).ok()
        };
        Some(HttpConfig {
            host: env.string(&HOST),
            port,
            api_prefix,
            server_url: server_url?,
            client_url: env.url(&CLIENT_URL),
            max_body_bytes: env.parsed(&MAX_BODY_BYTES),
        })
    }
}

fn normalise_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}
