//! `SmsConfig`: which SMS provider to use and its credentials, read from nhost's variable names
//! (`AUTH_SMS_PROVIDER`, `AUTH_SMS_TWILIO_*`) plus hauth's own (`AUTH_SMS_SNS_*`, base URLs, default region,
//! message template). Every problem is reported at once; secrets are `SecretString` and never printed.
use std::collections::HashMap;

use secrecy::SecretString;
use url::Url;

use crate::domain::phone::PhoneNumber;

const DEFAULT_TWILIO_BASE_URL: &str = "https://api.twilio.com";
const DEFAULT_TWILIO_VERIFY_BASE_URL: &str = "https://verify.twilio.com";
/// The placeholder replaced by the code in `AUTH_SMS_MESSAGE_TEMPLATE` (nhost's template syntax).
pub(crate) const CODE_PLACEHOLDER: &str = "${code}";

/// The SMS settings. Build it with [`SmsConfig::from_env`] only when an SMS feature is enabled: the chosen
/// provider's credentials are required.
#[derive(Clone, Debug)]
pub struct SmsConfig {
    pub(crate) provider: ProviderConfig,
    pub(crate) default_region: Option<String>,
    pub(crate) message_template: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum ProviderConfig {
    Twilio(TwilioConfig),
    Sns(SnsConfig),
    Dev,
}

#[derive(Clone, Debug)]
pub(crate) struct TwilioConfig {
    pub(crate) account_sid: String,
    pub(crate) auth_token: SecretString,
    pub(crate) sender: TwilioSender,
    /// Without a trailing slash.
    pub(crate) base_url: String,
    /// Without a trailing slash.
    pub(crate) verify_base_url: String,
}

/// What `AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID` names, told apart by its prefix as nhost does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TwilioSender {
    /// `VA…`: a Verify Service; Twilio generates, sends and checks the codes.
    VerifyService(String),
    /// `MG…`: a Messaging Service, sent as `MessagingServiceSid`.
    MessagingService(String),
    /// Anything else: a phone number (or alphanumeric sender ID), sent as `From`.
    From(String),
}

#[derive(Clone, Debug)]
pub(crate) struct SnsConfig {
    pub(crate) region: String,
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: SecretString,
    pub(crate) sender_id: Option<String>,
    /// Without a trailing slash.
    pub(crate) base_url: String,
}

impl SmsConfig {
    /// Reads the SMS settings, listing every problem (each missing credential of the chosen provider, bad
    /// URLs, an unknown region, a template without `${code}`).
    pub fn from_env(vars: &HashMap<String, String>) -> Result<SmsConfig, Vec<String>> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_string);
        let mut problems = Vec::new();

        let provider_name = get("AUTH_SMS_PROVIDER").unwrap_or_else(|| "twilio".to_string()).to_ascii_lowercase();
        let provider = match provider_name.as_str() {
            "twilio" => {
                let account_sid = required(&get, "AUTH_SMS_TWILIO_ACCOUNT_SID", "twilio", &mut problems);
                let auth_token = required(&get, "AUTH_SMS_TWILIO_AUTH_TOKEN", "twilio", &mut problems);
                let service_id = required(&get, "AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID", "twilio", &mut problems);
                let base_url = read_base_url(&get, "AUTH_SMS_TWILIO_BASE_URL", DEFAULT_TWILIO_BASE_URL, &mut problems);
                let verify_base_url = read_base_url(
                    &get,
                    "AUTH_SMS_TWILIO_VERIFY_BASE_URL",
                    DEFAULT_TWILIO_VERIFY_BASE_URL,
                    &mut problems,
                );
                Some(ProviderConfig::Twilio(TwilioConfig {
                    account_sid,
                    auth_token: SecretString::from(auth_token),
                    sender: twilio_sender(&service_id, &mut problems),
                    base_url,
                    verify_base_url,
                }))
            }
            "sns" => {
                let region = required(&get, "AUTH_SMS_SNS_REGION", "sns", &mut problems);
                let access_key_id = required(&get, "AUTH_SMS_SNS_ACCESS_KEY_ID", "sns", &mut problems);
                let secret_access_key = required(&get, "AUTH_SMS_SNS_SECRET_ACCESS_KEY", "sns", &mut problems);
                let region_ok = !region.is_empty()
                    && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !region.is_empty() && !region_ok {
                    problems.push(format!("AUTH_SMS_SNS_REGION: {region:?} is not an AWS region such as us-east-1"));
                }
                let sender_id = get("AUTH_SMS_SNS_SENDER_ID");
                if let Some(sender_id) = &sender_id {
                    let valid = (1..=11).contains(&sender_id.len())
                        && sender_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && sender_id.chars().any(|c| c.is_ascii_alphabetic());
                    if !valid {
                        problems.push(format!(
                            "AUTH_SMS_SNS_SENDER_ID: {sender_id:?} must be 1 to 11 letters, digits or dashes, with at least one letter"
                        ));
                    }
                }
                let default_base =
                    if region_ok { format!("https://sns.{region}.amazonaws.com") } else { String::new() };
                let base_url = read_base_url(&get, "AUTH_SMS_SNS_BASE_URL", &default_base, &mut problems);
                Some(ProviderConfig::Sns(SnsConfig {
                    region,
                    access_key_id,
                    secret_access_key: SecretString::from(secret_access_key),
                    sender_id,
                    base_url,
                }))
            }
            "dev" => Some(ProviderConfig::Dev),
            other => {
                problems.push(format!("AUTH_SMS_PROVIDER: expected twilio, sns or dev, got {other:?}"));
                None
            }
        };

        let default_region = get("AUTH_SMS_DEFAULT_REGION").map(|r| r.to_ascii_uppercase());
        if let Some(region) = &default_region
            && !PhoneNumber::is_known_region(region)
        {
            problems.push(format!("AUTH_SMS_DEFAULT_REGION: {region:?} is not a region code such as US or GB"));
        }
        let message_template = get("AUTH_SMS_MESSAGE_TEMPLATE");
        if let Some(template) = &message_template
            && !template.contains(CODE_PLACEHOLDER)
        {
            problems.push(format!("AUTH_SMS_MESSAGE_TEMPLATE must contain {CODE_PLACEHOLDER}"));
        }

        match provider {
            Some(provider) if problems.is_empty() => Ok(SmsConfig { provider, default_region, message_template }),
            _ => Err(problems),
        }
    }

    /// The settings as `(name, value)` pairs for `hauth config check`, secrets shown as `<redacted>`.
    pub fn redacted_lines(&self) -> Vec<(String, String)> {
        let mut lines: Vec<(&str, String)> = Vec::new();
        match &self.provider {
            ProviderConfig::Twilio(twilio) => {
                lines.push(("AUTH_SMS_PROVIDER", "twilio".to_string()));
                lines.push(("AUTH_SMS_TWILIO_ACCOUNT_SID", twilio.account_sid.clone()));
                lines.push(("AUTH_SMS_TWILIO_AUTH_TOKEN", "<redacted>".to_string()));
                let (service_id, meaning) = match &twilio.sender {
                    TwilioSender::VerifyService(sid) => (sid, "Verify service"),
                    TwilioSender::MessagingService(sid) => (sid, "Messaging Service"),
                    TwilioSender::From(from) => (from, "From"),
                };
                lines.push(("AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID", format!("{service_id} ({meaning})")));
                lines.push(("AUTH_SMS_TWILIO_BASE_URL", twilio.base_url.clone()));
                lines.push(("AUTH_SMS_TWILIO_VERIFY_BASE_URL", twilio.verify_base_url.clone()));
            }
            ProviderConfig::Sns(sns) => {
                lines.push(("AUTH_SMS_PROVIDER", "sns".to_string()));
                lines.push(("AUTH_SMS_SNS_REGION", sns.region.clone()));
                lines.push(("AUTH_SMS_SNS_ACCESS_KEY_ID", sns.access_key_id.clone()));
                lines.push(("AUTH_SMS_SNS_SECRET_ACCESS_KEY", "<redacted>".to_string()));
                lines.push(("AUTH_SMS_SNS_SENDER_ID", sns.sender_id.clone().unwrap_or_else(|| "<unset>".to_string())));
                lines.push(("AUTH_SMS_SNS_BASE_URL", sns.base_url.clone()));
            }
            ProviderConfig::Dev => {
                lines.push(("AUTH_SMS_PROVIDER", "dev (codes are logged, never sent)".to_string()));
            }
        }
        lines.push(("AUTH_SMS_DEFAULT_REGION", self.default_region.clone().unwrap_or_else(|| "<unset>".to_string())));
        lines.push((
            "AUTH_SMS_MESSAGE_TEMPLATE",
            self.message_template.clone().unwrap_or_else(|| "<default, per locale>".to_string()),
        ));
        lines.into_iter().map(|(name, value)| (name.to_string(), value)).collect()
    }

    /// The region (ISO 3166, e.g. `US`) numbers without a country code are read in.
    pub fn default_region(&self) -> Option<&str> {
        self.default_region.as_deref()
    }
}

fn twilio_sender(service_id: &str, problems: &mut Vec<String>) -> TwilioSender {
    if service_id.starts_with("VA") {
        TwilioSender::VerifyService(service_id.to_string())
    } else if service_id.starts_with("MG") {
        TwilioSender::MessagingService(service_id.to_string())
    } else if service_id.starts_with('+') {
        // A phone number: sent in E.164 so a formatted value ("+1 415 555 0123") still works.
        match PhoneNumber::parse(service_id, None) {
            Ok(phone) => TwilioSender::From(phone.as_str().to_string()),
            Err(_) => {
                problems.push(format!(
                    "AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID: {service_id:?} is neither a Verify (VA…) or Messaging \
                     Service (MG…) SID nor a valid phone number"
                ));
                TwilioSender::From(service_id.to_string())
            }
        }
    } else {
        // A short code or an alphanumeric sender ID: Twilio checks it.
        TwilioSender::From(service_id.to_string())
    }
}

/// Reads a credential the chosen provider cannot work without, noting it when missing.
fn required(get: &impl Fn(&str) -> Option<String>, name: &str, provider: &str, problems: &mut Vec<String>) -> String {
    let value = get(name);
    if value.is_none() {
        problems.push(format!("{name} is required when AUTH_SMS_PROVIDER={provider}"));
    }
    value.unwrap_or_default()
}

/// Reads an `http(s)` base URL, returned without its trailing slash.
fn read_base_url(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: &str,
    problems: &mut Vec<String>,
) -> String {
    let Some(raw) = get(name).or_else(|| (!default.is_empty()).then(|| default.to_string())) else {
        return String::new();
    };
    match Url::parse(&raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            raw.trim_end_matches('/').to_string()
        }
        Ok(_) => {
            problems.push(format!("{name}: {raw:?} is not an http(s) URL"));
            String::new()
        }
        Err(e) => {
            problems.push(format!("{name}: not a URL ({e})"));
            String::new()
        }
    }
}
