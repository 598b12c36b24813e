//! Account takeovers closed: proving an address by magic link or email code removes a password somebody
//! else set on the never-verified account; email and password changes notify the owner, burn outstanding
//! tickets and codes, and an email change can be undone from the old address; a reset by ticket ends every
//! session and personal access token.
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{PASSWORD, Reply};
use crate::helpers::mailbox::{CLIENT, code_in, follow, link_of, mail, param, post_form, spawn};

const ATTACKER_PASSWORD: &str = "attackers-own-password";

async fn create_pat(app: &crate::helpers::TestApp, bearer: &str) -> String {
    let expires = (app.clock.now() + chrono::TimeDelta::days(1)).to_rfc3339();
    let reply = app.post_with("/pat", json!({"expiresAt": expires}), Some(bearer)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["personalAccessToken"].as_str().unwrap().to_string()
}

/// The attacker signs up first with the victim's address and holds a session and a PAT.
async fn attacker_preregisters(app: &crate::helpers::TestApp) -> (Value, String) {
    let reply =
        app.post("/signup/email-password", json!({"email": "victim@example.com", "password": ATTACKER_PASSWORD})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let session = reply.body["session"].clone();
    let pat = create_pat(app, session["accessToken"].as_str().unwrap()).await;
    (session, pat)
}

async fn assert_attacker_locked_out(app: &crate::helpers::TestApp, session: &Value, pat: &str) {
    let signin = app.signin("victim@example.com", ATTACKER_PASSWORD).await;
    assert_eq!(signin.status, StatusCode::UNAUTHORIZED, "{}", signin.text);
    assert_eq!(signin.error_code(), "invalid-email-password");
    assert_eq!(app.refresh(session["refreshToken"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.post("/signin/pat", json!({"personalAccessToken": pat})).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("select count(*) from auth.users where password_hash is not null").await, 0);
}

#[tokio::test]
async fn the_attackers_password_no_longer_works_after_the_victims_magic_link() {
    let (app, maildev) = spawn(&[("AUTH_EMAIL_PASSWORDLESS_ENABLED", "true")]).await;
    let (attacker, pat) = attacker_preregisters(&app).await;
    assert_eq!(app.signin("victim@example.com", ATTACKER_PASSWORD).await.status, StatusCode::OK);

    app.post("/signin/passwordless/email", json!({"email": "victim@example.com"})).await;
    let (_, params) =
        follow(&app, &link_of(&mail(&app, &maildev, "victim@example.com", "signinPasswordless", 1).await)).await;
    let victim = app.refresh(param(&params, "refreshToken").expect("signed in")).await;
    assert_eq!(victim.status, StatusCode::OK, "{}", victim.text);
    assert_eq!(victim.body["user"]["emailVerified"], true);
    assert_attacker_locked_out(&app, &attacker, &pat).await;
}

#[tokio::test]
async fn the_attackers_password_no_longer_works_after_the_victims_email_code() {
    let (app, maildev) = spawn(&[("AUTH_OTP_EMAIL_ENABLED", "true")]).await;
    let (attacker, pat) = attacker_preregisters(&app).await;
    app.post("/signin/otp/email", json!({"email": "victim@example.com"})).await;
    let code = code_in(&mail(&app, &maildev, "victim@example.com", "signin-otp", 1).await);
    let victim = app.post("/signin/otp/email/verify", json!({"email": "victim@example.com", "otp": code})).await;
    assert_eq!(victim.status, StatusCode::OK, "{}", victim.text);
    assert_attacker_locked_out(&app, &attacker, &pat).await;
    // The victim's own session is the one that survives.
    let refreshed = app.refresh(victim.body["session"]["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::OK);
}

#[tokio::test]
async fn the_sign_up_verification_link_keeps_the_password_and_a_verified_account_keeps_it_on_magic_links() {
    let (app, maildev) =
        spawn(&[("AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED", "true"), ("AUTH_EMAIL_PASSWORDLESS_ENABLED", "true")])
            .await;
    app.post("/signup/email-password", json!({"email": "owner@example.com", "password": PASSWORD})).await;
    follow(&app, &link_of(&mail(&app, &maildev, "owner@example.com", "emailVerify", 1).await)).await;
    let signed_in = app.signin("owner@example.com", PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    // Once verified, a magic link is just another way in: the password and sessions stay.
    app.post("/signin/passwordless/email", json!({"email": "owner@example.com"})).await;
    follow(&app, &link_of(&mail(&app, &maildev, "owner@example.com", "signinPasswordless", 1).await)).await;
    assert_eq!(app.signin("owner@example.com", PASSWORD).await.status, StatusCode::OK);
    let refreshed = app.refresh(signed_in.body["session"]["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::OK);
}

#[tokio::test]
async fn an_email_change_notifies_the_old_address_with_a_link_that_undoes_it() {
    let (app, maildev) = spawn(&[]).await;
    let session = app.signed_up_session("mine@example.com").await;
    let bearer = session["accessToken"].as_str().unwrap();
    let pat = create_pat(&app, bearer).await;
    // A reset link issued before the change is burnt by it.
    app.post("/user/password/reset", json!({"email": "mine@example.com"})).await;
    let reset_ticket = mail(&app, &maildev, "mine@example.com", "passwordReset", 1).await["headers"]["x-ticket"]
        .as_str()
        .unwrap()
        .to_string();

    let reply = app.post_with("/user/email/change", json!({"newEmail": "thief@example.com"}), Some(bearer)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    follow(&app, &link_of(&mail(&app, &maildev, "thief@example.com", "emailConfirmChange", 1).await)).await;
    assert_eq!(app.signin("thief@example.com", PASSWORD).await.status, StatusCode::OK);
    let reset = app.post("/user/password", json!({"newPassword": "hijacked-password", "ticket": reset_ticket})).await;
    assert_eq!(reset.error_code(), "invalid-ticket", "outstanding tickets are burnt by the change");

    // The old address is told, in the email-changed template, with a link that needs no sign-in.
    let notice = mail(&app, &maildev, "mine@example.com", "emailRevertChange", 1).await;
    assert!(notice["subject"].as_str().unwrap().contains("changed"), "{}", notice["subject"]);
    assert!(notice["html"].as_str().unwrap().contains("thief@example.com"));
    let (target, params) = follow(&app, &link_of(&notice)).await;
    assert!(target.starts_with(CLIENT), "{target}");
    assert_eq!(param(&params, "type"), Some("emailRevertChange"));
    assert!(param(&params, "refreshToken").is_some(), "{params:?}");

    // The address is back and verified; whoever made the change is signed out everywhere.
    let rows = app.rows("select email::text, email_verified from auth.users", &[]).await;
    assert_eq!(rows[0].get::<_, String>(0), "mine@example.com");
    assert!(rows[0].get::<_, bool>(1));
    assert_eq!(app.signin("thief@example.com", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(session["refreshToken"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.post("/signin/pat", json!({"personalAccessToken": pat})).await.status, StatusCode::UNAUTHORIZED);
    let again = app.refresh(param(&params, "refreshToken").unwrap()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    // The undo link works once.
    let ticket = notice["headers"]["x-ticket"].as_str().unwrap();
    let (_, params) = post_form(&app, ticket, CLIENT).await;
    assert_eq!(param(&params, "error"), Some("invalid-ticket"));
}

#[tokio::test]
async fn a_password_change_sends_a_notice_and_burns_outstanding_tickets() {
    let (app, maildev) = spawn(&[]).await;
    let session = app.signed_up_session("notice@example.com").await;
    app.post("/user/password/reset", json!({"email": "notice@example.com"})).await;
    let ticket = mail(&app, &maildev, "notice@example.com", "passwordReset", 1).await["headers"]["x-ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = app
        .post_with("/user/password", json!({"newPassword": "a-new-password"}), session["accessToken"].as_str())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let notice = mail(&app, &maildev, "notice@example.com", "password-changed", 1).await;
    assert!(notice["text"].as_str().unwrap().contains("notice@example.com"));
    let used = app.post("/user/password", json!({"newPassword": "attacker-password", "ticket": ticket})).await;
    assert_eq!(used.error_code(), "invalid-ticket");
    assert_eq!(app.signin("notice@example.com", "a-new-password").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_reset_by_ticket_ends_every_session_and_pat_and_sends_a_notice() {
    let (app, maildev) = spawn(&[]).await;
    let session = app.signed_up_session("reset-pat@example.com").await;
    let pat = create_pat(&app, session["accessToken"].as_str().unwrap()).await;
    app.post("/user/password/reset", json!({"email": "reset-pat@example.com"})).await;
    let ticket = mail(&app, &maildev, "reset-pat@example.com", "passwordReset", 1).await["headers"]["x-ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = app.post("/user/password", json!({"newPassword": "after-reset-pw", "ticket": ticket})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let dead = app.post("/signin/pat", json!({"personalAccessToken": pat})).await;
    assert_eq!(dead.status, StatusCode::UNAUTHORIZED);
    assert_eq!(dead.error_code(), "invalid-pat");
    let webhook =
        Reply::read(app.client.get("/hasura/webhook").header("Authorization", format!("Bearer {pat}")).send().await.0)
            .await;
    assert_eq!(webhook.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(session["refreshToken"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
    mail(&app, &maildev, "reset-pat@example.com", "password-changed", 1).await;
}

#[tokio::test]
async fn a_ticket_posted_to_verify_from_another_site_is_refused() {
    let (app, maildev) = spawn(&[("AUTH_EMAIL_PASSWORDLESS_ENABLED", "true")]).await;
    app.post("/signin/passwordless/email", json!({"email": "csrf@example.com"})).await;
    let message = mail(&app, &maildev, "csrf@example.com", "signinPasswordless", 1).await;
    let ticket = message["headers"]["x-ticket"].as_str().unwrap();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("ticket", ticket)
        .append_pair("redirectTo", CLIENT)
        .finish();
    let post = |headers: Vec<(&'static str, &'static str)>| {
        let mut request =
            app.client.post("/verify").content_type("application/x-www-form-urlencoded").body(form.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    for headers in [
        vec![("Origin", "https://evil.example")],
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Origin", "null")],
        vec![("Sec-Fetch-Site", "same-site"), ("Origin", "https://sub.localhost:4000")],
    ] {
        let reply = Reply::read(post(headers.clone()).await.0).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{headers:?}: {}", reply.text);
        assert_eq!(reply.error_code(), "cross-site-request");
    }
    assert_eq!(app.count("select count(*) from auth.one_time_codes where used_at is null").await, 1, "not used");
    // The confirmation page's own post comes from the service's origin.
    let reply =
        Reply::read(post(vec![("Origin", "http://localhost:4000"), ("Sec-Fetch-Site", "same-origin")]).await.0).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text);
    assert!(reply.headers["location"].to_str().unwrap().contains("refreshToken="));
}
