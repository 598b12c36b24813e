//! SMS as a second factor, against a stand-in speaking Twilio's wire formats (Messaging and Verify): the
//! number is enrolled with a code, every sign-in is then challenged with a code sent to it; resends are
//! throttled, wrong codes burn the ticket, and SMS elevates. Also: sign-ins by SMS code and by provider
//! are challenged by TOTP like every other method.
use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::app::{PASSWORD, Reply};
use crate::helpers::provider_flow::{self, Setup};
use crate::helpers::provider_standin::StandinKind;
use crate::helpers::sms_standin::SmsStandin;
use crate::helpers::totp;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token";
const MESSAGING: &str = "MG0123456789abcdef0123456789abcdef";
const VERIFY: &str = "VA0123456789abcdef0123456789abcdef";
const ENCRYPTION_KEYS: &str = "k2:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const PHONE: &str = "+14155550199";

async fn spawn(service_id: &str, extra: &[(&str, &str)]) -> (TestApp, SmsStandin) {
    let standin = SmsStandin::start(SID, TOKEN).await;
    let mut env = vec![
        ("AUTH_MFA_ENABLED", "true"),
        ("AUTH_MFA_SMS_ENABLED", "true"),
        ("AUTH_SMS_PASSWORDLESS_ENABLED", "false"),
        ("AUTH_ENCRYPTION_KEYS", ENCRYPTION_KEYS),
    ];
    env.extend_from_slice(extra);
    (TestApp::spawn_with_sms(&standin, service_id, &env).await, standin)
}

fn code_in(body: &str) -> String {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|chunk| chunk.len() == 6)
        .unwrap_or_else(|| panic!("no code in {body}"))
        .to_string()
}

/// The `nth` message the stand-in received (1-based), waiting for one sent after the answer.
async fn message(standin: &SmsStandin, nth: usize) -> (String, String) {
    for _ in 0..100 {
        if let Some(message) = standin.messages().get(nth - 1) {
            return message.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no message {nth}: {:?}", standin.messages());
}

fn bearer(session: &Value) -> String {
    session["accessToken"].as_str().unwrap().to_string()
}

/// Enrols PHONE for the session's user through Twilio Messaging; returns the recovery codes.
async fn enrol(app: &TestApp, standin: &SmsStandin, session: &Value) -> Vec<Value> {
    let sent = standin.messages().len();
    let enrol = app.post_with("/user/mfa/sms", json!({"phoneNumber": PHONE}), Some(&bearer(session))).await;
    assert_eq!(enrol.status, StatusCode::OK, "{}", enrol.text);
    let (to, body) = message(standin, sent + 1).await;
    assert_eq!(to, PHONE);
    let code = code_in(&body);
    let wrong =
        app.post_with("/user/mfa", json!({"code": "000000", "activeMfaType": "sms"}), Some(&bearer(session))).await;
    assert_eq!(wrong.error_code(), "invalid-otp", "{}", wrong.text);
    let activated =
        app.post_with("/user/mfa", json!({"code": code, "activeMfaType": "sms"}), Some(&bearer(session))).await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    activated.body["recoveryCodes"].as_array().unwrap().clone()
}

fn sms_ticket(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.body["session"].is_null(), "{}", reply.text);
    let ticket = reply.body["mfa"]["ticket"].as_str().unwrap().to_string();
    assert!(ticket.starts_with("mfaSms:"), "{ticket}");
    ticket
}

#[tokio::test]
async fn an_sms_second_factor_is_enrolled_and_challenges_every_sign_in() {
    // The account's lockout (tested elsewhere) stays out of the way of the ticket's own limit.
    let (app, standin) = spawn(MESSAGING, &[("AUTH_OTP_MAX_ATTEMPTS", "20")]).await;
    let session = app.signed_up_session("sms-factor@example.com").await;
    let recovery = enrol(&app, &standin, &session).await;
    assert_eq!(recovery.len(), 10);
    let user = app.rows("select phone_number, phone_number_verified, active_mfa_type from auth.users", &[]).await;
    assert_eq!(user[0].get::<_, Option<String>>("phone_number").as_deref(), Some(PHONE));
    assert!(user[0].get::<_, bool>("phone_number_verified"));
    assert_eq!(user[0].get::<_, Option<String>>("active_mfa_type").as_deref(), Some("sms"));

    let ticket = sms_ticket(&app.signin("sms-factor@example.com", PASSWORD).await);
    let (to, body) = message(&standin, 2).await;
    assert_eq!(to, PHONE);
    let code = code_in(&body);
    let stored = app.count(&format!("select count(*) from auth.mfa_tickets where code_hash like '%{code}%'")).await;
    assert_eq!(stored, 0, "codes are stored hashed");

    // A resend within 30 seconds is refused; after, a new code replaces the old one.
    let early = app.post("/signin/mfa/sms/resend", json!({"ticket": ticket})).await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS, "{}", early.text);
    assert!(early.headers.contains_key("retry-after"));
    app.clock.advance(TimeDelta::seconds(31));
    let resent = app.post("/signin/mfa/sms/resend", json!({"ticket": ticket})).await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text);
    let new_code = code_in(&message(&standin, 3).await.1);
    if new_code != code {
        let old = app.post("/signin/mfa/sms", json!({"ticket": ticket, "otp": code})).await;
        assert_eq!(old.error_code(), "invalid-otp", "the old code is replaced");
    }
    let done = app.post("/signin/mfa/sms", json!({"ticket": ticket, "otp": new_code})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["session"]["user"]["email"], "sms-factor@example.com");
    let again = app.post("/signin/mfa/sms", json!({"ticket": ticket, "otp": new_code})).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.error_code(), "invalid-ticket");

    // Five wrong codes burn a ticket; a recovery code completes another.
    let burnt = sms_ticket(&app.signin("sms-factor@example.com", PASSWORD).await);
    let code = code_in(&message(&standin, 4).await.1);
    for _ in 0..5 {
        let wrong = app.post("/signin/mfa/sms", json!({"ticket": burnt, "otp": "999999"})).await;
        assert_eq!(wrong.error_code(), "invalid-otp");
    }
    let late = app.post("/signin/mfa/sms", json!({"ticket": burnt, "otp": code})).await;
    assert_eq!(late.error_code(), "invalid-ticket");
    app.clock.advance(TimeDelta::seconds(31));
    let with_recovery = sms_ticket(&app.signin("sms-factor@example.com", PASSWORD).await);
    let done = app.post("/signin/mfa/sms", json!({"ticket": with_recovery, "otp": recovery[0]})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
}

#[tokio::test]
async fn codes_expire_after_five_minutes() {
    let (app, standin) = spawn(MESSAGING, &[]).await;
    let session = app.signed_up_session("expire@example.com").await;
    enrol(&app, &standin, &session).await;
    let ticket = sms_ticket(&app.signin("expire@example.com", PASSWORD).await);
    let code = code_in(&message(&standin, 2).await.1);
    app.clock.advance(TimeDelta::seconds(301));
    let expired = app.post("/signin/mfa/sms", json!({"ticket": ticket, "otp": code})).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "{}", expired.text);
    assert_eq!(expired.error_code(), "invalid-ticket");
}

#[tokio::test]
async fn twilio_verify_holds_and_checks_the_codes() {
    let (app, standin) = spawn(VERIFY, &[]).await;
    let session = app.signed_up_session("verify@example.com").await;
    let enrolled = app.post_with("/user/mfa/sms", json!({"phoneNumber": PHONE}), Some(&bearer(&session))).await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.text);
    let code = standin.verify_code_for(PHONE).expect("Verify sent a code");
    let activated =
        app.post_with("/user/mfa", json!({"code": code, "activeMfaType": "sms"}), Some(&bearer(&session))).await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    assert_eq!(app.count("select count(*) from auth.mfa_tickets where code_hash is not null").await, 0);

    let ticket = sms_ticket(&app.signin("verify@example.com", PASSWORD).await);
    // The challenge's code is sent after the answer.
    for _ in 0..100 {
        if standin.verifications().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(standin.verifications().len(), 2, "a second verification for the sign-in");
    let code = standin.verify_code_for(PHONE);
    let done = app.post("/signin/mfa/sms", json!({"ticket": ticket, "otp": code.expect("a second code")})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
}

#[tokio::test]
async fn sms_elevates_and_removing_the_factor_needs_its_code() {
    let (app, standin) = spawn(MESSAGING, &[("AUTH_REQUIRE_ELEVATED_CLAIM", "recommended")]).await;
    let session = app.signed_up_session("elevate-sms@example.com").await;
    enrol(&app, &standin, &session).await;
    // With a second factor, `recommended` demands elevation.
    let expires = (app.clock.now() + TimeDelta::days(1)).to_rfc3339();
    let refused = app.post_with("/pat", json!({"expiresAt": expires}), Some(&bearer(&session))).await;
    assert_eq!(refused.error_code(), "elevated-claim-required", "{}", refused.text);
    let sent = app.post_with("/elevate/sms/send", json!({}), Some(&bearer(&session))).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    let code = code_in(&message(&standin, 2).await.1);
    let elevated = app.post_with("/elevate/sms", json!({"otp": code}), Some(&bearer(&session))).await;
    assert_eq!(elevated.status, StatusCode::OK, "{}", elevated.text);
    let token = elevated.body["accessToken"].as_str().unwrap().to_string();
    assert_eq!(app.post_with("/pat", json!({"expiresAt": expires}), Some(&token)).await.status, StatusCode::OK);

    // Removing the factor takes a code sent for it.
    let wrong = app.post_with("/user/mfa", json!({"code": "123456", "activeMfaType": ""}), Some(&token)).await;
    assert_ne!(wrong.status, StatusCode::OK, "{}", wrong.text);
    app.post_with("/elevate/sms/send", json!({}), Some(&token)).await;
    let code = code_in(&message(&standin, 3).await.1);
    let removed = app.post_with("/user/mfa", json!({"code": code, "activeMfaType": ""}), Some(&token)).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert_eq!(app.count("select count(*) from auth.users where active_mfa_type is null").await, 1);
    let signin = app.signin("elevate-sms@example.com", PASSWORD).await;
    assert!(signin.body["session"]["accessToken"].is_string(), "{}", signin.text);
}

#[tokio::test]
async fn a_sign_in_by_sms_code_is_challenged_by_totp() {
    let standin = SmsStandin::start(SID, TOKEN).await;
    let app = TestApp::spawn_with_sms(
        &standin,
        MESSAGING,
        &[("AUTH_MFA_ENABLED", "true"), ("AUTH_ENCRYPTION_KEYS", ENCRYPTION_KEYS)],
    )
    .await;
    app.post("/signin/passwordless/sms", json!({"phoneNumber": PHONE})).await;
    let code = code_in(&message(&standin, 1).await.1);
    let first = app.post("/signin/passwordless/sms/otp", json!({"phoneNumber": PHONE, "otp": code})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let (secret, _) = totp::enrol(&app, &bearer(&first.body["session"])).await;
    app.post("/signin/passwordless/sms", json!({"phoneNumber": PHONE})).await;
    let code = code_in(&message(&standin, 2).await.1);
    let challenged = app.post("/signin/passwordless/sms/otp", json!({"phoneNumber": PHONE, "otp": code})).await;
    assert!(challenged.body["session"].is_null(), "{}", challenged.text);
    let ticket = challenged.body["mfa"]["ticket"].as_str().unwrap();
    let done = app.post("/signin/mfa/totp", json!({"ticket": ticket, "otp": totp::code_for(&app, &secret)})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["session"]["user"]["phoneNumber"], PHONE);
}

#[tokio::test]
async fn a_provider_sign_in_is_challenged_by_totp() {
    let setup = Setup::new(StandinKind::Github, &[("AUTH_MFA_ENABLED", "true")]).await;
    let app = &setup.app;
    setup.provider_user("4242", "octo@example.com", true);
    let mut browser = setup.browser();
    let landed = provider_flow::sign_in(&setup, &mut browser, "/signin/provider/github").await;
    let session = provider_flow::session_of(app, &landed).await;
    let (secret, _) = totp::enrol(app, &bearer(&session)).await;

    let mut again = setup.browser();
    let landed = provider_flow::sign_in(&setup, &mut again, "/signin/provider/github").await;
    assert_eq!(provider_flow::param(&landed, "refreshToken"), None, "{landed}");
    assert_eq!(provider_flow::param(&landed, "mfaType").as_deref(), Some("totp"));
    let ticket = provider_flow::param(&landed, "mfaTicket").expect("a ticket");
    let done = app.post("/signin/mfa/totp", json!({"ticket": ticket, "otp": totp::code_for(app, &secret)})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["session"]["user"]["id"], session["user"]["id"]);
}
