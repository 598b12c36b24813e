//! A real OpenID provider for the provider sign-in tests: `tests/sdk/oidc-provider.mjs` (npm `oidc-provider`)
//! run by Node as a child process on a port of 127.0.0.1, with one confidential client, the users a test
//! gives it, PKCE required and rotating refresh tokens. [`OidcProvider::start`] returns once it has printed
//! its `READY` line; dropping it kills the process. [`OidcProvider::authorize`] plays the browser at the
//! provider when it logs in and consents by itself (`auto_login`): it follows the provider's redirects,
//! keeping the cookies it sets for their paths, and stops at the redirect back to the client.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use url::Url;

use super::npm::{ensure_npm_packages, sdk_dir};

pub const CLIENT_ID: &str = "hauth-test";
pub const CLIENT_SECRET: &str = "hauth-test-secret";
/// How long the provider may take to print `READY` (Node loading the library, an RSA key generated).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A free port on 127.0.0.1 (free when asked; a service bound to it later gets it unless another took it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The issuer of a provider listening on `port`.
pub fn issuer_on(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// hauth's configuration for a generic OpenID provider `name` at `issuer`, registered as this provider's
/// client.
pub fn hauth_env(name: &str, issuer: &str) -> Vec<(String, String)> {
    let upper = name.to_uppercase().replace('-', "_");
    vec![
        ("AUTH_OIDC_PROVIDERS".into(), name.into()),
        (format!("AUTH_PROVIDER_{upper}_ENABLED"), "true".into()),
        (format!("AUTH_PROVIDER_{upper}_ISSUER"), issuer.into()),
        (format!("AUTH_PROVIDER_{upper}_CLIENT_ID"), CLIENT_ID.into()),
        (format!("AUTH_PROVIDER_{upper}_CLIENT_SECRET"), CLIENT_SECRET.into()),
    ]
}

/// A user at the provider, with a verified email and the picture [`picture_of`] its `sub`.
pub fn user(sub: &str, email: &str, name: &str, password: &str) -> Value {
    json!({
        "sub": sub,
        "email": email,
        "email_verified": true,
        "name": name,
        "password": password,
        "picture": picture_of(sub),
    })
}

/// The picture URL of a user made by [`user`] (https: hauth takes no other avatar from a provider).
pub fn picture_of(sub: &str) -> String {
    format!("https://images.example/{sub}.png")
}

/// How the provider is started.
pub struct Options {
    /// 0: any free port (the issuer is known once it is ready).
    pub port: u16,
    /// The client's redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// The users, as made by [`user`].
    pub users: Vec<Value>,
    /// The `sub` of a user as whom login and consent complete by themselves; `None`: the provider shows
    /// its login and consent pages.
    pub auto_login: Option<String>,
}

pub struct OidcProvider {
    pub issuer: String,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl OidcProvider {
    pub async fn start(options: Options) -> OidcProvider {
        ensure_npm_packages();
        let mut command = Command::new("node");
        command
            .arg("oidc-provider.mjs")
            .current_dir(sdk_dir())
            .env("OIDC_PORT", options.port.to_string())
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URIS", options.redirect_uris.join(","))
            .env("OIDC_USERS", Value::Array(options.users).to_string())
            .env_remove("OIDC_ISSUER")
            .env_remove("OIDC_AUTO_LOGIN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(sub) = &options.auto_login {
            command.env("OIDC_AUTO_LOGIN", sub);
        }
        let mut child = command.spawn().expect("node is needed to run the OpenID provider");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let collected = Arc::new(Mutex::new(String::new()));
        let echo = std::env::var_os("TEST_LOG").is_some();
        let into = collected.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("[oidc-provider] {line}");
                }
                let mut text = into.lock().unwrap_or_else(|e| e.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            let _ = ready.send(lines.next());
            // Drained so the process never blocks on a full pipe.
            lines.for_each(drop);
        });
        // Built before waiting, so a provider that never gets ready is still killed.
        let mut provider = OidcProvider { issuer: String::new(), child, stderr: collected };
        let line = match tokio::time::timeout(READY_TIMEOUT, is_ready).await {
            Ok(Ok(Some(line))) => line,
            Ok(_) => {
                let status = provider.child.wait().ok();
                panic!("the OpenID provider exited before it was ready ({status:?}):\n{}", provider.stderr());
            }
            Err(_) => panic!("the OpenID provider was not ready within {READY_TIMEOUT:?}:\n{}", provider.stderr()),
        };
        let issuer = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("the OpenID provider printed {line:?}, not READY:\n{}", provider.stderr()));
        if options.port != 0 {
            assert_eq!(issuer, issuer_on(options.port), "the provider's issuer");
        }
        provider.issuer = issuer.to_string();
        provider
    }

    /// What the provider has written on its standard error so far (its notices and error events).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Opens the authorization URL `authorize` in a fresh browser at the provider (a provider started with
    /// `auto_login`) and follows the provider's redirects; returns the first one that leaves the provider
    /// (the client's `redirect_uri?code=…&state=…&iss=…`, or an error there), without following it.
    pub async fn authorize(&self, authorize: &str) -> String {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let origin = Url::parse(&self.issuer).unwrap().origin();
        let mut jar = CookieJar::default();
        let mut url = Url::parse(authorize).unwrap();
        assert_eq!(url.origin(), origin, "{authorize} is not at the provider");
        for _ in 0..20 {
            let mut request = client.get(url.clone());
            if let Some(cookies) = jar.header_for(&url) {
                request = request.header(COOKIE, cookies);
            }
            let response = request.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
            jar.keep(response.headers());
            let status = response.status();
            let Some(location) = response.headers().get(LOCATION).and_then(|value| value.to_str().ok()) else {
                let body = response.text().await.unwrap_or_default();
                panic!("the provider answered {status} without a redirect at {url}:\n{body}\n{}", self.stderr());
            };
            assert!(status.is_redirection(), "{status} at {url}");
            let next = url.join(location).unwrap();
            if next.origin() != origin {
                return next.to_string();
            }
            url = next;
        }
        panic!("more than 20 redirects at the provider, the last to {url}");
    }

    /// The status of the provider's userinfo endpoint for `access_token`: 200 while the token is live, 401
    /// once it has expired or its grant was revoked.
    pub async fn userinfo_status(&self, access_token: &str) -> StatusCode {
        let client = reqwest::Client::new();
        let discovery: Value = client
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let endpoint = discovery["userinfo_endpoint"].as_str().unwrap();
        client.get(endpoint).bearer_auth(access_token).send().await.unwrap().status()
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("the OpenID provider's standard error:\n{}", self.stderr());
        }
    }
}

/// The cookies one browser holds at the provider, each sent only under its path. Enough for one host over
/// plain HTTP: no domains, no `Secure`.
#[derive(Default)]
struct CookieJar {
    /// (name, path, value)
    cookies: Vec<(String, String, String)>,
}

impl CookieJar {
    fn keep(&mut self, headers: &HeaderMap) {
        for header in headers.get_all(SET_COOKIE) {
            let text = header.to_str().unwrap();
            let mut parts = text.split(';').map(str::trim);
            let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
                continue;
            };
            let mut path = "/".to_string();
            let mut expired = value.is_empty();
            for attribute in parts {
                let (key, attribute_value) = attribute.split_once('=').unwrap_or((attribute, ""));
                match key.to_ascii_lowercase().as_str() {
                    "path" => path = attribute_value.to_string(),
                    "max-age" => expired |= attribute_value.parse::<i64>().is_ok_and(|age| age <= 0),
                    "expires" => {
                        expired |= chrono::DateTime::parse_from_rfc2822(attribute_value)
                            .is_ok_and(|at| at < chrono::Utc::now())
                    }
                    _ => {}
                }
            }
            self.cookies.retain(|(n, p, _)| !(n == name && *p == path));
            if !expired {
                self.cookies.push((name.to_string(), path, value.to_string()));
            }
        }
    }

    fn header_for(&self, url: &Url) -> Option<String> {
        let request_path = url.path();
        let matching: Vec<String> = self
            .cookies
            .iter()
            .filter(|(_, path, _)| {
                request_path == path
                    || (request_path.starts_with(path.as_str())
                        && (path.ends_with('/') || request_path[path.len()..].starts_with('/')))
            })
            .map(|(name, _, value)| format!("{name}={value}"))
            .collect();
        (!matching.is_empty()).then(|| matching.join("; "))
    }
}
