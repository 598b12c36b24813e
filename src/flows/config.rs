//! Settings of the flows: session lifetimes, one-time codes, the optional sign-in methods, and what Hasura's
//! webhook and action handler are told.
use secrecy::SecretString;
use url::Url;

use crate::config::env::{Env, Setting};

pub const REFRESH_TOKEN_EXPIRES_IN: Setting = Setting::new(
    "AUTH_REFRESH_TOKEN_EXPIRES_IN",
    Some("2592000"),
    "refresh token lifetime, seconds (renewed on every refresh)",
);
pub const REUSE_GRACE_PERIOD: Setting = Setting::new(
    "AUTH_REFRESH_TOKEN_REUSE_GRACE_PERIOD",
    Some("30"),
    "seconds a rotated refresh token still gives back the same new token (two tabs); later, it revokes its family",
);
pub const SESSION_MAX_LIFETIME: Setting = Setting::new(
    "AUTH_SESSION_MAX_LIFETIME",
    None,
    "seconds after sign-in past which a session can no longer be refreshed; no limit when empty (as nhost)",
);
pub const PAT_MAX_EXPIRES_IN: Setting = Setting::new(
    "AUTH_PAT_MAX_EXPIRES_IN",
    Some("31536000"),
    "the furthest a personal access token may expire, seconds from its creation",
);
pub const LINK_EXPIRES_IN: Setting =
    Setting::new("AUTH_EMAIL_LINK_EXPIRES_IN", Some("3600"), "lifetime of emailed links, seconds");
pub const OTP_EXPIRES_IN: Setting =
    Setting::new("AUTH_OTP_EXPIRES_IN", Some("300"), "lifetime of one-time codes (email, SMS), seconds");
pub const OTP_MAX_ATTEMPTS: Setting = Setting::new(
    "AUTH_OTP_MAX_ATTEMPTS",
    Some("5"),
    "wrong guesses at an address's or number's codes, across re-sent codes, after which the code is burnt and \
     the address or number locked",
);
pub const OTP_LOCKOUT_WINDOW: Setting = Setting::new(
    "AUTH_OTP_LOCKOUT_WINDOW",
    Some("900"),
    "seconds within which wrong guesses add up, and for which an address or number is then locked (429)",
);
pub const ANONYMOUS_USERS: Setting =
    Setting::new("AUTH_ANONYMOUS_USERS_ENABLED", Some("false"), "anonymous sign-in (409 `disabled-endpoint` when off)");
pub const PASSWORDLESS_EMAIL: Setting =
    Setting::new("AUTH_EMAIL_PASSWORDLESS_ENABLED", Some("false"), "magic-link sign-in");
pub const OTP_EMAIL: Setting = Setting::new("AUTH_OTP_EMAIL_ENABLED", Some("false"), "sign-in with a code by email");
pub const PASSWORDLESS_SMS: Setting =
    Setting::new("AUTH_SMS_PASSWORDLESS_ENABLED", Some("false"), "sign-in with a code by SMS");
pub const WEBHOOK_UNAUTHENTICATED_ROLE: Setting = Setting::new(
    "AUTH_WEBHOOK_UNAUTHENTICATED_ROLE",
    Some("public"),
    "the role the webhook answers for requests without credentials",
);
pub const WEBHOOK_ALLOW_UNAUTHENTICATED: Setting = Setting::new(
    "AUTH_WEBHOOK_ALLOW_UNAUTHENTICATED",
    Some("true"),
    "answer requests without credentials with that role (401 when false)",
);
pub const ACTIONS_SECRET: Setting = Setting::new(
    "AUTH_ACTIONS_SECRET",
    None,
    "shared secret Hasura sends in `X-Hauth-Actions-Secret`; the action handler refuses every call without it",
)
.secret();
pub const ADMIN_SECRET: Setting = Setting::new("HASURA_GRAPHQL_ADMIN_SECRET", None, "Hasura's admin secret").secret();
pub const GRAPHQL_URL: Setting = Setting::new("HASURA_GRAPHQL_GRAPHQL_URL", None, "Hasura's GraphQL endpoint");

pub const SETTINGS: &[&Setting] = &[
    &REFRESH_TOKEN_EXPIRES_IN,
    &REUSE_GRACE_PERIOD,
    &SESSION_MAX_LIFETIME,
    &PAT_MAX_EXPIRES_IN,
    &LINK_EXPIRES_IN,
    &OTP_EXPIRES_IN,
    &OTP_MAX_ATTEMPTS,
    &OTP_LOCKOUT_WINDOW,
    &ANONYMOUS_USERS,
    &PASSWORDLESS_EMAIL,
    &OTP_EMAIL,
    &PASSWORDLESS_SMS,
    &WEBHOOK_UNAUTHENTICATED_ROLE,
    &WEBHOOK_ALLOW_UNAUTHENTICATED,
    &ACTIONS_SECRET,
    &ADMIN_SECRET,
    &GRAPHQL_URL,
];

#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub refresh_token_expires_in: i64,
    /// Seconds during which an already rotated refresh token still gives back its child (two tabs racing).
    pub reuse_grace_period: i64,
    /// Seconds after sign-in past which a session can no longer be refreshed (`None`: no limit, as nhost).
    pub max_lifetime: Option<i64>,
    /// The furthest a personal access token may expire, in seconds from its creation.
    pub pat_max_expires_in: i64,
}

/// Lifetimes and limits of emailed links and one-time codes.
#[derive(Clone, Debug)]
pub struct CodesConfig {
    pub link_expires_in: i64,
    pub otp_expires_in: i64,
    /// Wrong guesses after which a code is burnt and its address or number is locked.
    pub otp_max_attempts: i32,
    /// Seconds within which wrong guesses add up, and for which the address or number is then locked.
    pub otp_lockout_window: i64,
}

/// Sign-in methods that are off unless enabled, as in nhost.
#[derive(Clone, Debug, Default)]
pub struct FeaturesConfig {
    pub anonymous_users: bool,
    pub passwordless_email: bool,
    pub otp_email: bool,
    pub passwordless_sms: bool,
}

/// How Hasura reaches hauth besides JWTs: the auth webhook and the action handlers.
#[derive(Clone, Debug)]
pub struct HasuraHooksConfig {
    /// Role the webhook gives requests without credentials; `None` answers them 401.
    pub webhook_unauthenticated_role: Option<String>,
    /// Shared secret Hasura sends to the action handler, which is off without it.
    pub actions_secret: Option<SecretString>,
}

#[derive(Clone, Debug)]
pub struct HasuraConfig {
    pub admin_secret: Option<SecretString>,
    pub graphql_url: Option<Url>,
}

fn positive(env: &mut Env, setting: &Setting) -> i64 {
    let value = env.parsed(setting);
    if value <= 0 {
        env.problem(setting, "must be positive");
    }
    value
}

impl SessionConfig {
    pub fn load(env: &mut Env) -> SessionConfig {
        let reuse_grace_period = env.parsed(&REUSE_GRACE_PERIOD);
        if reuse_grace_period < 0 {
            env.problem(&REUSE_GRACE_PERIOD, "must not be negative");
        }
        let max_lifetime = env.optional::<i64>(&SESSION_MAX_LIFETIME);
        if max_lifetime.is_some_and(|seconds| seconds <= 0) {
            env.problem(&SESSION_MAX_LIFETIME, "must be positive (or empty for no limit)");
        }
        SessionConfig {
            refresh_token_expires_in: positive(env, &REFRESH_TOKEN_EXPIRES_IN),
            reuse_grace_period,
            max_lifetime,
            pat_max_expires_in: positive(env, &PAT_MAX_EXPIRES_IN),
        }
    }
}

impl CodesConfig {
    pub fn load(env: &mut Env) -> CodesConfig {
        let otp_max_attempts = env.parsed(&OTP_MAX_ATTEMPTS);
        if otp_max_attempts <= 0 {
            env.problem(&OTP_MAX_ATTEMPTS, "must be positive");
        }
        CodesConfig {
            link_expires_in: positive(env, &LINK_EXPIRES_IN),
            otp_expires_in: positive(env, &OTP_EXPIRES_IN),
            otp_max_attempts,
            otp_lockout_window: positive(env, &OTP_LOCKOUT_WINDOW),
        }
    }
}

impl FeaturesConfig {
    pub fn load(env: &mut Env) -> FeaturesConfig {
        FeaturesConfig {
            anonymous_users: env.flag(&ANONYMOUS_USERS),
            passwordless_email: env.flag(&PASSWORDLESS_EMAIL),
            otp_email: env.flag(&OTP_EMAIL),
            passwordless_sms: env.flag(&PASSWORDLESS_SMS),
        }
    }
}

impl HasuraHooksConfig {
    pub fn load(env: &mut Env) -> HasuraHooksConfig {
        let allow = env.flag(&WEBHOOK_ALLOW_UNAUTHENTICATED);
        let role = env.string(&WEBHOOK_UNAUTHENTICATED_ROLE);
        HasuraHooksConfig {
            webhook_unauthenticated_role: allow.then_some(role),
            actions_secret: env.secret(&ACTIONS_SECRET),
        }
    }
}

impl HasuraConfig {
    pub fn load(env: &mut Env) -> HasuraConfig {
        HasuraConfig { admin_secret: env.secret(&ADMIN_SECRET), graphql_url: env.url(&GRAPHQL_URL) }
    }
}
