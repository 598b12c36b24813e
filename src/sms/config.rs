//! `SmsConfig`: which SMS provider to use and its credentials, under nhost's names plus hauth's own (SNS,
//! base URLs, default region, message template). Every problem is reported at once; secrets are
//! `SecretString` and never printed.
use secrecy::SecretString;
use url::Url;

use crate::config::env::{Env, Setting};

use crate::domain::phone::PhoneNumber;

/// The placeholder replaced by the code in a message template (nhost's template syntax).
pub(crate) const CODE_PLACEHOLDER: &str = "${code}";

/// The SMS settings. Load them with [`SmsConfig::load`] only when an SMS feature is enabled: the chosen
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

/// What the Twilio messaging service setting names, told apart by its prefix as nhost does.
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

pub const PROVIDER: Setting = Setting::new(
    "AUTH_SMS_PROVIDER",
    Some("twilio"),
    "`twilio`, `sns` or `dev` (codes written to the log, never sent); read only when an SMS feature is on",
);
pub const TWILIO_ACCOUNT_SID: Setting = Setting::new("AUTH_SMS_TWILIO_ACCOUNT_SID", None, "Twilio account SID");
pub const TWILIO_AUTH_TOKEN: Setting = Setting::new("AUTH_SMS_TWILIO_AUTH_TOKEN", None, "Twilio auth token").secret();
pub const TWILIO_MESSAGING_SERVICE_ID: Setting = Setting::new(
    "AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID",
    None,
    "a Messaging Service SID (`MG…`), a sender number, or a Verify Service SID (`VA…`: Twilio sends and checks \
     the codes)",
);
pub const TWILIO_BASE_URL: Setting =
    Setting::new("AUTH_SMS_TWILIO_BASE_URL", Some("https://api.twilio.com"), "Twilio's API");
pub const TWILIO_VERIFY_BASE_URL: Setting =
    Setting::new("AUTH_SMS_TWILIO_VERIFY_BASE_URL", Some("https://verify.twilio.com"), "Twilio Verify's API");
pub const SNS_REGION: Setting = Setting::new("AUTH_SMS_SNS_REGION", None, "AWS region of SNS, e.g. `us-east-1`");
pub const SNS_ACCESS_KEY_ID: Setting = Setting::new("AUTH_SMS_SNS_ACCESS_KEY_ID", None, "AWS access key id");
pub const SNS_SECRET_ACCESS_KEY: Setting =
    Setting::new("AUTH_SMS_SNS_SECRET_ACCESS_KEY", None, "AWS secret access key").secret();
pub const SNS_SENDER_ID: Setting =
    Setting::new("AUTH_SMS_SNS_SENDER_ID", None, "an alphanumeric sender ID, where the country allows one");
pub const SNS_BASE_URL: Setting =
    Setting::new("AUTH_SMS_SNS_BASE_URL", Some("<https://sns.region.amazonaws.com>"), "SNS's API");
pub const DEFAULT_REGION: Setting = Setting::new(
    "AUTH_SMS_DEFAULT_REGION",
    None,
    "the country (ISO 3166, e.g. `US`) numbers without a country code are read in",
);
pub const MESSAGE_TEMPLATE: Setting = Setting::new(
    "AUTH_SMS_MESSAGE_TEMPLATE",
    None,
    "the text of a code message, holding `${code}`; a built-in text per locale when unset",
);

pub const SETTINGS: &[&Setting] = &[
    &PROVIDER,
    &TWILIO_ACCOUNT_SID,
    &TWILIO_AUTH_TOKEN,
    &TWILIO_MESSAGING_SERVICE_ID,
    &TWILIO_BASE_URL,
    &TWILIO_VERIFY_BASE_URL,
    &SNS_REGION,
    &SNS_ACCESS_KEY_ID,
    &SNS_SECRET_ACCESS_KEY,
    &SNS_SENDER_ID,
    &SNS_BASE_URL,
    &DEFAULT_REGION,
    &MESSAGE_TEMPLATE,
];

impl SmsConfig {
    /// Reads the SMS settings alone, or every problem found.
    pub fn from_env(vars: &std::collections::HashMap<String, String>) -> Result<SmsConfig, Vec<String>> {
        crate::config::env::load_section(vars, SmsConfig::load)?
            .ok_or_else(|| vec!["the SMS settings are incomplete".to_string()])
    }

    /// Reads the SMS settings, listing every problem (each missing credential of the chosen provider, bad
    /// URLs, an unknown region, a template without `${code}`). `None` when a problem was found.
    pub fn load(env: &mut Env) -> Option<SmsConfig> {
        let provider_name = env.string(&PROVIDER).to_ascii_lowercase();
        let provider = match provider_name.as_str() {
            "twilio" => {
                let account_sid = required(env, &TWILIO_ACCOUNT_SID, "twilio");
                let auth_token = env.secret(&TWILIO_AUTH_TOKEN);
                if auth_token.is_none() {
                    env.problem(&TWILIO_AUTH_TOKEN, format!("required when {}=twilio", PROVIDER.name));
                }
                let service_id = required(env, &TWILIO_MESSAGING_SERVICE_ID, "twilio");
                let base_url = read_base_url(env, &TWILIO_BASE_URL, None);
                let verify_base_url = read_base_url(env, &TWILIO_VERIFY_BASE_URL, None);
                let sender = twilio_sender(env, &service_id);
                Some(ProviderConfig::Twilio(TwilioConfig {
                    account_sid,
                    auth_token: auth_token.unwrap_or_else(|| SecretString::from(String::new())),
                    sender,
                    base_url,
                    verify_base_url,
                }))
            }
            "sns" => {
                let region = required(env, &SNS_REGION, "sns");
                let access_key_id = required(env, &SNS_ACCESS_KEY_ID, "sns");
                let secret_access_key = env.secret(&SNS_SECRET_ACCESS_KEY);
                if secret_access_key.is_none() {
                    env.problem(&SNS_SECRET_ACCESS_KEY, format!("required when {}=sns", PROVIDER.name));
                }
                let region_ok = !region.is_empty()
                    && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !region.is_empty() && !region_ok {
                    env.problem(&SNS_REGION, format!("{region:?} is not an AWS region such as us-east-1"));
                }
                let sender_id = env.text(&SNS_SENDER_ID);
                if let Some(sender_id) = &sender_id {
                    let valid = (1..=11).contains(&sender_id.len())
                        && sender_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && sender_id.chars().any(|c| c.is_ascii_alphabetic());
                    if !valid {
                        env.problem(
                            &SNS_SENDER_ID,
                            format!(
                                "{sender_id:?} must be 1 to 11 letters, digits or dashes, with at least one letter"
                            ),
                        );
                    }
                }
                let default_base = region_ok.then(|| format!("https://sns.{region}.amazonaws.com"));
                let base_url = read_base_url(env, &SNS_BASE_URL, default_base);
                Some(ProviderConfig::Sns(SnsConfig {
                    region,
                    access_key_id,
                    secret_access_key: secret_access_key.unwrap_or_else(|| SecretString::from(String::new())),
                    sender_id,
                    base_url,
                }))
            }
            "dev" => {
                env.show(&PROVIDER, "dev (codes are logged, never sent)");
                Some(ProviderConfig::Dev)
            }
            other => {
                env.problem(&PROVIDER, format!("expected twilio, sns or dev, got {other:?}"));
                None
            }
        };

        let default_region = env.text(&DEFAULT_REGION).map(|region| region.to_ascii_uppercase());
        if let Some(region) = &default_region
            && !PhoneNumber::is_known_region(region)
        {
            env.problem(&DEFAULT_REGION, format!("{region:?} is not a region code such as US or GB"));
        }
        let message_template = env.text(&MESSAGE_TEMPLATE);
        if let Some(template) = &message_template
            && !template.contains(CODE_PLACEHOLDER)
        {
            env.problem(&MESSAGE_TEMPLATE, format!("must contain {CODE_PLACEHOLDER}"));
        }
        Some(SmsConfig { provider: provider?, default_region, message_template })
    }

    /// The region (ISO 3166, e.g. `US`) numbers without a country code are read in.
    pub fn default_region(&self) -> Option<&str> {
        self.default_region.as_deref()
    }
}

fn twilio_sender(env: &mut Env, service_id: &str) -> TwilioSender {
    let sender = twilio_sender_kind(env, service_id);
    let meaning = match &sender {
        TwilioSender::VerifyService(_) => "Verify service",
        TwilioSender::MessagingService(_) => "Messaging Service",
        TwilioSender::From(_) => "From",
    };
    env.show(&TWILIO_MESSAGING_SERVICE_ID, format!("{service_id} ({meaning})"));
    sender
}

fn twilio_sender_kind(env: &mut Env, service_id: &str) -> TwilioSender {
    if service_id.starts_with("VA") {
        TwilioSender::VerifyService(service_id.to_string())
    } else if service_id.starts_with("MG") {
        TwilioSender::MessagingService(service_id.to_string())
    } else if service_id.starts_with('+') {
        // A phone number: sent in E.164 so a formatted value ("+1 415 555 0123") still works.
        match PhoneNumber::parse(service_id, None) {
            Ok(phone) => TwilioSender::From(phone.as_str().to_string()),
            Err(_) => {
                env.problem(
                    &TWILIO_MESSAGING_SERVICE_ID,
                    format!(
                        "{service_id:?} is neither a Verify (VA…) or Messaging Service (MG…) SID nor a valid phone \
                         number"
                    ),
                );
                TwilioSender::From(service_id.to_string())
            }
        }
    } else {
        // A short code or an alphanumeric sender ID: Twilio checks it.
        TwilioSender::From(service_id.to_string())
    }
}

/// Reads a credential the chosen provider cannot work without, noting it when missing.
fn required(env: &mut Env, setting: &Setting, provider: &str) -> String {
    let value = env.text(setting);
    if value.is_none() {
        env.problem(setting, format!("required when {}={provider}", PROVIDER.name));
    }
    value.unwrap_or_default()
}

/// Reads an `http(s)` base URL, returned without its trailing slash; `default` stands in for a computed one.
fn read_base_url(env: &mut Env, setting: &Setting, default: Option<String>) -> String {
    let Some(raw) = env.text(setting).or(default) else {
        return String::new();
    };
    env.show(setting, raw.clone());
    match Url::parse(&raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            raw.trim_end_matches('/').to_string()
        }
        Ok(_) => {
            env.problem(setting, format!("{raw:?} is not an http(s) URL"));
            String::new()
        }
        Err(error) => {
            env.problem(setting, format!("not a URL ({error})"));
            String::new()
        }
    }
}
