//! Second factors end to end: TOTP enrolment through the API, then every sign-in method (password, magic
//! link, email code) is challenged and completed with a code computed from the secret by an independent
//! TOTP implementation (the `totp-rs` generator, driven here directly); replays, recovery codes, the
//! ticket's attempt limit and the lockout; secrets stored encrypted, adopted plaintext secrets too.
use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::app::{PASSWORD, Reply};
use crate::helpers::mailbox::{code_in, follow, link_of, mail, param, spawn};
use crate::helpers::totp::{self, code_for, next_step};

const ENCRYPTION_KEYS: &str = "k2:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn mfa_env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![("AUTH_MFA_ENABLED", "true"), ("AUTH_ENCRYPTION_KEYS", ENCRYPTION_KEYS)];
    env.extend_from_slice(extra);
    env
}

/// Enrols TOTP for the session's user.
async fn enrol(app: &TestApp, session: &Value) -> (String, Vec<String>) {
    totp::enrol(app, session["accessToken"].as_str().unwrap()).await
}

fn bearer(session: &Value) -> String {
    session["accessToken"].as_str().unwrap().to_string()
}

/// A challenge instead of a session.
fn ticket_of(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.body["session"].is_null(), "{}", reply.text);
    let ticket = reply.body["mfa"]["ticket"].as_str().unwrap().to_string();
    let uuid = ticket.strip_prefix("mfaTotp:").expect("nhost's ticket shape");
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "the SDK wants mfaTotp:<uuid>: {ticket}");
    ticket
}

async fn complete(app: &TestApp, ticket: &str, otp: &str) -> Reply {
    app.post("/signin/mfa/totp", json!({"ticket": ticket, "otp": otp})).await
}

async fn assert_session_for(app: &TestApp, reply: &Reply, user_id: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.body["mfa"].is_null(), "{}", reply.text);
    let me = app.get("/user", Some(reply.body["session"]["accessToken"].as_str().unwrap())).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["id"], user_id);
}

#[tokio::test]
async fn every_sign_in_method_is_challenged_and_completed_with_a_code() {
    let (app, maildev) =
        spawn(&mfa_env(&[("AUTH_EMAIL_PASSWORDLESS_ENABLED", "true"), ("AUTH_OTP_EMAIL_ENABLED", "true")])).await;
    let session = app.signed_up_session("two@example.com").await;
    let user_id = session["user"]["id"].as_str().unwrap().to_string();
    let (secret, _) = enrol(&app, &session).await;
    let stored = app
        .rows("select totp_secret, totp_secret_sealed is not null as sealed, active_mfa_type from auth.users", &[])
        .await;
    assert_eq!(stored[0].get::<_, Option<String>>("totp_secret"), None, "never stored in plaintext");
    assert!(stored[0].get::<_, bool>("sealed"));
    assert_eq!(stored[0].get::<_, Option<String>>("active_mfa_type").as_deref(), Some("totp"));

    // Password.
    let ticket = ticket_of(&app.signin("two@example.com", PASSWORD).await);
    let done = complete(&app, &ticket, &code_for(&app, &secret)).await;
    assert_session_for(&app, &done, &user_id).await;
    assert_eq!(complete(&app, &ticket, &code_for(&app, &secret)).await.status, StatusCode::UNAUTHORIZED);
    next_step(&app);

    // Magic link: the redirect carries the ticket instead of a refresh token.
    app.post("/signin/passwordless/email", json!({"email": "two@example.com"})).await;
    let (_, params) =
        follow(&app, &link_of(&mail(&app, &maildev, "two@example.com", "signinPasswordless", 1).await)).await;
    assert!(param(&params, "refreshToken").is_none(), "{params:?}");
    assert_eq!(param(&params, "mfaType"), Some("totp"));
    let ticket = param(&params, "mfaTicket").expect("a ticket").to_string();
    let done = complete(&app, &ticket, &code_for(&app, &secret)).await;
    assert_session_for(&app, &done, &user_id).await;
    next_step(&app);

    // Email code.
    app.post("/signin/otp/email", json!({"email": "two@example.com"})).await;
    let code = code_in(&mail(&app, &maildev, "two@example.com", "signin-otp", 1).await);
    let ticket =
        ticket_of(&app.post("/signin/otp/email/verify", json!({"email": "two@example.com", "otp": code})).await);
    let done = complete(&app, &ticket, &code_for(&app, &secret)).await;
    assert_session_for(&app, &done, &user_id).await;
    assert_eq!(app.count("select count(*) from auth.mfa_tickets").await, 0, "tickets are used once");
}

#[tokio::test]
async fn a_code_is_accepted_once_a_recovery_code_once_and_a_ticket_burns_after_five_wrong_codes() {
    // The account's lockout (its own test) stays out of the way of the ticket's limit.
    let (app, _maildev) = spawn(&mfa_env(&[("AUTH_OTP_MAX_ATTEMPTS", "20")])).await;
    let session = app.signed_up_session("replay@example.com").await;
    let user_id = session["user"]["id"].as_str().unwrap().to_string();
    let (secret, recovery) = enrol(&app, &session).await;
    assert_eq!(app.count("select count(*) from auth.mfa_recovery_codes where code_hash like '\\\\x%'").await, 10);

    // The same code twice in its step: the second is refused, even on a fresh ticket.
    let code = code_for(&app, &secret);
    let first = ticket_of(&app.signin("replay@example.com", PASSWORD).await);
    assert_session_for(&app, &complete(&app, &first, &code).await, &user_id).await;
    let second = ticket_of(&app.signin("replay@example.com", PASSWORD).await);
    let replayed = complete(&app, &second, &code).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED, "{}", replayed.text);
    assert_eq!(replayed.error_code(), "invalid-totp");

    // A recovery code stands in for a code, once.
    let with_recovery = complete(&app, &second, &recovery[0].to_uppercase()).await;
    assert_session_for(&app, &with_recovery, &user_id).await;
    let third = ticket_of(&app.signin("replay@example.com", PASSWORD).await);
    assert_eq!(complete(&app, &third, &recovery[0]).await.error_code(), "invalid-totp");

    // Five wrong codes burn the ticket: even the right code no longer completes it.
    let fourth = ticket_of(&app.signin("replay@example.com", PASSWORD).await);
    for _ in 0..5 {
        assert_eq!(complete(&app, &fourth, "000000").await.error_code(), "invalid-totp");
    }
    next_step(&app);
    let burnt = complete(&app, &fourth, &code_for(&app, &secret)).await;
    assert_eq!(burnt.status, StatusCode::UNAUTHORIZED, "{}", burnt.text);
    assert_eq!(burnt.error_code(), "invalid-ticket");
    assert_eq!(app.count("select count(*) from auth.mfa_tickets").await, 1, "the third ticket is still waiting");
}

#[tokio::test]
async fn wrong_codes_count_toward_the_accounts_lockout() {
    let (app, _maildev) = spawn(&mfa_env(&[("AUTH_OTP_MAX_ATTEMPTS", "3")])).await;
    let session = app.signed_up_session("guess@example.com").await;
    let (secret, _) = enrol(&app, &session).await;
    let mut last = None;
    for _ in 0..3 {
        let ticket = ticket_of(&app.signin("guess@example.com", PASSWORD).await);
        last = Some(complete(&app, &ticket, "123456").await);
    }
    assert_eq!(last.unwrap().error_code(), "invalid-totp");
    let ticket = ticket_of(&app.signin("guess@example.com", PASSWORD).await);
    let locked = complete(&app, &ticket, &code_for(&app, &secret)).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.text);
    assert!(locked.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn enrolment_follows_nhosts_rules_and_deactivation_needs_a_code() {
    let (off, _maildev_off) = spawn(&[("AUTH_ENCRYPTION_KEYS", ENCRYPTION_KEYS)]).await;
    let session = off.signed_up_session("off@example.com").await;
    let disabled = off.get("/mfa/totp/generate", Some(&bearer(&session))).await;
    assert_eq!(disabled.status, StatusCode::BAD_REQUEST);
    assert_eq!(disabled.error_code(), "disabled-mfa-totp");

    let (app, _maildev) = spawn(&mfa_env(&[])).await;
    let session = app.signed_up_session("rules@example.com").await;
    let token = bearer(&session);
    let no_secret = app.post_with("/user/mfa", json!({"code": "123456", "activeMfaType": "totp"}), Some(&token)).await;
    assert_eq!(no_secret.error_code(), "no-totp-secret");
    let generated = app.get("/mfa/totp/generate", Some(&token)).await;
    let secret = generated.body["totpSecret"].as_str().unwrap().to_string();
    let unknown = app.post_with("/user/mfa", json!({"code": "123456", "activeMfaType": "email"}), Some(&token)).await;
    assert_eq!(unknown.error_code(), "mfa-type-not-found");
    let wrong = app.post_with("/user/mfa", json!({"code": "000000", "activeMfaType": "totp"}), Some(&token)).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.error_code(), "invalid-totp");
    assert_eq!(app.count("select count(*) from auth.users where active_mfa_type is not null").await, 0);
    let activated = app
        .post_with("/user/mfa", json!({"code": code_for(&app, &secret), "activeMfaType": "totp"}), Some(&token))
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    next_step(&app);
    let again = app.get("/mfa/totp/generate", Some(&token)).await;
    assert_eq!(again.error_code(), "totp-already-active");

    // Regenerated recovery codes replace the old ones.
    let old = activated.body["recoveryCodes"][0].as_str().unwrap().to_string();
    let fresh = app.post_with("/user/mfa/recovery-codes", json!({"code": code_for(&app, &secret)}), Some(&token)).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    assert_eq!(fresh.body["recoveryCodes"].as_array().unwrap().len(), 10);
    next_step(&app);

    // Deactivation: a wrong code is refused; the right one removes the secret and the recovery codes.
    let refused = app.post_with("/user/mfa", json!({"code": old, "activeMfaType": ""}), Some(&token)).await;
    assert_eq!(refused.error_code(), "invalid-totp");
    let off =
        app.post_with("/user/mfa", json!({"code": code_for(&app, &secret), "activeMfaType": ""}), Some(&token)).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_eq!(
        app.count("select count(*) from auth.users where active_mfa_type is null and totp_secret_sealed is null").await,
        1
    );
    assert_eq!(app.count("select count(*) from auth.mfa_recovery_codes").await, 0);
    let signin = app.signin("rules@example.com", PASSWORD).await;
    assert!(signin.body["session"]["accessToken"].is_string(), "{}", signin.text);
}

#[tokio::test]
async fn an_adopted_plaintext_secret_signs_in_and_is_encrypted_after() {
    let (app, maildev) = spawn(&mfa_env(&[("AUTH_OTP_EMAIL_ENABLED", "true")])).await;
    let session = app.signed_up_session("adopted@example.com").await;
    let user_id = session["user"]["id"].as_str().unwrap().to_string();
    // As an nhost database holds it: plaintext, base32, 80 bits.
    let secret = "JBSWY3DPEHPK3PXP";
    app.db
        .connect()
        .await
        .execute("update auth.users set active_mfa_type = 'totp', totp_secret = $1", &[&secret])
        .await
        .unwrap();
    app.post("/signin/otp/email", json!({"email": "adopted@example.com"})).await;
    let code = code_in(&mail(&app, &maildev, "adopted@example.com", "signin-otp", 1).await);
    let ticket =
        ticket_of(&app.post("/signin/otp/email/verify", json!({"email": "adopted@example.com", "otp": code})).await);
    let done = complete(&app, &ticket, &code_for(&app, secret)).await;
    assert_session_for(&app, &done, &user_id).await;
    let stored = app.rows("select totp_secret, totp_secret_sealed is not null as sealed from auth.users", &[]).await;
    assert_eq!(stored[0].get::<_, Option<String>>("totp_secret"), None, "the plaintext is gone");
    assert!(stored[0].get::<_, bool>("sealed"));
    // The sealed secret keeps working.
    next_step(&app);
    app.post("/signin/otp/email", json!({"email": "adopted@example.com"})).await;
    let code = code_in(&mail(&app, &maildev, "adopted@example.com", "signin-otp", 2).await);
    let ticket =
        ticket_of(&app.post("/signin/otp/email/verify", json!({"email": "adopted@example.com", "otp": code})).await);
    assert_session_for(&app, &complete(&app, &ticket, &code_for(&app, secret)).await, &user_id).await;
}

/// The Hasura claims of an access token (its payload, unverified: the service verified it).
fn hasura_claims(access_token: &str) -> Value {
    use base64::Engine as _;
    let payload = access_token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["https://hasura.io/jwt/claims"].clone()
}

#[tokio::test]
async fn a_privileged_role_holds_no_privilege_until_a_second_factor_is_enrolled() {
    let (app, _maildev) = spawn(&mfa_env(&[("AUTH_MFA_REQUIRED_FOR_ROLES", "admin,moderator")])).await;
    let session = app.signed_up_session("boss@example.com").await;
    let user_id = session["user"]["id"].as_str().unwrap().to_string();
    let client = app.db.connect().await;
    client.execute("insert into auth.roles (role) values ('admin') on conflict do nothing", &[]).await.unwrap();
    client
        .execute("insert into auth.user_roles (user_id, role) values ($1::text::uuid, 'admin')", &[&user_id])
        .await
        .unwrap();
    let limited = app.signin("boss@example.com", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::OK, "{}", limited.text);
    let claims = hasura_claims(limited.body["session"]["accessToken"].as_str().unwrap());
    assert_eq!(claims["x-hasura-allowed-roles"], json!(["mfa-enrolment"]));
    assert_eq!(claims["x-hasura-default-role"], "mfa-enrolment");
    assert_eq!(claims["x-hasura-mfa-enrolment-required"], "true");
    // Hasura, asking the webhook, sees no privileged role either.
    let token = limited.body["session"]["accessToken"].as_str().unwrap().to_string();
    let webhook = app.webhook_get(&[("Authorization", &format!("Bearer {token}"))]).await;
    assert_eq!(webhook.body["X-Hasura-Role"], "mfa-enrolment", "{}", webhook.text);

    // The limited session enrols; a refresh then carries the roles.
    let (secret, _) = enrol(&app, &limited.body["session"]).await;
    let refreshed = app.refresh(limited.body["session"]["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let claims = hasura_claims(refreshed.body["accessToken"].as_str().unwrap());
    let roles = claims["x-hasura-allowed-roles"].as_array().unwrap();
    assert!(roles.contains(&json!("admin")), "{claims}");
    assert!(claims.get("x-hasura-mfa-enrolment-required").is_none());

    // The last factor cannot be removed while the role is held.
    let removed = app
        .post_with(
            "/user/mfa",
            json!({"code": code_for(&app, &secret), "activeMfaType": ""}),
            Some(refreshed.body["accessToken"].as_str().unwrap()),
        )
        .await;
    assert_eq!(removed.status, StatusCode::FORBIDDEN, "{}", removed.text);
    assert_eq!(removed.error_code(), "mfa-required-for-role");
    assert_eq!(app.count("select count(*) from auth.users where active_mfa_type = 'totp'").await, 1);
}

#[tokio::test]
async fn sensitive_changes_demand_an_elevated_token_when_required() {
    let (app, _maildev) = spawn(&mfa_env(&[("AUTH_REQUIRE_ELEVATED_CLAIM", "required")])).await;
    let session = app.signed_up_session("elevate@example.com").await;
    let token = bearer(&session);
    let expires = (app.clock.now() + TimeDelta::days(1)).to_rfc3339();
    let refused = app.post_with("/pat", json!({"expiresAt": expires}), Some(&token)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.error_code(), "elevated-claim-required");
    let password_change =
        app.post_with("/user/password", json!({"newPassword": "another-password-1"}), Some(&token)).await;
    assert_eq!(password_change.error_code(), "elevated-claim-required");
    let generate = app.get("/mfa/totp/generate", Some(&token)).await;
    assert_eq!(generate.error_code(), "elevated-claim-required");

    let wrong = app.post_with("/elevate/password", json!({"password": "not-the-password"}), Some(&token)).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    let elevated = app.post_with("/elevate/password", json!({"password": PASSWORD}), Some(&token)).await;
    assert_eq!(elevated.status, StatusCode::OK, "{}", elevated.text);
    let elevated_token = elevated.body["accessToken"].as_str().unwrap().to_string();
    assert_eq!(hasura_claims(&elevated_token)["x-hasura-auth-elevated"], session["user"]["id"]);
    assert_eq!(elevated.body["accessTokenExpiresIn"], 300);
    let created = app.post_with("/pat", json!({"expiresAt": expires}), Some(&elevated_token)).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    // Enrol with the elevated token, then elevate with a code.
    let (secret, _) = enrol(&app, &json!({"accessToken": elevated_token})).await;
    let by_code = app.post_with("/elevate/totp", json!({"otp": code_for(&app, &secret)}), Some(&token)).await;
    assert_eq!(by_code.status, StatusCode::OK, "{}", by_code.text);
    // The refresh token still works, and a refreshed token is not elevated.
    let refreshed = app.refresh(session["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::OK);
    assert!(hasura_claims(refreshed.body["accessToken"].as_str().unwrap()).get("x-hasura-auth-elevated").is_none());
    // The elevated token lapses.
    app.clock.advance(TimeDelta::seconds(301));
    let lapsed = app.post_with("/pat", json!({"expiresAt": expires}), Some(&elevated_token)).await;
    assert_eq!(lapsed.status, StatusCode::UNAUTHORIZED, "{}", lapsed.text);
}
