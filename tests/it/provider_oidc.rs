//! Sign-in with a generic OpenID provider (`AUTH_OIDC_PROVIDERS=acme`) against a real one, npm's
//! `oidc-provider`: discovery, PKCE, the ID token's signature, issuer and nonce, userinfo, refresh-token
//! rotation and revocation are the library's, not a stand-in's. In-process, the browser's redirects are
//! followed by hand (hauth's with its cookies, the provider's by a client that logs in and consents by
//! itself); the last test signs in with a real headless Chromium, clicking through the provider's login and
//! consent pages, with the nhost SDK on the client page.
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::app::Reply;
use crate::helpers::npm::{ensure_npm_packages, sdk_dir};
use crate::helpers::oidc_provider::{self, OidcProvider, Options};
use crate::helpers::provider_flow::{
    Browser, CLIENT_URL, Entry, SERVER, access_token, location, no_plaintext_tokens, param, session_of, urlencoding,
};
use crate::helpers::server::TestServer;

const NAME: &str = "acme";
/// The key id `no_plaintext_tokens` expects the tokens sealed under.
const ENCRYPTION_KEYS: &str = "k2:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The callback a flow started at `entry` comes back to.
fn callback(entry: Entry) -> String {
    format!("{SERVER}{}/callback", entry.start_path(NAME))
}

/// The provider, logging in and consenting by itself as `user`, and hauth in-process configured for it.
struct Acme {
    provider: OidcProvider,
    app: TestApp,
}

impl Acme {
    async fn new(user: Value) -> Acme {
        let sub = user["sub"].as_str().unwrap().to_string();
        let provider = OidcProvider::start(Options {
            port: 0,
            redirect_uris: vec![callback(Entry::Nhost), callback(Entry::Nself)],
            users: vec![user],
            auto_login: Some(sub),
        })
        .await;
        let mut env = oidc_provider::hauth_env(NAME, &provider.issuer);
        env.extend([
            ("AUTH_SERVER_URL".into(), SERVER.into()),
            ("AUTH_CLIENT_URL".into(), CLIENT_URL.into()),
            ("AUTH_ENCRYPTION_KEYS".into(), ENCRYPTION_KEYS.into()),
        ]);
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let app = TestApp::spawn_with(&pairs).await;
        Acme { provider, app }
    }

    fn browser(&self) -> Browser<'_> {
        Browser { app: &self.app, cookies: HashMap::new(), user_agent: "Mozilla/5.0 (test browser)".into() }
    }

    /// A whole sign-in from `start` (a path on hauth with its query): hauth's start, the provider's pages,
    /// hauth's callback. Returns where hauth sent the browser.
    async fn sign_in(&self, browser: &mut Browser<'_>, entry: Entry, start: &str) -> String {
        let authorize = browser.start(start).await;
        assert!(authorize.starts_with(&self.provider.issuer), "{authorize}");
        assert_eq!(param(&authorize, "redirect_uri"), Some(callback(entry)), "{authorize}");
        assert_eq!(param(&authorize, "code_challenge_method").as_deref(), Some("S256"));
        let scope = param(&authorize, "scope").unwrap_or_default();
        assert!(scope.split(' ').any(|s| s == "offline_access"), "a refresh token is asked for: {scope}");
        let back = self.provider.authorize(&authorize).await;
        assert!(back.starts_with(&format!("{}?", callback(entry))), "the provider sent the browser to {back}");
        assert!(param(&back, "code").is_some(), "{back}");
        assert_eq!(param(&back, "iss"), Some(self.provider.issuer.clone()), "{back}");
        location(&browser.get(&back).await)
    }

    async fn delete(&self, path: &str, bearer: &str) -> Reply {
        let response = self.app.client.delete(path).header("authorization", format!("Bearer {bearer}")).send().await.0;
        Reply::read(response).await
    }

    async fn audit_events(&self) -> Vec<String> {
        let rows = self.app.rows("select event from auth.audit_log order by created_at, event", &[]).await;
        rows.iter().map(|row| row.get(0)).collect()
    }
}

/// Signs up through `entry`, then signs in again through both paths: always the same user.
async fn signs_up_and_in_again(entry: Entry) {
    let acme = Acme::new(oidc_provider::user("ada-1001", "ada@example.com", "Ada Lovelace", "analytical")).await;
    let app = &acme.app;

    let mut browser = acme.browser();
    let start = format!("{}?redirectTo={}", entry.start_path(NAME), urlencoding(&format!("{CLIENT_URL}/done")));
    let landed = acme.sign_in(&mut browser, entry, &start).await;
    assert!(landed.starts_with(&format!("{CLIENT_URL}/done?")), "{landed}");
    assert!(browser.cookies.is_empty(), "the state cookie is cleared: {:?}", browser.cookies);
    let session = session_of(app, &landed).await;
    let user = &session["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(user["displayName"], "Ada Lovelace");
    assert_eq!(user["avatarUrl"], oidc_provider::picture_of("ada-1001"));
    let user_id = user["id"].as_str().unwrap().to_string();
    let me = app.get("/user", Some(&access_token(&session))).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["id"], user_id.as_str());

    for again in [entry, Entry::Nhost, Entry::Nself] {
        let mut browser = acme.browser();
        let landed = acme.sign_in(&mut browser, again, &again.start_path(NAME)).await;
        assert_eq!(session_of(app, &landed).await["user"]["id"], user_id.as_str(), "signed in again by {again:?}");
    }
    assert_eq!(app.count("select count(*) from auth.users").await, 1);
    let identities: Vec<(String, String)> = app
        .rows("select provider_id, provider_user_id from auth.user_providers", &[])
        .await
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(identities, vec![(NAME.to_string(), "ada-1001".to_string())]);
    let listed = app.get("/user/providers", Some(&access_token(&session))).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1), "{}", listed.text);
    assert_eq!(listed.body[0]["provider"], NAME);
    assert_eq!(listed.body[0]["providerUserId"], "ada-1001");

    let events = acme.audit_events().await;
    for event in ["provider.signup", "provider.signin"] {
        assert!(events.iter().any(|e| e == event), "{event} missing from the audit log: {events:?}");
    }
}

#[tokio::test]
async fn generic_oidc_signs_up_and_in_again_by_the_nhost_path() {
    signs_up_and_in_again(Entry::Nhost).await;
}

#[tokio::test]
async fn generic_oidc_signs_up_and_in_again_by_the_nself_path() {
    signs_up_and_in_again(Entry::Nself).await;
}

/// `GET /user/providers/acme/token` with a fresh hauth session after the app's clock moved on `hours`.
async fn provider_token_later(acme: &Acme, session: &mut Value, hours: i64) -> Value {
    acme.app.clock.advance(TimeDelta::hours(hours));
    let refreshed = acme.app.refresh(session["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    *session = refreshed.body.clone();
    let token = acme.app.get(&format!("/user/providers/{NAME}/token"), Some(&access_token(session))).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    assert_eq!(token.body["provider"], NAME);
    token.body.clone()
}

fn expiry_of(token: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(token["expiresAt"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn an_expired_oidc_token_is_refreshed_at_the_provider_with_the_rotated_refresh_token() {
    let acme = Acme::new(oidc_provider::user("bo-2002", "bo@example.com", "Bo Diddley", "shave-and-a-haircut")).await;
    let app = &acme.app;
    let mut browser = acme.browser();
    let landed = acme.sign_in(&mut browser, Entry::Nhost, &Entry::Nhost.start_path(NAME)).await;
    let mut session = session_of(app, &landed).await;

    let first = provider_token_later(&acme, &mut session, 0).await;
    let first_token = first["accessToken"].as_str().unwrap().to_string();
    assert_eq!(acme.provider.userinfo_status(&first_token).await, StatusCode::OK);
    // The provider's access tokens live an hour.
    let lifetime = expiry_of(&first).signed_duration_since(app.clock.now());
    assert!(lifetime > TimeDelta::minutes(55) && lifetime <= TimeDelta::minutes(60), "{lifetime}");
    no_plaintext_tokens(app, &first_token).await;

    // Two hours on by the app's clock, the token has expired: it is refreshed at the provider.
    let second = provider_token_later(&acme, &mut session, 2).await;
    let second_token = second["accessToken"].as_str().unwrap().to_string();
    assert_ne!(second_token, first_token);
    assert_eq!(acme.provider.userinfo_status(&second_token).await, StatusCode::OK);
    assert!(expiry_of(&second) > app.clock.now(), "the new expiry is in the future of the app's clock");
    no_plaintext_tokens(app, &second_token).await;
    no_plaintext_tokens(app, &first_token).await;

    // Again: the provider rotated the refresh token, and presenting the used one would revoke the whole
    // grant, so this works only if the new one was kept.
    let third = provider_token_later(&acme, &mut session, 2).await;
    let third_token = third["accessToken"].as_str().unwrap().to_string();
    assert_ne!(third_token, second_token);
    assert_eq!(acme.provider.userinfo_status(&third_token).await, StatusCode::OK);
    no_plaintext_tokens(app, &third_token).await;
    let marked = app.count("select count(*) from auth.user_providers where needs_reauthentication").await;
    assert_eq!(marked, 0);
}

/// Waits until the provider no longer accepts `access_token` (its grant was revoked).
async fn until_revoked(provider: &OidcProvider, access_token: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while provider.userinfo_status(access_token).await == StatusCode::OK {
        assert!(Instant::now() < deadline, "the grant was not revoked at the provider");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(provider.userinfo_status(access_token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_oidc_identity_links_to_a_password_account_by_both_paths_and_unlinks() {
    let acme = Acme::new(oidc_provider::user("grace-3003", "grace.acme@example.org", "Grace Hopper", "compiler")).await;
    let app = &acme.app;
    let owner = app.signed_up_session("grace@example.com").await;
    let owner_token = access_token(&owner);
    let owner_id = owner["user"]["id"].as_str().unwrap().to_string();

    for entry in [Entry::Nhost, Entry::Nself] {
        let mut browser = acme.browser();
        let linked_url = format!("{CLIENT_URL}/linked");
        let url = browser.link_url(NAME, &owner_token, Some(&linked_url)).await;
        assert!(!url.contains(&owner_id) && !url.contains(&owner_token), "the link URL carries no user id or token");
        let url = entry.link_start(&url, NAME);
        let landed = acme.sign_in(&mut browser, entry, &url).await;
        assert!(landed.starts_with(&format!("{CLIENT_URL}/linked")), "{landed}");
        assert_eq!(param(&landed, "error"), None, "{landed}");
        assert_eq!(param(&landed, "refreshToken"), None, "a link keeps the user's session");
        let listed = app.get("/user/providers", Some(&owner_token)).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
        assert_eq!(listed.body.as_array().map(Vec::len), Some(1), "{}", listed.text);
        assert_eq!(listed.body[0]["provider"], NAME);
        assert_eq!(listed.body[0]["providerUserId"], "grace-3003");

        // The linked identity signs in to the password account; no account is made for its email.
        let mut again = acme.browser();
        let landed = acme.sign_in(&mut again, Entry::Nhost, &Entry::Nhost.start_path(NAME)).await;
        assert_eq!(session_of(app, &landed).await["user"]["id"], owner_id.as_str());
        assert_eq!(app.count("select count(*) from auth.users").await, 1);

        let token = app.get(&format!("/user/providers/{NAME}/token"), Some(&owner_token)).await;
        assert_eq!(token.status, StatusCode::OK, "{}", token.text);
        let provider_token = token.body["accessToken"].as_str().unwrap().to_string();
        assert_eq!(acme.provider.userinfo_status(&provider_token).await, StatusCode::OK);
        no_plaintext_tokens(app, &provider_token).await;

        // Unlink: allowed, as the account has a password; the grant is revoked at the provider.
        let unlinked = acme.delete(&format!("/user/providers/{NAME}"), &owner_token).await;
        assert_eq!(unlinked.status, StatusCode::OK, "{}", unlinked.text);
        assert_eq!(app.get("/user/providers", Some(&owner_token)).await.body, json!([]));
        assert_eq!(app.count("select count(*) from auth.user_providers").await, 0);
        until_revoked(&acme.provider, &provider_token).await;
    }
    let events = acme.audit_events().await;
    for event in ["provider.link", "provider.signin", "provider.unlink"] {
        assert!(events.iter().any(|e| e == event), "{event} missing from the audit log: {events:?}");
    }
}

#[tokio::test]
async fn a_real_browser_signs_in_through_the_openid_provider_with_the_nhost_sdk() {
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Chromium is needed at {chromium} (Debian package `chromium`, or set CHROMIUM_PATH)"
    );
    ensure_npm_packages();
    // The provider's port is chosen first so hauth knows the issuer; it discovers it on first use, after
    // the provider has started with hauth's callback as its redirect URI.
    let provider_port = oidc_provider::free_port();
    let app_port = oidc_provider::free_port();
    let client_url = format!("http://127.0.0.1:{app_port}");
    let mut env = oidc_provider::hauth_env(NAME, &oidc_provider::issuer_on(provider_port));
    env.extend([
        ("AUTH_CLIENT_URL".into(), client_url),
        ("AUTH_ENCRYPTION_KEYS".into(), "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into()),
    ]);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = TestServer::start(&pairs).await;
    let provider = OidcProvider::start(Options {
        port: provider_port,
        redirect_uris: vec![format!("{}/signin/provider/{NAME}/callback", server.url)],
        users: vec![oidc_provider::user("lin-4004", "lin@example.com", "Lin Example", "open-sesame-42")],
        auto_login: None,
    })
    .await;

    let app_port = app_port.to_string();
    let output = Command::new("node")
        .arg("browser-provider-signin.mjs")
        .current_dir(sdk_dir())
        .env("HAUTH_URL", &server.url)
        .env("PROVIDER", NAME)
        .env("LOGIN", "lin@example.com")
        .env("PASSWORD", "open-sesame-42")
        .env("APP_PORT", &app_port)
        .env("CHROMIUM_PATH", &chromium)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = stdout.lines().rev().find_map(|line| serde_json::from_str(line).ok()).unwrap_or(Value::Null);
    assert!(
        output.status.success() && report["ok"] == true,
        "the browser sign-in failed ({}):\n{stdout}\n{stderr}\nprovider:\n{}",
        output.status,
        provider.stderr()
    );
    assert_eq!(report["email"], "lin@example.com", "{report}");
    assert!(report["userId"].as_str().is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()), "{report}");
    let landed_on = report["landedOn"].as_str().unwrap_or_default();
    assert!(landed_on.starts_with(&format!("http://127.0.0.1:{app_port}/app")), "{report}");
}
