//! The SMS subsystem against the provider stand-in (no database): phone number parsing, each provider's
//! delivery and content, Twilio Verify's send/check flow, SNS's SigV4 signature checked by the stand-in,
//! error classification, configuration errors and the `dev` provider.
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use hauth::domain::phone::PhoneNumber;
use hauth::sms::{Sms, SmsConfig, SmsError};

use crate::helpers::sms_standin::{INVALID_NUMBER, SNS_ACCESS_KEY_ID, SNS_SECRET_ACCESS_KEY, SmsStandin};

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "standin-auth-token-0123456789abcdef";
const MESSAGING_SERVICE_SID: &str = "MG0123456789abcdef0123456789abcdef";
const VERIFY_SERVICE_SID: &str = "VA0123456789abcdef0123456789abcdef";
const FROM_NUMBER: &str = "+15017122661";
const TO: &str = "+14155550123";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn twilio_env(standin: &SmsStandin, service_id: &str, token: &str) -> HashMap<String, String> {
    env(&[
        ("AUTH_SMS_PROVIDER", "twilio"),
        ("AUTH_SMS_TWILIO_ACCOUNT_SID", ACCOUNT_SID),
        ("AUTH_SMS_TWILIO_AUTH_TOKEN", token),
        ("AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID", service_id),
        ("AUTH_SMS_TWILIO_BASE_URL", &standin.url),
        ("AUTH_SMS_TWILIO_VERIFY_BASE_URL", &format!("{}/", standin.url)),
    ])
}

fn sns_env(standin: &SmsStandin, secret: &str) -> HashMap<String, String> {
    env(&[
        ("AUTH_SMS_PROVIDER", "sns"),
        ("AUTH_SMS_SNS_REGION", "eu-west-1"),
        ("AUTH_SMS_SNS_ACCESS_KEY_ID", SNS_ACCESS_KEY_ID),
        ("AUTH_SMS_SNS_SECRET_ACCESS_KEY", secret),
        ("AUTH_SMS_SNS_SENDER_ID", "Acme"),
        ("AUTH_SMS_SNS_BASE_URL", &standin.url),
    ])
}

fn sms(vars: &HashMap<String, String>) -> Sms {
    let config = SmsConfig::from_env(vars).unwrap();
    Sms::new(&config, reqwest::Client::new()).unwrap()
}

fn phone(raw: &str) -> PhoneNumber {
    PhoneNumber::parse(raw, None).unwrap()
}

async fn standin() -> SmsStandin {
    SmsStandin::start(ACCOUNT_SID, AUTH_TOKEN).await
}

/// Collects log lines (every level) written while the guard lives, on this thread.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn start(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// --- phone numbers -------------------------------------------------------------------------------------

#[test]
fn phone_numbers_in_common_formats_become_e164() {
    let cases = [
        ("+1 415 555 0123", None, "+14155550123"),
        ("(415) 555-0123", Some("US"), "+14155550123"),
        ("00 44 20 7946 0958", None, "+442079460958"),
        ("  +33 6 12 34 56 78 ", Some("US"), "+33612345678"),
    ];
    for (raw, region, expected) in cases {
        let parsed = PhoneNumber::parse(raw, region).unwrap();
        assert_eq!(parsed.as_str(), expected, "{raw}");
        assert_eq!(parsed.to_string(), expected);
        assert_eq!(format!("{parsed:?}"), format!("PhoneNumber({expected})"));
    }
}

#[test]
fn garbage_and_invalid_phone_numbers_are_refused() {
    let cases = [
        ("", None),
        ("not a number", None),
        ("+1 555", None),
        ("(415) 555-0123", None),
        ("12", Some("US")),
        ("+999 1234 5678", None),
        ("+1 415 555 0123 ext. 9", None),
    ];
    for (raw, region) in cases {
        let error = PhoneNumber::parse(raw, region).unwrap_err();
        assert!(
            matches!(&error, hauth::error::AuthError::InvalidRequest(m) if m == "phoneNumber is not a valid phone number")
        );
    }
}

// --- Twilio Messages -----------------------------------------------------------------------------------

#[tokio::test]
async fn twilio_with_a_phone_number_sends_the_code_from_that_number() {
    let standin = standin().await;
    let sms = sms(&twilio_env(&standin, FROM_NUMBER, AUTH_TOKEN));
    assert!(!sms.verifies_codes());
    assert_eq!(sms.provider(), "twilio");

    sms.send_code(&phone(TO), "123456", "en").await.unwrap();

    let sent = standin.twilio_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, TO);
    assert_eq!(sent[0].from.as_deref(), Some(FROM_NUMBER));
    assert_eq!(sent[0].messaging_service_sid, None);
    assert_eq!(sent[0].body, "Your code is 123456");
    assert_eq!(standin.messages(), vec![(TO.to_string(), "Your code is 123456".to_string())]);
}

#[tokio::test]
async fn twilio_with_a_messaging_service_sends_it_as_messaging_service_sid_in_the_users_locale() {
    let standin = standin().await;
    let sms = sms(&twilio_env(&standin, MESSAGING_SERVICE_SID, AUTH_TOKEN));

    sms.send_code(&phone("+33 6 12 34 56 78"), "654321", "fr").await.unwrap();

    let sent = standin.twilio_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "+33612345678");
    assert_eq!(sent[0].from, None);
    assert_eq!(sent[0].messaging_service_sid.as_deref(), Some(MESSAGING_SERVICE_SID));
    assert_eq!(sent[0].body, "Votre code est 654321");
}

#[tokio::test]
async fn a_custom_message_template_carries_the_code() {
    let standin = standin().await;
    let mut vars = twilio_env(&standin, MESSAGING_SERVICE_SID, AUTH_TOKEN);
    vars.insert("AUTH_SMS_MESSAGE_TEMPLATE".into(), "Acme: ${code} is your sign-in code".into());

    sms(&vars).send_code(&phone(TO), "777888", "fr").await.unwrap();

    assert_eq!(standin.messages()[0].1, "Acme: 777888 is your sign-in code");
}

#[tokio::test]
async fn twilio_refusing_the_auth_token_is_an_unavailable_provider() {
    let standin = standin().await;
    let sms = sms(&twilio_env(&standin, FROM_NUMBER, "not-the-token"));

    let error = sms.send_code(&phone(TO), "123456", "en").await.unwrap_err();

    assert!(matches!(&error, SmsError::Unavailable(m) if m.contains("401") && m.contains("20003")), "{error:?}");
    assert!(standin.messages().is_empty());
}

#[tokio::test]
async fn twilio_refusing_the_number_is_a_rejection() {
    let standin = standin().await;
    let sms = sms(&twilio_env(&standin, FROM_NUMBER, AUTH_TOKEN));

    let error = sms.send_code(&phone(INVALID_NUMBER), "123456", "en").await.unwrap_err();

    assert!(matches!(&error, SmsError::Rejected(m) if m.contains("21211")), "{error:?}");
}

#[tokio::test]
async fn neither_the_code_nor_the_auth_token_is_logged_when_sending_through_twilio() {
    let standin = standin().await;
    let sms = sms(&twilio_env(&standin, FROM_NUMBER, AUTH_TOKEN));
    let logs = CapturedLogs::default();
    let guard = logs.start();

    sms.send_code(&phone(TO), "918273", "en").await.unwrap();
    let _ = sms.send_code(&phone(INVALID_NUMBER), "918273", "en").await;

    drop(guard);
    let text = logs.text();
    assert!(text.contains("code message sent"), "{text}");
    assert!(!text.contains("918273"), "{text}");
    assert!(!text.contains(AUTH_TOKEN), "{text}");
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut vars = env(&[
        ("AUTH_SMS_TWILIO_ACCOUNT_SID", ACCOUNT_SID),
        ("AUTH_SMS_TWILIO_AUTH_TOKEN", AUTH_TOKEN),
        ("AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID", FROM_NUMBER),
    ]);
    vars.insert("AUTH_SMS_TWILIO_BASE_URL".into(), format!("http://127.0.0.1:{closed_port}"));

    let error = sms(&vars).send_code(&phone(TO), "123456", "en").await.unwrap_err();

    assert!(matches!(error, SmsError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn providers_that_do_not_verify_codes_refuse_to_check_them() {
    let standin = standin().await;
    let sms = sms(&twilio_env(&standin, FROM_NUMBER, AUTH_TOKEN));

    let error = sms.check_code(&phone(TO), "123456").await.unwrap_err();

    assert!(matches!(error, SmsError::Unavailable(_)));
}

// --- Twilio Verify -------------------------------------------------------------------------------------

#[tokio::test]
async fn twilio_verify_sends_its_own_code_and_approves_only_that_code() {
    let standin = standin().await;
    let sms = sms(&twilio_env(&standin, VERIFY_SERVICE_SID, AUTH_TOKEN));
    assert!(sms.verifies_codes());
    assert_eq!(sms.provider(), "twilio-verify");
    let to = phone(TO);

    sms.send_code(&to, "ignored", "fr").await.unwrap();

    let verifications = standin.verifications();
    assert_eq!(verifications.len(), 1);
    assert_eq!(verifications[0].service_sid, VERIFY_SERVICE_SID);
    assert_eq!(verifications[0].to, TO);
    assert_eq!(verifications[0].channel, "sms");
    assert_eq!(verifications[0].locale.as_deref(), Some("fr"));
    assert!(standin.messages().is_empty(), "Verify sends the message, not the Messages API");
    let code = standin.verify_code_for(TO).expect("a pending verification");
    assert_ne!(code, "ignored");
    let wrong = if code == "000000" { "111111" } else { "000000" };

    assert!(!sms.check_code(&to, wrong).await.unwrap());
    assert!(sms.check_code(&to, &code).await.unwrap());
    // Approved verifications are gone: Twilio answers 404, which is "not valid".
    assert!(!sms.check_code(&to, &code).await.unwrap());
}

#[tokio::test]
async fn twilio_verify_check_without_a_pending_verification_is_not_valid() {
    let standin = standin().await;
    let sms = sms(&twilio_env(&standin, VERIFY_SERVICE_SID, AUTH_TOKEN));

    assert!(!sms.check_code(&phone(TO), "123456").await.unwrap());
}

#[tokio::test]
async fn twilio_verify_locks_after_too_many_wrong_codes() {
    let standin = standin().await;
    let sms = sms(&twilio_env(&standin, VERIFY_SERVICE_SID, AUTH_TOKEN));
    let to = phone(TO);
    sms.send_code(&to, "", "en").await.unwrap();
    let code = standin.verify_code_for(TO).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };

    for _ in 0..5 {
        assert!(!sms.check_code(&to, wrong).await.unwrap());
    }

    assert!(!sms.check_code(&to, &code).await.unwrap(), "a locked verification approves nothing");
}

#[tokio::test]
async fn twilio_verify_refusing_the_number_or_the_token() {
    let standin = standin().await;
    let rejected = sms(&twilio_env(&standin, VERIFY_SERVICE_SID, AUTH_TOKEN))
        .send_code(&phone(INVALID_NUMBER), "", "en")
        .await
        .unwrap_err();
    assert!(matches!(&rejected, SmsError::Rejected(m) if m.contains("60200")), "{rejected:?}");

    let wrong_token = sms(&twilio_env(&standin, VERIFY_SERVICE_SID, "wrong"));
    let unavailable = wrong_token.send_code(&phone(TO), "", "en").await.unwrap_err();
    assert!(matches!(unavailable, SmsError::Unavailable(_)), "{unavailable:?}");
    let unavailable = wrong_token.check_code(&phone(TO), "123456").await.unwrap_err();
    assert!(matches!(unavailable, SmsError::Unavailable(_)), "{unavailable:?}");
}

// --- SNS -----------------------------------------------------------------------------------------------

#[tokio::test]
async fn sns_publishes_a_signed_transactional_sms_with_the_sender_id() {
    let standin = standin().await;
    let sms = sms(&sns_env(&standin, SNS_SECRET_ACCESS_KEY));
    assert!(!sms.verifies_codes());

    sms.send_code(&phone(TO), "246810", "en").await.unwrap();

    let published = standin.sns_messages();
    assert_eq!(published.len(), 1, "the stand-in verified the SigV4 signature");
    assert_eq!(published[0].phone_number, TO);
    assert_eq!(published[0].message, "Your code is 246810");
    assert_eq!(published[0].region, "eu-west-1");
    assert_eq!(published[0].attributes.get("AWS.SNS.SMS.SMSType").map(String::as_str), Some("Transactional"));
    assert_eq!(published[0].attributes.get("AWS.SNS.SMS.SenderID").map(String::as_str), Some("Acme"));
    assert_eq!(published[0].signed_headers, ["content-type", "host", "x-amz-date"]);
}

#[tokio::test]
async fn sns_without_a_sender_id_and_with_a_message_needing_encoding() {
    let standin = standin().await;
    let mut vars = sns_env(&standin, SNS_SECRET_ACCESS_KEY);
    vars.remove("AUTH_SMS_SNS_SENDER_ID");
    vars.insert("AUTH_SMS_MESSAGE_TEMPLATE".into(), "Code d'accès: ${code} & 100% sûr ✓".into());

    sms(&vars).send_code(&phone(TO), "135790", "fr").await.unwrap();

    let published = standin.sns_messages();
    assert_eq!(published[0].message, "Code d'accès: 135790 & 100% sûr ✓");
    assert_eq!(published[0].attributes.len(), 1);
}

#[tokio::test]
async fn sns_refuses_a_request_signed_with_the_wrong_secret() {
    let standin = standin().await;
    let sms = sms(&sns_env(&standin, "not-the-secret-access-key"));

    let error = sms.send_code(&phone(TO), "246810", "en").await.unwrap_err();

    assert!(matches!(&error, SmsError::Unavailable(m) if m.contains("SignatureDoesNotMatch")), "{error:?}");
    assert!(standin.sns_messages().is_empty());
}

#[tokio::test]
async fn sns_refuses_an_unknown_access_key() {
    let standin = standin().await;
    let mut vars = sns_env(&standin, SNS_SECRET_ACCESS_KEY);
    vars.insert("AUTH_SMS_SNS_ACCESS_KEY_ID".into(), "AKIDUNKNOWN".into());

    let error = sms(&vars).send_code(&phone(TO), "246810", "en").await.unwrap_err();

    assert!(matches!(&error, SmsError::Unavailable(m) if m.contains("InvalidClientTokenId")), "{error:?}");
}

#[tokio::test]
async fn sns_refusing_the_number_is_a_rejection() {
    let standin = standin().await;
    let sms = sms(&sns_env(&standin, SNS_SECRET_ACCESS_KEY));

    let error = sms.send_code(&phone(INVALID_NUMBER), "246810", "en").await.unwrap_err();

    assert!(matches!(&error, SmsError::Rejected(m) if m.contains("InvalidParameter")), "{error:?}");
}

// --- dev -----------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_dev_provider_logs_the_code_and_needs_no_network() {
    let logs = CapturedLogs::default();
    let guard = logs.start();
    let sms = sms(&env(&[("AUTH_SMS_PROVIDER", "dev")]));

    sms.send_code(&phone(TO), "314159", "en").await.unwrap();

    drop(guard);
    assert!(!sms.verifies_codes());
    assert_eq!(sms.provider(), "dev");
    let text = logs.text();
    let line = text.lines().find(|l| l.contains("314159")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("INFO") && line.contains("DEV MODE"), "{line}");
    assert!(line.contains(TO), "{line}");
}

// --- configuration -------------------------------------------------------------------------------------

#[test]
fn twilio_is_the_default_provider_and_every_missing_credential_is_listed() {
    let problems = SmsConfig::from_env(&env(&[])).unwrap_err();
    assert_eq!(problems.len(), 3, "{problems:?}");
    for name in ["AUTH_SMS_TWILIO_ACCOUNT_SID", "AUTH_SMS_TWILIO_AUTH_TOKEN", "AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID"] {
        assert!(problems.iter().any(|p| p.contains(name)), "{name} missing from {problems:?}");
    }
}

#[test]
fn every_missing_sns_credential_and_bad_setting_is_listed() {
    let problems = SmsConfig::from_env(&env(&[
        ("AUTH_SMS_PROVIDER", "SNS"),
        ("AUTH_SMS_SNS_ACCESS_KEY_ID", "  "),
        ("AUTH_SMS_SNS_SENDER_ID", "far too long a sender"),
        ("AUTH_SMS_DEFAULT_REGION", "XX"),
        ("AUTH_SMS_MESSAGE_TEMPLATE", "no placeholder"),
    ]))
    .unwrap_err();
    for needle in [
        "AUTH_SMS_SNS_REGION",
        "AUTH_SMS_SNS_ACCESS_KEY_ID",
        "AUTH_SMS_SNS_SECRET_ACCESS_KEY",
        "AUTH_SMS_SNS_SENDER_ID",
        "AUTH_SMS_DEFAULT_REGION",
        "AUTH_SMS_MESSAGE_TEMPLATE",
    ] {
        assert!(problems.iter().any(|p| p.contains(needle)), "{needle} missing from {problems:?}");
    }
    assert_eq!(problems.len(), 6, "{problems:?}");
}

#[test]
fn an_unknown_provider_or_bad_url_is_reported() {
    let problems = SmsConfig::from_env(&env(&[("AUTH_SMS_PROVIDER", "carrier-pigeon")])).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("AUTH_SMS_PROVIDER"), "{problems:?}");

    let problems = SmsConfig::from_env(&env(&[
        ("AUTH_SMS_TWILIO_ACCOUNT_SID", ACCOUNT_SID),
        ("AUTH_SMS_TWILIO_AUTH_TOKEN", AUTH_TOKEN),
        ("AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID", "+1 555"),
        ("AUTH_SMS_TWILIO_BASE_URL", "ftp://example.com"),
    ]))
    .unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("AUTH_SMS_TWILIO_BASE_URL")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID")), "{problems:?}");
}

/// `hauth config check`'s lines for an SMS configuration (SMS sign-in on, the rest minimal).
fn printed(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars = env(pairs);
    vars.insert("AUTH_SMS_PASSWORDLESS_ENABLED".into(), "true".into());
    vars.insert("DATABASE_URL".into(), "postgres://localhost/auth".into());
    vars.insert(
        "HASURA_GRAPHQL_JWT_SECRET".into(),
        r#"{"type":"HS256","key":"0123456789abcdef0123456789abcdef"}"#.into(),
    );
    let config = hauth::config::Config::from_env(&vars).unwrap_or_else(|e| panic!("{e}"));
    config
        .redacted(&vars)
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, value)| (name.to_string(), value.to_string())))
        .collect()
}

#[test]
fn secrets_never_print_and_the_default_region_is_exposed() {
    let pairs = [
        ("AUTH_SMS_TWILIO_ACCOUNT_SID", ACCOUNT_SID),
        ("AUTH_SMS_TWILIO_AUTH_TOKEN", AUTH_TOKEN),
        ("AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID", VERIFY_SERVICE_SID),
        ("AUTH_SMS_DEFAULT_REGION", "us"),
    ];
    let config = SmsConfig::from_env(&env(&pairs)).unwrap();
    assert_eq!(config.default_region(), Some("US"));
    let lines = printed(&pairs);
    assert_eq!(lines["AUTH_SMS_PROVIDER"], "twilio");
    assert_eq!(lines["AUTH_SMS_TWILIO_AUTH_TOKEN"], "<redacted>");
    assert_eq!(lines["AUTH_SMS_TWILIO_BASE_URL"], "https://api.twilio.com");
    assert_eq!(lines["AUTH_SMS_TWILIO_VERIFY_BASE_URL"], "https://verify.twilio.com");
    assert!(lines["AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID"].contains("Verify"));
    assert!(!format!("{config:?}").contains(AUTH_TOKEN));
    assert!(!format!("{lines:?}").contains(AUTH_TOKEN));

    let pairs = [
        ("AUTH_SMS_PROVIDER", "sns"),
        ("AUTH_SMS_SNS_REGION", "ap-southeast-2"),
        ("AUTH_SMS_SNS_ACCESS_KEY_ID", SNS_ACCESS_KEY_ID),
        ("AUTH_SMS_SNS_SECRET_ACCESS_KEY", SNS_SECRET_ACCESS_KEY),
    ];
    let config = SmsConfig::from_env(&env(&pairs)).unwrap();
    assert_eq!(config.default_region(), None);
    let lines = printed(&pairs);
    assert_eq!(lines["AUTH_SMS_SNS_BASE_URL"], "https://sns.ap-southeast-2.amazonaws.com");
    assert_eq!(lines["AUTH_SMS_SNS_SECRET_ACCESS_KEY"], "<redacted>");
    assert!(!format!("{config:?}").contains(SNS_SECRET_ACCESS_KEY));
    assert!(!format!("{lines:?}").contains(SNS_SECRET_ACCESS_KEY));
}
