//! Wire types shared across tags, named and shaped as in the reference API (camelCase JSON), and the
//! conversions from domain values. Secrets arriving in requests are [`SecretField`]s, never plain strings.
use std::borrow::Cow;

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use secrecy::SecretString;
use serde_json::Value;

use crate::domain::user::{SignupOptions, User};
use crate::flows::Session;
use crate::flows::session::SignedIn;

/// A secret string in a request body (a password, a token). It cannot be printed or serialised back.
pub struct SecretField(pub SecretString);

impl Type for SecretField {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "password")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for SecretField {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) => Ok(SecretField(SecretString::from(text))),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl<'de> serde::Deserialize<'de> for SecretField {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| SecretField(SecretString::from(text)))
    }
}

impl ToJSON for SecretField {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String("<redacted>".into()))
    }
}

/// `SignUpOptions` of the reference API.
#[derive(Debug, Default, Object, serde::Deserialize)]
#[oai(rename = "SignUpOptions", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignUpOptionsBody {
    pub allowed_roles: Option<Vec<String>>,
    pub default_role: Option<String>,
    pub display_name: Option<String>,
    /// A two-character locale.
    pub locale: Option<String>,
    pub metadata: Option<Value>,
    pub redirect_to: Option<String>,
}

impl From<SignUpOptionsBody> for SignupOptions {
    fn from(body: SignUpOptionsBody) -> Self {
        SignupOptions {
            allowed_roles: body.allowed_roles,
            default_role: body.default_role,
            display_name: body.display_name,
            locale: body.locale,
            metadata: body.metadata,
            redirect_to: body.redirect_to,
        }
    }
}

/// A user's profile, as in the reference API's `User`.
#[derive(Debug, Object)]
#[oai(rename = "User", rename_all = "camelCase")]
pub struct UserBody {
    pub avatar_url: String,
    pub created_at: DateTime<Utc>,
    pub default_role: String,
    pub display_name: String,
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    pub email_verified: bool,
    pub id: String,
    pub is_anonymous: bool,
    pub locale: String,
    pub metadata: Value,
    #[oai(skip_serializing_if_is_none)]
    pub phone_number: Option<String>,
    pub phone_number_verified: bool,
    pub roles: Vec<String>,
    /// `totp` or `sms` when a second factor is active, else null.
    #[oai(nullable)]
    pub active_mfa_type: Option<String>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        UserBody {
            avatar_url: user.avatar_url,
            created_at: user.created_at,
            default_role: user.default_role,
            display_name: user.display_name,
            email: user.email,
            email_verified: user.email_verified,
            id: user.id.to_string(),
            is_anonymous: user.is_anonymous,
            locale: user.locale,
            metadata: user.metadata,
            phone_number: user.phone_number,
            phone_number_verified: user.phone_number_verified,
            roles: user.roles,
            active_mfa_type: user.active_mfa_type,
        }
    }
}

/// A session, as in the reference API's `Session`.
#[derive(Debug, Object)]
#[oai(rename = "Session", rename_all = "camelCase")]
pub struct SessionBody {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub access_token_expires_in: i64,
    pub refresh_token_id: String,
    pub refresh_token: String,
    pub user: UserBody,
}

impl From<Session> for SessionBody {
    fn from(session: Session) -> Self {
        SessionBody {
            access_token: session.access_token,
            access_token_expires_in: session.access_token_expires_in,
            refresh_token_id: session.refresh_token_id.to_string(),
            refresh_token: session.refresh_token.expose().to_string(),
            user: session.user.into(),
        }
    }
}

/// `{"session": Session | null}`.
#[derive(Debug, Object)]
#[oai(rename = "SessionPayload")]
pub struct SessionPayload {
    /// Absent when the user must verify their email before signing in.
    #[oai(skip_serializing_if_is_none)]
    pub session: Option<SessionBody>,
}

/// The MFA challenge a sign-in returns instead of a session.
#[derive(Debug, Object)]
#[oai(rename = "MFAChallengePayload")]
pub struct MfaChallengePayload {
    pub ticket: String,
}

/// `{"session": Session | null, "mfa": MFAChallengePayload | null}`.
#[derive(Debug, Object)]
#[oai(rename = "SignInEmailPasswordResponse")]
pub struct SignInResponseBody {
    /// Null when a second factor is required.
    #[oai(nullable)]
    pub session: Option<SessionBody>,
    /// Null when the session is complete.
    #[oai(nullable)]
    pub mfa: Option<MfaChallengePayload>,
}

impl From<SignedIn> for SignInResponseBody {
    fn from(signed_in: SignedIn) -> Self {
        match signed_in {
            SignedIn::Session(session) => SignInResponseBody { session: Some((*session).into()), mfa: None },
            SignedIn::SecondFactor(challenge) => {
                SignInResponseBody { session: None, mfa: Some(MfaChallengePayload { ticket: challenge.ticket }) }
            }
        }
    }
}
