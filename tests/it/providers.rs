//! Sign-in with providers, end to end against stand-ins that enforce each provider's rules (client
//! authentication, PKCE, exact `redirect_uri`, Apple's client-secret JWT and form_post, GitHub's form
//! bodies, Microsoft's tenant issuer, and the rules of the nine in the stand-ins' catalog: Facebook, X,
//! LinkedIn, Slack, Discord, Twitch, GitLab, Bitbucket, Spotify): the browser's redirects are followed by hand,
//! with the cookies hauth sets, and every outcome is checked through the API and in the database. What only
//! the nine do is in `provider_catalog`.
use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::app::{PASSWORD, Reply};
use crate::helpers::provider_flow::*;
use crate::helpers::provider_standin::StandinKind;

/// Whether the provider's address counts as verified for a user whose address it has verified (Facebook and
/// Spotify never say so).
pub fn vouches_for_email(kind: StandinKind) -> bool {
    !matches!(kind, StandinKind::Facebook | StandinKind::Spotify)
}

/// Whether unlinking revokes the grant at the provider (Microsoft, Bitbucket and Spotify have no revocation).
fn revokes_on_unlink(kind: StandinKind) -> bool {
    !matches!(kind, StandinKind::Microsoft | StandinKind::Bitbucket | StandinKind::Spotify)
}

/// The display name the provider gives "Ada Lovelace" (Twitch's display names have no spaces).
fn display_name(kind: StandinKind) -> &'static str {
    if kind == StandinKind::Twitch { "AdaLovelace" } else { "Ada Lovelace" }
}

/// Sign up, sign in again, link to another account, unlink; through one entry path.
pub async fn lifecycle(kind: StandinKind, entry: Entry) {
    let setup = Setup::new(kind, &[]).await;
    let app = &setup.app;
    let name = setup.name;
    let email = format!("ada.{name}@example.com");
    setup.provider_user("1001", &email, true);

    // Sign up.
    let mut browser = setup.browser();
    let start = format!("{}?redirectTo={}", entry.start_path(name), urlencoding(&format!("{CLIENT_URL}/done")));
    let landed = sign_in(&setup, &mut browser, &start).await;
    assert!(landed.starts_with(&format!("{CLIENT_URL}/done?")), "{landed}");
    assert!(browser.cookies.is_empty(), "the state cookie is cleared: {:?}", browser.cookies);
    let session = session_of(app, &landed).await;
    let user = &session["user"];
    assert_eq!(user["email"], email.as_str());
    assert_eq!(user["emailVerified"], vouches_for_email(kind));
    assert_eq!(user["displayName"], display_name(kind));
    let user_id = user["id"].as_str().unwrap().to_string();
    let me = app.get("/user", Some(&access_token(&session))).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], user_id.as_str());

    // Signing in again is the same user.
    let mut again = setup.browser();
    let landed = sign_in(&setup, &mut again, &entry.start_path(name)).await;
    let second = session_of(app, &landed).await;
    assert_eq!(second["user"]["id"], user_id.as_str());
    assert_eq!(app.count("select count(*) from auth.users").await, 1);
    assert_eq!(app.count("select count(*) from auth.user_providers").await, 1);

    // The identity is the only way into that account: it cannot be unlinked.
    let refused = app
        .client
        .delete(format!("/user/providers/{name}"))
        .header("authorization", format!("Bearer {}", access_token(&second)))
        .send()
        .await
        .0;
    let refused = Reply::read(refused).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.error_code(), "last-sign-in-method");

    // Link another provider account to a password account, by ticket.
    let owner = app.signed_up_session(&format!("grace.{name}@example.com")).await;
    let owner_token = access_token(&owner);
    let owner_id = owner["user"]["id"].as_str().unwrap().to_string();
    setup.provider_user("2002", &format!("grace.other.{name}@example.com"), true);
    let mut owner_browser = setup.browser();
    let linked_url = format!("{CLIENT_URL}/linked");
    let url = owner_browser.link_url(name, &owner_token, Some(&linked_url)).await;
    assert!(!url.contains(&owner_id) && !url.contains(&owner_token), "the link URL carries no user id or token");
    let url = entry.link_start(&url, name);
    let landed = sign_in(&setup, &mut owner_browser, &url).await;
    assert!(landed.starts_with(&format!("{CLIENT_URL}/linked")), "{landed}");
    assert_eq!(param(&landed, "error"), None, "{landed}");
    assert_eq!(param(&landed, "refreshToken"), None, "a link keeps the user's session");
    let listed = app.get("/user/providers", Some(&owner_token)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let listed = listed.body.as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["provider"], name);
    assert_eq!(listed[0]["providerUserId"].as_str().map(|id| !id.is_empty()), Some(true));
    assert!(listed[0]["linkedAt"].is_string());

    // The linked identity now signs in to the password account.
    let mut third = setup.browser();
    let landed = sign_in(&setup, &mut third, &entry.start_path(name)).await;
    assert_eq!(session_of(app, &landed).await["user"]["id"], owner_id.as_str());

    // The provider token is usable, and stored only sealed.
    let token = app.get(&format!("/user/providers/{name}/token"), Some(&owner_token)).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    let provider_token = token.body["accessToken"].as_str().unwrap().to_string();
    assert!(setup.standin.is_access_token_live(&provider_token));
    no_plaintext_tokens(app, &provider_token).await;

    // Unlink: allowed (the account has a password), the grant is revoked at the provider where it can be.
    let revocations = setup.standin.token_calls().revocations;
    let unlinked = app
        .client
        .delete(format!("/user/providers/{name}"))
        .header("authorization", format!("Bearer {owner_token}"))
        .send()
        .await
        .0;
    let unlinked = Reply::read(unlinked).await;
    assert_eq!(unlinked.status, StatusCode::OK, "{}", unlinked.text);
    assert_eq!(app.get("/user/providers", Some(&owner_token)).await.body, json!([]));
    if revokes_on_unlink(kind) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while setup.standin.token_calls().revocations == revocations && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(setup.standin.token_calls().revocations > revocations, "the grant was revoked at {name}");
        // And the revocation was one the provider took: the token is dead there.
        while setup.standin.is_access_token_live(&provider_token) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(!setup.standin.is_access_token_live(&provider_token), "{name} did not revoke the token");
    }
    let events: Vec<String> = app
        .rows("select event from auth.audit_log order by created_at, event", &[])
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();
    for event in ["provider.signup", "provider.signin", "provider.link", "provider.unlink"] {
        assert!(events.iter().any(|e| e == event), "{event} missing from the audit log: {events:?}");
    }
}

#[tokio::test]
async fn google_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Google, Entry::Nhost).await;
    lifecycle(StandinKind::Google, Entry::Nself).await;
}

#[tokio::test]
async fn github_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Github, Entry::Nhost).await;
    lifecycle(StandinKind::Github, Entry::Nself).await;
}

#[tokio::test]
async fn apple_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Apple, Entry::Nhost).await;
    lifecycle(StandinKind::Apple, Entry::Nself).await;
}

#[tokio::test]
async fn microsoft_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Microsoft, Entry::Nhost).await;
    lifecycle(StandinKind::Microsoft, Entry::Nself).await;
}

#[tokio::test]
async fn facebook_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Facebook, Entry::Nhost).await;
    lifecycle(StandinKind::Facebook, Entry::Nself).await;
}

#[tokio::test]
async fn twitter_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Twitter, Entry::Nhost).await;
    lifecycle(StandinKind::Twitter, Entry::Nself).await;
}

#[tokio::test]
async fn linkedin_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Linkedin, Entry::Nhost).await;
    lifecycle(StandinKind::Linkedin, Entry::Nself).await;
}

#[tokio::test]
async fn slack_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Slack, Entry::Nhost).await;
    lifecycle(StandinKind::Slack, Entry::Nself).await;
}

#[tokio::test]
async fn discord_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Discord, Entry::Nhost).await;
    lifecycle(StandinKind::Discord, Entry::Nself).await;
}

#[tokio::test]
async fn twitch_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Twitch, Entry::Nhost).await;
    lifecycle(StandinKind::Twitch, Entry::Nself).await;
}

#[tokio::test]
async fn gitlab_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Gitlab, Entry::Nhost).await;
    lifecycle(StandinKind::Gitlab, Entry::Nself).await;
}

#[tokio::test]
async fn bitbucket_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Bitbucket, Entry::Nhost).await;
    lifecycle(StandinKind::Bitbucket, Entry::Nself).await;
}

#[tokio::test]
async fn spotify_signs_up_signs_in_links_and_unlinks_by_both_paths() {
    lifecycle(StandinKind::Spotify, Entry::Nhost).await;
    lifecycle(StandinKind::Spotify, Entry::Nself).await;
}

#[tokio::test]
async fn nhost_names_of_microsoft_reach_the_same_provider() {
    let setup = Setup::new(StandinKind::Microsoft, &[]).await;
    setup.provider_user("3003", "ms@example.com", true);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/azuread").await;
    let session = session_of(&setup.app, &landed).await;
    let stored: Vec<String> =
        setup.app.rows("select provider_id from auth.user_providers", &[]).await.iter().map(|r| r.get(0)).collect();
    assert_eq!(stored, vec!["microsoft".to_string()]);
    let mut again = setup.browser();
    let landed = sign_in(&setup, &mut again, "/signin/provider/entraid").await;
    assert_eq!(session_of(&setup.app, &landed).await["user"]["id"], session["user"]["id"]);
}

#[tokio::test]
async fn an_expired_provider_token_is_refreshed_on_the_spot() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    setup.provider_user("4004", "refresh@example.com", true);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/google").await;
    let session = session_of(&setup.app, &landed).await;
    let bearer = access_token(&session);
    let first = setup.app.get("/user/providers/google/token", Some(&bearer)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(setup.standin.token_calls().refresh, 0, "a fresh token is handed out as it is");

    setup.app.clock.advance(TimeDelta::hours(2));
    let session = setup.app.refresh(session["refreshToken"].as_str().unwrap()).await.body;
    let bearer = access_token(&session);
    let refreshed = setup.app.get("/user/providers/google/token", Some(&bearer)).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    assert_eq!(setup.standin.token_calls().refresh, 1);
    let token = refreshed.body["accessToken"].as_str().unwrap();
    assert_ne!(token, first.body["accessToken"].as_str().unwrap());
    assert!(setup.standin.is_access_token_live(token));
    let expires_at = chrono::DateTime::parse_from_rfc3339(refreshed.body["expiresAt"].as_str().unwrap()).unwrap();
    assert!(expires_at > setup.app.clock.now(), "the new expiry is in the future of the app's clock");
    no_plaintext_tokens(&setup.app, token).await;

    // A refresh the provider refuses marks the identity: the user must sign in with it again.
    let refresh_tokens: Vec<String> = setup.standin.token_calls().refresh_by_token.keys().cloned().collect();
    for refresh_token in refresh_tokens {
        setup.standin.revoke_refresh_token(&refresh_token);
    }
    setup.app.clock.advance(TimeDelta::hours(2));
    let session = setup.app.refresh(session["refreshToken"].as_str().unwrap()).await.body;
    let bearer = access_token(&session);
    let dead = setup.app.get("/user/providers/google/token", Some(&bearer)).await;
    assert_eq!(dead.status, StatusCode::CONFLICT, "{}", dead.text);
    assert_eq!(dead.error_code(), "provider-reauthentication-required");
    let listed = setup.app.get("/user/providers", Some(&bearer)).await;
    assert_eq!(listed.body[0]["needsReauthentication"], true);

    // The admin route answers the same for a backend with the admin secret, and nothing without it.
    let user_id = session["user"]["id"].as_str().unwrap();
    let anonymous = setup.app.get(&format!("/admin/users/{user_id}/providers/google/token"), None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_admin_route_hands_out_a_users_provider_token() {
    let setup = Setup::new(StandinKind::Github, &[("HASURA_GRAPHQL_ADMIN_SECRET", "admin-secret-for-tests")]).await;
    setup.provider_user("5005", "admin@example.com", true);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/github").await;
    let session = session_of(&setup.app, &landed).await;
    let user_id = session["user"]["id"].as_str().unwrap();
    let path = format!("/admin/users/{user_id}/providers/github/token");
    let wrong = Reply::read(setup.app.client.get(&path).header("x-hasura-admin-secret", "nope").send().await.0).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = Reply::read(
        setup.app.client.get(&path).header("x-hasura-admin-secret", "admin-secret-for-tests").send().await.0,
    )
    .await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text);
    assert!(setup.standin.is_access_token_live(right.body["accessToken"].as_str().unwrap()));
}

#[tokio::test]
async fn the_sdk_start_url_with_options_creates_the_user_with_them() {
    let setup = Setup::new(StandinKind::Google, &[("AUTH_USER_DEFAULT_ALLOWED_ROLES", "user,me,editor")]).await;
    setup.app.rows("insert into auth.roles (role) values ('editor')", &[]).await;
    setup.provider_user("6006", "options@example.com", true);
    let mut browser = setup.browser();
    // The query the nhost SDK builds for signIn({provider, options}).
    let start = format!(
        "/signin/provider/google?allowedRoles=user,editor&defaultRole=editor&displayName=Countess&locale=en&metadata={}&redirectTo={}",
        urlencoding(r#"{"plan":"pro"}"#),
        urlencoding(CLIENT_URL)
    );
    let landed = sign_in(&setup, &mut browser, &start).await;
    let session = session_of(&setup.app, &landed).await;
    let user = &session["user"];
    assert_eq!(user["displayName"], "Countess");
    assert_eq!(user["defaultRole"], "editor");
    assert_eq!(user["metadata"], json!({"plan": "pro"}));
    assert_eq!(user["avatarUrl"], "https://images.example/ada.png");
    let mut roles: Vec<String> = serde_json::from_value(user["roles"].clone()).unwrap();
    roles.sort();
    assert_eq!(roles, vec!["editor", "user"]);
}

#[tokio::test]
async fn a_verified_provider_address_joins_an_unverified_account_and_ends_its_password() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    let app = &setup.app;
    // Somebody registered the victim's address first, with their own password.
    let squatter = app.signed_up_session("victim@example.com").await;
    app.rows("update auth.users set email_verified = false", &[]).await;
    setup.provider_user("7007", "victim@example.com", true);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/google").await;
    let session = session_of(app, &landed).await;
    assert_eq!(session["user"]["id"], squatter["user"]["id"], "joined to the account holding the address");
    assert_eq!(session["user"]["emailVerified"], true);
    let old = app.refresh(squatter["refreshToken"].as_str().unwrap()).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "the squatter's session is gone");
    let password = app.signin("victim@example.com", PASSWORD).await;
    assert_eq!(password.status, StatusCode::UNAUTHORIZED, "the squatter's password is gone");
}

#[tokio::test]
async fn an_unverified_provider_address_never_joins_an_existing_account() {
    let setup = Setup::new(StandinKind::Github, &[]).await;
    let app = &setup.app;
    let owner = app.signed_up_session("owner@example.com").await;
    setup.provider_user("8008", "owner@example.com", false);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/github").await;
    assert!(landed.starts_with(CLIENT_URL), "{landed}");
    assert_eq!(param(&landed, "error").as_deref(), Some("email-needs-linking"), "{landed}");
    assert_eq!(param(&landed, "refreshToken"), None);
    assert_eq!(app.count("select count(*) from auth.user_providers").await, 0);
    assert_eq!(app.count("select count(*) from auth.users").await, 1);
    assert_eq!(app.signin("owner@example.com", PASSWORD).await.status, StatusCode::OK, "nothing stored is lost");
    let _ = owner;
    assert_eq!(app.count("select count(*) from auth.audit_log where event = 'provider.failure'").await, 1);
}

#[tokio::test]
async fn a_new_address_the_provider_does_not_vouch_for_is_stored_unverified() {
    let setup = Setup::new(StandinKind::Github, &[]).await;
    setup.provider_user("9009", "unverified@example.com", false);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/github").await;
    let session = session_of(&setup.app, &landed).await;
    assert_eq!(session["user"]["emailVerified"], false);
}

#[tokio::test]
async fn a_provider_sign_in_is_refused_where_sign_up_is_disabled_and_for_disabled_users() {
    let setup = Setup::new(StandinKind::Google, &[("AUTH_DISABLE_SIGNUP", "true")]).await;
    setup.provider_user("1010", "nobody@example.com", true);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/google").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("signup-disabled"), "{landed}");
    assert_eq!(setup.app.count("select count(*) from auth.users").await, 0);

    let setup = Setup::new(StandinKind::Google, &[]).await;
    setup.provider_user("1111", "disabled@example.com", true);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/google").await;
    session_of(&setup.app, &landed).await;
    setup.app.rows("update auth.users set disabled = true", &[]).await;
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/google").await;
    assert_eq!(param(&landed, "error").as_deref(), Some("disabled-user"), "{landed}");
}

#[tokio::test]
async fn the_provider_refusing_consent_comes_back_as_an_error() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    setup.provider_user("1212", "deny@example.com", true);
    setup.standin.deny_consent(true);
    let mut browser = setup.browser();
    let authorize = browser.start("/signin/provider/google").await;
    let redirect = setup.standin.authorize_raw(&authorize).await.unwrap();
    let landed = location(&browser.deliver(&redirect).await);
    assert_eq!(param(&landed, "error").as_deref(), Some("oauth-provider-error"), "{landed}");
    assert!(param(&landed, "errorDescription").unwrap().contains("access_denied"));
}

#[tokio::test]
async fn rotating_the_encryption_key_reseals_every_provider_token() {
    let setup = Setup::new(StandinKind::Google, &[]).await;
    setup.provider_user("1313", "rotate@example.com", true);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/google").await;
    let session = session_of(&setup.app, &landed).await;
    let before = setup.app.get("/user/providers/google/token", Some(&access_token(&session))).await;
    let token = before.body["accessToken"].as_str().unwrap().to_string();
    let sealed_before: Vec<u8> =
        setup.app.rows("select access_token_sealed from auth.user_providers", &[]).await[0].get(0);

    // A new key goes first; the old one stays until every value is sealed again.
    let mut env = crate::helpers::app::base_env(&setup.app.db.url);
    env.extend(setup.env.iter().cloned());
    env.insert(
        "AUTH_ENCRYPTION_KEYS".into(),
        format!(
            "k3:{},{}",
            "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=", "k2:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
        ),
    );
    env.insert("AUTH_LOG_LEVEL".into(), "warn".into());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hauth"))
        .args(["keys", "rotate-encryption"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&env)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 identities under key k3"));
    let rows = setup.app.rows("select token_key_id, access_token_sealed from auth.user_providers", &[]).await;
    assert_eq!(rows[0].get::<_, String>(0), "k3");
    assert_ne!(rows[0].get::<_, Vec<u8>>(1), sealed_before);

    // With only the new key, the token still opens.
    env.insert("AUTH_ENCRYPTION_KEYS".into(), "k3:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=".into());
    let config = hauth::config::Config::from_env(&env).unwrap();
    let state = hauth::state::AppState::build(config, hauth::clock::Clock::System).unwrap();
    let user_id = session["user"]["id"].as_str().unwrap().parse().unwrap();
    let access = hauth::flows::provider_tokens::access_token(&state, user_id, "google").await.unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(access.access_token.expose_secret(), token);
}

#[tokio::test]
async fn the_hasura_action_hands_out_the_signed_in_users_provider_token() {
    let setup = Setup::new(StandinKind::Google, &[("AUTH_ACTIONS_SECRET", "actions-secret-for-tests")]).await;
    setup.provider_user("1414", "action@example.com", true);
    let mut browser = setup.browser();
    let landed = sign_in(&setup, &mut browser, "/signin/provider/google").await;
    let session = session_of(&setup.app, &landed).await;
    let call = |variables: serde_json::Value, provider: &str| {
        let body = json!({
            "action": {"name": "providerAccessToken"},
            "input": {"provider": provider},
            "session_variables": variables,
            "request_query": "query { providerAccessToken(provider: \"google\") { accessToken } }",
        });
        setup
            .app
            .client
            .post("/hasura/actions")
            .header("X-Hauth-Actions-Secret", "actions-secret-for-tests")
            .body_json(&body)
            .send()
    };
    let user = json!({"x-hasura-role": "user", "x-hasura-user-id": session["user"]["id"]});
    let answer = Reply::read(call(user.clone(), "google").await.0).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["provider"], "google");
    assert!(setup.standin.is_access_token_live(answer.body["accessToken"].as_str().unwrap()));
    assert!(answer.body["expiresAt"].is_string());
    let unlinked = Reply::read(call(user, "github").await.0).await;
    assert_eq!(unlinked.status, StatusCode::NOT_FOUND, "{}", unlinked.text);
    let public = Reply::read(call(json!({"x-hasura-role": "public"}), "google").await.0).await;
    assert_eq!(public.status, StatusCode::UNAUTHORIZED, "{}", public.text);
}
