//! Text messages carrying one-time codes (passwordless SMS sign-in, SMS as a second factor). [`Sms`] is the
//! one entry point; behind it, each provider is a small adapter over the internal [`SmsSender`] trait:
//! Twilio's Messages API ([`twilio`]), Twilio Verify ([`twilio_verify`], which generates and checks codes
//! itself, so hauth stores none), AWS SNS Publish signed with SigV4 ([`sns`]), and `dev` ([`dev`], which
//! only logs the code). [`SmsConfig`] picks one from the environment.
//!
//! Codes and credentials are never logged, except by the `dev` provider, which exists to log codes. Every
//! request has a 10 s timeout. A provider refusing the message or number (e.g. an invalid number) is
//! [`SmsError::Rejected`]; network failures, 5xx answers and misconfiguration are [`SmsError::Unavailable`].
pub mod config;
mod dev;
mod message;
mod sns;
mod twilio;
mod twilio_verify;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use config::SmsConfig;

use crate::domain::phone::PhoneNumber;
use config::{ProviderConfig, TwilioSender};
use message::MessageTemplates;

/// How long one provider request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an unexpected provider answer goes into an error message.
const MAX_ERROR_DETAIL: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The provider refused this message or number (invalid or unreachable number, too many attempts): the
    /// client can act on it.
    #[error("the SMS provider refused the message: {0}")]
    Rejected(String),
    /// The provider could not be reached, failed, or refused hauth's credentials: an internal error.
    #[error("the SMS provider is unavailable: {0}")]
    Unavailable(String),
}

type SmsFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SmsError>> + Send + 'a>>;

/// One code message to deliver. No `Debug`: it holds the code.
struct CodeMessage<'a> {
    to: &'a PhoneNumber,
    code: &'a str,
    /// The rendered text (carries the code).
    body: &'a str,
    locale: &'a str,
}

/// A way of delivering codes.
trait SmsSender: Send + Sync {
    /// The provider's name for logs and `Debug`.
    fn name(&self) -> &'static str;

    /// Whether the provider generates and checks the codes itself.
    fn verifies_codes(&self) -> bool {
        false
    }

    fn send_code<'a>(&'a self, message: CodeMessage<'a>) -> SmsFuture<'a, ()>;

    /// Only meaningful when [`SmsSender::verifies_codes`]; hauth checks its own stored codes otherwise.
    fn check_code<'a>(&'a self, _to: &'a PhoneNumber, _code: &'a str) -> SmsFuture<'a, bool> {
        let name = self.name();
        Box::pin(async move {
            Err(SmsError::Unavailable(format!(
                "the {name} provider does not check codes; hauth checks its stored code"
            )))
        })
    }
}

/// Sends codes through the configured provider. Cheap to clone.
#[derive(Clone)]
pub struct Sms {
    sender: Arc<dyn SmsSender>,
    templates: MessageTemplates,
}

impl Sms {
    pub fn new(config: &SmsConfig, http: reqwest::Client) -> anyhow::Result<Sms> {
        let sender: Arc<dyn SmsSender> = match &config.provider {
            ProviderConfig::Twilio(twilio) => match &twilio.sender {
                TwilioSender::VerifyService(service_sid) => {
                    Arc::new(twilio_verify::TwilioVerify::new(twilio, service_sid.clone(), http))
                }
                _ => Arc::new(twilio::TwilioMessages::new(twilio, http)),
            },
            ProviderConfig::Sns(sns) => Arc::new(sns::Sns::new(sns, http)),
            ProviderConfig::Dev => {
                tracing::warn!(
                    "{}=dev: SMS codes are written to the log and never sent; do not use this in production",
                    config::PROVIDER.name
                );
                Arc::new(dev::DevSender)
            }
        };
        Ok(Sms { sender, templates: MessageTemplates::new(config.message_template.clone()) })
    }

    /// The provider in use: `twilio`, `twilio-verify`, `sns` or `dev`.
    pub fn provider(&self) -> &'static str {
        self.sender.name()
    }

    /// True when the provider generates and checks codes itself (Twilio Verify): then hauth stores no code.
    pub fn verifies_codes(&self) -> bool {
        self.sender.verifies_codes()
    }

    /// Sends `code` (ignored for Twilio Verify, which sends its own) to `to`, in the user's locale.
    #[tracing::instrument(skip_all, fields(provider = self.sender.name(), to = %to))]
    pub async fn send_code(&self, to: &PhoneNumber, code: &str, locale: &str) -> Result<(), SmsError> {
        let body = self.templates.render(code, locale);
        let result = self.sender.send_code(CodeMessage { to, code, body: &body, locale }).await;
        match &result {
            Ok(()) => tracing::debug!("code message sent"),
            Err(error) => tracing::warn!(%error, "code message not sent"),
        }
        result
    }

    /// Twilio Verify only: whether `code` is the valid code for `to` (Ok(false) for wrong/expired/unknown).
    #[tracing::instrument(skip_all, fields(provider = self.sender.name(), to = %to))]
    pub async fn check_code(&self, to: &PhoneNumber, code: &str) -> Result<bool, SmsError> {
        self.sender.check_code(to, code).await
    }
}

impl std::fmt::Debug for Sms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sms").field("provider", &self.sender.name()).finish_non_exhaustive()
    }
}

/// A request that got no HTTP answer (connection refused, timeout, TLS).
fn transport_error(provider: &str, error: reqwest::Error) -> SmsError {
    let kind = if error.is_timeout() { "timed out" } else { "failed" };
    SmsError::Unavailable(format!("{provider}: request {kind}: {error}"))
}

/// The start of an unexpected answer body, for error messages.
fn excerpt(body: &str) -> String {
    let mut end = body.len().min(MAX_ERROR_DETAIL);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    body[..end].trim().to_string()
}
