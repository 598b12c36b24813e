//! The nine providers of the stand-ins' catalog (Facebook, X, LinkedIn, Slack, Discord, Twitch, GitLab,
//! Bitbucket, Spotify). First the stand-ins themselves, driven by hand-made requests, to show they refuse what
//! the real provider refuses (another client authentication method, PKCE where it is required or unwanted, a
//! `redirect_uri` that is not exactly the registered one or the authorize step's, a code used twice, an API call
//! without the provider's extra proof) and answer in the provider's shapes; then hauth against them: what
//! each provider's sign-in must get right (addresses that join no account, X reached as `x`, GitLab by base
//! URL, Discord's avatar, Slack's workspace-scoped ids, refresh tokens rotated or kept).
use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::app::{PASSWORD, Reply};
use crate::helpers::provider_flow::*;
use crate::helpers::provider_standin::{
    ProviderStandin, SLACK_DEFAULT_TEAM_ID, StandinKind, StandinUser, appsecret_proof, bitbucket_uuid,
};

/// The nine providers of the stand-ins' catalog: every provider after Google, GitHub, Apple and Microsoft.
const NINE: &[StandinKind] = StandinKind::ALL.split_at(4).1;

/// Query parameters or headers.
type Pairs<'a> = Vec<(&'a str, &'a str)>;

/// How a hand-made token request authenticates the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    Basic,
    Post,
    /// Basic and the secret in the body at once.
    Both,
}

/// The method the provider takes (the one hauth uses).
fn client_auth(kind: StandinKind) -> Auth {
    match kind {
        StandinKind::Facebook | StandinKind::Linkedin | StandinKind::Slack | StandinKind::Twitch => Auth::Post,
        _ => Auth::Basic,
    }
}

/// A method the provider refuses: the other one where only one is taken, else both at once.
fn wrong_auth(kind: StandinKind) -> Auth {
    match kind {
        StandinKind::Twitter => Auth::Post,
        StandinKind::Linkedin | StandinKind::Twitch => Auth::Basic,
        _ => Auth::Both,
    }
}

/// A PKCE verifier and its S256 challenge.
fn pkce_pair(verifier: &str) -> (String, String) {
    use base64::Engine;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier.to_string(), challenge)
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A stand-in driven by hand, without hauth.
struct Direct {
    kind: StandinKind,
    standin: ProviderStandin,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
}

/// A token-endpoint answer: the status and the JSON body.
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn granted(&self) -> bool {
        self.status == 200 && self.body["access_token"].is_string()
    }

    fn access_token(&self) -> String {
        assert!(self.granted(), "no token: {} {}", self.status, self.body);
        self.body["access_token"].as_str().unwrap().to_string()
    }
}

impl Direct {
    async fn start(kind: StandinKind) -> Direct {
        let client = client_for(kind);
        let standin = ProviderStandin::start(kind, client.clone()).await;
        standin.add_user(StandinUser {
            id: "4242".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
            name: Some("Ada Lovelace".into()),
            picture: Some("https://images.example/ada.png".into()),
            ..StandinUser::default()
        });
        standin.sign_in_as("4242");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Direct { kind, standin, client_id: client.client_id, client_secret: client.client_secret, http }
    }

    fn setting(&self, name: &str) -> String {
        let wanted = format!("AUTH_PROVIDER_{}_{name}", self.kind.id().to_uppercase());
        let found = self.standin.env().into_iter().find(|(key, _)| *key == wanted);
        found.unwrap_or_else(|| panic!("no {wanted}")).1
    }

    /// The nhost-path callback hauth registered at the provider.
    fn callback(&self) -> String {
        format!("{SERVER}/signin/provider/{}/callback", self.kind.id())
    }

    /// The authorization URL for `redirect_uri`, with the provider's scopes, a state and `extra`.
    fn authorize_url(&self, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
        let mut url = url::Url::parse(&self.setting("AUTHORIZATION_URL")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", default_scopes(self.kind))
            .append_pair("state", "state-1234")
            .extend_pairs(extra);
        url.to_string()
    }

    /// A code for `redirect_uri`; X gets the S256 challenge of [`VERIFIER`], which it requires.
    async fn code(&self, redirect_uri: &str) -> String {
        let (_, challenge) = pkce_pair(VERIFIER);
        let pkce = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
        let extra: &[(&str, &str)] = if self.kind == StandinKind::Twitter { &pkce } else { &[] };
        self.code_with(redirect_uri, extra).await.unwrap()
    }

    async fn code_with(&self, redirect_uri: &str, extra: &[(&str, &str)]) -> Result<String, String> {
        let redirect = self.standin.authorize(&self.authorize_url(redirect_uri, extra)).await?;
        assert_eq!(redirect.redirect_uri(), redirect_uri);
        assert_eq!(redirect.param("state").as_deref(), Some("state-1234"));
        Ok(redirect.param("code").expect("a code"))
    }

    /// A token request with `fields`, the client authenticated by `auth` with `secret`.
    async fn token_request(&self, auth: Auth, secret: &str, fields: &[(&str, &str)]) -> Answer {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if auth != Auth::Basic {
            form.extend([("client_id", self.client_id.as_str()), ("client_secret", secret)]);
        }
        let mut request = self.http.post(self.setting("TOKEN_URL")).header("accept", "application/json").form(&form);
        if auth != Auth::Post {
            request = request.basic_auth(&self.client_id, Some(secret));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer { status, body }
    }

    /// Redeems `code` for `redirect_uri` with `extra` fields (X's verifier added), the provider's way.
    async fn redeem(&self, code: &str, redirect_uri: &str, extra: &[(&str, &str)]) -> Answer {
        self.redeem_as(client_auth(self.kind), &self.client_secret, code, redirect_uri, extra).await
    }

    async fn redeem_as(
        &self,
        auth: Auth,
        secret: &str,
        code: &str,
        redirect_uri: &str,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut fields = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)];
        if self.kind == StandinKind::Twitter && !extra.iter().any(|(name, _)| *name == "code_verifier") {
            fields.push(("code_verifier", VERIFIER));
        }
        fields.extend(extra);
        self.token_request(auth, secret, &fields).await
    }

    /// A GET on one of the provider's APIs with `token` as the bearer.
    async fn api(&self, setting: &str, token: &str, query: &[(&str, &str)], headers: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self.http.get(self.setting(setting)).bearer_auth(token).query(query);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// The refusal is in the provider's shape: Slack's HTTP 200 `ok:false`, Twitch's `{status,message}`,
/// Facebook's `OAuthException`, RFC 6749's `{error,error_description}` for the others.
fn assert_refused(kind: StandinKind, answer: &Answer, what: &str) {
    assert!(!answer.granted(), "{kind:?} granted {what}: {}", answer.body);
    let body = &answer.body;
    match kind {
        StandinKind::Slack => {
            assert_eq!(answer.status, 200, "Slack answers errors with HTTP 200");
            assert_eq!(body["ok"], false, "{body}");
            assert!(body["error"].is_string(), "{body}");
        }
        StandinKind::Twitch => {
            assert_eq!(body["status"].as_u64(), Some(u64::from(answer.status)), "{body}");
            assert!(body["message"].is_string(), "{body}");
        }
        StandinKind::Facebook => {
            assert_eq!(body["error"]["type"], "OAuthException", "{body}");
            assert!(body["error"]["message"].is_string(), "{body}");
        }
        _ => {
            assert!((400..500).contains(&answer.status), "{kind:?}: {}", answer.status);
            assert!(body["error"].is_string() && body["error_description"].is_string(), "{body}");
        }
    }
}

/// The token answer is in the provider's shape.
fn assert_answer_shape(kind: StandinKind, body: &Value) {
    match kind {
        StandinKind::Linkedin => {
            assert_eq!(body["scope"], "email,openid,profile", "LinkedIn joins scopes with commas");
            assert!(body["id_token"].is_string() && body.get("refresh_token").is_none(), "{body}");
        }
        StandinKind::Twitch => {
            assert_eq!(body["scope"], serde_json::json!(["openid", "user:read:email"]), "Twitch lists scopes");
            assert!(body["id_token"].is_string() && body["refresh_token"].is_string(), "{body}");
        }
        StandinKind::Bitbucket => {
            assert_eq!(body["scopes"], "account email", "Bitbucket's key is `scopes`");
            assert_eq!(body.get("scope"), None);
        }
        StandinKind::Slack => {
            assert_eq!(body["ok"], true);
            assert!(body["access_token"].as_str().unwrap().starts_with("xoxp-"));
            assert!(body.get("expires_in").is_none(), "without token rotation Slack tokens never expire");
        }
        StandinKind::Gitlab => assert!(body["created_at"].is_i64() && body["id_token"].is_string(), "{body}"),
        StandinKind::Facebook => {
            assert_eq!(body["token_type"], "bearer");
            assert!(body.get("refresh_token").is_none(), "Facebook has no refresh tokens: {body}");
        }
        StandinKind::Twitter => assert!(body["refresh_token"].is_string(), "offline.access gives one: {body}"),
        _ => assert!(body["refresh_token"].is_string(), "{body}"),
    }
}

#[tokio::test]
async fn each_stand_in_takes_only_its_providers_client_authentication() {
    for &kind in NINE {
        let direct = Direct::start(kind).await;
        let callback = direct.callback();

        let code = direct.code(&callback).await;
        let wrong = direct.redeem_as(wrong_auth(kind), &direct.client_secret, &code, &callback, &[]).await;
        assert_refused(kind, &wrong, &format!("{:?} client authentication", wrong_auth(kind)));
        let bad_secret = direct.redeem_as(client_auth(kind), "not-the-secret", &code, &callback, &[]).await;
        assert_refused(kind, &bad_secret, "a wrong client secret");

        // The refused requests did not spend the code; the right one does.
        let granted = direct.redeem(&code, &callback, &[]).await;
        assert!(granted.granted(), "{kind:?} refused its own method: {}", granted.body);
        assert_answer_shape(kind, &granted.body);
        assert!(direct.standin.is_access_token_live(&granted.access_token()));
        let again = direct.redeem(&code, &callback, &[]).await;
        assert_refused(kind, &again, "a code twice");
        assert_eq!(direct.standin.token_calls().authorization_code, 4);
    }
}

#[tokio::test]
async fn x_takes_no_credentials_in_the_body_and_linkedin_and_twitch_no_basic() {
    let x = Direct::start(StandinKind::Twitter).await;
    let code = x.code(&x.callback()).await;
    let answer = x.redeem_as(Auth::Post, &x.client_secret, &code, &x.callback(), &[]).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (401, Some("unauthorized_client")));
    assert_eq!(answer.body["error_description"], "Missing valid authorization header");

    let linkedin = Direct::start(StandinKind::Linkedin).await;
    let code = linkedin.code(&linkedin.callback()).await;
    let answer = linkedin.redeem_as(Auth::Basic, &linkedin.client_secret, &code, &linkedin.callback(), &[]).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (400, Some("invalid_request")));

    let twitch = Direct::start(StandinKind::Twitch).await;
    let code = twitch.code(&twitch.callback()).await;
    let answer = twitch.redeem_as(Auth::Basic, &twitch.client_secret, &code, &twitch.callback(), &[]).await;
    assert_eq!(answer.body, serde_json::json!({"status": 400, "message": "missing client secret"}));
}

#[tokio::test]
async fn each_stand_in_matches_the_redirect_uri_exactly() {
    for &kind in NINE {
        let direct = Direct::start(kind).await;
        let callback = direct.callback();
        let nself = format!("{SERVER}/oauth/{}/callback", kind.id());

        // At authorize: the provider's error page, never a redirect to an unregistered URI.
        for unregistered in [format!("{callback}/"), format!("{callback}?next=1"), callback.replace("http:", "https:")]
        {
            let refused = direct.standin.authorize(&direct.authorize_url(&unregistered, &[])).await;
            let page = refused.expect_err(&format!("{kind:?} accepted {unregistered}"));
            assert!(page.starts_with("HTTP 400"), "{kind:?}: {page}");
        }

        // At the token endpoint: the authorize step's URI, even where another one is registered.
        let code = direct.code(&callback).await;
        assert_refused(kind, &direct.redeem(&code, &nself, &[]).await, "another redirect_uri");
        let mut fields = vec![("grant_type", "authorization_code"), ("code", code.as_str())];
        if kind == StandinKind::Twitter {
            fields.push(("code_verifier", VERIFIER));
        }
        let without = direct.token_request(client_auth(kind), &direct.client_secret, &fields).await;
        // Slack and Bitbucket do not require it at the token endpoint; the others do.
        if matches!(kind, StandinKind::Slack | StandinKind::Bitbucket) {
            assert!(without.granted(), "{kind:?}: {}", without.body);
        } else {
            assert_refused(kind, &without, "no redirect_uri");
            assert!(direct.redeem(&code, &callback, &[]).await.granted(), "{kind:?}: the code was still good");
        }
    }
}

#[tokio::test]
async fn the_stand_ins_hold_each_provider_to_its_pkce_rule() {
    let (verifier, challenge) = pkce_pair(VERIFIER);
    let s256 = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];

    // X requires S256.
    let x = Direct::start(StandinKind::Twitter).await;
    let callback = x.callback();
    let missing = x.code_with(&callback, &[]).await.unwrap_err();
    assert!(missing.contains("code_challenge"), "{missing}");
    let plain = [("code_challenge", verifier.as_str()), ("code_challenge_method", "plain")];
    assert!(x.code_with(&callback, &plain).await.is_err(), "X takes no plain challenge");
    let code = x.code_with(&callback, &s256).await.unwrap();
    let other = "another-verifier-that-is-long-enough-for-rfc7636-rules";
    assert_refused(
        StandinKind::Twitter,
        &x.redeem(&code, &callback, &[("code_verifier", other)]).await,
        "a wrong verifier",
    );
    let no_verifier = x
        .token_request(
            Auth::Basic,
            &x.client_secret,
            &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", &callback)],
        )
        .await;
    assert_refused(StandinKind::Twitter, &no_verifier, "no verifier");
    assert!(x.redeem(&code, &callback, &[]).await.granted());

    // LinkedIn's web apps: a verifier is an invalid_client.
    let linkedin = Direct::start(StandinKind::Linkedin).await;
    let callback = linkedin.callback();
    let code = linkedin.code_with(&callback, &s256).await.unwrap();
    let answer = linkedin.redeem(&code, &callback, &[("code_verifier", &verifier)]).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (401, Some("invalid_client")));
    assert!(linkedin.redeem(&code, &callback, &[]).await.granted());

    // Discord: S256 only, and a verifier of at least 43 characters.
    let discord = Direct::start(StandinKind::Discord).await;
    let callback = discord.callback();
    assert!(discord.code_with(&callback, &plain).await.is_err(), "Discord takes no plain challenge");
    let (short, short_challenge) = pkce_pair(&VERIFIER[..42]);
    let code = discord
        .code_with(&callback, &[("code_challenge", &short_challenge), ("code_challenge_method", "S256")])
        .await
        .unwrap();
    assert_refused(StandinKind::Discord, &discord.redeem(&code, &callback, &[("code_verifier", &short)]).await, "42");
    let code = discord.code_with(&callback, &s256).await.unwrap();
    assert_refused(StandinKind::Discord, &discord.redeem(&code, &callback, &[]).await, "a missing verifier");
    assert!(discord.redeem(&code, &callback, &[("code_verifier", &verifier)]).await.granted());

    // Spotify: a confidential client sends no verifier.
    let spotify = Direct::start(StandinKind::Spotify).await;
    let callback = spotify.callback();
    let code = spotify.code(&callback).await;
    let answer = spotify.redeem(&code, &callback, &[("code_verifier", &verifier)]).await;
    assert_refused(StandinKind::Spotify, &answer, "a verifier from a confidential client");
    assert!(spotify.redeem(&code, &callback, &[]).await.granted());

    // Bitbucket and Twitch ignore PKCE altogether.
    for kind in [StandinKind::Bitbucket, StandinKind::Twitch] {
        let direct = Direct::start(kind).await;
        let callback = direct.callback();
        let code = direct.code_with(&callback, &s256).await.unwrap();
        assert!(direct.redeem(&code, &callback, &[("code_verifier", "whatever")]).await.granted(), "{kind:?}");
    }
}

#[tokio::test]
async fn the_profile_apis_want_a_live_token_and_their_providers_extra_proof() {
    for &kind in NINE {
        let direct = Direct::start(kind).await;
        let callback = direct.callback();
        let token = direct.redeem(&direct.code(&callback).await, &callback, &[]).await.access_token();
        let proof = appsecret_proof(&direct.client_secret, &token);
        let (query, headers): (Pairs, Pairs) = match kind {
            StandinKind::Facebook => (vec![("fields", "id,name,email,picture"), ("appsecret_proof", &proof)], vec![]),
            StandinKind::Twitter => (vec![("user.fields", "profile_image_url,confirmed_email")], vec![]),
            StandinKind::Twitch => (vec![], vec![("client-id", direct.client_id.as_str())]),
            _ => (vec![], vec![]),
        };
        let (status, profile) = direct.api("USER_PROFILE_URL", &token, &query, &headers).await;
        assert_eq!(status, 200, "{kind:?}: {profile}");
        let (status, _) = direct.api("USER_PROFILE_URL", "not-a-token", &query, &headers).await;
        let refused = if kind == StandinKind::Slack {
            200
        } else if kind == StandinKind::Facebook {
            400
        } else {
            401
        };
        assert_eq!(status, refused, "{kind:?} took an unknown token");
        match kind {
            StandinKind::Facebook => {
                assert_eq!(profile["email"], "ada@example.com");
                let (status, body) = direct.api("USER_PROFILE_URL", &token, &query[..1], &[]).await;
                assert_eq!(status, 400, "no appsecret_proof: {body}");
                let wrong = appsecret_proof("another-secret", &token);
                let (status, body) =
                    direct.api("USER_PROFILE_URL", &token, &[query[0], ("appsecret_proof", wrong.as_str())], &[]).await;
                assert_eq!(status, 400, "a wrong appsecret_proof: {body}");
                assert_eq!(body["error"]["message"], "Invalid appsecret_proof provided in the API argument");
            }
            StandinKind::Twitch => {
                assert_eq!(profile["data"][0]["email"], "ada@example.com");
                let (status, body) = direct.api("USER_PROFILE_URL", &token, &[], &[]).await;
                assert_eq!(status, 401, "Helix without Client-Id: {body}");
            }
            StandinKind::Twitter => assert_eq!(profile["data"]["confirmed_email"], "ada@example.com"),
            StandinKind::Bitbucket => {
                assert_eq!(profile["uuid"], bitbucket_uuid("4242"));
                let (status, emails) = direct.api("USER_EMAILS_URL", &token, &[], &[]).await;
                assert_eq!(status, 200);
                assert_eq!(emails["values"][0]["is_confirmed"], true);
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn rotating_stand_ins_kill_the_old_refresh_token_and_gitlab_the_old_access_token_too() {
    for kind in [StandinKind::Twitter, StandinKind::Gitlab, StandinKind::Discord, StandinKind::Bitbucket] {
        let direct = Direct::start(kind).await;
        let callback = direct.callback();
        let first = direct.redeem(&direct.code(&callback).await, &callback, &[]).await;
        let refresh_token = first.body["refresh_token"].as_str().unwrap().to_string();
        let refresh = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())];
        let second = direct.token_request(client_auth(kind), &direct.client_secret, &refresh).await;
        assert!(second.granted(), "{kind:?}: {}", second.body);
        assert_ne!(second.body["refresh_token"], first.body["refresh_token"], "{kind:?} rotates");
        assert!(!direct.standin.is_refresh_token_live(&refresh_token), "{kind:?}: the old one is dead");
        assert_eq!(direct.standin.is_access_token_live(&first.access_token()), kind != StandinKind::Gitlab);
        let replayed = direct.token_request(client_auth(kind), &direct.client_secret, &refresh).await;
        assert_refused(kind, &replayed, "a rotated refresh token");
    }
}

/// Signs in at `start` with the provider user `id`/`email` and returns where hauth sent the browser.
async fn sign_in_as(setup: &Setup, start: &str) -> String {
    let mut browser = setup.browser();
    sign_in(setup, &mut browser, start).await
}

/// An account with a password at `email`, and a provider user with the same address whose provider does not
/// vouch for it: the sign-in makes no link to that account.
async fn no_auto_link(kind: StandinKind, provider_verified: bool) {
    let setup = Setup::new(kind, &[]).await;
    let app = &setup.app;
    let email = format!("owner.{}@example.com", kind.id());
    let owner = app.signed_up_session(&email).await;
    let owner_id = owner["user"]["id"].as_str().unwrap().to_string();
    setup.provider_user("7070", &email, provider_verified);
    let landed = sign_in_as(&setup, &format!("/signin/provider/{}", setup.name)).await;
    if let Some(error) = param(&landed, "error") {
        assert_eq!(error, "email-needs-linking", "{kind:?}: {landed}");
        assert_eq!(param(&landed, "refreshToken"), None);
    } else {
        // X without a confirmed address tells hauth no address at all: a new account, not the owner's.
        let session = session_of(app, &landed).await;
        assert_ne!(session["user"]["id"], owner_id.as_str(), "{kind:?} signed in to the owner's account");
        assert_ne!(session["user"]["email"], email.as_str());
    }
    let linked =
        app.rows("select count(*) from auth.user_providers where user_id = $1::text::uuid", &[&owner_id]).await[0]
            .get::<_, i64>(0);
    assert_eq!(linked, 0, "{kind:?} linked itself to the owner's account");
    assert_eq!(app.signin(&email, PASSWORD).await.status, StatusCode::OK, "the owner keeps the password");
}

#[tokio::test]
async fn facebook_and_spotify_addresses_never_join_an_existing_account() {
    no_auto_link(StandinKind::Facebook, true).await;
    no_auto_link(StandinKind::Spotify, true).await;
}

#[tokio::test]
async fn unverified_discord_bitbucket_and_x_addresses_never_join_an_existing_account() {
    no_auto_link(StandinKind::Discord, false).await;
    no_auto_link(StandinKind::Bitbucket, false).await;
    no_auto_link(StandinKind::Twitter, false).await;
}

#[tokio::test]
async fn hauth_refuses_to_go_on_where_the_provider_refuses_its_requests() {
    for &kind in NINE {
        // A callback URL the provider does not know (hauth under another server URL): refused at authorize.
        let setup = Setup::new(kind, &[("AUTH_SERVER_URL", "http://elsewhere.test")]).await;
        setup.provider_user("1", "ada@example.com", true);
        let mut browser = setup.browser();
        let authorize = browser.start(&format!("/signin/provider/{}", setup.name)).await;
        assert_eq!(
            param(&authorize, "redirect_uri"),
            Some(format!("http://elsewhere.test/signin/provider/{}/callback", setup.name))
        );
        let refused = setup.standin.authorize(&authorize).await.expect_err("an unregistered redirect_uri");
        assert!(refused.starts_with("HTTP 400"), "{kind:?}: {refused}");

        // A wrong client secret: the token exchange is refused, in whatever shape, and nothing is made.
        let secret = format!("AUTH_PROVIDER_{}_CLIENT_SECRET", setup.name.to_uppercase());
        let setup = Setup::new(kind, &[(secret.as_str(), "not-the-secret")]).await;
        setup.provider_user("1", "ada@example.com", true);
        let landed = sign_in_as(&setup, &format!("/oauth/{}", setup.name)).await;
        assert_eq!(param(&landed, "error").as_deref(), Some("oauth-token-echange-failed"), "{kind:?}: {landed}");
        assert_eq!(setup.standin.token_calls().authorization_code, 1);
        assert_eq!(setup.app.count("select count(*) from auth.users").await, 0);
    }
}

#[tokio::test]
async fn x_is_reached_as_x_and_stored_as_twitter() {
    let setup = Setup::new(StandinKind::Twitter, &[]).await;
    setup.provider_user("1500000000000000001", "ada.x@example.com", true);
    let landed = sign_in_as(&setup, "/signin/provider/x").await;
    let first = session_of(&setup.app, &landed).await;
    assert_eq!(first["user"]["email"], "ada.x@example.com");
    assert_eq!(first["user"]["emailVerified"], true, "X's confirmed_email is verified");
    let landed = sign_in_as(&setup, "/oauth/x").await;
    assert_eq!(session_of(&setup.app, &landed).await["user"]["id"], first["user"]["id"]);
    let landed = sign_in_as(&setup, "/signin/provider/twitter").await;
    assert_eq!(session_of(&setup.app, &landed).await["user"]["id"], first["user"]["id"]);
    let stored = setup.app.rows("select provider_id, provider_user_id from auth.user_providers", &[]).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].get::<_, String>(0), "twitter");
    assert_eq!(stored[0].get::<_, String>(1), "1500000000000000001");
}

#[tokio::test]
async fn a_self_managed_gitlab_is_reached_by_its_base_url_alone() {
    let setup = Setup::with_standin_env(StandinKind::Gitlab, &[], |env| {
        let base = env.iter().find(|(name, _)| name == "AUTH_PROVIDER_GITLAB_ISSUER").unwrap().1.clone();
        env.clear();
        env.push(("AUTH_PROVIDER_GITLAB_BASE_URL".into(), base));
    })
    .await;
    let endpoints: Vec<&str> = setup
        .env
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| {
            name.starts_with("AUTH_PROVIDER_GITLAB_") && (name.ends_with("_URL") || name.ends_with("ISSUER"))
        })
        .collect();
    assert_eq!(endpoints, vec!["AUTH_PROVIDER_GITLAB_BASE_URL"]);
    setup.provider_user("77", "ada.gitlab@example.com", true);
    let landed = sign_in_as(&setup, "/signin/provider/gitlab").await;
    let session = session_of(&setup.app, &landed).await;
    assert_eq!(session["user"]["email"], "ada.gitlab@example.com");
    assert_eq!(session["user"]["emailVerified"], true);
    assert_eq!(session["user"]["avatarUrl"], "https://images.example/ada.png", "from the userinfo endpoint");
    let token = setup.app.get("/user/providers/gitlab/token", Some(&access_token(&session))).await;
    assert!(setup.standin.is_access_token_live(token.body["accessToken"].as_str().unwrap()));
}

#[tokio::test]
async fn discords_avatar_hash_becomes_its_cdn_url() {
    let setup = Setup::new(StandinKind::Discord, &[]).await;
    for (id, hash, extension) in [
        ("80351110224678912", "8342729096ea3675442027381ff50dfe", "png"),
        ("80351110224678913", "a_1269e74af4df7417b13759eae50c83dc", "gif"),
    ] {
        setup.standin.add_user(StandinUser {
            id: id.into(),
            email: Some(format!("{id}@example.com")),
            email_verified: true,
            name: Some("Nelly".into()),
            avatar_hash: Some(hash.into()),
            ..StandinUser::default()
        });
        setup.standin.sign_in_as(id);
        let landed = sign_in_as(&setup, "/signin/provider/discord").await;
        let session = session_of(&setup.app, &landed).await;
        assert_eq!(
            session["user"]["avatarUrl"],
            format!("https://cdn.discordapp.com/avatars/{id}/{hash}.{extension}").as_str()
        );
    }
}

#[tokio::test]
async fn slacks_users_are_known_by_workspace_and_user_id() {
    let setup = Setup::new(StandinKind::Slack, &[]).await;
    for team in [None, Some("T0SECOND")] {
        setup.standin.add_user(StandinUser {
            id: "U0ADA".into(),
            email: Some(format!("ada.{}@example.com", team.unwrap_or("first"))),
            email_verified: true,
            name: Some("Ada Lovelace".into()),
            team_id: team.map(str::to_string),
            ..StandinUser::default()
        });
        setup.standin.sign_in_as("U0ADA");
        session_of(&setup.app, &sign_in_as(&setup, "/oauth/slack").await).await;
    }
    let mut ids: Vec<String> = setup
        .app
        .rows("select provider_user_id from auth.user_providers order by provider_user_id", &[])
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![format!("{SLACK_DEFAULT_TEAM_ID}-U0ADA"), "T0SECOND-U0ADA".to_string()],
        "two workspaces, two users"
    );
    assert_eq!(setup.app.count("select count(*) from auth.users").await, 2);
}

/// Signed in with `kind` (with Slack's token rotation or Spotify's new refresh tokens when `rotation`), its
/// tokens living 30 minutes: shorter than any of the
/// nine's own, longer than the margin hauth refreshes ahead of expiry by.
async fn signed_in(kind: StandinKind, rotation: bool) -> (Setup, serde_json::Value) {
    let setup = Setup::new(kind, &[]).await;
    setup.provider_user("31337", &format!("refresh.{}@example.com", kind.id()), true);
    if rotation {
        setup.standin.token_rotation(true);
    }
    setup.standin.set_access_token_lifetime(1800);
    let landed = sign_in_as(&setup, &format!("/signin/provider/{}", setup.name)).await;
    let session = session_of(&setup.app, &landed).await;
    (setup, session)
}

/// Two hours later: a fresh session, and hauth asked for the provider token.
async fn token_later(setup: &Setup, session: &mut serde_json::Value) -> Reply {
    setup.app.clock.advance(TimeDelta::hours(2));
    *session = setup.app.refresh(session["refreshToken"].as_str().unwrap()).await.body;
    setup.app.get(&format!("/user/providers/{}/token", setup.name), Some(&access_token(session))).await
}

/// Signs in, lets the provider token expire twice and asks hauth for it each time; returns the stand-in and
/// the refresh tokens in the order they were presented.
async fn refresh_twice(kind: StandinKind, rotation: bool) -> (Setup, Vec<String>) {
    let (setup, mut session) = signed_in(kind, rotation).await;
    let path = format!("/user/providers/{}/token", setup.name);
    let mut previous = setup.app.get(&path, Some(&access_token(&session))).await.body["accessToken"].clone();
    assert_eq!(setup.standin.token_calls().refresh, 0, "a fresh token is handed out as it is");
    let mut presented = Vec::new();
    for round in 1..=2 {
        let token = token_later(&setup, &mut session).await;
        assert_eq!(token.status, StatusCode::OK, "{kind:?} round {round}: {}", token.text);
        assert_ne!(token.body["accessToken"], previous, "{kind:?}: a new access token");
        assert!(setup.standin.is_access_token_live(token.body["accessToken"].as_str().unwrap()));
        previous = token.body["accessToken"].clone();
        let calls = setup.standin.token_calls();
        assert_eq!(calls.refresh, round);
        let fresh: Vec<String> =
            calls.refresh_by_token.keys().filter(|token| !presented.contains(*token)).cloned().collect();
        presented.extend(fresh);
        no_plaintext_tokens(&setup.app, previous.as_str().unwrap()).await;
    }
    (setup, presented)
}

#[tokio::test]
async fn a_rotated_refresh_token_is_stored_and_used_next_time() {
    for kind in [
        StandinKind::Twitter,
        StandinKind::Gitlab,
        StandinKind::Discord,
        StandinKind::Twitch,
        StandinKind::Bitbucket,
        StandinKind::Slack,
        StandinKind::Spotify,
    ] {
        let (setup, presented) = refresh_twice(kind, matches!(kind, StandinKind::Slack | StandinKind::Spotify)).await;
        assert_eq!(presented.len(), 2, "{kind:?}: the second refresh used the rotated token");
        // Spotify's old refresh tokens keep working when it hands out a new one; the others' die.
        let dead = presented.iter().filter(|token| !setup.standin.is_refresh_token_live(token)).count();
        assert_eq!(dead, if kind == StandinKind::Spotify { 0 } else { 2 }, "{kind:?}");
        assert!(setup.standin.token_calls().refresh_by_token.values().all(|uses| *uses == 1));
    }
}

#[tokio::test]
async fn spotifys_refresh_token_is_kept_when_a_refresh_returns_none() {
    let (setup, presented) = refresh_twice(StandinKind::Spotify, false).await;
    assert_eq!(presented.len(), 1, "the same refresh token both times");
    assert_eq!(setup.standin.token_calls().refresh_by_token[&presented[0]], 2);
    assert!(setup.standin.is_refresh_token_live(&presented[0]));
}

#[tokio::test]
async fn a_refused_refresh_asks_for_a_new_sign_in_whatever_shape_the_refusal_has() {
    for &kind in NINE.iter().filter(|kind| !matches!(kind, StandinKind::Facebook | StandinKind::Linkedin)) {
        let (setup, mut session) = signed_in(kind, kind == StandinKind::Slack).await;
        setup.standin.revoke_every_refresh_token();
        let refused = token_later(&setup, &mut session).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{kind:?}: {}", refused.text);
        assert_eq!(refused.error_code(), "provider-reauthentication-required", "{kind:?}");
        assert_eq!(setup.standin.token_calls().refresh, 1, "{kind:?}");
        let listed = setup.app.get("/user/providers", Some(&access_token(&session))).await;
        assert_eq!(listed.body[0]["needsReauthentication"], true, "{kind:?}");
        let audit = "select count(*) from auth.audit_log where event = 'provider.refresh_refused'";
        assert_eq!(setup.app.count(audit).await, 1, "{kind:?}");
    }
}

#[tokio::test]
async fn facebook_and_linkedin_tokens_that_expire_ask_for_a_new_sign_in() {
    for kind in [StandinKind::Facebook, StandinKind::Linkedin] {
        let (setup, mut session) = signed_in(kind, false).await;
        let fresh =
            setup.app.get(&format!("/user/providers/{}/token", setup.name), Some(&access_token(&session))).await;
        assert_eq!(fresh.status, StatusCode::OK, "{kind:?}: {}", fresh.text);
        let expired = token_later(&setup, &mut session).await;
        assert_eq!(expired.status, StatusCode::CONFLICT, "{kind:?}: {}", expired.text);
        assert_eq!(expired.error_code(), "provider-reauthentication-required");
        assert_eq!(setup.standin.token_calls().refresh, 0, "{kind:?} has no refresh grant to try");
    }
}

#[tokio::test]
async fn unverified_linkedin_slack_twitch_and_gitlab_addresses_never_join_an_existing_account() {
    for kind in [StandinKind::Linkedin, StandinKind::Slack, StandinKind::Twitch, StandinKind::Gitlab] {
        no_auto_link(kind, false).await;
    }
}

#[tokio::test]
async fn each_provider_names_its_user_by_a_stable_id_and_gives_the_picture_as_avatar() {
    for &kind in NINE {
        let setup = Setup::new(kind, &[]).await;
        setup.provider_user("5150", "picture@example.com", true);
        let landed = sign_in_as(&setup, &format!("/signin/provider/{}", setup.name)).await;
        let session = session_of(&setup.app, &landed).await;
        // Discord's avatar is a hash (see above), none here, so hauth's default; Spotify's is the largest of its
        // images.
        let avatar = session["user"]["avatarUrl"].as_str().unwrap_or_default();
        if kind == StandinKind::Discord {
            assert!(avatar.starts_with("https://www.gravatar.com/"), "{avatar}");
        } else {
            assert_eq!(avatar, "https://images.example/ada.png", "{kind:?}");
        }
        let expected_id = match kind {
            StandinKind::Bitbucket => bitbucket_uuid("5150"),
            StandinKind::Slack => format!("{SLACK_DEFAULT_TEAM_ID}-U5150"),
            _ => "5150".to_string(),
        };
        let stored = setup.app.rows("select provider_id, provider_user_id from auth.user_providers", &[]).await;
        assert_eq!(stored[0].get::<_, String>(0), kind.id());
        assert_eq!(stored[0].get::<_, String>(1), expected_id, "{kind:?}");
    }
}

#[tokio::test]
async fn x_names_twitter_on_the_users_provider_routes_too() {
    let setup = Setup::new(StandinKind::Twitter, &[]).await;
    let owner = setup.app.signed_up_session("owner.x@example.com").await;
    let bearer = access_token(&owner);
    setup.provider_user("1500000000000000002", "other.x@example.com", true);
    let mut browser = setup.browser();
    let url = browser.link_url("x", &bearer, None).await;
    let landed = sign_in(&setup, &mut browser, &url).await;
    assert_eq!(param(&landed, "error"), None, "{landed}");
    let listed = setup.app.get("/user/providers", Some(&bearer)).await;
    assert_eq!(listed.body[0]["provider"], "twitter", "{}", listed.text);
    let token = setup.app.get("/user/providers/x/token", Some(&bearer)).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    assert!(setup.standin.is_access_token_live(token.body["accessToken"].as_str().unwrap()));
    let unlinked = Reply::read(
        setup.app.client.delete("/user/providers/x").header("authorization", format!("Bearer {bearer}")).send().await.0,
    )
    .await;
    assert_eq!(unlinked.status, StatusCode::OK, "{}", unlinked.text);
    assert_eq!(setup.app.count("select count(*) from auth.user_providers").await, 0);
}

impl Direct {
    /// A revocation of `token` as the provider takes it (`right`), or as it refuses it: X's credentials in the
    /// body, LinkedIn's as Basic, Discord's and GitLab's with a wrong secret, Twitch's for another client,
    /// Facebook's without a proof for the token, Slack's by another token.
    fn revocation(&self, token: &str, right: bool) -> reqwest::RequestBuilder {
        let url = self.setting("REVOCATION_URL");
        let secret = self.client_secret.as_str();
        let form = |with_secret: bool| {
            let mut form = vec![("token", token.to_string()), ("client_id", self.client_id.clone())];
            if with_secret {
                form.push(("client_secret", secret.to_string()));
            }
            form
        };
        let post = self.http.post(&url);
        match (self.kind, right) {
            (StandinKind::Facebook, _) => {
                let key = if right { secret } else { "another-secret" };
                self.http.delete(&url).bearer_auth(token).query(&[("appsecret_proof", appsecret_proof(key, token))])
            }
            (StandinKind::Slack, true) => post.bearer_auth(token),
            (StandinKind::Slack, false) => post.bearer_auth("xoxp-not-the-token"),
            (StandinKind::Twitch, true) => post.form(&form(false)),
            (StandinKind::Twitch, false) => post.form(&[("token", token), ("client_id", "another-client")]),
            (StandinKind::Linkedin, true) | (StandinKind::Twitter, false) => post.form(&form(true)),
            (StandinKind::Linkedin, false) => post.basic_auth(&self.client_id, Some(secret)).form(&[("token", token)]),
            (StandinKind::Discord | StandinKind::Gitlab, false) => {
                post.basic_auth(&self.client_id, Some("not-the-secret")).form(&[("token", token)])
            }
            _ => post.basic_auth(&self.client_id, Some(secret)).form(&[("token", token)]),
        }
    }
}

#[tokio::test]
async fn each_stand_in_revokes_only_when_asked_its_providers_way() {
    for &kind in NINE.iter().filter(|kind| !matches!(kind, StandinKind::Bitbucket | StandinKind::Spotify)) {
        let direct = Direct::start(kind).await;
        let callback = direct.callback();
        let token = direct.redeem(&direct.code(&callback).await, &callback, &[]).await.access_token();
        let refused = direct.revocation(&token, false).send().await.unwrap();
        let status = refused.status().as_u16();
        let body: Value = refused.json().await.unwrap_or(Value::Null);
        assert!(direct.standin.is_access_token_live(&token), "{kind:?} revoked on a wrong request: {body}");
        match kind {
            StandinKind::Slack => assert_eq!((status, &body["ok"]), (200, &Value::Bool(false)), "{body}"),
            _ => assert!((400..500).contains(&status), "{kind:?}: {status} {body}"),
        }
        let revoked = direct.revocation(&token, true).send().await.unwrap();
        assert_eq!(revoked.status().as_u16(), 200, "{kind:?}");
        assert!(!direct.standin.is_access_token_live(&token), "{kind:?} kept a revoked token");
        assert_eq!(direct.standin.token_calls().revocations, 2);
    }
}
