//! TOTP as an authenticator app computes it, with the `totp-rs` generator driven directly (not through the
//! service's code), and enrolment through the API.
use chrono::TimeDelta;
use poem::http::StatusCode;
use serde_json::json;

use super::TestApp;

/// The code for `secret` (base32) at the app's current time.
pub fn code_for(app: &TestApp, secret: &str) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret).expect("a base32 secret").as_bytes().to_vec();
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(bytes)
        .build_noncompliant()
        .generate(app.clock.now().timestamp() as u64)
        .to_string()
}

/// The next 30-second step: a code is accepted once per step.
pub fn next_step(app: &TestApp) {
    app.clock.advance(TimeDelta::seconds(30));
}

/// Enrols TOTP for the holder of `access_token`: returns the secret and the recovery codes, one step on.
pub async fn enrol(app: &TestApp, access_token: &str) -> (String, Vec<String>) {
    let generated = app.get("/mfa/totp/generate", Some(access_token)).await;
    assert_eq!(generated.status, StatusCode::OK, "{}", generated.text);
    assert!(generated.body["imageUrl"].as_str().unwrap().starts_with("data:image/png;base64,"));
    let secret = generated.body["totpSecret"].as_str().unwrap().to_string();
    let activated = app
        .post_with("/user/mfa", json!({"code": code_for(app, &secret), "activeMfaType": "totp"}), Some(access_token))
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    let codes = activated.body["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(codes.len(), 10);
    next_step(app);
    (secret, codes)
}
