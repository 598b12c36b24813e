//! Twilio Verify v2, chosen when the configured messaging service is a Verify Service SID (`VA…`), as
//! in nhost. Twilio generates, sends and checks the code: `POST {base}/v2/Services/{sid}/Verifications` (form
//! `To`, `Channel=sms`, `Locale`) starts one, `POST {base}/v2/Services/{sid}/VerificationCheck` (form `To`,
//! `Code`) answers `status: "approved"` for the right code, `"pending"` for a wrong one, and 404 when no
//! verification is pending (expired, already approved, never started).
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::config::TwilioConfig;
use super::twilio::TwilioError;
use super::{CodeMessage, REQUEST_TIMEOUT, SmsError, SmsFuture, SmsSender, excerpt, transport_error};
use crate::domain::phone::PhoneNumber;

/// Answers to a check that mean "not the valid code": 60202 "max check attempts reached" (429, the
/// verification is locked) and 60200 "invalid parameter" (400; `To` is already E.164, so it is the code).
const NOT_VALID_CODE_ERRORS: [u32; 2] = [60202, 60200];

pub(crate) struct TwilioVerify {
    http: reqwest::Client,
    verifications_url: String,
    verification_check_url: String,
    account_sid: String,
    auth_token: SecretString,
}

impl TwilioVerify {
    pub(crate) fn new(config: &TwilioConfig, service_sid: String, http: reqwest::Client) -> Self {
        let service_url = format!("{}/v2/Services/{service_sid}", config.verify_base_url);
        TwilioVerify {
            http,
            verifications_url: format!("{service_url}/Verifications"),
            verification_check_url: format!("{service_url}/VerificationCheck"),
            account_sid: config.account_sid.clone(),
            auth_token: config.auth_token.clone(),
        }
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<(reqwest::StatusCode, String), SmsError> {
        let response = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(form)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| transport_error("twilio verify", e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| transport_error("twilio verify", e))?;
        Ok((status, text))
    }

    async fn start_verification(&self, to: &PhoneNumber, locale: &str) -> Result<(), SmsError> {
        let mut form = vec![("To", to.as_str()), ("Channel", "sms")];
        let locale = locale.trim();
        if !locale.is_empty() && locale.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            form.push(("Locale", locale));
        }
        let (status, text) = self.post(&self.verifications_url, &form).await?;
        if !status.is_success() {
            return Err(TwilioError::parse(status, &text).into_sms_error());
        }
        let verification: VerificationResponse = serde_json::from_str(&text).map_err(|e| {
            SmsError::Unavailable(format!("twilio verify: unexpected answer ({e}): {}", excerpt(&text)))
        })?;
        tracing::debug!(verification_sid = %verification.sid, status = %verification.status, "verification started");
        Ok(())
    }

    async fn check(&self, to: &PhoneNumber, code: &str) -> Result<bool, SmsError> {
        let (status, text) = self.post(&self.verification_check_url, &[("To", to.as_str()), ("Code", code)]).await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(false);
        }
        if !status.is_success() {
            let error = TwilioError::parse(status, &text);
            if error.code.is_some_and(|code| NOT_VALID_CODE_ERRORS.contains(&code)) {
                return Ok(false);
            }
            return Err(error.into_sms_error());
        }
        let check: VerificationResponse = serde_json::from_str(&text).map_err(|e| {
            SmsError::Unavailable(format!("twilio verify: unexpected answer ({e}): {}", excerpt(&text)))
        })?;
        Ok(check.status == "approved")
    }
}

impl SmsSender for TwilioVerify {
    fn name(&self) -> &'static str {
        "twilio-verify"
    }

    fn verifies_codes(&self) -> bool {
        true
    }

    fn send_code<'a>(&'a self, message: CodeMessage<'a>) -> SmsFuture<'a, ()> {
        Box::pin(self.start_verification(message.to, message.locale))
    }

    fn check_code<'a>(&'a self, to: &'a PhoneNumber, code: &'a str) -> SmsFuture<'a, bool> {
        Box::pin(self.check(to, code))
    }
}

/// The fields hauth reads from a Verification or VerificationCheck resource.
#[derive(Deserialize)]
struct VerificationResponse {
    sid: String,
    status: String,
}
