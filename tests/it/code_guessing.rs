//! Guessing one-time codes is counted per address or number, across re-requested codes: asking for a new
//! code never restarts the count. At the limit the current code is burnt and, for a window, no code is sent
//! or accepted: `429 too-many-requests` with `Retry-After`. Unknown addresses lock the same way.
use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::app::Reply;
use crate::helpers::mailbox::{code_in, mail, spawn};
use crate::helpers::sms_standin::SmsStandin;

fn wrong_code(right: &str) -> &'static str {
    if right == "123456" { "654321" } else { "123456" }
}

fn assert_locked(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{}", reply.text);
    assert_eq!(reply.error_code(), "too-many-requests");
    let retry_after: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn fifty_re_request_and_guess_cycles_on_an_email_end_in_429() {
    let (app, maildev) = spawn(&[("AUTH_OTP_EMAIL_ENABLED", "true")]).await;
    app.signed_up_session("guess@example.com").await;
    let mut locked_at = None;
    let mut last_code = String::new();
    for cycle in 1..=50 {
        let sent = app.post("/signin/otp/email", json!({"email": "guess@example.com"})).await;
        if sent.status == StatusCode::TOO_MANY_REQUESTS {
            assert_locked(&sent);
            locked_at = Some(cycle);
            break;
        }
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
        last_code = code_in(&mail(&app, &maildev, "guess@example.com", "signin-otp", cycle).await);
        let guess = app
            .post("/signin/otp/email/verify", json!({"email": "guess@example.com", "otp": wrong_code(&last_code)}))
            .await;
        assert_eq!(guess.status, StatusCode::UNAUTHORIZED, "cycle {cycle}: {}", guess.text);
    }
    assert_eq!(locked_at, Some(6), "five wrong guesses, whatever the number of codes, lock the address");
    // The last code sent is burnt, and even the right code is refused during the window.
    let right = app.post("/signin/otp/email/verify", json!({"email": "guess@example.com", "otp": last_code})).await;
    assert_locked(&right);
    app.clock.advance(TimeDelta::minutes(15));
    let right = app.post("/signin/otp/email/verify", json!({"email": "guess@example.com", "otp": last_code})).await;
    assert_eq!(right.status, StatusCode::UNAUTHORIZED, "the code was burnt: {}", right.text);
    // After the window the owner gets a code again and it works.
    assert_eq!(app.post("/signin/otp/email", json!({"email": "guess@example.com"})).await.status, StatusCode::OK);
    let code = code_in(&mail(&app, &maildev, "guess@example.com", "signin-otp", 6).await);
    let signed_in = app.post("/signin/otp/email/verify", json!({"email": "guess@example.com", "otp": code})).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
}

#[tokio::test]
async fn an_address_without_an_account_locks_the_same_way() {
    let (app, _maildev) = spawn(&[("AUTH_OTP_EMAIL_ENABLED", "true"), ("AUTH_OTP_MAX_ATTEMPTS", "3")]).await;
    for _ in 0..3 {
        let guess = app.post("/signin/otp/email/verify", json!({"email": "ghost@example.com", "otp": "111111"})).await;
        assert_eq!(guess.status, StatusCode::UNAUTHORIZED);
        assert_eq!(guess.error_code(), "invalid-ticket");
    }
    assert_locked(&app.post("/signin/otp/email", json!({"email": "ghost@example.com"})).await);
    assert_locked(&app.post("/signin/otp/email/verify", json!({"email": "ghost@example.com", "otp": "1"})).await);
    // Other addresses are not affected.
    assert_eq!(app.post("/signin/otp/email", json!({"email": "other@example.com"})).await.status, StatusCode::OK);
}

#[tokio::test]
async fn sms_codes_are_counted_per_number_across_re_requests() {
    const SID: &str = "AC0123456789abcdef0123456789abcdef";
    let standin = SmsStandin::start(SID, "twilio-auth-token").await;
    let app = crate::helpers::TestApp::spawn_with_sms(&standin, "MG0123456789abcdef0123456789abcdef", &[]).await;
    let mut locked_at = None;
    for cycle in 1..=50 {
        let sent = app.post("/signin/passwordless/sms", json!({"phoneNumber": "+14155550199"})).await;
        if sent.status == StatusCode::TOO_MANY_REQUESTS {
            assert_locked(&sent);
            locked_at = Some(cycle);
            break;
        }
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
        let (_, body) = standin.messages().last().cloned().unwrap();
        let code: String = body.split(|c: char| !c.is_ascii_digit()).find(|c| c.len() == 6).unwrap().to_string();
        let guess = app
            .post("/signin/passwordless/sms/otp", json!({"phoneNumber": "+14155550199", "otp": wrong_code(&code)}))
            .await;
        assert_eq!(guess.status, StatusCode::BAD_REQUEST, "{}", guess.text);
        assert_eq!(guess.error_code(), "invalid-otp");
    }
    assert_eq!(locked_at, Some(6));
    assert_eq!(standin.messages().len(), 5, "no code is sent while the number is locked");
}
