//! Twilio's Programmable Messaging API: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form
//! fields `To`, `From` or `MessagingServiceSid`, `Body`, HTTP Basic auth `AccountSid:AuthToken`; 201 with the
//! message resource (`sid`). Errors are `{code, message, more_info, status}`, read by [`TwilioError`], which
//! Twilio Verify shares.
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::config::{TwilioConfig, TwilioSender};
use super::{CodeMessage, REQUEST_TIMEOUT, SmsError, SmsFuture, SmsSender, excerpt, transport_error};

pub(crate) struct TwilioMessages {
    http: reqwest::Client,
    messages_url: String,
    account_sid: String,
    auth_token: SecretString,
    sender: TwilioSender,
}

impl TwilioMessages {
    pub(crate) fn new(config: &TwilioConfig, http: reqwest::Client) -> Self {
        TwilioMessages {
            http,
            messages_url: format!("{}/2010-04-01/Accounts/{}/Messages.json", config.base_url, config.account_sid),
            account_sid: config.account_sid.clone(),
            auth_token: config.auth_token.clone(),
            sender: config.sender.clone(),
        }
    }

    async fn send(&self, message: CodeMessage<'_>) -> Result<(), SmsError> {
        let (sender_field, sender_value) = match &self.sender {
            TwilioSender::MessagingService(sid) => ("MessagingServiceSid", sid.as_str()),
            TwilioSender::From(from) => ("From", from.as_str()),
            // Never built with a Verify service (see `Sms::new`); refuse rather than send a wrong request.
            TwilioSender::VerifyService(_) => {
                return Err(SmsError::Unavailable("a Verify service SID cannot send messages".to_string()));
            }
        };
        let form = [("To", message.to.as_str()), (sender_field, sender_value), ("Body", message.body)];
        let response = self
            .http
            .post(&self.messages_url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(&form)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| transport_error("twilio", e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| transport_error("twilio", e))?;
        if !status.is_success() {
            return Err(TwilioError::parse(status, &text).into_sms_error());
        }
        // The answer echoes the body (and so the code): only the SID is kept.
        let created: CreatedMessage = serde_json::from_str(&text)
            .map_err(|e| SmsError::Unavailable(format!("twilio: unexpected answer ({e}): {}", excerpt(&text))))?;
        tracing::debug!(message_sid = %created.sid, "twilio accepted the message");
        Ok(())
    }
}

impl SmsSender for TwilioMessages {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn send_code<'a>(&'a self, message: CodeMessage<'a>) -> SmsFuture<'a, ()> {
        Box::pin(self.send(message))
    }
}

#[derive(Deserialize)]
struct CreatedMessage {
    sid: String,
}

/// Twilio's error body, shared by the Messages and Verify APIs.
#[derive(Debug, Deserialize)]
pub(crate) struct TwilioError {
    #[serde(skip)]
    pub(crate) http_status: u16,
    #[serde(default)]
    pub(crate) code: Option<u32>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) more_info: Option<String>,
}

/// Verify: too many send attempts for this number (60203) or too many wrong codes (60202).
const TOO_MANY_ATTEMPTS_CODES: [u32; 2] = [60202, 60203];

impl TwilioError {
    pub(crate) fn parse(status: reqwest::StatusCode, text: &str) -> TwilioError {
        match serde_json::from_str::<TwilioError>(text) {
            Ok(error) => TwilioError { http_status: status.as_u16(), ..error },
            Err(_) => {
                TwilioError { http_status: status.as_u16(), code: None, message: Some(excerpt(text)), more_info: None }
            }
        }
    }

    /// 400 means Twilio refused this number or message (e.g. 21211 invalid `To`, 21614 not a mobile
    /// number, 60200 invalid parameter); too many attempts for one number is refused the same way.
    /// Refused credentials (401/403), an unknown account or service (404), throttling and 5xx are
    /// hauth's or Twilio's problem, not the user's.
    pub(crate) fn into_sms_error(self) -> SmsError {
        let rejected = self.http_status == 400
            || (self.http_status == 429 && self.code.is_some_and(|c| TOO_MANY_ATTEMPTS_CODES.contains(&c)));
        let detail = self.to_string();
        if rejected { SmsError::Rejected(detail) } else { SmsError::Unavailable(detail) }
    }
}

impl std::fmt::Display for TwilioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "twilio answered {}", self.http_status)?;
        if let Some(code) = self.code {
            write!(f, ", error {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(more_info) = &self.more_info {
            write!(f, " ({more_info})")?;
        }
        Ok(())
    }
}
