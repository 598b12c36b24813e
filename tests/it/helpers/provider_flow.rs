//! Provider sign-ins driven by hand: hauth configured for a provider stand-in ([`Setup`]) and a
//! [`Browser`] that follows the redirects between them with the cookies hauth sets.
use std::collections::HashMap;

use poem::http::StatusCode;
use serde_json::{Value, json};

use super::app::{Reply, TestApp};
use super::provider_standin::{
    AppleClientKey, MICROSOFT_DEFAULT_TENANT_ID, ProviderRedirect, ProviderStandin, StandinClient, StandinKind,
    StandinUser,
};

pub const SERVER: &str = "http://hauth.test";
pub const CLIENT_URL: &str = "http://app.test";
const ENCRYPTION_KEYS: &str = "k2:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const ES256_KEY: &str = include_str!("../../fixtures/keys/es256.key.pem");
const ES256_PUBLIC: &str = include_str!("../../fixtures/keys/es256.pub.pem");

/// The paths a flow may come in by.
#[derive(Clone, Copy, Debug)]
pub enum Entry {
    Nhost,
    Nself,
}

impl Entry {
    /// A link URL (made for the nhost path) as it is followed through this path.
    pub fn link_start(self, url: &str, provider: &str) -> String {
        match self {
            Entry::Nhost => url.to_string(),
            Entry::Nself => url.replace(&format!("/signin/provider/{provider}?"), &format!("/oauth/{provider}?")),
        }
    }

    pub fn start_path(self, provider: &str) -> String {
        match self {
            Entry::Nhost => format!("/signin/provider/{provider}"),
            Entry::Nself => format!("/oauth/{provider}"),
        }
    }
}

pub fn name_of(kind: StandinKind) -> &'static str {
    kind.id()
}

/// The scopes hauth asks a provider of the stand-ins' catalog for by default.
pub fn default_scopes(kind: StandinKind) -> &'static str {
    match kind {
        StandinKind::Facebook => "email",
        StandinKind::Twitter => "users.read tweet.read users.email offline.access",
        StandinKind::Linkedin => "openid profile email",
        StandinKind::Slack | StandinKind::Gitlab => "openid email profile",
        StandinKind::Discord => "identify email",
        StandinKind::Twitch => "openid user:read:email",
        StandinKind::Bitbucket => "account email",
        StandinKind::Spotify => "user-read-email",
        other => panic!("{other:?} is not a provider of the catalog"),
    }
}

/// A provider stand-in and hauth configured for it.
pub struct Setup {
    pub standin: ProviderStandin,
    pub app: TestApp,
    pub name: &'static str,
    /// The settings hauth got on top of the base ones.
    pub env: Vec<(String, String)>,
}

pub fn client_for(kind: StandinKind) -> StandinClient {
    let name = name_of(kind);
    StandinClient {
        client_id: format!("{name}-client-id"),
        client_secret: format!("{name}-client-secret"),
        // Microsoft's registrations from nhost deployments name it `azuread` or `entraid`; X is also `x`.
        redirect_uris: std::iter::once(name)
            .chain(kind.aliases().iter().copied())
            .flat_map(|alias| {
                [format!("{SERVER}/signin/provider/{alias}/callback"), format!("{SERVER}/oauth/{alias}/callback")]
            })
            .collect(),
        apple: (kind == StandinKind::Apple).then(|| AppleClientKey {
            team_id: "TEAM123456".into(),
            key_id: "KEY1234567".into(),
            public_key_pem: ES256_PUBLIC.into(),
        }),
    }
}

impl Setup {
    pub async fn new(kind: StandinKind, overrides: &[(&str, &str)]) -> Setup {
        Setup::with_standin_env(kind, overrides, |_| {}).await
    }

    /// Like [`new`](Self::new), with the settings that point hauth at the stand-in edited first (for instance
    /// replaced by a self-managed GitLab's base URL).
    pub async fn with_standin_env(
        kind: StandinKind,
        overrides: &[(&str, &str)],
        edit: impl FnOnce(&mut Vec<(String, String)>),
    ) -> Setup {
        let client = client_for(kind);
        let standin = ProviderStandin::start(kind, client.clone()).await;
        let name = name_of(kind);
        let upper = name.to_uppercase();
        let mut env: Vec<(String, String)> = standin.env();
        edit(&mut env);
        env.extend([
            (format!("AUTH_PROVIDER_{upper}_ENABLED"), "true".to_string()),
            (format!("AUTH_PROVIDER_{upper}_CLIENT_ID"), client.client_id.clone()),
            ("AUTH_SERVER_URL".into(), SERVER.into()),
            ("AUTH_CLIENT_URL".into(), CLIENT_URL.into()),
            ("AUTH_ENCRYPTION_KEYS".into(), ENCRYPTION_KEYS.into()),
        ]);
        if kind == StandinKind::Apple {
            env.extend([
                ("AUTH_PROVIDER_APPLE_TEAM_ID".into(), "TEAM123456".into()),
                ("AUTH_PROVIDER_APPLE_KEY_ID".into(), "KEY1234567".into()),
                ("AUTH_PROVIDER_APPLE_PRIVATE_KEY".into(), ES256_KEY.into()),
            ]);
        } else {
            env.push((format!("AUTH_PROVIDER_{upper}_CLIENT_SECRET"), client.client_secret.clone()));
        }
        for (key, value) in overrides {
            env.retain(|(existing, _)| existing != key);
            env.push((key.to_string(), value.to_string()));
        }
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let app = TestApp::spawn_with(&pairs).await;
        Setup { standin, app, name, env }
    }

    /// A user at the provider, signed in there.
    pub fn provider_user(&self, id: &str, email: &str, verified: bool) {
        self.standin.add_user(StandinUser {
            id: id.to_string(),
            email: Some(email.to_string()),
            email_verified: verified,
            name: Some("Ada Lovelace".into()),
            picture: Some("https://images.example/ada.png".into()),
            tenant_id: Some(MICROSOFT_DEFAULT_TENANT_ID.to_string()),
            xms_edov: Some(verified),
            ..StandinUser::default()
        });
        self.standin.sign_in_as(id);
    }

    pub fn browser(&self) -> Browser<'_> {
        Browser { app: &self.app, cookies: HashMap::new(), user_agent: "Mozilla/5.0 (test browser)".into() }
    }
}

/// A browser: keeps the cookies hauth sets and sends them back.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookies: HashMap<String, String>,
    pub user_agent: String,
}

/// The `Location` of a 302.
pub fn location(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::FOUND, "expected a redirect: {} {}", reply.status, reply.text);
    reply.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(url).unwrap_or_else(|_| url::Url::parse(&format!("{SERVER}{url}")).unwrap());
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

impl Browser<'_> {
    fn keep_cookies(&mut self, reply: &Reply) {
        for header in reply.headers.get_all("set-cookie") {
            let text = header.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    /// The link URL hauth gives the signed-in user `bearer` for `provider`, asked from this browser.
    pub async fn link_url(&self, provider: &str, bearer: &str, redirect_to: Option<&str>) -> String {
        let body = match redirect_to {
            Some(redirect_to) => json!({"redirectTo": redirect_to}),
            None => json!({}),
        };
        let reply = self
            .app
            .client
            .post(format!("/user/providers/{provider}/link"))
            .header("authorization", format!("Bearer {bearer}"))
            .header("user-agent", self.user_agent.clone())
            .body_json(&body)
            .send()
            .await
            .0;
        let reply = Reply::read(reply).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["url"].as_str().unwrap().to_string()
    }

    /// A top-level navigation to a path (and query) on hauth.
    pub async fn get(&mut self, path: &str) -> Reply {
        let path = path.strip_prefix(SERVER).unwrap_or(path);
        let mut request = self.app.client.get(path).header("user-agent", self.user_agent.clone());
        if !self.cookies.is_empty() {
            request = request.header("cookie", self.cookie_header());
        }
        let reply = Reply::read(request.send().await.0).await;
        self.keep_cookies(&reply);
        reply
    }

    /// A form `POST` to a path on hauth.
    pub async fn post_form(&mut self, path: &str, fields: &[(String, String)]) -> Reply {
        let path = path.strip_prefix(SERVER).unwrap_or(path);
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let mut request = self
            .app
            .client
            .post(path)
            .header("user-agent", self.user_agent.clone())
            .content_type("application/x-www-form-urlencoded")
            .body(body);
        if !self.cookies.is_empty() {
            request = request.header("cookie", self.cookie_header());
        }
        let reply = Reply::read(request.send().await.0).await;
        self.keep_cookies(&reply);
        reply
    }

    /// Brings the provider's answer back to hauth (a redirect, or Apple's auto-submitted form).
    pub async fn deliver(&mut self, redirect: &ProviderRedirect) -> Reply {
        match redirect {
            ProviderRedirect::Get(url) => self.get(url).await,
            ProviderRedirect::FormPost { action, fields } => self.post_form(action, fields).await,
        }
    }

    /// Starts at `start` (a path with its query) and returns the provider's authorization URL.
    pub async fn start(&mut self, start: &str) -> String {
        let reply = self.get(start).await;
        let to = location(&reply);
        assert!(to.starts_with("http://127.0.0.1"), "a start goes to the provider, not {to}");
        assert_eq!(reply.headers.get("referrer-policy").unwrap(), "no-referrer");
        to
    }
}

/// A whole sign-in: start, the provider's pages, the callback. Returns where hauth sent the browser.
pub async fn sign_in(setup: &Setup, browser: &mut Browser<'_>, start: &str) -> String {
    let authorize = browser.start(start).await;
    let redirect = setup.standin.authorize(&authorize).await.unwrap_or_else(|e| panic!("provider refused: {e}"));
    location(&browser.deliver(&redirect).await)
}

/// The session behind a `refreshToken` redirect.
pub async fn session_of(app: &TestApp, landed: &str) -> Value {
    assert!(landed.starts_with(CLIENT_URL), "landed at {landed}");
    assert_eq!(param(landed, "error"), None, "landed with an error: {landed}");
    let refresh_token = param(landed, "refreshToken").unwrap_or_else(|| panic!("no refreshToken in {landed}"));
    let reply = app.refresh(&refresh_token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body.clone()
}

pub fn access_token(session: &Value) -> String {
    session["accessToken"].as_str().unwrap().to_string()
}

/// No provider token is readable in the database: nhost's plaintext columns are empty and the sealed ones do
/// not contain the token.
pub async fn no_plaintext_tokens(app: &TestApp, token: &str) {
    let rows = app
        .rows(
            "select access_token, refresh_token, access_token_sealed, refresh_token_sealed, token_key_id
             from auth.user_providers",
            &[],
        )
        .await;
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row.get::<_, String>(0), "", "nhost's access_token column stays empty");
        assert_eq!(row.get::<_, Option<String>>(1), None, "nhost's refresh_token column stays empty");
        let sealed: Vec<u8> = row.get(2);
        assert!(!sealed.windows(token.len()).any(|window| window == token.as_bytes()));
        assert!(sealed.len() > 28, "nonce, ciphertext and tag");
        assert_eq!(row.get::<_, Option<String>>(4).as_deref(), Some("k2"));
    }
    let dump = app.rows("select to_jsonb(p)::text from auth.user_providers p", &[]).await;
    for row in dump {
        assert!(!row.get::<_, String>(0).contains(token), "a provider token is stored in plaintext");
    }
}

pub fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
