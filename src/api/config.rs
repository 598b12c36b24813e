//! HTTP settings: where the service listens, its public URL and route prefix, the frontend's URL, the
//! request body limit, trusted proxies, concealed errors and the refresh-token cookie.
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

pub const TRUSTED_PROXIES: Setting = Setting::new(
    "AUTH_TRUSTED_PROXIES",
    None,
    "CIDRs (comma-separated, e.g. `10.0.0.0/8`) of reverse proxies whose `X-Forwarded-For` names the client; \
     from any other peer the header is ignored",
);

pub const CONCEAL_ERRORS: Setting = Setting::new(
    "AUTH_CONCEAL_ERRORS",
    Some("false"),
    "answer errors that would reveal whether an account exists (wrong password, disabled or unverified user, \
     email in use, ...) with `400 invalid-request` (nhost's)",
);

pub const REFRESH_TOKEN_COOKIE: Setting = Setting::new(
    "AUTH_REFRESH_TOKEN_COOKIE",
    Some("false"),
    "answers carrying a session set its refresh token in an httpOnly cookie (`SameSite=Strict`, `Secure` \
     unless the server URL is plain http on a loopback host) instead of the JSON body; `/token` and `/signout` \
     read it from there",
);

pub const SETTINGS: &[&Setting] = &[
    &HOST,
    &PORT,
    &API_PREFIX,
    &SERVER_URL,
    &CLIENT_URL,
    &MAX_BODY_BYTES,
    &TRUSTED_PROXIES,
    &CONCEAL_ERRORS,
    &REFRESH_TOKEN_COOKIE,
];

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
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Sensitive errors become `400 invalid-request`.
    pub conceal_errors: bool,
    /// The refresh token travels in an httpOnly cookie instead of JSON bodies.
    pub refresh_token_cookie: bool,
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
            trusted_proxies: trusted_proxies(env),
            conceal_errors: env.flag(&CONCEAL_ERRORS),
            refresh_token_cookie: env.flag(&REFRESH_TOKEN_COOKIE),
        })
    }
}

fn trusted_proxies(env: &mut Env) -> Vec<ipnet::IpNet> {
    let mut networks = Vec::new();
    for entry in env.list(&TRUSTED_PROXIES) {
        // A bare address is a network of one.
        let parsed =
            entry.parse::<ipnet::IpNet>().or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        match parsed {
            Ok(network) => networks.push(network),
            Err(_) => env.problem(&TRUSTED_PROXIES, format!("{entry:?} is not a CIDR or an address")),
        }
    }
    networks
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the right-most address in
/// `X-Forwarded-For` that is not itself a trusted proxy (entries further left are the client's own claims).
pub fn client_ip(
    peer: Option<std::net::IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|network| network.contains(ip));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
        let Ok(address) = hop.trim().parse::<std::net::IpAddr>() else { break };
        client = address;
        if !is_trusted(&address) {
            break;
        }
    }
    Some(client)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> std::net::IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e:?}"))];
        let chain = Some("1.2.3.4, 203.0.113.9, 10.0.0.7");
        assert_eq!(client_ip(Some(ip("198.51.100.1")), chain, &trusted), Some(ip("198.51.100.1")));
        assert_eq!(client_ip(Some(ip("10.0.0.2")), chain, &trusted), Some(ip("203.0.113.9")));
        assert_eq!(client_ip(Some(ip("10.0.0.2")), None, &trusted), Some(ip("10.0.0.2")));
        assert_eq!(client_ip(Some(ip("10.0.0.2")), Some("garbage"), &trusted), Some(ip("10.0.0.2")));
        assert_eq!(client_ip(None, chain, &trusted), None);
    }
}
