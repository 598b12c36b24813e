//! Email flows end to end: the mail goes through the outbox to a real SMTP server (maildev), the test reads
//! the link or code out of the delivered message and follows it over HTTP.
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::app::{PASSWORD, Reply};
use crate::helpers::mailbox::{
    CLIENT, code_in, deliver, follow, get, link_of, mail, param, post_form, redirect_of, spawn,
};

#[tokio::test]
async fn sign_up_sends_a_verification_link_that_works_once_and_survives_prefetching() {
    let (app, maildev) = spawn(&[("AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED", "true")]).await;
    let reply = app
        .post("/signup/email-password", json!({"email": "v@example.com", "password": PASSWORD, "options": {"redirectTo": format!("{CLIENT}/welcome")}}))
        .await;
    assert_eq!(reply.body, json!({}));
    let message = mail(&app, &maildev, "v@example.com", "emailVerify", 1).await;
    let link = link_of(&message);

    // A mail scanner fetching the link twice uses nothing up.
    for _ in 0..2 {
        assert_eq!(get(&app, &link).await.status, StatusCode::OK);
    }
    assert_eq!(app.count("select count(*) from auth.one_time_codes where used_at is null").await, 1);
    // Only the hash is stored.
    let ticket = message["headers"]["x-ticket"].as_str().unwrap();
    assert_eq!(
        app.count(&format!("select count(*) from auth.one_time_codes where code_hash like '%{}%'", &ticket[12..]))
            .await,
        0
    );

    let (target, params) = follow(&app, &link).await;
    assert_eq!(target, format!("{CLIENT}/welcome"));
    assert_eq!(param(&params, "type"), Some("verifyEmail"));
    let refresh = app.refresh(param(&params, "refreshToken").unwrap()).await;
    assert_eq!(refresh.status, StatusCode::OK, "{}", refresh.text);
    assert_eq!(refresh.body["user"]["emailVerified"], true);
    assert_eq!(app.signin("v@example.com", PASSWORD).await.status, StatusCode::OK);

    // Used: the same link now fails, on GET and on POST, as a redirect with an error.
    let replay = get(&app, &link).await;
    assert_eq!(replay.status, StatusCode::FOUND);
    assert_eq!(param(&redirect_of(&replay).1, "error"), Some("invalid-ticket"));
    let (_, params) = post_form(&app, ticket, &format!("{CLIENT}/welcome")).await;
    assert_eq!(param(&params, "error"), Some("invalid-ticket"));
    assert!(param(&params, "refreshToken").is_none());
    // The delivered message's body no longer rests in the outbox.
    assert_eq!(app.count("select count(*) from auth.email_outbox where html_body like '%verify?%'").await, 0);
    assert_eq!(app.count("select count(*) from auth.email_outbox where headers::text like '%verifyEmail:%'").await, 0);
}

#[tokio::test]
async fn an_expired_link_and_a_forged_ticket_redirect_with_invalid_ticket() {
    let (app, maildev) = spawn(&[]).await;
    app.signed_up_session("late@example.com").await;
    app.post("/user/email/send-verification-email", json!({"email": "late@example.com"})).await;
    let link = link_of(&mail(&app, &maildev, "late@example.com", "emailVerify", 1).await);
    app.clock.advance(TimeDelta::seconds(3601));
    let expired = get(&app, &link).await;
    assert_eq!(param(&redirect_of(&expired).1, "error"), Some("invalid-ticket"));
    let (target, params) = post_form(&app, "verifyEmail:00000000-0000-0000-0000-000000000000", CLIENT).await;
    assert_eq!(target, format!("{CLIENT}/"));
    assert_eq!(param(&params, "error"), Some("invalid-ticket"));
    let (_, params) = post_form(&app, "not a ticket", CLIENT).await;
    assert_eq!(param(&params, "error"), Some("invalid-ticket"));
}

#[tokio::test]
async fn redirect_targets_must_be_allowed() {
    let (app, _maildev) =
        spawn(&[("AUTH_ACCESS_CONTROL_ALLOWED_REDIRECT_URLS", "https://*.preview.example.com")]).await;
    app.signed_up_session("r@example.com").await;
    let refused = app
        .post(
            "/user/password/reset",
            json!({"email": "r@example.com", "options": {"redirectTo": "https://evil.com/x"}}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.error_code(), "redirectTo-not-allowed");
    let allowed = app
        .post(
            "/user/password/reset",
            json!({"email": "r@example.com", "options": {"redirectTo": "https://pr-7.preview.example.com/reset"}}),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text);
    // A link whose redirectTo was tampered with goes back to the client URL with the error instead.
    let reply =
        get(&app, "/verify?ticket=passwordReset:00000000-0000-0000-0000-000000000000&redirectTo=https://evil.com")
            .await;
    let (target, params) = redirect_of(&reply);
    assert_eq!(target, format!("{CLIENT}/"));
    assert_eq!(param(&params, "error"), Some("redirectTo-not-allowed"));
}

#[tokio::test]
async fn password_reset_answers_the_same_for_unknown_addresses_and_ends_every_session() {
    let (app, maildev) = spawn(&[]).await;
    let old_session = app.signed_up_session("reset@example.com").await;

    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let a = app.post("/user/password/reset", json!({"email": "reset@example.com"})).await;
        known.push(started.elapsed());
        let started = Instant::now();
        let b = app.post("/user/password/reset", json!({"email": "nobody@example.com"})).await;
        unknown.push(started.elapsed());
        assert_eq!((a.status, &a.body), (b.status, &b.body), "same answer either way");
    }
    known.sort();
    unknown.sort();
    let gap = known[2].as_secs_f64() - unknown[2].as_secs_f64();
    assert!(gap.abs() < 0.02, "medians {:?} vs {:?}", known[2], unknown[2]);

    let message = mail(&app, &maildev, "reset@example.com", "passwordReset", 5).await;
    assert!(maildev.messages_to("nobody@example.com").await.is_empty());
    assert_eq!(app.count("select count(*) from auth.one_time_codes where used_at is null").await, 1, "one live link");

    let ticket = message["headers"]["x-ticket"].as_str().unwrap().to_string();
    let reply = app.post("/user/password", json!({"newPassword": "brand-new-password", "ticket": ticket})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(app.refresh(old_session["refreshToken"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.signin("reset@example.com", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.signin("reset@example.com", "brand-new-password").await.status, StatusCode::OK);
    let replay = app.post("/user/password", json!({"newPassword": "another-password", "ticket": ticket})).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.error_code(), "invalid-ticket");
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let (app, _maildev) = spawn(&[]).await;
    let laptop = app.signed_up_session("change@example.com").await;
    let phone = app.signin("change@example.com", PASSWORD).await.body["session"].clone();
    let reply = app
        .post_with("/user/password", json!({"newPassword": "changed-password"}), phone["accessToken"].as_str())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(app.refresh(laptop["refreshToken"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(phone["refreshToken"].as_str().unwrap()).await.status, StatusCode::OK);
    let too_short = app.post_with("/user/password", json!({"newPassword": "ab"}), phone["accessToken"].as_str()).await;
    assert_eq!(too_short.error_code(), "password-too-short");
    let anonymous = app.post("/user/password", json!({"newPassword": "changed-password"})).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_email_change_takes_effect_when_the_new_address_confirms_it() {
    let (app, maildev) = spawn(&[]).await;
    let session = app.signed_up_session("old@example.com").await;
    app.signed_up_session("taken@example.com").await;
    let bearer = session["accessToken"].as_str();
    let taken = app.post_with("/user/email/change", json!({"newEmail": "taken@example.com"}), bearer).await;
    assert_eq!(taken.error_code(), "email-already-in-use");
    let reply = app.post_with("/user/email/change", json!({"newEmail": "new@example.com"}), bearer).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let link = link_of(&mail(&app, &maildev, "new@example.com", "emailConfirmChange", 1).await);
    assert_eq!(app.count("select count(*) from auth.users where email = 'old@example.com'").await, 1, "not yet");
    let (_, params) = follow(&app, &link).await;
    assert_eq!(param(&params, "type"), Some("emailConfirmChange"));
    assert_eq!(app.signin("new@example.com", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(app.signin("old@example.com", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn magic_links_sign_up_new_addresses_and_answer_the_same_for_every_address() {
    let (off, _m) = spawn(&[]).await;
    let disabled = off.post("/signin/passwordless/email", json!({"email": "m@example.com"})).await;
    assert_eq!(disabled.status, StatusCode::CONFLICT);
    assert_eq!(disabled.error_code(), "disabled-endpoint");

    let (app, maildev) = spawn(&[("AUTH_EMAIL_PASSWORDLESS_ENABLED", "true")]).await;
    app.signed_up_session("known@example.com").await;
    let a = app.post("/signin/passwordless/email", json!({"email": "known@example.com"})).await;
    let b = app
        .post("/signin/passwordless/email", json!({"email": "fresh@example.com", "options": {"displayName": "Fresh"}}))
        .await;
    assert_eq!((a.status, &a.body), (StatusCode::OK, &json!("OK")));
    assert_eq!((b.status, &b.body), (StatusCode::OK, &json!("OK")));

    let link = link_of(&mail(&app, &maildev, "fresh@example.com", "signinPasswordless", 1).await);
    get(&app, &link).await; // a scanner's prefetch
    let (_, params) = follow(&app, &link).await;
    assert_eq!(param(&params, "type"), Some("passwordlessEmail"));
    let session = app.refresh(param(&params, "refreshToken").unwrap()).await;
    assert_eq!(session.body["user"]["displayName"], "Fresh");
    assert_eq!(session.body["user"]["emailVerified"], true);
    mail(&app, &maildev, "known@example.com", "signinPasswordless", 1).await;
}

#[tokio::test]
async fn magic_links_create_no_account_when_signing_up_is_disabled() {
    let (app, maildev) = spawn(&[("AUTH_EMAIL_PASSWORDLESS_ENABLED", "true"), ("AUTH_DISABLE_SIGNUP", "true")]).await;
    let reply = app.post("/signin/passwordless/email", json!({"email": "nope@example.com"})).await;
    assert_eq!(reply.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    deliver(&app).await;
    assert_eq!(app.count("select count(*) from auth.users").await, 0);
    assert!(maildev.messages_to("nope@example.com").await.is_empty());
}

#[tokio::test]
async fn email_codes_are_single_use_expire_and_burn_after_five_wrong_guesses() {
    let (app, maildev) = spawn(&[("AUTH_OTP_EMAIL_ENABLED", "true")]).await;
    let verify = |otp: String| app.post("/signin/otp/email/verify", json!({"email": "otp@example.com", "otp": otp}));

    app.post("/signin/otp/email", json!({"email": "otp@example.com"})).await;
    let code = code_in(&mail(&app, &maildev, "otp@example.com", "signin-otp", 1).await);
    assert_eq!(app.count(&format!("select count(*) from auth.one_time_codes where code_hash = '{code}'")).await, 0);
    for _ in 0..2 {
        let wrong = verify("000000".into()).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.error_code(), "invalid-ticket");
    }
    let right = verify(code.clone()).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text);
    assert_eq!(right.body["session"]["user"]["email"], "otp@example.com");
    assert_eq!(verify(code).await.error_code(), "invalid-ticket", "single use");

    // Five wrong guesses (the replay above was the first) burn the code: the right one no longer works.
    app.post("/signin/otp/email", json!({"email": "otp@example.com"})).await;
    let code = code_in(&mail(&app, &maildev, "otp@example.com", "signin-otp", 2).await);
    for _ in 0..4 {
        let guess = if code == "123456" { "654321" } else { "123456" };
        assert_eq!(verify(guess.into()).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(verify(code.clone()).await.error_code(), "too-many-requests", "the address is locked for a while");
    app.clock.advance(TimeDelta::minutes(15));
    assert_eq!(verify(code).await.error_code(), "invalid-ticket", "and the code is burnt for good");

    // Expiry.
    app.post("/signin/otp/email", json!({"email": "otp@example.com"})).await;
    let code = code_in(&mail(&app, &maildev, "otp@example.com", "signin-otp", 3).await);
    app.clock.advance(TimeDelta::seconds(301));
    assert_eq!(verify(code).await.error_code(), "invalid-ticket");
}

#[tokio::test]
async fn deanonymize_keeps_the_user_and_ends_the_anonymous_sessions() {
    let (app, maildev) =
        spawn(&[("AUTH_ANONYMOUS_USERS_ENABLED", "true"), ("AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED", "true")]).await;
    let anonymous =
        Reply::read(app.client.post("/signin/anonymous").content_type("application/json").send().await.0).await;
    let session = anonymous.body["session"].clone();
    let user_id = session["user"]["id"].as_str().unwrap().to_string();
    let bearer = session["accessToken"].as_str();
    let reply = app
        .post_with(
            "/user/deanonymize",
            json!({"signInMethod": "email-password", "email": "anon@example.com", "password": "anon-password"}),
            bearer,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(app.refresh(session["refreshToken"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
    let rows = app.rows("select id::text, is_anonymous, default_role from auth.users", &[]).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), user_id);
    assert!(!rows[0].get::<_, bool>(1));
    assert_eq!(rows[0].get::<_, String>(2), "user");
    let (_, params) = follow(&app, &link_of(&mail(&app, &maildev, "anon@example.com", "emailVerify", 1).await)).await;
    assert_eq!(param(&params, "type"), Some("verifyEmail"));
    let signed_in = app.signin("anon@example.com", "anon-password").await;
    assert_eq!(signed_in.body["session"]["user"]["id"], user_id.as_str());

    let again = app
        .post_with(
            "/user/deanonymize",
            json!({"signInMethod": "email-password", "email": "x@example.com", "password": "pw-pw-pw"}),
            signed_in.body["session"]["accessToken"].as_str(),
        )
        .await;
    assert_eq!(again.error_code(), "user-not-anonymous");
}

#[tokio::test]
async fn access_control_lists_decide_who_may_sign_up() {
    let (app, _maildev) = spawn(&[
        ("AUTH_ACCESS_CONTROL_ALLOWED_EMAIL_DOMAINS", "example.com"),
        ("AUTH_ACCESS_CONTROL_BLOCKED_EMAILS", "mallory@example.com"),
    ])
    .await;
    assert_eq!(app.signup("alice@example.com").await.status, StatusCode::OK);
    for refused in ["mallory@example.com", "bob@other.org"] {
        let reply = app.signup(refused).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{refused}");
        assert_eq!(reply.error_code(), "invalid-email-password");
    }
    assert_eq!(app.count("select count(*) from auth.users").await, 1);
}
