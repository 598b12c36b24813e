//! Mobile sign-in with PKCE: an app starts a provider sign-in with its own `code_challenge` (S256) and a
//! return URL of its own scheme, gets a one-time `code` there instead of a refresh token, and redeems it
//! with its verifier at `POST /token/exchange` (nhost) or `POST /oauth/{provider}/token` (nself).
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poem::http::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::app::{Reply, TestApp};
use crate::helpers::provider_flow::*;
use crate::helpers::provider_standin::StandinKind;

const APP_RETURN: &str = "myapp://oauth-callback";

fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn verifier(seed: &str) -> String {
    format!("{seed}-{}", "v".repeat(60))
}

async fn setup(kind: StandinKind) -> Setup {
    let setup = Setup::new(kind, &[("AUTH_ACCESS_CONTROL_ALLOWED_REDIRECT_URLS", APP_RETURN)]).await;
    setup.provider_user("5001", &format!("ada.mobile.{}@example.com", setup.name), true);
    setup
}

fn start_url(entry: Entry, provider: &str, challenge: &str, method: &str) -> String {
    format!(
        "{}?redirectTo={}&code_challenge={challenge}&code_challenge_method={method}",
        entry.start_path(provider),
        urlencoding(APP_RETURN)
    )
}

/// A whole mobile sign-in through `entry`; returns the code the app got on its return URL.
async fn code_for(setup: &Setup, entry: Entry, verifier: &str) -> String {
    let mut browser = setup.browser();
    let landed = sign_in(setup, &mut browser, &start_url(entry, setup.name, &challenge_of(verifier), "S256")).await;
    assert!(landed.starts_with(&format!("{APP_RETURN}?")), "{landed}");
    assert_eq!(param(&landed, "error"), None, "{landed}");
    assert_eq!(param(&landed, "refreshToken"), None, "no refresh token travels to the app's URL: {landed}");
    param(&landed, "code").unwrap_or_else(|| panic!("no code in {landed}"))
}

async fn exchange(app: &TestApp, code: &str, verifier: &str) -> Reply {
    app.post("/token/exchange", json!({"code": code, "codeVerifier": verifier})).await
}

async fn nself_exchange(app: &TestApp, provider: &str, code: &str, verifier: &str) -> Reply {
    app.post(&format!("/oauth/{provider}/token"), json!({"code": code, "code_verifier": verifier})).await
}

async fn live_sessions(app: &TestApp) -> i64 {
    app.count("select count(*) from auth.refresh_tokens where revoked_at is null and rotated_at is null").await
}

#[tokio::test]
async fn a_mobile_code_is_redeemed_once_for_a_session_through_the_nhost_path() {
    let setup = setup(StandinKind::Google).await;
    let app = &setup.app;
    let verifier = verifier("nhost");
    let code = code_for(&setup, Entry::Nhost, &verifier).await;

    let stored = app
        .rows("select kind, code_hash, used_at is null from auth.one_time_codes where kind = 'mobileSignIn'", &[])
        .await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].get::<_, bool>(2), "not used yet");
    assert!(!stored[0].get::<_, String>(1).contains(&code), "only the code's hash is stored");
    let dump =
        app.count(&format!("select count(*) from auth.one_time_codes where payload::text like '%{code}%'")).await;
    assert_eq!(dump, 0, "the code is nowhere in the row");

    let redeemed = exchange(app, &code, &verifier).await;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.text);
    let session = &redeemed.body["session"];
    assert_eq!(session["user"]["email"], "ada.mobile.google@example.com");
    let me = app.get("/user", Some(&access_token(session))).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["id"], session["user"]["id"]);
    let refreshed = app.refresh(session["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);

    let second = exchange(app, &code, &verifier).await;
    assert_eq!(second.status, StatusCode::UNAUTHORIZED, "{}", second.text);
    assert_eq!(second.error_code(), "invalid-ticket");
    assert_eq!(app.count("select count(*) from auth.one_time_codes where used_at is not null").await, 1);
    assert_eq!(app.count("select count(*) from auth.user_providers where provider_id = 'google'").await, 1);
}

#[tokio::test]
async fn the_nself_path_answers_a_token_usable_at_get_user() {
    for kind in [StandinKind::Apple, StandinKind::Google] {
        let setup = setup(kind).await;
        let app = &setup.app;
        let name = setup.name;
        let verifier = verifier("nself");
        let code = code_for(&setup, Entry::Nself, &verifier).await;

        let redeemed = nself_exchange(app, name, &code, &verifier).await;
        assert_eq!(redeemed.status, StatusCode::OK, "{name}: {}", redeemed.text);
        let token = redeemed.body["token"].as_str().unwrap().to_string();
        assert_eq!(redeemed.body["accessToken"], token.as_str());
        assert!(redeemed.body["refreshToken"].is_string());
        let me = app.get("/user", Some(&token)).await;
        assert_eq!(me.status, StatusCode::OK, "{name}: {}", me.text);
        assert_eq!(me.body["email"], format!("ada.mobile.{name}@example.com").as_str());

        let again = nself_exchange(app, name, &code, &verifier).await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{name}: {}", again.text);
        assert_eq!(again.error_code(), "invalid-ticket");
    }
}

#[tokio::test]
async fn a_wrong_verifier_burns_the_code_and_ends_its_session() {
    for entry in [Entry::Nhost, Entry::Nself] {
        let setup = setup(StandinKind::Google).await;
        let app = &setup.app;
        let verifier = verifier("right");
        let code = code_for(&setup, entry, &verifier).await;
        assert_eq!(live_sessions(app).await, 1, "the session the code stands for");

        let wrong = match entry {
            Entry::Nhost => exchange(app, &code, &self::verifier("wrong")).await,
            Entry::Nself => nself_exchange(app, "google", &code, &self::verifier("wrong")).await,
        };
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{entry:?}: {}", wrong.text);
        assert_eq!(wrong.error_code(), "invalid-ticket");
        assert_eq!(live_sessions(app).await, 0, "{entry:?}: the code's session ends with it");

        let right = exchange(app, &code, &verifier).await;
        assert_eq!(right.status, StatusCode::UNAUTHORIZED, "{entry:?}: the code is burnt: {}", right.text);
        assert_eq!(
            app.count("select count(*) from auth.audit_log where event = 'provider.failure'").await,
            1,
            "{entry:?}: the refusal is recorded"
        );
    }
}

#[tokio::test]
async fn codes_expire_are_bound_to_their_provider_and_refuse_bad_input() {
    let setup = setup(StandinKind::Google).await;
    let app = &setup.app;
    let verifier = verifier("expiry");

    // Expired.
    let code = code_for(&setup, Entry::Nhost, &verifier).await;
    app.rows("update auth.one_time_codes set expires_at = now() - interval '1 second'", &[]).await;
    let expired = exchange(app, &code, &verifier).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "{}", expired.text);
    assert_eq!(expired.error_code(), "invalid-ticket");

    // Redeemed at another provider's nself path.
    let code = code_for(&setup, Entry::Nself, &verifier).await;
    let elsewhere = nself_exchange(app, "apple", &code, &verifier).await;
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED, "{}", elsewhere.text);
    let after = exchange(app, &code, &verifier).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "spent: {}", after.text);

    // Malformed requests are 400s with the JSON error shape, never 500.
    for body in [
        json!({"code": "not-a-code", "codeVerifier": "short"}),
        json!({"code": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
        json!({"code": 1, "codeVerifier": verifier}),
        json!({"code": "0f8fad5b-d9cb-469f-a165-70867728950e", "codeVerifier": verifier, "extra": true}),
    ] {
        let reply = app.post("/token/exchange", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.text);
        assert_eq!(reply.error_code(), "invalid-request");
    }
    let unknown = exchange(app, "0f8fad5b-d9cb-469f-a165-70867728950e", &verifier).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "{}", unknown.text);
}

#[tokio::test]
async fn a_mobile_start_needs_an_s256_challenge_and_an_allowed_return_url() {
    let setup = setup(StandinKind::Google).await;
    let challenge = challenge_of(&verifier("start"));
    for (query, what) in [
        (start_url(Entry::Nhost, "google", &challenge, "plain"), "plain"),
        (start_url(Entry::Nself, "google", &challenge, "plain"), "plain (nself)"),
        (start_url(Entry::Nhost, "google", "too-short", "S256"), "a malformed challenge"),
        (
            format!("/signin/provider/google?redirectTo={}&code_challenge={challenge}", urlencoding(APP_RETURN)),
            "no method",
        ),
    ] {
        let mut browser = setup.browser();
        let reply = browser.get(&query).await;
        let landed = location(&reply);
        assert!(landed.starts_with(APP_RETURN), "{what}: {landed}");
        assert_eq!(param(&landed, "error").as_deref(), Some("invalid-request"), "{what}: {landed}");
        assert!(browser.cookies.is_empty(), "{what}: no sign-in started");
    }
    let elsewhere = format!(
        "/signin/provider/google?redirectTo={}&code_challenge={challenge}&code_challenge_method=S256",
        urlencoding("evilapp://oauth-callback")
    );
    let mut browser = setup.browser();
    let landed = location(&browser.get(&elsewhere).await);
    assert!(landed.starts_with(CLIENT_URL), "a return URL off the allow-list is refused: {landed}");
    assert_eq!(param(&landed, "error").as_deref(), Some("redirectTo-not-allowed"));
    assert_eq!(setup.app.count("select count(*) from auth.oauth_states").await, 0);
}

#[tokio::test]
async fn the_openapi_document_describes_the_mobile_and_native_operations() {
    let app = TestApp::spawn().await;
    let spec = app.get("/openapi.json", None).await.body;
    let schema = |name: &str| spec["components"]["schemas"][name].clone();
    for (path, operation, request) in [
        ("/signin/idtoken", "signInIdToken", "SignInIdTokenRequest"),
        ("/link/idtoken", "linkIdToken", "LinkIdTokenRequest"),
        ("/token/exchange", "exchangeToken", "TokenExchangeRequest"),
        ("/oauth/{provider}/token", "oauthToken", "OauthTokenRequest"),
    ] {
        let post = &spec["paths"][path]["post"];
        assert_eq!(post["operationId"], operation, "{path}");
        assert!(post["responses"]["200"].is_object(), "{path} 200");
        assert!(post["responses"]["400"].is_object(), "{path} 400");
        assert_eq!(schema(request)["additionalProperties"], false, "{request}");
    }
    assert_eq!(schema("IdTokenProvider")["enum"], json!(["apple", "google"]));
    assert_eq!(schema("TokenExchangeRequest")["required"], json!(["code", "codeVerifier"]));
    assert_eq!(schema("OauthTokenRequest")["required"], json!(["code", "code_verifier"]));
    let verifier = &schema("TokenExchangeRequest")["properties"]["codeVerifier"];
    assert_eq!((verifier["minLength"].clone(), verifier["maxLength"].clone()), (json!(43), json!(128)));
    assert_eq!(schema("OauthTokenRequest")["properties"]["code_verifier"]["minLength"], 43);
    assert!(schema("OauthTokenResponse")["properties"]["token"].is_object());
    assert!(schema("OauthTokenResponse")["properties"]["accessToken"].is_object(), "the session's fields too");
    assert!(spec["paths"]["/link/idtoken"]["post"]["responses"]["401"].is_object());
    for path in ["/signin/provider/{provider}", "/oauth/{provider}"] {
        let names: Vec<String> = spec["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|parameter| parameter["name"].as_str().unwrap().to_string())
            .collect();
        assert!(names.iter().any(|name| name == "code_challenge"), "{path}: {names:?}");
        assert!(names.iter().any(|name| name == "code_challenge_method"), "{path}: {names:?}");
    }
}
