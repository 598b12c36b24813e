//! SMS sign-in over HTTP against a stand-in speaking Twilio's and SNS's wire formats: the code is read from
//! the message the provider received.
use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::sms_standin::SmsStandin;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token";

async fn spawn(service_id: &str, extra: &[(&str, &str)]) -> (TestApp, SmsStandin) {
    let standin = SmsStandin::start(SID, TOKEN).await;
    (TestApp::spawn_with_sms(&standin, service_id, extra).await, standin)
}

fn code_in(body: &str) -> String {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|chunk| chunk.len() == 6)
        .unwrap_or_else(|| panic!("no code in {body}"))
        .to_string()
}

#[tokio::test]
async fn an_sms_code_signs_up_and_signs_in_with_a_normalised_number() {
    // nhost's default: verified emails required. A phone-only user has no email to verify.
    let (app, standin) =
        spawn("MG0123456789abcdef0123456789abcdef", &[("AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED", "true")]).await;
    let reply = app.post("/signin/passwordless/sms", json!({"phoneNumber": "(415) 555-0123"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body, json!("OK"));
    let (to, body) = standin.messages().last().cloned().expect("a message");
    assert_eq!(to, "+14155550123");
    let code = code_in(&body);
    assert_eq!(
        app.count(&format!("select count(*) from auth.one_time_codes where code_hash = '{code}'")).await,
        0,
        "hashed"
    );

    let session =
        app.post("/signin/passwordless/sms/otp", json!({"phoneNumber": "+1 415 555 0123", "otp": code})).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text);
    assert_eq!(session.body["session"]["user"]["phoneNumber"], "+14155550123");
    assert_eq!(session.body["session"]["user"]["phoneNumberVerified"], true);
    assert!(session.body["mfa"].is_null());
    let refresh_token = session.body["session"]["refreshToken"].as_str().unwrap();
    assert_eq!(app.refresh(refresh_token).await.status, StatusCode::OK, "phone-only users keep their session");
    let replay = app.post("/signin/passwordless/sms/otp", json!({"phoneNumber": "+14155550123", "otp": code})).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.error_code(), "invalid-otp");
    assert_eq!(app.count("select count(*) from auth.users").await, 1);
}

#[tokio::test]
async fn sms_codes_burn_after_five_wrong_guesses_and_expire() {
    let (app, standin) = spawn("+15005550006", &[]).await;
    let phone = "+14155550124";
    app.post("/signin/passwordless/sms", json!({"phoneNumber": phone})).await;
    let code = code_in(&standin.messages().last().unwrap().1);
    let wrong = if code == "111111" { "222222" } else { "111111" };
    for _ in 0..5 {
        let reply = app.post("/signin/passwordless/sms/otp", json!({"phoneNumber": phone, "otp": wrong})).await;
        assert_eq!(reply.error_code(), "invalid-otp");
    }
    // The number is locked for the lockout window, and the code is burnt for good.
    let locked = app.post("/signin/passwordless/sms/otp", json!({"phoneNumber": phone, "otp": code})).await;
    assert_eq!(locked.error_code(), "too-many-requests");
    app.clock.advance(TimeDelta::minutes(15));
    let burnt = app.post("/signin/passwordless/sms/otp", json!({"phoneNumber": phone, "otp": code})).await;
    assert_eq!(burnt.error_code(), "invalid-otp");

    app.post("/signin/passwordless/sms", json!({"phoneNumber": phone})).await;
    let code = code_in(&standin.messages().last().unwrap().1);
    app.clock.advance(TimeDelta::seconds(301));
    let expired = app.post("/signin/passwordless/sms/otp", json!({"phoneNumber": phone, "otp": code})).await;
    assert_eq!(expired.error_code(), "invalid-otp");
}

#[tokio::test]
async fn twilio_verify_checks_its_own_codes() {
    let (app, standin) = spawn("VA0123456789abcdef0123456789abcdef", &[]).await;
    let phone = "+14155550125";
    assert_eq!(app.post("/signin/passwordless/sms", json!({"phoneNumber": phone})).await.status, StatusCode::OK);
    assert_eq!(app.count("select count(*) from auth.one_time_codes").await, 0, "the provider keeps the code");
    let code = standin.verify_code_for(phone).expect("Verify sent a code");
    let wrong = app.post("/signin/passwordless/sms/otp", json!({"phoneNumber": phone, "otp": "000000"})).await;
    assert_eq!(wrong.error_code(), "invalid-otp");
    let right = app.post("/signin/passwordless/sms/otp", json!({"phoneNumber": phone, "otp": code})).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text);
}

#[tokio::test]
async fn a_number_the_provider_refuses_is_cannot_send_sms_and_stores_nothing() {
    let (app, _standin) = spawn("MG0123456789abcdef0123456789abcdef", &[]).await;
    // The stand-in answers Twilio's error 21211 for numbers it treats as invalid.
    let reply = app.post("/signin/passwordless/sms", json!({"phoneNumber": "+15005550001"})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.error_code(), "cannot-send-sms");
    assert_eq!(app.count("select count(*) from auth.users").await, 0);
    let garbage = app.post("/signin/passwordless/sms", json!({"phoneNumber": "call me maybe"})).await;
    assert_eq!(garbage.error_code(), "invalid-request");
}

#[tokio::test]
async fn sms_sign_in_is_off_unless_enabled() {
    let app = TestApp::spawn().await;
    let reply = app.post("/signin/passwordless/sms", json!({"phoneNumber": "+14155550123"})).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error_code(), "disabled-endpoint");
}
