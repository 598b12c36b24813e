//! Users as the API shows them, and the rules that turn sign-up options into a new user: allowed roles
//! within the configured set, the default role among them, an allowed locale, a display name of letters,
//! digits, symbols and a few separators (no markup characters), metadata as a JSON object.
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use regex::Regex;
use uuid::Uuid;

use super::Email;
use crate::config::env::{Env, Setting};
use crate::error::AuthError;

pub const DEFAULT_ROLE: Setting = Setting::new("AUTH_USER_DEFAULT_ROLE", Some("user"), "the default role of new users");
pub const DEFAULT_ALLOWED_ROLES: Setting = Setting::new(
    "AUTH_USER_DEFAULT_ALLOWED_ROLES",
    Some("me"),
    "roles a sign-up may ask for (comma-separated; the default role is always one)",
);
pub const LOCALE_DEFAULT: Setting = Setting::new("AUTH_LOCALE_DEFAULT", Some("en"), "locale of new users");
pub const ALLOWED_LOCALES: Setting = Setting::new(
    "AUTH_LOCALE_ALLOWED_LOCALES",
    Some("en"),
    "locales users may choose; another falls back to the default",
);
pub const DISABLE_SIGNUP: Setting =
    Setting::new("AUTH_DISABLE_SIGNUP", Some("false"), "no new accounts (403 `signup-disabled`)");
pub const DISABLE_NEW_USERS: Setting = Setting::new(
    "AUTH_DISABLE_NEW_USERS",
    Some("false"),
    "new accounts start disabled, for an administrator to enable",
);
pub const EMAIL_VERIFIED_REQUIRED: Setting = Setting::new(
    "AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED",
    Some("true"),
    "sign-up returns no session and sign-in refuses unverified emails",
);
pub const GRAVATAR_ENABLED: Setting = Setting::new("AUTH_GRAVATAR_ENABLED", Some("true"), "avatar URL at sign-up");
pub const GRAVATAR_DEFAULT: Setting = Setting::new("AUTH_GRAVATAR_DEFAULT", Some("blank"), "Gravatar's default image");
pub const GRAVATAR_RATING: Setting = Setting::new("AUTH_GRAVATAR_RATING", Some("g"), "Gravatar's rating");

pub const SETTINGS: &[&Setting] = &[
    &DEFAULT_ROLE,
    &DEFAULT_ALLOWED_ROLES,
    &LOCALE_DEFAULT,
    &ALLOWED_LOCALES,
    &DISABLE_SIGNUP,
    &DISABLE_NEW_USERS,
    &EMAIL_VERIFIED_REQUIRED,
    &GRAVATAR_ENABLED,
    &GRAVATAR_DEFAULT,
    &GRAVATAR_RATING,
];

/// What new users get and may choose.
#[derive(Clone, Debug)]
pub struct UserConfig {
    pub default_role: String,
    pub default_allowed_roles: Vec<String>,
    pub locale_default: String,
    pub allowed_locales: Vec<String>,
    pub disable_signup: bool,
    pub disable_new_users: bool,
    pub email_verified_required: bool,
    pub gravatar_enabled: bool,
    pub gravatar_default: String,
    pub gravatar_rating: String,
}

impl UserConfig {
    pub fn load(env: &mut Env) -> UserConfig {
        let default_role = env.string(&DEFAULT_ROLE);
        // As in nhost, the default role and locale always belong to their allowed lists.
        let mut default_allowed_roles = env.list(&DEFAULT_ALLOWED_ROLES);
        if !default_allowed_roles.contains(&default_role) {
            default_allowed_roles.push(default_role.clone());
        }
        let locale_default = env.string(&LOCALE_DEFAULT);
        if locale_default.chars().count() != 2 {
            env.problem(&LOCALE_DEFAULT, "must be a two-letter locale");
        }
        let mut allowed_locales = env.list(&ALLOWED_LOCALES);
        if !allowed_locales.contains(&locale_default) {
            allowed_locales.push(locale_default.clone());
        }
        UserConfig {
            default_role,
            default_allowed_roles,
            locale_default,
            allowed_locales,
            disable_signup: env.flag(&DISABLE_SIGNUP),
            disable_new_users: env.flag(&DISABLE_NEW_USERS),
            email_verified_required: env.flag(&EMAIL_VERIFIED_REQUIRED),
            gravatar_enabled: env.flag(&GRAVATAR_ENABLED),
            gravatar_default: env.string(&GRAVATAR_DEFAULT),
            gravatar_rating: env.string(&GRAVATAR_RATING),
        }
    }
}

/// A stored user with their roles.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub display_name: String,
    pub avatar_url: String,
    pub locale: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub email_verified: bool,
    pub phone_number_verified: bool,
    pub default_role: String,
    pub is_anonymous: bool,
    pub disabled: bool,
    pub metadata: serde_json::Value,
    pub active_mfa_type: Option<String>,
    pub organisation_id: Option<Uuid>,
    pub roles: Vec<String>,
}

/// A user about to be inserted.
#[derive(Debug)]
pub struct NewUser {
    pub id: Uuid,
    pub email: Option<Email>,
    pub password_hash: Option<String>,
    pub display_name: String,
    pub avatar_url: String,
    pub locale: String,
    pub default_role: String,
    pub allowed_roles: Vec<String>,
    pub metadata: serde_json::Value,
    pub email_verified: bool,
    pub is_anonymous: bool,
    pub disabled: bool,
}

impl NewUser {
    /// A regular (not anonymous) user with the given identity and the profile sign-up options resolved to.
    pub fn from_profile(
        id: Uuid,
        email: Option<Email>,
        password_hash: Option<String>,
        profile: Profile,
        disabled: bool,
    ) -> Self {
        NewUser {
            id,
            email,
            password_hash,
            display_name: profile.display_name,
            avatar_url: profile.avatar_url,
            locale: profile.locale,
            default_role: profile.default_role,
            allowed_roles: profile.allowed_roles,
            metadata: profile.metadata,
            email_verified: false,
            is_anonymous: false,
            disabled,
        }
    }
}

/// Sign-up options as the client sent them (`SignUpOptions` in the reference API; also the input of the
/// Hasura action, hence the camelCase field names).
#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignupOptions {
    pub allowed_roles: Option<Vec<String>>,
    pub default_role: Option<String>,
    pub display_name: Option<String>,
    pub locale: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub redirect_to: Option<String>,
}

/// The profile a new user gets from their options and the configuration.
#[derive(Debug, PartialEq)]
pub struct Profile {
    pub allowed_roles: Vec<String>,
    pub default_role: String,
    pub display_name: String,
    pub locale: String,
    pub metadata: serde_json::Value,
    pub avatar_url: String,
}

/// Letters, digits, currency and other symbols (emoji), spaces and `,.'-`. Narrower than the reference
/// API's `\p{S}`, which would also let `<`, `>`, `=`, `|` and the backtick through.
static DISPLAY_NAME: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^[\p{L}\p{N}\p{Sc}\p{So} ,.'-]+$").ok());

/// Checks a display name: at most 32 characters of the allowed kinds.
pub fn check_display_name(name: &str) -> Result<(), AuthError> {
    if name.chars().count() <= 32 && DISPLAY_NAME.as_ref().is_some_and(|re| re.is_match(name)) {
        Ok(())
    } else {
        Err(AuthError::InvalidRequest(
            "displayName may hold at most 32 letters, digits, symbols, spaces and , . ' -".into(),
        ))
    }
}

/// Metadata a client sends (of a user, of a token): a JSON object that can be stored and read back exactly
/// (absent or null means none).
pub fn optional_metadata(metadata: Option<serde_json::Value>) -> Result<Option<serde_json::Value>, AuthError> {
    match metadata {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(value @ serde_json::Value::Object(_)) => {
            super::json::check_storable("metadata", &value)?;
            Ok(Some(value))
        }
        Some(_) => Err(AuthError::InvalidRequest("metadata must be an object".into())),
    }
}

/// The metadata of a new user: a JSON object (absent or null means empty).
pub fn metadata_object(metadata: Option<serde_json::Value>) -> Result<serde_json::Value, AuthError> {
    Ok(optional_metadata(metadata)?.unwrap_or_else(|| serde_json::Value::Object(Default::default())))
}

/// Gravatar's URL for an address (md5 of the trimmed, lower-cased email, as Gravatar defines it).
pub fn gravatar_url(email: &str, default: &str, rating: &str) -> String {
    let digest = Md5::digest(email.trim().to_lowercase().as_bytes());
    format!("https://www.gravatar.com/avatar/{}?d={default}&r={rating}", hex::encode(digest))
}

impl SignupOptions {
    /// Applies nhost's rules; `email` is the default display name and the Gravatar source.
    pub fn resolve(&self, config: &UserConfig, email: Option<&Email>) -> Result<Profile, AuthError> {
        let allowed_roles = match &self.allowed_roles {
            Some(roles) => {
                if roles.iter().any(|role| !config.default_allowed_roles.contains(role)) {
                    return Err(AuthError::RoleNotAllowed);
                }
                roles.clone()
            }
            None => config.default_allowed_roles.clone(),
        };
        let default_role = self.default_role.clone().unwrap_or_else(|| config.default_role.clone());
        if !allowed_roles.contains(&default_role) {
            return Err(AuthError::DefaultRoleMustBeInAllowedRoles);
        }
        // nhost replaces a locale it does not allow with the default rather than refusing the sign-up.
        let locale = self
            .locale
            .clone()
            .filter(|locale| config.allowed_locales.contains(locale))
            .unwrap_or_else(|| config.locale_default.clone());
        let display_name = match &self.display_name {
            Some(name) => {
                check_display_name(name)?;
                name.clone()
            }
            None => email.map(|e| e.as_str().to_string()).unwrap_or_default(),
        };
        let metadata = metadata_object(self.metadata.clone())?;
        let avatar_url = match email {
            Some(email) if config.gravatar_enabled => {
                gravatar_url(email.as_str(), &config.gravatar_default, &config.gravatar_rating)
            }
            _ => String::new(),
        };
        Ok(Profile { allowed_roles, default_role, display_name, locale, metadata, avatar_url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> UserConfig {
        UserConfig {
            default_role: "user".into(),
            default_allowed_roles: vec!["user".into(), "me".into(), "editor".into()],
            locale_default: "en".into(),
            allowed_locales: vec!["en".into(), "fr".into()],
            disable_signup: false,
            disable_new_users: false,
            email_verified_required: false,
            gravatar_enabled: false,
            gravatar_default: "blank".into(),
            gravatar_rating: "g".into(),
        }
    }

    #[test]
    fn defaults_come_from_configuration() -> Result<(), AuthError> {
        let email = Email::parse("ada@example.com")?;
        let profile = SignupOptions::default().resolve(&config(), Some(&email))?;
        assert_eq!(profile.allowed_roles, vec!["user", "me", "editor"]);
        assert_eq!(profile.default_role, "user");
        assert_eq!(profile.display_name, "ada@example.com");
        assert_eq!(profile.locale, "en");
        Ok(())
    }

    #[test]
    fn roles_outside_the_configured_set_are_refused() {
        let options = SignupOptions { allowed_roles: Some(vec!["admin".into()]), ..Default::default() };
        assert!(matches!(options.resolve(&config(), None), Err(AuthError::RoleNotAllowed)));
    }

    #[test]
    fn default_role_must_be_allowed() {
        let options = SignupOptions {
            allowed_roles: Some(vec!["me".into()]),
            default_role: Some("user".into()),
            ..Default::default()
        };
        assert!(matches!(options.resolve(&config(), None), Err(AuthError::DefaultRoleMustBeInAllowedRoles)));
    }

    #[test]
    fn locale_and_display_name_rules() -> Result<(), AuthError> {
        let other_locale = SignupOptions { locale: Some("de".into()), ..Default::default() };
        assert_eq!(other_locale.resolve(&config(), None)?.locale, "en");
        let french = SignupOptions { locale: Some("fr".into()), ..Default::default() };
        assert_eq!(french.resolve(&config(), None)?.locale, "fr");
        for bad in ["a/b", "x:y", "&amp", "&lt;b&gt;", "<svg onload=alert`1`>", "a|b"] {
            let options = SignupOptions { display_name: Some(bad.into()), ..Default::default() };
            assert!(matches!(options.resolve(&config(), None), Err(AuthError::InvalidRequest(_))), "{bad}");
        }
        let good = SignupOptions { display_name: Some("Zoë O'Neil-Ünal".into()), ..Default::default() };
        assert_eq!(good.resolve(&config(), None)?.display_name, "Zoë O'Neil-Ünal");
        Ok(())
    }

    #[test]
    fn gravatar_url_uses_the_md5_of_the_normalised_email() {
        assert_eq!(
            gravatar_url(" MyEmailAddress@example.com ", "blank", "g"),
            "https://www.gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346?d=blank&r=g"
        );
    }
}
