//! Attacks on provider sign-in, each refused: replayed, forged and expired state; a callback reaching
//! another browser than the one that started; a code injected under another sign-in's state (wrong PKCE
//! verifier) and a downgrade without PKCE; a wrong nonce; an ID token from another issuer; open redirects;
//! link tickets reused or followed by somebody else; an identity already linked to another user. For the nine
//! providers of the stand-ins' catalog: what each authorization request carries, PKCE stripped from those that
//! take it, a replayed nonce and another issuer from the OpenID ones.
use chrono::TimeDelta;

use crate::helpers::provider_flow::*;
use crate::helpers::provider_standin::{ProviderRedirect, StandinKind};

/// The callback URL for `code` and `state`.
fn callback(name: &str, code: &str, state: &str) -> ProviderRedirect {
    ProviderRedirect::Get(format!(
        "{SERVER}/signin/provider/{name}/callback?code={}&state={}",
        urlencoding(code),
        urlencoding(state)
    ))
}

fn error_of(landed: &str) -> String {
    assert!(landed.starts_with(CLIENT_URL), "errors go back to the application: {landed}");
    assert_eq!(param(landed, "refreshToken"), None, "{landed}");
    param(landed, "error").unwrap_or_else(|| panic!("no error in {landed}"))
}

async fn no_session_was_made(setup: &Setup) {
    assert_eq!(setup.app.count("select count(*) from auth.refresh_tokens").await, 0);
    assert_eq!(setup.app.count("select count(*) from auth.user_providers").await, 0);
}

/// A URL with one query parameter replaced (or removed, for `None`).
fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let kept: Vec<(String, String)> =
        parsed.query_pairs().filter(|(key, _)| key != name).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    parsed.query_pairs_mut().clear().extend_pairs(kept);
    if let Some(value) = value {
        parsed.query_pairs_mut().append_pair(name, value);
    }
    parsed.to_string()
}

#[tokio::test]
async fn a_state_works_once() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    setup.provider_user("1", "replay@example.com", true);
    let mut browser = setup.browser();
    let authorize = browser.start("/signin/provider/google").await;
    let cookies = browser.cookies.clone();
    let redirect = setup.standin.authorize(&authorize).await.unwrap();
    let landed = location(&browser.deliver(&redirect).await);
    session_of(&setup.app, &landed).await;
    let tokens = setup.app.count("select count(*) from auth.refresh_tokens").await;
    browser.cookies = cookies;
    let replayed = location(&browser.deliver(&redirect).await);
    assert_eq!(error_of(&replayed), "invalid-state");
    assert_eq!(setup.app.count("select count(*) from auth.refresh_tokens").await, tokens, "no second session");
}

#[tokio::test]
async fn a_forged_state_is_refused() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    let mut browser = setup.browser();
    let landed = location(&browser.deliver(&callback("google", "some-code", "forged-state")).await);
    assert_eq!(error_of(&landed), "invalid-state");
    let landed = location(&browser.get("/signin/provider/google/callback").await);
    assert_eq!(error_of(&landed), "invalid-state");
    no_session_was_made(&setup).await;
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    setup.provider_user("1", "slow@example.com", true);
    let mut browser = setup.browser();
    let authorize = browser.start("/signin/provider/google").await;
    let redirect = setup.standin.authorize(&authorize).await.unwrap();
    setup.app.clock.advance(TimeDelta::minutes(11));
    let landed = location(&browser.deliver(&redirect).await);
    assert_eq!(error_of(&landed), "invalid-state");
    no_session_was_made(&setup).await;
}

#[tokio::test]
async fn a_callback_in_another_browser_than_the_one_that_started_is_refused() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    setup.provider_user("1", "victim@example.com", true);
    // The attacker starts, signs in at the provider as themselves, and sends the callback URL to a victim.
    let mut attacker = setup.browser();
    let authorize = attacker.start("/signin/provider/google").await;
    let set_cookie: Vec<String> = attacker.cookies.keys().cloned().collect();
    assert_eq!(set_cookie.len(), 1);
    assert!(set_cookie[0].starts_with("hauth_oauth_"));
    let redirect = setup.standin.authorize(&authorize).await.unwrap();
    let mut victim = setup.browser();
    let landed = location(&victim.deliver(&redirect).await);
    assert_eq!(error_of(&landed), "invalid-state");
    // A cookie of another sign-in does not help either.
    let mut other = setup.browser();
    other.start("/signin/provider/google").await;
    let landed = location(&other.deliver(&redirect).await);
    assert_eq!(error_of(&landed), "invalid-state");
    no_session_was_made(&setup).await;
    let failures = setup.app.count("select count(*) from auth.audit_log where event = 'provider.failure'").await;
    assert_eq!(failures, 2);
}

#[tokio::test]
async fn the_state_cookie_is_http_only_and_scoped_to_the_callback() {
    let setup = Setup::new(StandinKind::Apple, &[]).await;
    let reply = setup.browser().get("/signin/provider/apple").await;
    let cookie = reply.headers.get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("Path=/signin/provider/apple/callback"), "{cookie}");
    // Apple answers with a cross-site form POST, which only carries SameSite=None cookies.
    assert!(cookie.contains("SameSite=None") && cookie.contains("Secure"), "{cookie}");
    let setup = Setup::new(StandinKind::Google, &[]).await;
    let reply = setup.browser().get("/oauth/google").await;
    let cookie = reply.headers.get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.contains("SameSite=Lax") && cookie.contains("Path=/oauth/google/callback"), "{cookie}");
    let to = location(&reply);
    assert_eq!(param(&to, "redirect_uri").as_deref(), Some("http://hauth.test/oauth/google/callback"));
    assert_eq!(param(&to, "code_challenge_method").as_deref(), Some("S256"));
    assert!(param(&to, "nonce").is_some() && param(&to, "state").is_some());
    assert_eq!(param(&to, "access_type").as_deref(), Some("offline"));
}

#[tokio::test]
async fn a_code_under_another_sign_ins_state_fails_its_pkce_check() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    setup.provider_user("1", "pkce@example.com", true);
    let mut browser = setup.browser();
    let first = browser.start("/signin/provider/google").await;
    let second = browser.start("/signin/provider/google").await;
    let code = setup.standin.authorize(&first).await.unwrap().param("code").unwrap();
    let state = setup.standin.authorize(&second).await.unwrap().param("state").unwrap();
    let landed = location(&browser.deliver(&callback("google", &code, &state)).await);
    assert_eq!(error_of(&landed), "oauth-token-echange-failed");
    no_session_was_made(&setup).await;
}

#[tokio::test]
async fn a_sign_in_stripped_of_pkce_is_refused() {
    let setup = Setup::new(StandinKind::Github, &[]).await;
    setup.provider_user("1", "downgrade@example.com", true);
    let mut browser = setup.browser();
    let authorize = browser.start("/signin/provider/github").await;
    let stripped = with_param(&with_param(&authorize, "code_challenge", None), "code_challenge_method", None);
    let redirect = setup.standin.authorize(&stripped).await.unwrap();
    let landed = location(&browser.deliver(&redirect).await);
    assert_eq!(error_of(&landed), "oauth-token-echange-failed");
    no_session_was_made(&setup).await;
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    setup.provider_user("1", "nonce@example.com", true);
    let mut browser = setup.browser();
    let authorize = browser.start("/signin/provider/google").await;
    let redirect = setup.standin.authorize(&with_param(&authorize, "nonce", Some("a-replayed-nonce"))).await.unwrap();
    let landed = location(&browser.deliver(&redirect).await);
    assert_eq!(error_of(&landed), "oauth-profile-fetch-failed");
    no_session_was_made(&setup).await;
}

#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused() {
    let setup =
        Setup::new(StandinKind::Google, &[("AUTH_PROVIDER_GOOGLE_ISSUER", "https://accounts.other.test")]).await;
    setup.provider_user("1", "issuer@example.com", true);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/google").await;
    assert_eq!(error_of(&landed), "oauth-profile-fetch-failed");
    no_session_was_made(&setup).await;

    // Microsoft's issuer is the tenant's: a token of another tenant than the template allows is refused.
    let setup = Setup::new(
        StandinKind::Microsoft,
        &[("AUTH_PROVIDER_MICROSOFT_ISSUER", "https://login.other.test/{tenantid}/v2.0")],
    )
    .await;
    setup.provider_user("1", "tenant@example.com", true);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/microsoft").await;
    assert_eq!(error_of(&landed), "oauth-profile-fetch-failed");
}

#[tokio::test]
async fn a_redirect_outside_the_allowed_urls_is_refused_at_the_start() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    for target in [
        "https://evil.test/steal",
        "//evil.test",
        "http://app.test.evil.test/",
        "http://app.test@evil.test/",
        "javascript:alert(1)",
    ] {
        let reply = setup.browser().get(&format!("/signin/provider/google?redirectTo={}", urlencoding(target))).await;
        let to = location(&reply);
        assert!(to.starts_with(&format!("{CLIENT_URL}/")), "{target} led to {to}");
        assert_eq!(param(&to, "error").as_deref(), Some("redirectTo-not-allowed"), "{target}");
        assert!(reply.headers.get("set-cookie").is_none(), "no sign-in was started for {target}");
    }
    assert_eq!(setup.app.count("select count(*) from auth.oauth_states").await, 0);
}

#[tokio::test]
async fn an_unknown_or_disabled_provider_goes_back_with_an_error() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    let to = location(&setup.browser().get("/signin/provider/facebook").await);
    assert_eq!(param(&to, "error").as_deref(), Some("disabled-endpoint"), "{to}");
    let to = location(&setup.browser().get("/signin/provider/facebook/callback?code=x&state=y").await);
    assert_eq!(param(&to, "error").as_deref(), Some("disabled-endpoint"), "{to}");
}

#[tokio::test]
async fn a_link_ticket_works_once_and_only_in_the_browser_it_was_made_for() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    let app = &setup.app;
    let owner = app.signed_up_session("owner@example.com").await;
    let owner_token = access_token(&owner);
    setup.provider_user("1", "owner.google@example.com", true);

    // Sent to somebody else (another browser), the ticket is refused and used up.
    let mut owner_browser = setup.browser();
    let url = owner_browser.link_url(setup.name, &owner_token, None).await;
    let mut stranger = setup.browser();
    stranger.user_agent = "Mozilla/5.0 (another browser)".into();
    let landed = location(&stranger.get(&url).await);
    assert_eq!(error_of(&landed), "invalid-ticket");
    let landed = location(&owner_browser.get(&url).await);
    assert_eq!(error_of(&landed), "invalid-ticket", "a ticket is used up by its first use");

    // Presented with another user's access token, it is refused.
    let other = app.signed_up_session("other@example.com").await;
    let url = owner_browser.link_url(setup.name, &owner_token, None).await;
    let landed = location(&owner_browser.get(&format!("{url}&connect={}", access_token(&other))).await);
    assert_eq!(error_of(&landed), "invalid-ticket");

    // Followed by its owner, it links once; the same URL again is refused.
    let url = owner_browser.link_url(setup.name, &owner_token, None).await;
    let landed = sign_in(&setup, &mut owner_browser, &url).await;
    assert_eq!(param(&landed, "error"), None, "{landed}");
    let reused = location(&owner_browser.get(&url).await);
    assert_eq!(error_of(&reused), "invalid-ticket");
    let linked: Vec<uuid::Uuid> =
        app.rows("select user_id from auth.user_providers", &[]).await.iter().map(|row| row.get(0)).collect();
    assert_eq!(linked, vec![owner["user"]["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap()]);
}

#[tokio::test]
async fn the_sdks_connect_parameter_links_with_a_valid_access_token_only() {
    let setup = Setup::new(StandinKind::Github, &[]).await;
    let app = &setup.app;
    let owner = app.signed_up_session("connect@example.com").await;
    setup.provider_user("77", "connect.github@example.com", true);
    let mut browser = setup.browser();
    let landed = location(&browser.get("/signin/provider/github?connect=not-a-token").await);
    assert_eq!(error_of(&landed), "invalid-request");
    assert_eq!(app.count("select count(*) from auth.oauth_states").await, 0);
    let start =
        format!("/signin/provider/github?connect={}&redirectTo={}", access_token(&owner), urlencoding(CLIENT_URL));
    let landed = sign_in(&setup, &mut browser, &start).await;
    assert_eq!(param(&landed, "error"), None, "{landed}");
    let listed = app.get("/user/providers", Some(&access_token(&owner))).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "{}", listed.text);
    // The state row keeps the link target, never the access token.
    let query =
        format!("select count(*) from auth.oauth_states s where to_jsonb(s)::text like '%{}%'", access_token(&owner));
    assert_eq!(app.count(&query).await, 0);
}

#[tokio::test]
async fn an_identity_linked_to_one_user_cannot_be_linked_to_another() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    let app = &setup.app;
    setup.provider_user("1", "first@example.com", true);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/google").await;
    let first = session_of(app, &landed).await;
    let second = app.signed_up_session("second@example.com").await;
    let mut second_browser = setup.browser();
    let url = second_browser.link_url(setup.name, &access_token(&second), None).await;
    let landed = sign_in(&setup, &mut second_browser, &url).await;
    assert_eq!(error_of(&landed), "provider-already-linked");
    let owners: Vec<uuid::Uuid> =
        app.rows("select user_id from auth.user_providers", &[]).await.iter().map(|row| row.get(0)).collect();
    assert_eq!(owners, vec![first["user"]["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap()]);
}

#[tokio::test]
async fn each_providers_authorization_request_carries_what_that_provider_takes() {
    for &kind in &StandinKind::ALL[4..] {
        let setup = Setup::new(kind, &[]).await;
        let to = setup.browser().start(&format!("/oauth/{}", setup.name)).await;
        let name = setup.name;
        assert_eq!(param(&to, "response_type").as_deref(), Some("code"), "{name}");
        assert_eq!(param(&to, "client_id"), Some(format!("{name}-client-id")));
        assert_eq!(param(&to, "redirect_uri"), Some(format!("{SERVER}/oauth/{name}/callback")));
        assert_eq!(param(&to, "scope").as_deref(), Some(default_scopes(kind)), "{name}");
        assert!(param(&to, "state").is_some_and(|state| state.len() >= 22), "{name}");
        let pkce = matches!(kind, StandinKind::Twitter | StandinKind::Discord | StandinKind::Gitlab);
        assert_eq!(param(&to, "code_challenge_method").as_deref(), pkce.then_some("S256"), "{name}: PKCE");
        assert_eq!(param(&to, "code_challenge").map(|challenge| challenge.len()), pkce.then_some(43), "{name}");
        let nonce = matches!(kind, StandinKind::Slack | StandinKind::Twitch | StandinKind::Gitlab);
        assert_eq!(param(&to, "nonce").is_some(), nonce, "{name}: nonce");
        let claims = param(&to, "claims").map(|claims| serde_json::from_str::<serde_json::Value>(&claims).unwrap());
        if kind == StandinKind::Twitch {
            let claims = claims.expect("Twitch is asked for its id_token claims");
            for claim in ["email", "email_verified", "picture", "preferred_username"] {
                assert!(claims["id_token"].get(claim).is_some(), "{claim} missing from {claims}");
            }
        } else {
            assert_eq!(claims, None, "{name}");
        }
    }
}

#[tokio::test]
async fn a_sign_in_stripped_of_pkce_is_refused_by_x_discord_and_gitlab() {
    for kind in [StandinKind::Twitter, StandinKind::Discord, StandinKind::Gitlab] {
        let setup = Setup::new(kind, &[]).await;
        setup.provider_user("1", "downgrade@example.com", true);
        let mut browser = setup.browser();
        let authorize = browser.start(&format!("/signin/provider/{}", setup.name)).await;
        let stripped = with_param(&with_param(&authorize, "code_challenge", None), "code_challenge_method", None);
        match setup.standin.authorize(&stripped).await {
            // X requires PKCE: it does not even issue a code.
            Err(refusal) => {
                assert_eq!(kind, StandinKind::Twitter, "{refusal}");
                assert!(refusal.contains("code_challenge"), "{refusal}");
            }
            // The others issue a code without a challenge, which the verifier hauth sends cannot redeem.
            Ok(redirect) => {
                assert_ne!(kind, StandinKind::Twitter);
                let landed = location(&browser.deliver(&redirect).await);
                assert_eq!(error_of(&landed), "oauth-token-echange-failed", "{kind:?}");
            }
        }
        no_session_was_made(&setup).await;
    }
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused_from_slack_twitch_and_gitlab() {
    for kind in [StandinKind::Slack, StandinKind::Twitch, StandinKind::Gitlab] {
        let setup = Setup::new(kind, &[]).await;
        setup.provider_user("1", "nonce@example.com", true);
        let mut browser = setup.browser();
        let authorize = browser.start(&format!("/signin/provider/{}", setup.name)).await;
        let replayed = with_param(&authorize, "nonce", Some("a-replayed-nonce"));
        let redirect = setup.standin.authorize(&replayed).await.unwrap();
        let landed = location(&browser.deliver(&redirect).await);
        assert_eq!(error_of(&landed), "oauth-profile-fetch-failed", "{kind:?}");
        no_session_was_made(&setup).await;
    }
}

#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused_from_linkedin_slack_twitch_and_gitlab() {
    for kind in [StandinKind::Linkedin, StandinKind::Slack, StandinKind::Twitch, StandinKind::Gitlab] {
        let issuer = format!("AUTH_PROVIDER_{}_ISSUER", kind.id().to_uppercase());
        let setup = Setup::new(kind, &[(issuer.as_str(), "https://issuer.other.test")]).await;
        setup.provider_user("1", "issuer@example.com", true);
        let mut browser = setup.browser();
        let landed = sign_in(&setup, &mut browser, &format!("/signin/provider/{}", setup.name)).await;
        assert_eq!(error_of(&landed), "oauth-profile-fetch-failed", "{kind:?}");
        no_session_was_made(&setup).await;
    }
}
