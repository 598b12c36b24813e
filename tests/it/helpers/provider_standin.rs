//! A stand-in for one OAuth / OpenID Connect provider (Google, GitHub, Apple, Microsoft Entra ID, or one of the
//! nine of the [`catalog`]: Facebook, X, LinkedIn, Slack, Discord, Twitch, GitLab, Bitbucket, Spotify) on a
//! local port, speaking its real wire format and as strict as the real one: it refuses the wrong client
//! authentication method, missing, unwanted or mismatched PKCE, a `redirect_uri` that is not exactly
//! registered or that differs between authorize and token, reused, expired or unknown authorization codes,
//! Apple client secrets that are not a valid ES256 JWT for the client, and GitHub API calls without a
//! `User-Agent`; it answers with the provider's own error shapes (GitHub's HTTP 200 errors, Microsoft's
//! `AADSTS` bodies, Apple's form_post callback). Tests play the user's browser with
//! [`ProviderStandin::authorize`] and steer token refreshes with its counters and knobs (`token_calls`,
//! `fail_next_token_requests`, `set_latency`, `revoke_refresh_token`, `github_app_mode`…).
//! The id_tokens are RS256, signed with the test suite's `tests/fixtures/keys/rs256*.key.pem`.
//! The catalog's providers go through the same authorize and token endpoints, which read their rules from
//! one table of facts.
#![allow(dead_code, reason = "each test uses only some of the stand-in's knobs")]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use poem::http::{HeaderMap, StatusCode};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response, Server};
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod catalog;
use catalog::{Facts, Refusal};
pub use catalog::{SLACK_DEFAULT_TEAM_ID, appsecret_proof, bitbucket_uuid};

/// The `aud` Apple requires in a client-secret JWT.
pub const APPLE_AUDIENCE: &str = "https://appleid.apple.com";
/// How far after its `iat` Apple accepts a client secret's `exp` (about six months).
pub const APPLE_MAX_CLIENT_SECRET_LIFETIME: i64 = 15_777_000;
/// The tenant of a Microsoft user whose `tenant_id` is not set (a work or school tenant).
pub const MICROSOFT_DEFAULT_TENANT_ID: &str = "5d1c1a0e-3b8f-4c59-9c6e-2f4a7b8e9d10";
/// The tenant every personal Microsoft account belongs to.
pub const MICROSOFT_CONSUMERS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// How long an authorization code can be redeemed, unless a test shortens it.
const CODE_LIFETIME: Duration = Duration::from_secs(600);
const GOOGLE_ACCESS_TOKEN_LIFETIME: i64 = 3599;
const APPLE_ACCESS_TOKEN_LIFETIME: i64 = 3600;
/// Entra ID randomises access-token lifetimes between 60 and 90 minutes.
const MICROSOFT_ACCESS_TOKEN_LIFETIMES: std::ops::RangeInclusive<i64> = 3600..=5400;
const GITHUB_APP_ACCESS_TOKEN_LIFETIME: i64 = 28_800;
const GITHUB_APP_REFRESH_TOKEN_LIFETIME: i64 = 15_897_600;
const ID_TOKEN_LIFETIME: i64 = 3600;
const GITHUB_USER_AGENT_REFUSAL: &str = "Request forbidden by administrative rules. Please make sure your request has \
     a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). \
     Check https://githubstatus.com for possible causes.";
const GITHUB_BAD_CLIENT_CREDENTIALS: &str = "The client_id and/or client_secret passed are incorrect.";

/// The id_token signing key, and the one [`ProviderStandin::rotate_signing_key`] switches to.
const SIGNING_KEY_PEMS: [&str; 2] = [
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/rs256.key.pem")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/rs256-next.key.pem")),
];

/// The provider a stand-in plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StandinKind {
    Google,
    Github,
    Apple,
    Microsoft,
    Facebook,
    /// X, configured in hauth as `twitter` (also reached as `x`).
    Twitter,
    Linkedin,
    Slack,
    Discord,
    Twitch,
    Gitlab,
    Bitbucket,
    Spotify,
}

impl StandinKind {
    /// Every provider a stand-in can play.
    pub const ALL: [StandinKind; 13] = [
        StandinKind::Google,
        StandinKind::Github,
        StandinKind::Apple,
        StandinKind::Microsoft,
        StandinKind::Facebook,
        StandinKind::Twitter,
        StandinKind::Linkedin,
        StandinKind::Slack,
        StandinKind::Discord,
        StandinKind::Twitch,
        StandinKind::Gitlab,
        StandinKind::Bitbucket,
        StandinKind::Spotify,
    ];

    /// The provider's id in hauth (`auth.user_providers.provider_id`, the URL segment).
    pub fn id(self) -> &'static str {
        match self {
            StandinKind::Google => "google",
            StandinKind::Github => "github",
            StandinKind::Apple => "apple",
            StandinKind::Microsoft => "microsoft",
            StandinKind::Facebook => "facebook",
            StandinKind::Twitter => "twitter",
            StandinKind::Linkedin => "linkedin",
            StandinKind::Slack => "slack",
            StandinKind::Discord => "discord",
            StandinKind::Twitch => "twitch",
            StandinKind::Gitlab => "gitlab",
            StandinKind::Bitbucket => "bitbucket",
            StandinKind::Spotify => "spotify",
        }
    }

    /// The other names hauth reaches (and a provider registers callbacks for) this provider under.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            StandinKind::Microsoft => &["azuread", "entraid"],
            StandinKind::Twitter => &["x"],
            _ => &[],
        }
    }

    /// The facts of a provider of the [`catalog`]; `None` for Google, GitHub, Apple and Microsoft.
    fn catalog(self) -> Option<&'static Facts> {
        match self {
            StandinKind::Google | StandinKind::Github | StandinKind::Apple | StandinKind::Microsoft => None,
            other => Some(catalog::facts_of(other.id())),
        }
    }

    fn env_prefix(self) -> &'static str {
        match self {
            StandinKind::Google => "AUTH_PROVIDER_GOOGLE_",
            StandinKind::Github => "AUTH_PROVIDER_GITHUB_",
            StandinKind::Apple => "AUTH_PROVIDER_APPLE_",
            StandinKind::Microsoft => "AUTH_PROVIDER_MICROSOFT_",
            other => other.facts().env_prefix,
        }
    }

    fn display_name(self) -> &'static str {
        match self {
            StandinKind::Google => "Google",
            StandinKind::Github => "GitHub",
            StandinKind::Apple => "Apple",
            StandinKind::Microsoft => "Microsoft",
            other => other.facts().display_name,
        }
    }

    /// The catalog facts of a provider the shared code has no arm of its own for.
    fn facts(self) -> &'static Facts {
        self.catalog().expect("Google, GitHub, Apple and Microsoft have their own arms")
    }
}

/// The one OAuth client registered at the stand-in (hauth).
#[derive(Clone, Debug)]
pub struct StandinClient {
    pub client_id: String,
    /// The client secret (Google, GitHub, Microsoft). For Apple: unused (the client secret is an ES256 JWT,
    /// checked with `apple.public_key_pem`).
    pub client_secret: String,
    /// Exact redirect URIs registered for the client (several allowed: hauth has two callback paths).
    pub redirect_uris: Vec<String>,
    /// Apple only: team id, key id, and the public key (PEM, P-256) matching the private key hauth signs its
    /// client secret with.
    pub apple: Option<AppleClientKey>,
}

/// The Sign in with Apple key hauth signs its client secrets with, as Apple knows it.
#[derive(Clone, Debug)]
pub struct AppleClientKey {
    pub team_id: String,
    pub key_id: String,
    pub public_key_pem: String,
}

/// An account at the provider.
#[derive(Clone, Debug, Default)]
pub struct StandinUser {
    /// The provider's user id: Google and Apple `sub`, GitHub's numeric id (as a string), Microsoft's `oid`
    /// (the id_token's `sub` is derived from it pairwise, see [`microsoft_pairwise_sub`]).
    pub id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
    /// Microsoft: the user's home tenant (`tid`); [`MICROSOFT_DEFAULT_TENANT_ID`] when `None`.
    pub tenant_id: Option<String>,
    /// Microsoft: the optional `xms_edov` claim (email domain owner verified).
    pub xms_edov: Option<bool>,
    /// Slack: the user's workspace (`T…`); [`SLACK_DEFAULT_TEAM_ID`] when `None`.
    pub team_id: Option<String>,
    /// Discord: the avatar's hash (`a_…` for an animated one); no avatar when `None`.
    pub avatar_hash: Option<String>,
}

/// Where the provider sends the user's browser after its login and consent pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderRedirect {
    /// A 302 to this URL (the redirect URI with the response in its query or fragment).
    Get(String),
    /// An auto-submitting HTML form (`response_mode=form_post`) posting `fields` to `action`.
    FormPost { action: String, fields: Vec<(String, String)> },
}

impl ProviderRedirect {
    /// A response parameter (`code`, `state`, `user`, `error`…), from the query, the fragment or the form.
    pub fn param(&self, name: &str) -> Option<String> {
        match self {
            ProviderRedirect::Get(location) => {
                let url = url::Url::parse(location).ok()?;
                let from_query = url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned());
                from_query.or_else(|| {
                    let fragment = url.fragment()?;
                    url::form_urlencoded::parse(fragment.as_bytes())
                        .find(|(key, _)| key == name)
                        .map(|(_, value)| value.into_owned())
                })
            }
            ProviderRedirect::FormPost { fields, .. } => {
                fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone())
            }
        }
    }

    /// The redirect URI the response goes to, without the response parameters.
    pub fn redirect_uri(&self) -> String {
        match self {
            ProviderRedirect::Get(location) => {
                let mut url = url::Url::parse(location).expect("the stand-in redirects to absolute URLs");
                url.set_fragment(None);
                let kept: Vec<(String, String)> = url
                    .query_pairs()
                    .filter(|(key, _)| !RESPONSE_PARAMETERS.contains(&key.as_ref()))
                    .map(|(key, value)| (key.into_owned(), value.into_owned()))
                    .collect();
                url.set_query(None);
                if !kept.is_empty() {
                    url.query_pairs_mut().extend_pairs(kept);
                }
                url.to_string()
            }
            ProviderRedirect::FormPost { action, .. } => action.clone(),
        }
    }
}

/// The parameters a provider adds to the redirect URI.
const RESPONSE_PARAMETERS: &[&str] = &[
    "code",
    "state",
    "scope",
    "authuser",
    "prompt",
    "hd",
    "session_state",
    "error",
    "error_description",
    "error_uri",
    "id_token",
    "user",
    "iss",
];

/// What reached the token and revocation endpoints, counted on arrival (refused and failed requests included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenCalls {
    /// `authorization_code` grants.
    pub authorization_code: usize,
    /// `refresh_token` grants, in total.
    pub refresh: usize,
    /// `refresh_token` grants per refresh token presented.
    pub refresh_by_token: HashMap<String, usize>,
    /// Requests to the revocation endpoint.
    pub revocations: usize,
}

/// The pairwise `sub` Microsoft puts in id_tokens for `user_id` (the `oid`) signing in to `client_id`.
pub fn microsoft_pairwise_sub(client_id: &str, user_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{client_id}:{user_id}")))
}

/// A provider on a local port; the server stops when this is dropped.
pub struct ProviderStandin {
    url: String,
    shared: Arc<Shared>,
    /// The user's browser: no redirect following, so each hop is visible.
    browser: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ProviderStandin {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ProviderStandin {
    /// Starts a stand-in for `kind` with `client` registered. Panics on a client the provider could not have
    /// registered (no redirect URI; Apple without a valid P-256 key).
    pub async fn start(kind: StandinKind, client: StandinClient) -> ProviderStandin {
        assert!(!client.redirect_uris.is_empty(), "a provider client needs at least one redirect URI");
        let apple_client_key = match kind {
            StandinKind::Apple => {
                let apple = client.apple.as_ref().expect("an Apple client needs `apple` (team id, key id, public key)");
                Some(DecodingKey::from_ec_pem(apple.public_key_pem.as_bytes()).expect("a P-256 public key in PEM"))
            }
            _ => None,
        };
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind the provider stand-in");
        let address = *acceptor.local_addr()[0].as_socket_addr().expect("a socket address");
        let url = format!("http://{address}");
        let shared = Arc::new(Shared {
            kind,
            base_url: url.clone(),
            client,
            apple_client_key,
            signing_keys: SIGNING_KEY_PEMS.map(SigningKey::from_pem),
            state: Mutex::new(State::new()),
        });
        let served = shared.clone();
        let endpoint = poem::endpoint::make(move |request: Request| {
            let shared = served.clone();
            async move { route(&shared, request).await }
        });
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(endpoint).await;
        });
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a browser for the provider stand-in");
        ProviderStandin { url, shared, browser, server }
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The OpenID issuer the stand-in's id_tokens carry (Microsoft: the discovery template with `{tenantid}`).
    pub fn issuer(&self) -> String {
        match self.shared.kind {
            StandinKind::Microsoft => format!("{}/{{tenantid}}/v2.0", self.url),
            kind => kind.catalog().map_or_else(|| self.url.clone(), |facts| facts.issuer(&self.url)),
        }
    }

    /// The settings that point hauth's provider at this stand-in, as `(name, value)` pairs.
    pub fn env(&self) -> Vec<(String, String)> {
        let base = &self.url;
        let urls: Vec<(&str, String)> = match self.shared.kind {
            StandinKind::Google => vec![
                ("AUTHORIZATION_URL", format!("{base}/o/oauth2/v2/auth")),
                ("TOKEN_URL", format!("{base}/token")),
                ("USER_PROFILE_URL", format!("{base}/v1/userinfo")),
                ("JWKS_URL", format!("{base}/oauth2/v3/certs")),
                ("ISSUER", base.clone()),
                ("REVOCATION_URL", format!("{base}/revoke")),
            ],
            StandinKind::Github => vec![
                ("AUTHORIZATION_URL", format!("{base}/login/oauth/authorize")),
                ("TOKEN_URL", format!("{base}/login/oauth/access_token")),
                ("USER_PROFILE_URL", format!("{base}/user")),
                ("USER_EMAILS_URL", format!("{base}/user/emails")),
                ("REVOCATION_URL", format!("{base}/applications/{}/token", self.shared.client.client_id)),
            ],
            StandinKind::Apple => vec![
                ("AUTHORIZATION_URL", format!("{base}/auth/authorize")),
                ("TOKEN_URL", format!("{base}/auth/token")),
                ("JWKS_URL", format!("{base}/auth/keys")),
                ("ISSUER", base.clone()),
                ("REVOCATION_URL", format!("{base}/auth/revoke")),
            ],
            StandinKind::Microsoft => vec![
                ("AUTHORIZATION_URL", format!("{base}/common/oauth2/v2.0/authorize")),
                ("TOKEN_URL", format!("{base}/common/oauth2/v2.0/token")),
                ("JWKS_URL", format!("{base}/common/discovery/v2.0/keys")),
                ("ISSUER", format!("{base}/{{tenantid}}/v2.0")),
                ("USER_PROFILE_URL", format!("{base}/v1.0/me")),
                ("TENANT", "common".to_string()),
            ],
            kind => kind.facts().env(base),
        };
        let prefix = self.shared.kind.env_prefix();
        urls.into_iter().map(|(name, value)| (format!("{prefix}{name}"), value)).collect()
    }

    /// Adds (or replaces) an account at the provider.
    pub fn add_user(&self, user: StandinUser) {
        if self.shared.kind == StandinKind::Github {
            assert!(user.id.parse::<u64>().is_ok(), "GitHub user ids are integers, not {:?}", user.id);
        }
        self.state().users.insert(user.id.clone(), user);
    }

    /// The user the provider's login page signs in as next (the stand-in's "browser session").
    pub fn sign_in_as(&self, user_id: &str) {
        let mut state = self.state();
        assert!(state.users.contains_key(user_id), "no stand-in user {user_id:?}: add_user first");
        state.signed_in = Some(user_id.to_string());
    }

    /// Ends the browser session: the next authorization meets the login page (or `login_required`).
    pub fn sign_out(&self) {
        self.state().signed_in = None;
    }

    /// Makes the signed-in user refuse the consent screen (`access_denied`; Apple: `user_cancelled_authorize`).
    pub fn deny_consent(&self, deny: bool) {
        self.state().deny_consent = deny;
    }

    /// Plays the user's browser at the provider: GETs `authorize_url` (no redirect following), and returns where
    /// the provider sends the browser next, or `Err` with the provider's refusal: its error page's text, or the
    /// `error: error_description` it redirected with. For Apple the page is an auto-submitting form_post.
    pub async fn authorize(&self, authorize_url: &str) -> Result<ProviderRedirect, String> {
        let redirect = self.authorize_raw(authorize_url).await?;
        match redirect.param("error") {
            Some(error) => {
                Err(format!("{error}: {}", redirect.param("error_description").unwrap_or_default()).trim().to_string())
            }
            None => Ok(redirect),
        }
    }

    /// Like [`authorize`](Self::authorize), but an error sent back to the redirect URI (for instance after
    /// [`deny_consent`](Self::deny_consent)) is returned as the redirect, for hauth's callback to handle.
    pub async fn authorize_raw(&self, authorize_url: &str) -> Result<ProviderRedirect, String> {
        let response =
            self.browser.get(authorize_url).send().await.map_err(|e| format!("provider unreachable: {e}"))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| format!("HTTP {status} without a Location"))?;
            return Ok(ProviderRedirect::Get(location.to_string()));
        }
        let page = response.text().await.map_err(|e| format!("unreadable provider page: {e}"))?;
        if status.is_success()
            && let Some(form) = parse_form_post(&page)
        {
            return Ok(form);
        }
        Err(format!("HTTP {}: {}", status.as_u16(), page_text(&page)))
    }

    /// Counts of token-endpoint and revocation requests so far.
    pub fn token_calls(&self) -> TokenCalls {
        self.state().calls.clone()
    }

    /// The `expires_in` of access tokens issued from now on (GitHub: only in
    /// [`github_app_mode`](Self::github_app_mode), as OAuth App tokens never expire).
    /// Zero or negative issues tokens that are already expired.
    pub fn set_access_token_lifetime(&self, seconds: i64) {
        self.state().access_token_lifetime = Some(seconds);
    }

    /// How long authorization codes issued from now on can be redeemed (10 minutes by default).
    pub fn set_code_lifetime(&self, lifetime: Duration) {
        self.state().code_lifetime = lifetime;
    }

    /// The next `count` token-endpoint requests (either grant) fail with `status` (and `Retry-After` when
    /// given) before anything is checked, so a code or refresh token sent with them stays usable.
    pub fn fail_next_token_requests(&self, count: usize, status: u16, retry_after: Option<u64>) {
        let status = StatusCode::from_u16(status).expect("an HTTP status code");
        self.state().failures = InjectedFailures { remaining: count, status, retry_after };
    }

    /// Revokes a refresh token at the provider (the user removed the app): the next refresh with it gets
    /// `invalid_grant` (GitHub: `bad_refresh_token`). Access tokens already issued keep working.
    pub fn revoke_refresh_token(&self, refresh_token: &str) {
        let mut state = self.state();
        let record = state.refresh_tokens.get_mut(refresh_token).expect("a refresh token this stand-in issued");
        record.revoked = true;
    }

    /// Slack: turns token rotation on (expiring access tokens, refresh tokens that rotate). Spotify: refreshes
    /// answer with a new refresh token (by default they answer with none, and the old one stays).
    pub fn token_rotation(&self, on: bool) {
        assert!(matches!(self.shared.kind, StandinKind::Slack | StandinKind::Spotify), "a Slack or Spotify setting");
        self.state().token_rotation = on;
    }

    /// Revokes every refresh token issued so far (the user removed the app at the provider).
    pub fn revoke_every_refresh_token(&self) {
        for record in self.state().refresh_tokens.values_mut() {
            record.revoked = true;
        }
    }

    /// Delays every token-endpoint answer by `millis`.
    pub fn set_latency(&self, millis: u64) {
        self.state().latency = Duration::from_millis(millis);
    }

    /// GitHub only: behave as a GitHub App with expiring user tokens (`ghu_` tokens for 8 hours, `ghr_`
    /// refresh tokens that rotate: a refresh invalidates the old refresh and access tokens).
    pub fn github_app_mode(&self, on: bool) {
        assert_eq!(self.shared.kind, StandinKind::Github, "github_app_mode is a GitHub setting");
        self.state().github_app_mode = on;
    }

    /// A grant for `user_id` (an account of the stand-in) with `scopes`, as if a code had been redeemed:
    /// returns its access token, living `access_token_lifetime` seconds, and its refresh token. For tests
    /// that need many linked identities without a browser flow each.
    pub fn grant_tokens(&self, user_id: &str, scopes: &[&str], access_token_lifetime: i64) -> (String, String) {
        let kind = self.shared.kind;
        let mut state = self.state();
        assert!(state.users.contains_key(user_id), "no stand-in user {user_id:?}: add_user first");
        let scopes: Vec<String> = scopes.iter().map(|scope| scope.to_string()).collect();
        let grant = state.new_grant(user_id, &scopes);
        let (access_token, refresh_token) = (new_access_token(kind, false), new_refresh_token(kind));
        let expires_at = Some(now_millis() + access_token_lifetime * 1000);
        state
            .access_tokens
            .insert(access_token.clone(), TokenRecord { grant: grant.clone(), expires_at, revoked: false });
        state.refresh_tokens.insert(refresh_token.clone(), TokenRecord { grant, expires_at: None, revoked: false });
        (access_token, refresh_token)
    }

    /// Whether `token` is an access token the stand-in issued that is neither expired, rotated nor revoked.
    pub fn is_access_token_live(&self, token: &str) -> bool {
        let state = self.state();
        state.access_tokens.get(token).is_some_and(|record| record.is_live(now_millis()))
    }

    /// Whether `token` is a refresh token the stand-in issued that is neither expired, rotated nor revoked.
    pub fn is_refresh_token_live(&self, token: &str) -> bool {
        let state = self.state();
        state.refresh_tokens.get(token).is_some_and(|record| record.is_live(now_millis()))
    }

    /// Signs id_tokens with the suite's second RSA key from now on; the JWKS, which published only the first
    /// key until now, publishes both.
    pub fn rotate_signing_key(&self) {
        self.state().signing_key = 1;
    }

    /// An id_token with exactly `claims`, signed with the key in use: what the provider's SDK hands an app on
    /// a device.
    pub fn sign_app_id_token(&self, claims: &Value) -> String {
        let in_use = self.state().signing_key;
        sign_id_token(&self.shared, in_use, claims)
    }

    /// The `kid` of the key id_tokens are signed with now.
    pub fn signing_key_id(&self) -> String {
        let index = self.state().signing_key;
        self.shared.signing_keys[index].kid.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }
}

// ---------------------------------------------------------------------------------------------------------
// State

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl SigningKey {
    fn from_pem(pem: &str) -> SigningKey {
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("an RSA private key in PEM");
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("the RSA key's public half");
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).expect("a JWK thumbprint");
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        SigningKey { kid, encoding, jwk }
    }
}

struct Shared {
    kind: StandinKind,
    base_url: String,
    client: StandinClient,
    /// Apple: the key hauth's client-secret JWTs must verify with.
    apple_client_key: Option<DecodingKey>,
    signing_keys: [SigningKey; 2],
    state: Mutex<State>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PkceMethod {
    Plain,
    S256,
}

#[derive(Clone, Debug)]
struct PkceChallenge {
    challenge: String,
    method: PkceMethod,
}

impl PkceChallenge {
    fn is_met_by(&self, verifier: &str) -> bool {
        match self.method {
            PkceMethod::Plain => verifier == self.challenge,
            PkceMethod::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == self.challenge,
        }
    }
}

/// What an authorization code stands for, fixed at the authorize step.
struct AuthorizationCode {
    user_id: String,
    redirect_uri: String,
    pkce: Option<PkceChallenge>,
    nonce: Option<String>,
    scopes: Vec<String>,
    /// Google: `access_type=offline` at a first consent or with `prompt=consent`; Microsoft: `offline_access`;
    /// Apple: always. GitHub decides at the token endpoint (App mode).
    grants_refresh_token: bool,
    /// Microsoft: the tenant segment of the authorize URL, which the token URL must repeat.
    tenant: Option<String>,
    /// The id_token claims asked for with OpenID's `claims` parameter (Twitch sends only those).
    claims: Vec<String>,
    expires_at: i64,
    redeemed: bool,
}

/// One authorization (a code redemption and its refreshes): what the tokens issued under it share.
#[derive(Clone)]
struct Grant {
    id: u64,
    user_id: String,
    scopes: Vec<String>,
}

/// An issued access or refresh token.
struct TokenRecord {
    grant: Grant,
    /// Milliseconds since the epoch; `None`: never expires (GitHub OAuth App tokens, most refresh tokens).
    expires_at: Option<i64>,
    revoked: bool,
}

impl TokenRecord {
    fn is_live(&self, now: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

#[derive(Clone, Copy)]
struct InjectedFailures {
    remaining: usize,
    status: StatusCode,
    retry_after: Option<u64>,
}

struct State {
    users: HashMap<String, StandinUser>,
    signed_in: Option<String>,
    deny_consent: bool,
    codes: HashMap<String, AuthorizationCode>,
    /// Users who have consented to the client: Google issues a refresh token only at a first consent, Apple
    /// sends the `user` form field only at the first authorization.
    consented: HashSet<String>,
    access_tokens: HashMap<String, TokenRecord>,
    refresh_tokens: HashMap<String, TokenRecord>,
    next_grant_id: u64,
    calls: TokenCalls,
    access_token_lifetime: Option<i64>,
    code_lifetime: Duration,
    failures: InjectedFailures,
    latency: Duration,
    github_app_mode: bool,
    /// Slack's token rotation, Spotify's new refresh tokens ([`ProviderStandin::token_rotation`]).
    token_rotation: bool,
    signing_key: usize,
}

impl State {
    fn new() -> State {
        State {
            users: HashMap::new(),
            signed_in: None,
            deny_consent: false,
            codes: HashMap::new(),
            consented: HashSet::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            next_grant_id: 1,
            calls: TokenCalls::default(),
            access_token_lifetime: None,
            code_lifetime: CODE_LIFETIME,
            failures: InjectedFailures { remaining: 0, status: StatusCode::SERVICE_UNAVAILABLE, retry_after: None },
            latency: Duration::ZERO,
            github_app_mode: false,
            token_rotation: false,
            signing_key: 0,
        }
    }

    fn new_grant(&mut self, user_id: &str, scopes: &[String]) -> Grant {
        let id = self.next_grant_id;
        self.next_grant_id += 1;
        Grant { id, user_id: user_id.to_string(), scopes: scopes.to_vec() }
    }

    /// Revokes every token of the grant (what Google, Apple and GitHub do when one of them is revoked).
    fn revoke_grant(&mut self, grant_id: u64) {
        for record in self.access_tokens.values_mut().filter(|record| record.grant.id == grant_id) {
            record.revoked = true;
        }
        for record in self.refresh_tokens.values_mut().filter(|record| record.grant.id == grant_id) {
            record.revoked = true;
        }
    }
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

fn random_alphanumeric(length: usize) -> String {
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(length).map(char::from).collect()
}

fn random_urlsafe(bytes: usize) -> String {
    let random: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(random)
}

/// Fresh credentials in each provider's recognisable format.
fn new_code(kind: StandinKind) -> String {
    match kind {
        StandinKind::Google => format!("4/0{}", random_urlsafe(54)),
        StandinKind::Github => hex::encode(rand::random::<[u8; 10]>()),
        StandinKind::Apple => format!("c{}.0.{}", hex::encode(rand::random::<[u8; 16]>()), random_alphanumeric(22)),
        StandinKind::Microsoft => format!("1.A{}", random_urlsafe(90)),
        other => other.facts().new_credential(0),
    }
}

fn new_access_token(kind: StandinKind, github_app_mode: bool) -> String {
    match kind {
        StandinKind::Google => format!("ya29.{}", random_urlsafe(120)),
        StandinKind::Github if github_app_mode => format!("ghu_{}", random_alphanumeric(36)),
        StandinKind::Github => format!("gho_{}", random_alphanumeric(36)),
        StandinKind::Apple => format!("a{}.0.{}", hex::encode(rand::random::<[u8; 16]>()), random_alphanumeric(22)),
        StandinKind::Microsoft => format!("EwB{}", random_urlsafe(180)),
        other => other.facts().new_credential(1),
    }
}

fn new_refresh_token(kind: StandinKind) -> String {
    match kind {
        StandinKind::Google => format!("1//0{}", random_urlsafe(75)),
        StandinKind::Github => format!("ghr_{}", random_alphanumeric(76)),
        StandinKind::Apple => format!("r{}.0.{}", hex::encode(rand::random::<[u8; 16]>()), random_alphanumeric(22)),
        StandinKind::Microsoft => format!("1.A{}", random_urlsafe(240)),
        other => other.facts().new_credential(2),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Requests

/// A request read in full.
struct Incoming {
    method: String,
    path: String,
    query: Params,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Incoming {
    async fn read(request: Request) -> Incoming {
        let method = request.method().as_str().to_string();
        let path = request.uri().path().to_string();
        let query = Params::parse(request.uri().query().unwrap_or_default().as_bytes());
        let headers = request.headers().clone();
        let body = request.into_body().into_vec().await.unwrap_or_default();
        Incoming { method, path, query, headers, body }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The form-encoded body; `None` when the body is in another encoding.
    fn form(&self) -> Option<Params> {
        let content_type = self.header("content-type").unwrap_or_default();
        content_type.starts_with("application/x-www-form-urlencoded").then(|| Params::parse(&self.body))
    }

    /// `Authorization: Basic`: the client id and secret, each form-urlencoded as RFC 6749 §2.3.1 says.
    fn basic_credentials(&self) -> Option<Result<(String, String), ()>> {
        let encoded = self.header("authorization")?.strip_prefix("Basic ")?;
        let decoded = STANDARD.decode(encoded.trim()).ok().and_then(|bytes| String::from_utf8(bytes).ok());
        let Some((id, secret)) = decoded.as_deref().and_then(|text| text.split_once(':')) else {
            return Some(Err(()));
        };
        Some(Ok((form_decode(id), form_decode(secret))))
    }

    /// The bearer token of an API call (GitHub also takes the `token` scheme).
    fn bearer_token(&self, also_token_scheme: bool) -> Option<&str> {
        let header = self.header("authorization")?;
        let (scheme, token) = header.split_once(' ')?;
        let accepted =
            scheme.eq_ignore_ascii_case("bearer") || (also_token_scheme && scheme.eq_ignore_ascii_case("token"));
        accepted.then(|| token.trim())
    }
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// Request parameters in order, duplicates kept (so they can be refused).
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(encoded: &[u8]) -> Params {
        Params(url::form_urlencoded::parse(encoded).into_owned().collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// A parameter sent more than once, which RFC 6749 §3.1 forbids.
    fn repeated(&self) -> Option<&str> {
        let mut seen = HashSet::new();
        self.0.iter().map(|(key, _)| key.as_str()).find(|key| !seen.insert(*key))
    }
}

async fn route(shared: &Arc<Shared>, request: Request) -> Response {
    let incoming = Incoming::read(request).await;
    let path = incoming.path.clone();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = incoming.method.as_str();
    if let Some(facts) = shared.kind.catalog() {
        return catalog::route(shared, facts, &incoming).await;
    }
    match (shared.kind, method, segments.as_slice()) {
        (StandinKind::Google, "GET", ["o", "oauth2", "v2", "auth"])
        | (StandinKind::Github, "GET", ["login", "oauth", "authorize"])
        | (StandinKind::Apple, "GET", ["auth", "authorize"]) => authorize(shared, &incoming, None),
        (StandinKind::Microsoft, "GET", [tenant, "oauth2", "v2.0", "authorize"]) => {
            authorize(shared, &incoming, Some(*tenant))
        }
        (StandinKind::Google, "POST", ["token"])
        | (StandinKind::Github, "POST", ["login", "oauth", "access_token"])
        | (StandinKind::Apple, "POST", ["auth", "token"]) => token_endpoint(shared, &incoming, None).await,
        (StandinKind::Microsoft, "POST", [tenant, "oauth2", "v2.0", "token"]) => {
            token_endpoint(shared, &incoming, Some(*tenant)).await
        }
        (StandinKind::Google, "GET", ["oauth2", "v3", "certs"]) | (StandinKind::Apple, "GET", ["auth", "keys"]) => {
            jwks(shared)
        }
        (StandinKind::Microsoft, "GET", [tenant, "discovery", "v2.0", "keys"]) if microsoft_tenant_is_valid(tenant) => {
            jwks(shared)
        }
        (StandinKind::Google | StandinKind::Apple, "GET", [".well-known", "openid-configuration"]) => {
            json_response(StatusCode::OK, discovery_document(shared, None))
        }
        (StandinKind::Microsoft, "GET", [tenant, "v2.0", ".well-known", "openid-configuration"])
            if microsoft_tenant_is_valid(tenant) =>
        {
            json_response(StatusCode::OK, discovery_document(shared, Some(tenant)))
        }
        (StandinKind::Google, "GET" | "POST", ["v1", "userinfo"]) => google_userinfo(shared, &incoming),
        (StandinKind::Google, "POST", ["revoke"]) => google_revoke(shared, &incoming),
        (StandinKind::Github, "GET", ["user"]) => github_api(shared, &incoming, GithubResource::User),
        (StandinKind::Github, "GET", ["user", "emails"]) => github_api(shared, &incoming, GithubResource::Emails),
        (StandinKind::Github, "DELETE", ["applications", client_id, what @ ("token" | "grant")]) => {
            github_revoke(shared, &incoming, client_id, *what == "grant")
        }
        (StandinKind::Apple, "POST", ["auth", "revoke"]) => apple_revoke(shared, &incoming),
        (StandinKind::Microsoft, "GET", ["v1.0", "me"]) => microsoft_me(shared, &incoming),
        (StandinKind::Microsoft, "GET" | "POST", ["oidc", "userinfo"]) => microsoft_userinfo(shared, &incoming),
        _ => not_found(shared.kind),
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    Response::builder().status(status).content_type("application/json; charset=utf-8").body(body.to_string())
}

fn not_found(kind: StandinKind) -> Response {
    match kind {
        StandinKind::Github => json_response(
            StatusCode::NOT_FOUND,
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
        ),
        _ => Response::builder().status(StatusCode::NOT_FOUND).content_type("text/html").body(
            "<!DOCTYPE html><html><head><title>Error 404 (Not Found)</title></head><body><p>The requested URL was not \
             found on this server.</p></body></html>",
        ),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Authorize

#[derive(Clone, Copy, PartialEq, Eq)]
enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// Where an authorization response (or a redirected error) goes.
struct SendBack {
    redirect_uri: String,
    mode: ResponseMode,
    state: Option<String>,
}

/// The provider's own error page, shown instead of redirecting when the client or its redirect URI cannot
/// be trusted (and, for Google and Apple, for any malformed request).
fn error_page(kind: StandinKind, error: &str, description: &str) -> Response {
    let provider = kind.display_name();
    let page = format!(
        "<!DOCTYPE html><html><head><title>{provider}: Error 400</title></head><body><h1>{}</h1><p>Error 400: {}</p>\
         <p>{}</p></body></html>",
        escape_html(&format!("{provider} sign-in: this request is invalid")),
        escape_html(error),
        escape_html(description),
    );
    Response::builder().status(StatusCode::BAD_REQUEST).content_type("text/html; charset=utf-8").body(page)
}

/// The login page, shown when no user is signed in at the stand-in.
fn login_page(kind: StandinKind) -> Response {
    let page = format!(
        "<!DOCTYPE html><html><head><title>Sign in</title></head><body><p>Sign in to {} (no user is signed in \
         at the provider stand-in: call sign_in_as)</p></body></html>",
        kind.display_name()
    );
    Response::builder().status(StatusCode::OK).content_type("text/html; charset=utf-8").body(page)
}

/// Sends `fields` to the redirect URI: a 302 with the query or fragment, or an auto-submitting form.
fn send_back(target: &SendBack, mut fields: Vec<(String, String)>) -> Response {
    if let Some(state) = &target.state {
        fields.push(("state".to_string(), state.clone()));
    }
    match target.mode {
        ResponseMode::Query => {
            let mut url = url::Url::parse(&target.redirect_uri).expect("a registered redirect URI is a URL");
            url.query_pairs_mut().extend_pairs(&fields);
            Response::builder().status(StatusCode::FOUND).header("location", url.to_string()).finish()
        }
        ResponseMode::Fragment => {
            let fragment = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
            let location = format!("{}#{fragment}", target.redirect_uri);
            Response::builder().status(StatusCode::FOUND).header("location", location).finish()
        }
        ResponseMode::FormPost => {
            let inputs: String = fields
                .iter()
                .map(|(name, value)| {
                    format!(
                        "<input type=\"hidden\" name=\"{}\" value=\"{}\"/>\n",
                        escape_html(name),
                        escape_html(value)
                    )
                })
                .collect();
            let page = format!(
                "<!DOCTYPE html>\n<html><head><title>Submit This Form</title></head>\n\
                 <body onload=\"javascript:document.forms[0].submit()\">\n\
                 <form method=\"post\" action=\"{}\">\n{inputs}</form>\n</body></html>\n",
                escape_html(&target.redirect_uri)
            );
            Response::builder()
                .status(StatusCode::OK)
                .content_type("text/html; charset=utf-8")
                .header("cache-control", "no-store")
                .body(page)
        }
    }
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('\'', "&#39;").replace('<', "&lt;").replace('>', "&gt;")
}

fn unescape_html(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The form of a form_post page, as the browser would submit it.
fn parse_form_post(page: &str) -> Option<ProviderRedirect> {
    const INPUT: &str = "<input type=\"hidden\" name=\"";
    let form_start = page.find("<form method=\"post\" action=\"")? + "<form method=\"post\" action=\"".len();
    let action_end = form_start + page[form_start..].find('"')?;
    let action = unescape_html(&page[form_start..action_end]);
    let mut fields = Vec::new();
    let mut rest = &page[action_end..];
    while let Some(start) = rest.find(INPUT) {
        rest = &rest[start + INPUT.len()..];
        let name_end = rest.find('"')?;
        let name = unescape_html(&rest[..name_end]);
        rest = rest[name_end..].strip_prefix("\" value=\"")?;
        let value_end = rest.find('"')?;
        fields.push((name, unescape_html(&rest[..value_end])));
        rest = &rest[value_end..];
    }
    Some(ProviderRedirect::FormPost { action, fields })
}

/// A page's visible text, for error messages.
fn page_text(page: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for character in page.chars() {
        match character {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => text.push(character),
            _ => {}
        }
    }
    unescape_html(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn microsoft_tenant_is_valid(tenant: &str) -> bool {
    matches!(tenant, "common" | "organizations" | "consumers")
        || (tenant.len() == 36 && uuid::Uuid::try_parse(tenant).is_ok())
}

fn microsoft_user_tenant(user: &StandinUser) -> String {
    user.tenant_id.clone().unwrap_or_else(|| MICROSOFT_DEFAULT_TENANT_ID.to_string())
}

/// Whether a user of `user_tenant` may sign in through the `/{path_tenant}/` endpoints.
fn microsoft_tenant_admits(path_tenant: &str, user_tenant: &str) -> bool {
    match path_tenant {
        "common" => true,
        "consumers" => user_tenant == MICROSOFT_CONSUMERS_TENANT_ID,
        "organizations" => user_tenant != MICROSOFT_CONSUMERS_TENANT_ID,
        guid => guid.eq_ignore_ascii_case(user_tenant),
    }
}

fn is_unreserved(text: &str) -> bool {
    text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

/// Checks an authorization request and answers with the provider's redirect, form_post page, login page or
/// error page.
fn authorize(shared: &Shared, incoming: &Incoming, tenant: Option<&str>) -> Response {
    let kind = shared.kind;
    let params = &incoming.query;
    let client = &shared.client;

    // Refusals before the redirect URI is trusted: the provider's error page, never a redirect.
    if let Some(tenant) = tenant
        && !microsoft_tenant_is_valid(tenant)
    {
        return error_page(
            kind,
            "invalid_tenant",
            &format!("AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."),
        );
    }
    if let Some(name) = params.repeated() {
        return error_page(kind, "invalid_request", &format!("Parameter not allowed more than once: {name}"));
    }
    let Some(client_id) = params.get("client_id") else {
        return error_page(kind, "invalid_request", "Missing required parameter: client_id");
    };
    if client_id != client.client_id {
        let description = match kind {
            StandinKind::Microsoft => {
                format!("AADSTS700016: Application with identifier '{client_id}' was not found in the directory.")
            }
            _ => "The OAuth client was not found.".to_string(),
        };
        return error_page(kind, "invalid_client", &description);
    }
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) => uri.to_string(),
        // GitHub falls back to the app's callback URL; the others require the parameter.
        None if kind == StandinKind::Github => client.redirect_uris[0].clone(),
        None => return error_page(kind, "invalid_request", "Missing required parameter: redirect_uri"),
    };
    if !client.redirect_uris.contains(&redirect_uri) {
        let (error, description) = match kind {
            StandinKind::Google => (
                "redirect_uri_mismatch",
                format!(
                    "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. \
                     redirect_uri={redirect_uri}"
                ),
            ),
            StandinKind::Github => {
                ("redirect_uri_mismatch", "The redirect_uri is not associated with this application.".to_string())
            }
            StandinKind::Apple => ("invalid_request", "Invalid web redirect url.".to_string()),
            StandinKind::Microsoft => (
                "invalid_request",
                format!(
                    "AADSTS50011: The redirect URI '{redirect_uri}' specified in the request does not match the \
                     redirect URIs configured for the application '{client_id}'."
                ),
            ),
            other => ("redirect_uri_mismatch", other.facts().redirect_mismatch.to_string()),
        };
        return error_page(kind, error, &description);
    }

    // GitHub also takes comma-separated scopes.
    let separators: &[char] = if kind == StandinKind::Github { &[' ', ','] } else { &[' '] };
    let scopes: Vec<String> = params
        .get("scope")
        .unwrap_or_default()
        .split(separators)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let catalog = kind.catalog();
    let response_type = params.get("response_type").unwrap_or_default();
    let mode = match params.get("response_mode") {
        None => Ok(ResponseMode::Query),
        Some("query") => Ok(ResponseMode::Query),
        Some("fragment") => Ok(ResponseMode::Fragment),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(other) => Err(format!("Invalid response_mode: {other}")),
    };
    let target = SendBack {
        redirect_uri: redirect_uri.clone(),
        // Only Apple and Microsoft take a response_mode: the others answer in the query.
        mode: match kind {
            StandinKind::Apple | StandinKind::Microsoft => *mode.as_ref().unwrap_or(&ResponseMode::Query),
            _ => ResponseMode::Query,
        },
        state: params.get("state").map(str::to_string),
    };
    // Refusals after it: Google and Apple show an error page; the others redirect with the error.
    let refuse = |error: &str, description: &str| match kind {
        StandinKind::Google | StandinKind::Apple => error_page(kind, error, description),
        _ => send_back(
            &target,
            vec![("error".to_string(), error.to_string()), ("error_description".to_string(), description.to_string())],
        ),
    };

    if let (StandinKind::Apple | StandinKind::Microsoft, Err(description)) = (kind, &mode) {
        return refuse("invalid_request", description);
    }
    let mode = target.mode;
    match kind {
        StandinKind::Github => {}
        StandinKind::Apple => {
            if !matches!(response_type, "code" | "code id_token") {
                return refuse("unsupported_response_type", "Invalid response_type.");
            }
            if let Some(unknown) = scopes.iter().find(|s| !matches!(s.as_str(), "name" | "email" | "openid")) {
                return refuse("invalid_scope", &format!("Invalid scope: {unknown}"));
            }
            if scopes.iter().any(|s| s != "openid") && mode != ResponseMode::FormPost {
                return refuse(
                    "invalid_request",
                    "response_mode must be form_post when name or email scope is requested.",
                );
            }
        }
        StandinKind::Google | StandinKind::Microsoft => {
            if response_type != "code" {
                let description = match kind {
                    StandinKind::Microsoft => {
                        "AADSTS700054: response_type is not supported for the application or must be 'code'."
                    }
                    _ => "Invalid response_type: must be code",
                };
                return refuse("unsupported_response_type", description);
            }
            if scopes.is_empty() {
                let description = match kind {
                    StandinKind::Microsoft => {
                        "AADSTS900144: The request body must contain the following parameter: 'scope'."
                    }
                    _ => "Missing required parameter: scope",
                };
                return refuse("invalid_request", description);
            }
        }
        _ => {
            if let Err((error, description)) = catalog::check_authorize(kind.facts(), params, &scopes) {
                return refuse(&error, &description);
            }
        }
    }

    let (challenge, challenge_method) = (params.get("code_challenge"), params.get("code_challenge_method"));
    let pkce_ignored = match catalog.map(|facts| catalog::pkce_at_authorize(facts, challenge, challenge_method)) {
        Some(Err(description)) => return refuse("invalid_request", &description),
        Some(Ok(checked)) => !checked,
        None => false,
    };
    let s256_only = kind == StandinKind::Github || catalog.is_some_and(catalog::s256_only);
    let pkce = match (kind, challenge, challenge_method) {
        // Apple documents no PKCE and ignores the parameters (as do Bitbucket, Twitch and LinkedIn's web apps).
        (StandinKind::Apple, _, _) => None,
        _ if pkce_ignored => None,
        (_, None, None) => None,
        (_, None, Some(_)) => {
            return refuse("invalid_request", "code_challenge_method was sent without code_challenge");
        }
        (_, Some(challenge), method) => {
            let method = match (s256_only, method) {
                (_, Some("S256")) => PkceMethod::S256,
                (true, _) => {
                    return refuse("invalid_request", "code_challenge_method must be S256 (plain is not supported)");
                }
                (_, Some("plain") | None) => PkceMethod::Plain,
                (_, Some(other)) => {
                    return refuse("invalid_request", &format!("Invalid code_challenge_method: {other}"));
                }
            };
            let well_formed = match method {
                PkceMethod::S256 => {
                    challenge.len() == 43 && is_unreserved(challenge) && !challenge.contains(['.', '~'])
                }
                // Google takes verifiers shorter than RFC 7636's 43 characters.
                PkceMethod::Plain if kind == StandinKind::Google => {
                    (1..=128).contains(&challenge.len()) && is_unreserved(challenge)
                }
                PkceMethod::Plain => (43..=128).contains(&challenge.len()) && is_unreserved(challenge),
            };
            if !well_formed {
                return refuse("invalid_request", "Invalid code_challenge");
            }
            Some(PkceChallenge { challenge: challenge.to_string(), method })
        }
    };

    let access_type = params.get("access_type");
    if kind == StandinKind::Google && !matches!(access_type, None | Some("online" | "offline")) {
        return refuse("invalid_request", "Invalid access_type: must be online or offline");
    }
    let prompt: Vec<&str> = params.get("prompt").unwrap_or_default().split(' ').filter(|p| !p.is_empty()).collect();

    let mut state = shared.state.lock().unwrap();
    let Some(user_id) = state.signed_in.clone() else {
        if prompt.contains(&"none") {
            let description = "The user is not signed in at the provider and prompt=none was sent.";
            return send_back(
                &target,
                vec![
                    ("error".to_string(), "login_required".to_string()),
                    ("error_description".to_string(), description.to_string()),
                ],
            );
        }
        return login_page(kind);
    };
    let user = state.users.get(&user_id).cloned().expect("the signed-in user exists");
    if let Some(tenant) = tenant {
        let user_tenant = microsoft_user_tenant(&user);
        if !microsoft_tenant_admits(tenant, &user_tenant) {
            return error_page(
                kind,
                "invalid_request",
                &format!(
                    "AADSTS50020: User account '{}' from identity provider tenant '{user_tenant}' does not exist in \
                     tenant '{tenant}' and cannot access the application '{client_id}' in that tenant.",
                    user.email.as_deref().unwrap_or(&user.id)
                ),
            );
        }
    }
    if state.deny_consent {
        let error = if kind == StandinKind::Apple { "user_cancelled_authorize" } else { "access_denied" };
        drop(state);
        return send_back(
            &target,
            vec![
                ("error".to_string(), error.to_string()),
                ("error_description".to_string(), "The user denied the request.".to_string()),
            ],
        );
    }

    let first_consent = state.consented.insert(user_id.clone());
    let grants_refresh_token = match kind {
        StandinKind::Google => access_type == Some("offline") && (first_consent || prompt.contains(&"consent")),
        StandinKind::Microsoft => scopes.iter().any(|s| s == "offline_access"),
        StandinKind::Apple => true,
        StandinKind::Github => false,
        other => other.facts().code_grants_refresh_token(&scopes, &state),
    };
    // Bitbucket's scopes are fixed on the consumer, whatever was asked.
    let scopes = match catalog.and_then(|facts| facts.fixed_scopes) {
        Some(fixed) => fixed.iter().map(|s| s.to_string()).collect(),
        None => scopes,
    };
    let code = new_code(kind);
    let expires_at = now_millis() + i64::try_from(state.code_lifetime.as_millis()).unwrap_or(i64::MAX);
    let nonce = params.get("nonce").map(str::to_string);
    state.codes.insert(
        code.clone(),
        AuthorizationCode {
            user_id: user_id.clone(),
            redirect_uri: redirect_uri.clone(),
            pkce,
            nonce: nonce.clone(),
            scopes: scopes.clone(),
            grants_refresh_token,
            tenant: tenant.map(str::to_string),
            claims: catalog::requested_claims(params).unwrap_or_default(),
            expires_at,
            redeemed: false,
        },
    );
    let signing_key = state.signing_key;
    drop(state);

    let mut fields = vec![("code".to_string(), code)];
    match kind {
        StandinKind::Google => {
            fields.push(("scope".to_string(), google_scope_string(&scopes)));
            fields.push(("authuser".to_string(), "0".to_string()));
            fields.push(("prompt".to_string(), if first_consent { "consent" } else { "none" }.to_string()));
        }
        StandinKind::Microsoft => fields.push(("session_state".to_string(), uuid::Uuid::new_v4().to_string())),
        StandinKind::Apple => {
            if response_type == "code id_token" {
                let claims = id_token_claims(shared, &user, &scopes, nonce.as_deref(), None);
                fields.push(("id_token".to_string(), sign_id_token(shared, signing_key, &claims)));
            }
            let wants_name = scopes.iter().any(|s| s == "name");
            let wants_email = scopes.iter().any(|s| s == "email");
            if first_consent && (wants_name || wants_email) {
                fields.push(("user".to_string(), apple_user_field(&user, wants_name, wants_email)));
            }
        }
        _ => {}
    }
    send_back(&target, fields)
}

/// Apple's one-time `user` form field: `{"name":{"firstName","lastName"},"email"}`.
fn apple_user_field(user: &StandinUser, with_name: bool, with_email: bool) -> String {
    let mut field = serde_json::Map::new();
    if with_name {
        let name = user.name.clone().unwrap_or_default();
        let (first, last) = name.split_once(' ').unwrap_or((name.as_str(), ""));
        field.insert("name".to_string(), json!({"firstName": first, "lastName": last}));
    }
    if with_email && let Some(email) = &user.email {
        field.insert("email".to_string(), json!(email));
    }
    Value::Object(field).to_string()
}

/// Google answers with its full scope URLs for the `email` and `profile` shorthands.
fn google_scope_string(scopes: &[String]) -> String {
    scopes
        .iter()
        .map(|scope| match scope.as_str() {
            "email" => "https://www.googleapis.com/auth/userinfo.email",
            "profile" => "https://www.googleapis.com/auth/userinfo.profile",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------------------
// Token endpoint

/// A refusal at the token endpoint, rendered in the provider's shape by [`token_error_response`].
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// Microsoft's `AADSTS` number.
    aadsts: u32,
}

impl TokenError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> TokenError {
        TokenError { status, error, description: description.into(), aadsts: 0 }
    }

    fn aadsts(mut self, code: u32) -> TokenError {
        self.aadsts = code;
        self
    }
}

fn bad_request(error: &'static str, description: impl Into<String>) -> TokenError {
    TokenError::new(StatusCode::BAD_REQUEST, error, description)
}

/// A token-endpoint answer, which must not be cached.
fn no_store(content_type: &str, body: String) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type(content_type)
        .header("cache-control", "no-store")
        .header("pragma", "no-cache")
        .body(body)
}

/// Whether a GitHub client asked for JSON; GitHub answers form-encoded otherwise.
fn wants_json(incoming: &Incoming) -> bool {
    incoming.header("accept").is_some_and(|accept| accept.contains("application/json"))
}

fn github_body(incoming: &Incoming, fields: &[(&str, Value)]) -> Response {
    if wants_json(incoming) {
        let object: serde_json::Map<String, Value> =
            fields.iter().map(|(name, value)| (name.to_string(), value.clone())).collect();
        return no_store("application/json; charset=utf-8", Value::Object(object).to_string());
    }
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        match value {
            Value::String(text) => form.append_pair(name, text),
            other => form.append_pair(name, &other.to_string()),
        };
    }
    no_store("application/x-www-form-urlencoded; charset=utf-8", form.finish())
}

fn token_error_response(kind: StandinKind, incoming: &Incoming, error: TokenError) -> Response {
    if let Some(facts) = kind.catalog() {
        return catalog::error_response(facts, error);
    }
    match kind {
        // GitHub answers errors with HTTP 200.
        StandinKind::Github => github_body(
            incoming,
            &[
                ("error", json!(error.error)),
                ("error_description", json!(error.description)),
                ("error_uri", json!(github_error_uri(error.error))),
            ],
        ),
        StandinKind::Apple if error.description.is_empty() => {
            json_response(error.status, json!({"error": error.error}))
        }
        StandinKind::Google | StandinKind::Apple => {
            json_response(error.status, json!({"error": error.error, "error_description": error.description}))
        }
        _ => {
            let trace_id = uuid::Uuid::new_v4();
            let correlation_id = uuid::Uuid::new_v4();
            let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
            json_response(
                error.status,
                json!({
                    "error": error.error,
                    "error_description": format!(
                        "AADSTS{}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}",
                        error.aadsts, error.description
                    ),
                    "error_codes": [error.aadsts],
                    "timestamp": timestamp,
                    "trace_id": trace_id,
                    "correlation_id": correlation_id,
                    "error_uri": format!("https://login.microsoftonline.com/error?code={}", error.aadsts),
                }),
            )
        }
    }
}

fn github_error_uri(error: &str) -> String {
    let anchor = error.replace('_', "-");
    format!(
        "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/\
         #{anchor}"
    )
}

async fn token_endpoint(shared: &Shared, incoming: &Incoming, tenant: Option<&str>) -> Response {
    let kind = shared.kind;
    let form = incoming.form();
    let grant_type = form.as_ref().and_then(|form| form.get("grant_type")).unwrap_or_default().to_string();
    let (failure, latency) = {
        let mut state = shared.state.lock().unwrap();
        let field = |name: &str| form.as_ref().and_then(|form| form.get(name));
        match grant_type.as_str() {
            "refresh_token" => {
                state.calls.refresh += 1;
                if let Some(refresh_token) = field("refresh_token") {
                    *state.calls.refresh_by_token.entry(refresh_token.to_string()).or_default() += 1;
                }
            }
            "authorization_code" => state.calls.authorization_code += 1,
            "" if kind == StandinKind::Github && field("code").is_some() => state.calls.authorization_code += 1,
            _ => {}
        }
        let failure = (state.failures.remaining > 0).then(|| {
            state.failures.remaining -= 1;
            state.failures
        });
        (failure, state.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(failure) = failure {
        return injected_failure(kind, failure);
    }
    let Some(form) = form else {
        return token_error_response(
            kind,
            incoming,
            bad_request("invalid_request", "The request body must be application/x-www-form-urlencoded.")
                .aadsts(900144),
        );
    };
    let result = match form.repeated() {
        Some(name) => {
            Err(bad_request("invalid_request", format!("Parameter not allowed more than once: {name}")).aadsts(9002313))
        }
        None => authenticate_client(shared, incoming, &form).and_then(|()| {
            match (kind, grant_type.as_str()) {
                (_, "authorization_code") => redeem_code(shared, incoming, &form, tenant),
                // GitHub does not require grant_type for the code exchange.
                (StandinKind::Github, "") if form.get("code").is_some() => redeem_code(shared, incoming, &form, tenant),
                (_, "refresh_token") => refresh(shared, incoming, &form),
                (_, "") => Err(bad_request("invalid_request", "Missing required parameter: grant_type").aadsts(900144)),
                (_, other) => {
                    Err(bad_request("unsupported_grant_type", format!("Invalid grant_type: {other}")).aadsts(70003))
                }
            }
        }),
    };
    result.unwrap_or_else(|error| token_error_response(kind, incoming, error))
}

fn injected_failure(kind: StandinKind, failure: InjectedFailures) -> Response {
    let body = match kind {
        StandinKind::Github => json!({"message": failure.status.canonical_reason().unwrap_or("Unavailable")}),
        _ => {
            json!({"error": "temporarily_unavailable", "error_description": "The service is temporarily unavailable."})
        }
    };
    let mut builder = Response::builder().status(failure.status).content_type("application/json; charset=utf-8");
    if let Some(seconds) = failure.retry_after {
        builder = builder.header("retry-after", seconds.to_string());
    }
    builder.body(body.to_string())
}

/// Checks the client's credentials, sent the way this provider accepts them.
fn authenticate_client(shared: &Shared, incoming: &Incoming, form: &Params) -> Result<(), TokenError> {
    let kind = shared.kind;
    if let Some(facts) = kind.catalog() {
        return catalog::authenticate_client(shared, facts, incoming, form);
    }
    let client = &shared.client;
    let basic = incoming.basic_credentials();
    let body_id = form.get("client_id");
    let body_secret = form.get("client_secret");
    if kind == StandinKind::Apple {
        if basic.is_some() {
            return Err(bad_request("invalid_client", ""));
        }
        if body_id != Some(client.client_id.as_str()) {
            return Err(bad_request("invalid_client", ""));
        }
        return verify_apple_client_secret(shared, body_secret.unwrap_or_default());
    }
    let unauthorized = |description: &str| TokenError::new(StatusCode::UNAUTHORIZED, "invalid_client", description);
    let (id, secret) = match (basic, body_secret) {
        (Some(Err(())), _) => {
            return Err(match kind {
                StandinKind::Github => bad_request("incorrect_client_credentials", GITHUB_BAD_CLIENT_CREDENTIALS),
                _ => unauthorized("Malformed Authorization header").aadsts(7000215),
            });
        }
        (Some(Ok(_)), Some(_)) if kind != StandinKind::Github => {
            return Err(bad_request(
                "invalid_request",
                "The client authenticated with more than one method (Authorization header and client_secret).",
            )
            .aadsts(9002313));
        }
        (Some(Ok((id, secret))), _) => {
            if body_id.is_some_and(|body_id| body_id != id) {
                return Err(bad_request("invalid_request", "client_id does not match the Authorization header.")
                    .aadsts(9002313));
            }
            (id, secret)
        }
        (None, Some(secret)) => match body_id {
            Some(id) => (id.to_string(), secret.to_string()),
            None => {
                return Err(
                    bad_request("invalid_request", "Could not determine client ID from request.").aadsts(900144)
                );
            }
        },
        (None, None) => {
            return Err(match (kind, body_id) {
                (StandinKind::Github, _) => bad_request("incorrect_client_credentials", GITHUB_BAD_CLIENT_CREDENTIALS),
                (StandinKind::Microsoft, Some(_)) => bad_request(
                    "invalid_client",
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                )
                .aadsts(7000218),
                (_, Some(_)) => bad_request("invalid_request", "client_secret is missing."),
                (_, None) => {
                    bad_request("invalid_request", "Could not determine client ID from request.").aadsts(900144)
                }
            });
        }
    };
    if id != client.client_id {
        return Err(match kind {
            StandinKind::Github => bad_request("incorrect_client_credentials", GITHUB_BAD_CLIENT_CREDENTIALS),
            StandinKind::Microsoft => bad_request(
                "unauthorized_client",
                format!("Application with identifier '{id}' was not found in the directory."),
            )
            .aadsts(700016),
            _ => unauthorized("The OAuth client was not found."),
        });
    }
    if secret != client.client_secret {
        return Err(match kind {
            StandinKind::Github => bad_request("incorrect_client_credentials", GITHUB_BAD_CLIENT_CREDENTIALS),
            StandinKind::Microsoft => unauthorized(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret \
                 value, not the client secret ID, for a secret added to app.",
            )
            .aadsts(7000215),
            _ => unauthorized("Unauthorized"),
        });
    }
    Ok(())
}

/// Apple's client secret: an ES256 JWT by the client's key, `iss` the team, `sub` the client, `aud` Apple,
/// issued in the past, not expired, and not valid for more than about six months.
fn verify_apple_client_secret(shared: &Shared, secret: &str) -> Result<(), TokenError> {
    let refuse = || bad_request("invalid_client", "");
    let apple = shared.client.apple.as_ref().ok_or_else(refuse)?;
    let key = shared.apple_client_key.as_ref().ok_or_else(refuse)?;
    let header = jsonwebtoken::decode_header(secret).map_err(|_| refuse())?;
    if header.alg != Algorithm::ES256 || header.kid.as_deref() != Some(apple.key_id.as_str()) {
        return Err(refuse());
    }
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(secret, key, &validation).map_err(|_| refuse())?.claims;
    let now = now_seconds();
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(refuse());
    };
    let audience_is_apple = match &claims["aud"] {
        Value::String(aud) => aud == APPLE_AUDIENCE,
        Value::Array(auds) => auds.len() == 1 && auds[0] == APPLE_AUDIENCE,
        _ => false,
    };
    let valid = claims["iss"] == apple.team_id.as_str()
        && claims["sub"] == shared.client.client_id.as_str()
        && audience_is_apple
        && iat <= now
        && exp > now
        && exp - iat <= APPLE_MAX_CLIENT_SECRET_LIFETIME
        && exp - now <= APPLE_MAX_CLIENT_SECRET_LIFETIME;
    if valid { Ok(()) } else { Err(refuse()) }
}

fn invalid_code(kind: StandinKind, reused: bool) -> TokenError {
    match kind {
        StandinKind::Google if reused => bad_request("invalid_grant", "Bad Request"),
        StandinKind::Google => bad_request("invalid_grant", "Malformed auth code."),
        StandinKind::Github => bad_request("bad_verification_code", "The code passed is incorrect or expired."),
        StandinKind::Apple => bad_request("invalid_grant", "The code has expired or has been revoked."),
        StandinKind::Microsoft if reused => bad_request(
            "invalid_grant",
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing \
             refresh token.",
        )
        .aadsts(54005),
        StandinKind::Microsoft => bad_request(
            "invalid_grant",
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive \
             authorization request for this user and resource.",
        )
        .aadsts(70008),
        other => catalog::refusal(other.facts(), if reused { Refusal::ReusedCode } else { Refusal::BadCode }),
    }
}

fn redirect_uri_mismatch(kind: StandinKind) -> TokenError {
    match kind {
        StandinKind::Google => bad_request("redirect_uri_mismatch", "Bad Request"),
        StandinKind::Github => bad_request(
            "redirect_uri_mismatch",
            "The redirect_uri MUST match the registered callback URL for this application.",
        ),
        StandinKind::Apple => bad_request("invalid_grant", "redirect_uri does not match the authorization request."),
        StandinKind::Microsoft => bad_request(
            "invalid_grant",
            "The provided value for the 'redirect_uri' is not valid. The value must exactly match the redirect URI \
             used to obtain the authorization code.",
        )
        .aadsts(70000),
        other => catalog::refusal(other.facts(), Refusal::RedirectMismatch),
    }
}

fn pkce_refusal(kind: StandinKind, description: &str) -> TokenError {
    match kind {
        StandinKind::Github => bad_request("bad_verification_code", description.to_string()),
        StandinKind::Microsoft => bad_request("invalid_grant", description.to_string()).aadsts(501481),
        StandinKind::Google | StandinKind::Apple => bad_request("invalid_grant", description.to_string()),
        other => catalog::refusal(other.facts(), Refusal::Pkce(description.to_string())),
    }
}

fn redeem_code(
    shared: &Shared,
    incoming: &Incoming,
    form: &Params,
    tenant: Option<&str>,
) -> Result<Response, TokenError> {
    let kind = shared.kind;
    let catalog = kind.catalog();
    let code = form
        .get("code")
        .ok_or_else(|| bad_request("invalid_request", "Missing required parameter: code").aadsts(900144))?;
    let mut state = shared.state.lock().unwrap();
    let now = now_millis();
    let record = state.codes.get(code).ok_or_else(|| invalid_code(kind, false))?;
    if record.redeemed {
        return Err(invalid_code(kind, true));
    }
    if now >= record.expires_at {
        return Err(invalid_code(kind, false));
    }
    if kind == StandinKind::Microsoft && tenant != record.tenant.as_deref() {
        return Err(bad_request(
            "invalid_grant",
            "The authorization code was issued for another tenant's endpoint than the one redeeming it.",
        )
        .aadsts(50148));
    }
    match form.get("redirect_uri") {
        Some(uri) if uri != record.redirect_uri => return Err(redirect_uri_mismatch(kind)),
        Some(_) => {}
        // GitHub, Slack and Bitbucket do not require redirect_uri at the token endpoint; the others do (RFC 6749
        // §4.1.3).
        None if kind == StandinKind::Github || catalog.is_some_and(|facts| facts.redirect_uri_optional_at_token) => {}
        None => {
            return Err(bad_request("invalid_request", "Missing required parameter: redirect_uri").aadsts(900144));
        }
    }
    let verifier = form.get("code_verifier");
    let pkce_checked = match catalog {
        Some(facts) => catalog::pkce_at_token(facts, form)?,
        None => kind != StandinKind::Apple,
    };
    if pkce_checked {
        match (&record.pkce, verifier) {
            (Some(_), None) => return Err(pkce_refusal(kind, "Missing code verifier.")),
            (Some(challenge), Some(verifier)) => {
                let length_ok = kind == StandinKind::Google || (43..=128).contains(&verifier.len());
                if !length_ok || !is_unreserved(verifier) || !challenge.is_met_by(verifier) {
                    return Err(pkce_refusal(
                        kind,
                        "The code_verifier does not match the code_challenge supplied in the authorization request.",
                    ));
                }
            }
            (None, Some(_)) => {
                return Err(pkce_refusal(
                    kind,
                    "A code_verifier was sent but the authorization request had no code_challenge.",
                ));
            }
            (None, None) => {}
        }
    }
    let user_id = record.user_id.clone();
    let scopes = record.scopes.clone();
    let nonce = record.nonce.clone();
    let claims = record.claims.clone();
    let grants_refresh_token = record.grants_refresh_token || (kind == StandinKind::Github && state.github_app_mode);
    if let Some(record) = state.codes.get_mut(code) {
        record.redeemed = true;
    }
    let user = state.users.get(&user_id).cloned().ok_or_else(|| invalid_code(kind, false))?;
    let grant = state.new_grant(&user_id, &scopes);
    let body = issue_tokens(
        shared,
        &mut state,
        &user,
        &grant,
        Issue { nonce: nonce.as_deref(), refresh_token: grants_refresh_token, code: Some(&claims) },
    );
    drop(state);
    Ok(token_success(kind, incoming, body))
}

fn invalid_refresh_token(kind: StandinKind) -> TokenError {
    match kind {
        StandinKind::Google => bad_request("invalid_grant", "Token has been expired or revoked."),
        StandinKind::Github => bad_request("bad_refresh_token", "The refresh token passed is incorrect or expired."),
        StandinKind::Apple => bad_request("invalid_grant", "The token has expired or has been revoked."),
        StandinKind::Microsoft => bad_request(
            "invalid_grant",
            "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.",
        )
        .aadsts(700082),
        other => catalog::refusal(other.facts(), Refusal::BadRefreshToken),
    }
}

fn refresh(shared: &Shared, incoming: &Incoming, form: &Params) -> Result<Response, TokenError> {
    let kind = shared.kind;
    let refresh_token = form
        .get("refresh_token")
        .ok_or_else(|| bad_request("invalid_request", "Missing required parameter: refresh_token").aadsts(900144))?;
    let mut state = shared.state.lock().unwrap();
    let record = state.refresh_tokens.get(refresh_token).ok_or_else(|| invalid_refresh_token(kind))?;
    if !record.is_live(now_millis()) {
        return Err(invalid_refresh_token(kind));
    }
    let grant = record.grant.clone();
    // Google refuses scopes beyond the grant; Entra ID lets a refresh token ask for other scopes.
    if let Some(requested) = form.get("scope")
        && kind == StandinKind::Google
    {
        let unknown =
            requested.split(' ').filter(|s| !s.is_empty()).find(|s| !grant.scopes.iter().any(|granted| granted == s));
        if let Some(unknown) = unknown {
            return Err(bad_request("invalid_scope", format!("The scope {unknown} was not granted.")));
        }
    }
    let user = state.users.get(&grant.user_id).cloned().ok_or_else(|| invalid_refresh_token(kind))?;
    // GitHub Apps rotate: the old refresh token and every access token of the grant stop working. The
    // catalog's providers each have their rule.
    let catalog = kind.catalog();
    match catalog {
        Some(facts) => facts.retire_on_refresh(&mut state, refresh_token, grant.id),
        None if kind == StandinKind::Github => state.revoke_grant(grant.id),
        None => {}
    }
    let issues_refresh_token = match catalog {
        Some(facts) => facts.refresh_issues_refresh_token(&state),
        None => matches!(kind, StandinKind::Github | StandinKind::Microsoft),
    };
    let body = issue_tokens(
        shared,
        &mut state,
        &user,
        &grant,
        Issue { nonce: None, refresh_token: issues_refresh_token, code: None },
    );
    drop(state);
    Ok(token_success(kind, incoming, body))
}

/// What a token response carries besides the access token.
struct Issue<'a> {
    nonce: Option<&'a str>,
    refresh_token: bool,
    /// For a code redemption: the id_token claims the authorization request asked for (`None`: a refresh,
    /// which the catalog's providers answer without an id_token).
    code: Option<&'a [String]>,
}

/// Records and returns a token response's fields, in the provider's order.
fn issue_tokens(
    shared: &Shared,
    state: &mut State,
    user: &StandinUser,
    grant: &Grant,
    issue: Issue<'_>,
) -> Vec<(&'static str, Value)> {
    let kind = shared.kind;
    let now = now_millis();
    let github_app_mode = kind == StandinKind::Github && state.github_app_mode;
    let lifetime = match kind {
        StandinKind::Github if !github_app_mode => None,
        StandinKind::Github => Some(state.access_token_lifetime.unwrap_or(GITHUB_APP_ACCESS_TOKEN_LIFETIME)),
        StandinKind::Google => Some(state.access_token_lifetime.unwrap_or(GOOGLE_ACCESS_TOKEN_LIFETIME)),
        StandinKind::Apple => Some(state.access_token_lifetime.unwrap_or(APPLE_ACCESS_TOKEN_LIFETIME)),
        StandinKind::Microsoft => Some(
            state.access_token_lifetime.unwrap_or_else(|| rand::rng().random_range(MICROSOFT_ACCESS_TOKEN_LIFETIMES)),
        ),
        other => other.facts().access_token_lifetime(state),
    };
    let access_token = new_access_token(kind, github_app_mode);
    state.access_tokens.insert(
        access_token.clone(),
        TokenRecord { grant: grant.clone(), expires_at: lifetime.map(|seconds| now + seconds * 1000), revoked: false },
    );
    let refresh_token = issue.refresh_token.then(|| {
        let token = new_refresh_token(kind);
        let expires_at = github_app_mode.then_some(now + GITHUB_APP_REFRESH_TOKEN_LIFETIME * 1000);
        state.refresh_tokens.insert(token.clone(), TokenRecord { grant: grant.clone(), expires_at, revoked: false });
        token
    });
    let has_openid = grant.scopes.iter().any(|s| s == "openid");
    let id_token = match kind {
        StandinKind::Github => None,
        StandinKind::Apple => Some(()),
        StandinKind::Google | StandinKind::Microsoft => has_openid.then_some(()),
        other => (other.facts().oidc.is_some() && has_openid && issue.code.is_some()).then_some(()),
    }
    .map(|()| {
        let claims = match kind.catalog() {
            Some(facts) => {
                let requested = issue.code.unwrap_or_default();
                let mut claims =
                    catalog::id_token_claims(shared, facts, user, &grant.scopes, requested, issue.nonce, false);
                claims.insert("at_hash".into(), json!(at_hash(&access_token)));
                Value::Object(claims)
            }
            None => id_token_claims(shared, user, &grant.scopes, issue.nonce, Some(&access_token)),
        };
        sign_id_token(shared, state.signing_key, &claims)
    });

    let mut fields: Vec<(&'static str, Value)> = Vec::new();
    match kind {
        StandinKind::Google => {
            fields.push(("access_token", json!(access_token)));
            fields.push(("expires_in", json!(lifetime)));
            if let Some(refresh_token) = refresh_token {
                fields.push(("refresh_token", json!(refresh_token)));
            }
            fields.push(("scope", json!(google_scope_string(&grant.scopes))));
            fields.push(("token_type", json!("Bearer")));
        }
        StandinKind::Github => {
            fields.push(("access_token", json!(access_token)));
            if let (Some(lifetime), Some(refresh_token)) = (lifetime, refresh_token) {
                fields.push(("expires_in", json!(lifetime)));
                fields.push(("refresh_token", json!(refresh_token)));
                fields.push(("refresh_token_expires_in", json!(GITHUB_APP_REFRESH_TOKEN_LIFETIME)));
            }
            // GitHub joins scopes with commas; GitHub Apps have permissions instead, and send an empty scope.
            let scope = if github_app_mode { String::new() } else { grant.scopes.join(",") };
            fields.push(("scope", json!(scope)));
            fields.push(("token_type", json!("bearer")));
        }
        StandinKind::Apple => {
            fields.push(("access_token", json!(access_token)));
            fields.push(("token_type", json!("Bearer")));
            fields.push(("expires_in", json!(lifetime)));
            if let Some(refresh_token) = refresh_token {
                fields.push(("refresh_token", json!(refresh_token)));
            }
        }
        StandinKind::Microsoft => {
            fields.push(("token_type", json!("Bearer")));
            fields.push((
                "scope",
                json!(grant.scopes.iter().filter(|s| *s != "offline_access").cloned().collect::<Vec<_>>().join(" ")),
            ));
            fields.push(("expires_in", json!(lifetime)));
            fields.push(("ext_expires_in", json!(lifetime)));
            fields.push(("access_token", json!(access_token)));
            if let Some(refresh_token) = refresh_token {
                fields.push(("refresh_token", json!(refresh_token)));
            }
        }
        other => fields = catalog::token_fields(other.facts(), &grant.scopes, access_token, lifetime, refresh_token),
    }
    if let Some(id_token) = id_token {
        fields.push(("id_token", json!(id_token)));
    }
    fields
}

fn token_success(kind: StandinKind, incoming: &Incoming, fields: Vec<(&'static str, Value)>) -> Response {
    if kind == StandinKind::Github {
        return github_body(incoming, &fields);
    }
    let object: serde_json::Map<String, Value> =
        fields.into_iter().map(|(name, value)| (name.to_string(), value)).collect();
    no_store("application/json; charset=utf-8", Value::Object(object).to_string())
}

// ---------------------------------------------------------------------------------------------------------
// id_tokens, JWKS and discovery

/// The left half of the access token's SHA-256, as OIDC's `at_hash`.
fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

fn id_token_claims(
    shared: &Shared,
    user: &StandinUser,
    scopes: &[String],
    nonce: Option<&str>,
    access_token: Option<&str>,
) -> Value {
    let now = now_seconds();
    let client_id = shared.client.client_id.as_str();
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let mut claims = serde_json::Map::new();
    let mut set = |name: &str, value: Value| {
        claims.insert(name.to_string(), value);
    };
    match shared.kind {
        StandinKind::Google => {
            set("iss", json!(shared.base_url));
            set("azp", json!(client_id));
            set("aud", json!(client_id));
            set("sub", json!(user.id));
            if has("email")
                && let Some(email) = &user.email
            {
                set("email", json!(email));
                set("email_verified", json!(user.email_verified));
            }
            if has("profile") {
                if let Some(name) = &user.name {
                    set("name", json!(name));
                    let (given, family) = name.split_once(' ').unwrap_or((name.as_str(), ""));
                    set("given_name", json!(given));
                    if !family.is_empty() {
                        set("family_name", json!(family));
                    }
                }
                if let Some(picture) = &user.picture {
                    set("picture", json!(picture));
                }
            }
        }
        StandinKind::Apple => {
            set("iss", json!(shared.base_url));
            set("aud", json!(client_id));
            set("sub", json!(user.id));
            set("auth_time", json!(now));
            set("nonce_supported", json!(true));
            if has("email")
                && let Some(email) = &user.email
            {
                set("email", json!(email));
                // Apple sends these booleans as strings.
                set("email_verified", json!(user.email_verified.to_string()));
                set("is_private_email", json!(email.ends_with("@privaterelay.appleid.com").to_string()));
            }
        }
        StandinKind::Microsoft => {
            let tid = microsoft_user_tenant(user);
            set("ver", json!("2.0"));
            set("iss", json!(format!("{}/{tid}/v2.0", shared.base_url)));
            set("sub", json!(microsoft_pairwise_sub(client_id, &user.id)));
            set("aud", json!(client_id));
            set("nbf", json!(now));
            set("oid", json!(user.id));
            set("tid", json!(tid));
            set(
                "preferred_username",
                json!(user.email.clone().unwrap_or_else(|| format!("{}@standin.onmicrosoft.com", user.id))),
            );
            if let Some(name) = &user.name {
                set("name", json!(name));
            }
            if has("email")
                && let Some(email) = &user.email
            {
                set("email", json!(email));
            }
            if let Some(edov) = user.xms_edov {
                set("xms_edov", json!(edov));
            }
            set("uti", json!(random_urlsafe(16)));
        }
        _ => {}
    }
    if let Some(access_token) = access_token
        && shared.kind != StandinKind::Microsoft
    {
        set("at_hash", json!(at_hash(access_token)));
    }
    if let Some(nonce) = nonce {
        set("nonce", json!(nonce));
    }
    set("iat", json!(now));
    set("exp", json!(now + ID_TOKEN_LIFETIME));
    Value::Object(claims)
}

fn sign_id_token(shared: &Shared, signing_key: usize, claims: &Value) -> String {
    let key = &shared.signing_keys[signing_key];
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign an id_token")
}

/// The keys used so far: the second one appears only with [`ProviderStandin::rotate_signing_key`], so a client
/// that cached the set meets an unknown `kid`.
fn jwks(shared: &Shared) -> Response {
    let in_use = shared.state.lock().unwrap().signing_key;
    let keys = JwkSet { keys: shared.signing_keys[..=in_use].iter().map(|key| key.jwk.clone()).collect() };
    let body = serde_json::to_value(keys).expect("a JWK set serialises");
    Response::builder()
        .status(StatusCode::OK)
        .content_type("application/json; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(body.to_string())
}

fn discovery_document(shared: &Shared, tenant: Option<&str>) -> Value {
    let base = &shared.base_url;
    match shared.kind {
        StandinKind::Google => json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
            "token_endpoint": format!("{base}/token"),
            "userinfo_endpoint": format!("{base}/v1/userinfo"),
            "revocation_endpoint": format!("{base}/revoke"),
            "jwks_uri": format!("{base}/oauth2/v3/certs"),
            "response_types_supported": [
                "code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token",
                "none"
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": [
                "aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "name", "picture",
                "sub"
            ],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        }),
        StandinKind::Apple => json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/auth/authorize"),
            "token_endpoint": format!("{base}/auth/token"),
            "revocation_endpoint": format!("{base}/auth/revoke"),
            "jwks_uri": format!("{base}/auth/keys"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "name"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "claims_supported": [
                "aud", "email", "email_verified", "exp", "iat", "is_private_email", "iss", "nonce", "nonce_supported",
                "real_user_status", "sub", "transfer_sub"
            ],
        }),
        StandinKind::Microsoft => {
            let tenant = tenant.unwrap_or("common");
            let issuer_tenant =
                if microsoft_tenant_is_valid(tenant) && tenant.len() == 36 { tenant } else { "{tenantid}" };
            json!({
                "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": format!("{base}/{issuer_tenant}/v2.0"),
                "request_uri_parameter_supported": false,
                "userinfo_endpoint": format!("{base}/oidc/userinfo"),
                "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
                "claims_supported": [
                    "sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
                    "ver", "at_hash", "c_hash", "email"
                ],
                "tenant_region_scope": null,
                "cloud_instance_name": "microsoftonline.com",
            })
        }
        _ => json!({}),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Profile APIs

/// The live access token of an API call and the user it belongs to.
fn api_caller(shared: &Shared, token: &str) -> Option<(StandinUser, Grant)> {
    let state = shared.state.lock().unwrap();
    let record = state.access_tokens.get(token).filter(|record| record.is_live(now_millis()))?;
    let user = state.users.get(&record.grant.user_id)?.clone();
    Some((user, record.grant.clone()))
}

fn google_userinfo(shared: &Shared, incoming: &Incoming) -> Response {
    let caller = incoming.bearer_token(false).and_then(|token| api_caller(shared, token));
    let Some((user, grant)) = caller else {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"")
            .content_type("application/json; charset=utf-8")
            .body(json!({"error": "invalid_request", "error_description": "Invalid Credentials"}).to_string());
    };
    let claims = id_token_claims(shared, &user, &grant.scopes, None, None);
    let mut profile = serde_json::Map::new();
    for name in ["sub", "name", "given_name", "family_name", "picture", "email", "email_verified"] {
        if let Some(value) = claims.get(name) {
            profile.insert(name.to_string(), value.clone());
        }
    }
    json_response(StatusCode::OK, Value::Object(profile))
}

fn google_revoke(shared: &Shared, incoming: &Incoming) -> Response {
    let mut state = shared.state.lock().unwrap();
    state.calls.revocations += 1;
    let token = incoming.form().and_then(|form| form.get("token").map(str::to_string));
    let token = token.or_else(|| incoming.query.get("token").map(str::to_string)).unwrap_or_default();
    let grant =
        state.access_tokens.get(&token).filter(|record| !record.revoked).map(|record| record.grant.id).or_else(|| {
            state.refresh_tokens.get(&token).filter(|record| !record.revoked).map(|record| record.grant.id)
        });
    match grant {
        // Revoking either token ends the whole grant.
        Some(grant) => {
            state.revoke_grant(grant);
            json_response(StatusCode::OK, json!({}))
        }
        None => json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_token", "error_description": "Token expired or revoked"}),
        ),
    }
}

enum GithubResource {
    User,
    Emails,
}

fn github_message(status: StatusCode, message: &str, documentation_url: &str) -> Response {
    json_response(
        status,
        json!({"message": message, "documentation_url": documentation_url, "status": status.as_u16().to_string()}),
    )
}

fn github_login(user: &StandinUser) -> String {
    user.email
        .as_deref()
        .and_then(|email| email.split('@').next())
        .map(|local| local.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect())
        .filter(|login: &String| !login.is_empty())
        .unwrap_or_else(|| format!("user{}", user.id))
}

fn github_api(shared: &Shared, incoming: &Incoming, resource: GithubResource) -> Response {
    if incoming.header("user-agent").is_none_or(|agent| agent.trim().is_empty()) {
        return github_message(StatusCode::FORBIDDEN, GITHUB_USER_AGENT_REFUSAL, "https://docs.github.com/rest");
    }
    let documentation_url = match resource {
        GithubResource::User => "https://docs.github.com/rest/users/users#get-the-authenticated-user",
        GithubResource::Emails => {
            "https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user"
        }
    };
    let Some(token) = incoming.bearer_token(true) else {
        return github_message(StatusCode::UNAUTHORIZED, "Requires authentication", documentation_url);
    };
    let Some((user, grant)) = api_caller(shared, token) else {
        return github_message(StatusCode::UNAUTHORIZED, "Bad credentials", "https://docs.github.com/rest");
    };
    let id: u64 = user.id.parse().expect("GitHub ids are integers");
    let login = github_login(&user);
    let avatar_url =
        user.picture.clone().unwrap_or_else(|| format!("https://avatars.githubusercontent.com/u/{id}?v=4"));
    match resource {
        GithubResource::User => json_response(
            StatusCode::OK,
            json!({
                "login": login,
                "id": id,
                "node_id": format!("U_kgDO{}", URL_SAFE_NO_PAD.encode(id.to_be_bytes())),
                "avatar_url": avatar_url,
                "type": "User",
                "site_admin": false,
                "name": user.name,
                "email": user.email,
                "created_at": "2020-01-01T00:00:00Z",
            }),
        ),
        GithubResource::Emails => {
            let app_mode_token = token.starts_with("ghu_");
            let may_read_emails = app_mode_token || grant.scopes.iter().any(|s| s == "user:email" || s == "user");
            if !may_read_emails {
                return github_message(StatusCode::NOT_FOUND, "Not Found", documentation_url);
            }
            let mut emails = Vec::new();
            if let Some(email) = &user.email {
                emails.push(
                    json!({"email": email, "primary": true, "verified": user.email_verified, "visibility": "public"}),
                );
            }
            // Every account also has a verified, non-primary noreply address.
            emails.push(json!({
                "email": format!("{id}+{login}@users.noreply.github.com"),
                "primary": false,
                "verified": true,
                "visibility": null,
            }));
            json_response(StatusCode::OK, Value::Array(emails))
        }
    }
}

fn github_revoke(shared: &Shared, incoming: &Incoming, client_id: &str, whole_grant: bool) -> Response {
    if incoming.header("user-agent").is_none_or(|agent| agent.trim().is_empty()) {
        return github_message(StatusCode::FORBIDDEN, GITHUB_USER_AGENT_REFUSAL, "https://docs.github.com/rest");
    }
    let mut state = shared.state.lock().unwrap();
    state.calls.revocations += 1;
    let client = &shared.client;
    let authenticated = matches!(
        incoming.basic_credentials(),
        Some(Ok((id, secret)))
            if id == client.client_id && secret == client.client_secret && client_id == client.client_id
    );
    let documentation_url = "https://docs.github.com/rest/apps/oauth-applications#delete-an-app-token";
    if !authenticated {
        return github_message(StatusCode::NOT_FOUND, "Not Found", documentation_url);
    }
    let token = serde_json::from_slice::<Value>(&incoming.body)
        .ok()
        .and_then(|body| body["access_token"].as_str().map(str::to_string));
    let Some(token) = token else {
        return github_message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request.\n\n\"access_token\" wasn't supplied.",
            documentation_url,
        );
    };
    let Some(record) = state.access_tokens.get_mut(&token).filter(|record| !record.revoked) else {
        return github_message(StatusCode::NOT_FOUND, "Not Found", documentation_url);
    };
    if whole_grant {
        let grant = record.grant.id;
        state.revoke_grant(grant);
    } else {
        record.revoked = true;
    }
    Response::builder().status(StatusCode::NO_CONTENT).finish()
}

fn apple_revoke(shared: &Shared, incoming: &Incoming) -> Response {
    let mut state = shared.state.lock().unwrap();
    state.calls.revocations += 1;
    let Some(form) = incoming.form() else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
    };
    let authenticated = incoming.basic_credentials().is_none()
        && form.get("client_id") == Some(shared.client.client_id.as_str())
        && verify_apple_client_secret(shared, form.get("client_secret").unwrap_or_default()).is_ok();
    if !authenticated {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid_client"}));
    }
    let Some(token) = form.get("token") else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
    };
    let hint = form.get("token_type_hint");
    if !matches!(hint, None | Some("refresh_token" | "access_token")) {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "unsupported_token_type"}));
    }
    let grant = state
        .refresh_tokens
        .get(token)
        .map(|record| record.grant.clone())
        .or_else(|| state.access_tokens.get(token).map(|record| record.grant.clone()));
    // Revocation ends the user's authorization of the app: the next sign-in is a first one again (with the
    // `user` field). Unknown tokens are answered 200 too, as RFC 7009 says.
    if let Some(grant) = grant {
        state.revoke_grant(grant.id);
        state.consented.remove(&grant.user_id);
    }
    Response::builder().status(StatusCode::OK).finish()
}

fn microsoft_unauthorized(message: &str) -> Response {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(
            "www-authenticate",
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"",
        )
        .content_type("application/json; charset=utf-8")
        .body(
            json!({"error": {"code": "InvalidAuthenticationToken", "message": message, "innerError": {
                "date": now, "request-id": uuid::Uuid::new_v4(), "client-request-id": uuid::Uuid::new_v4()
            }}})
            .to_string(),
        )
}

fn microsoft_me(shared: &Shared, incoming: &Incoming) -> Response {
    let Some(token) = incoming.bearer_token(false) else {
        return microsoft_unauthorized("Access token is empty.");
    };
    let Some((user, _)) = api_caller(shared, token) else {
        return microsoft_unauthorized("Lifetime validation failed, the token is expired.");
    };
    let (given, surname) = match user.name.as_deref().and_then(|name| name.split_once(' ')) {
        Some((given, surname)) => (Some(given.to_string()), Some(surname.to_string())),
        None => (user.name.clone(), None),
    };
    json_response(
        StatusCode::OK,
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "businessPhones": [],
            "displayName": user.name,
            "givenName": given,
            "jobTitle": null,
            "mail": user.email,
            "mobilePhone": null,
            "officeLocation": null,
            "preferredLanguage": null,
            "surname": surname,
            "userPrincipalName": user.email.clone().unwrap_or_else(|| format!("{}@standin.onmicrosoft.com", user.id)),
            "id": user.id,
        }),
    )
}

fn microsoft_userinfo(shared: &Shared, incoming: &Incoming) -> Response {
    let caller = incoming.bearer_token(false).and_then(|token| api_caller(shared, token));
    let Some((user, grant)) = caller else {
        return microsoft_unauthorized("Access token validation failure. Invalid audience.");
    };
    let mut profile = serde_json::Map::new();
    profile.insert("sub".to_string(), json!(microsoft_pairwise_sub(&shared.client.client_id, &user.id)));
    if let Some(name) = &user.name {
        profile.insert("name".to_string(), json!(name));
    }
    if grant.scopes.iter().any(|s| s == "email")
        && let Some(email) = &user.email
    {
        profile.insert("email".to_string(), json!(email));
    }
    json_response(StatusCode::OK, Value::Object(profile))
}
