//! Configuration: nhost's environment variable names and defaults, read once at start into [`Config`] and
//! validated as a whole. Every problem is collected and reported together; nothing reads the environment
//! after this. `hauth config check` prints [`Config::redacted`].
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::domain::claims::CustomClaims;
use crate::mail::MailConfig;
use crate::sms::SmsConfig;

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub jwt: JwtConfig,
    pub session: SessionConfig,
    pub users: UserConfig,
    pub passwords: PasswordConfig,
    pub hasura: HasuraConfig,
    pub hooks: HasuraHooksConfig,
    pub access: AccessConfig,
    pub features: FeaturesConfig,
    pub codes: CodesConfig,
    pub mail: MailConfig,
    /// Present when SMS sign-in is enabled; its settings are only required then.
    pub sms: Option<SmsConfig>,
    pub log: LogConfig,
}

/// Who may sign up, and where users may be sent back to.
#[derive(Clone, Debug, Default)]
pub struct AccessConfig {
    pub allowed_emails: Vec<String>,
    pub allowed_email_domains: Vec<String>,
    pub blocked_emails: Vec<String>,
    pub blocked_email_domains: Vec<String>,
    /// `AUTH_ACCESS_CONTROL_ALLOWED_REDIRECT_URLS`: glob patterns besides `AUTH_CLIENT_URL`.
    pub allowed_redirect_urls: Vec<String>,
}

/// Sign-in methods that are off unless enabled, as in nhost.
#[derive(Clone, Debug, Default)]
pub struct FeaturesConfig {
    pub anonymous_users: bool,
    pub passwordless_email: bool,
    pub otp_email: bool,
    pub passwordless_sms: bool,
}

/// Lifetimes and limits of emailed links and one-time codes.
#[derive(Clone, Debug)]
pub struct CodesConfig {
    /// Seconds an emailed link (verify, reset, change, magic link) stays valid.
    pub link_expires_in: i64,
    /// Seconds an email or SMS one-time code stays valid.
    pub otp_expires_in: i64,
    /// Wrong guesses after which a one-time code is burnt and its address or number is locked.
    pub otp_max_attempts: i32,
    /// Seconds within which wrong guesses at an address's or number's codes add up, and for which it is then
    /// locked.
    pub otp_lockout_window: i64,
}

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub host: String,
    pub port: u16,
    /// Prefix for every route, e.g. `/v1` (nhost's `AUTH_API_PREFIX`); empty for none.
    pub api_prefix: String,
    /// Public URL of this service, used in links and in `hauth hasura jwt-secret`.
    pub server_url: Url,
    pub client_url: Option<Url>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    pub url: SecretString,
    /// A separate URL for migrations (nhost's `POSTGRES_MIGRATIONS_CONNECTION`), e.g. a more privileged role.
    pub migrations_url: Option<SecretString>,
    pub pool_size: usize,
    /// Run pending migrations when `hauth serve` starts.
    pub migrate_on_start: bool,
}

/// `HASURA_GRAPHQL_JWT_SECRET` as Hasura reads it, plus hauth's signing material.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSecret {
    #[serde(rename = "type")]
    pub key_type: String,
    pub key: Option<SecretString>,
    pub signing_key: Option<SecretString>,
    pub kid: Option<String>,
    pub issuer: Option<String>,
    pub claims_namespace: Option<String>,
    pub claims_format: Option<String>,
    pub audience: Option<serde_json::Value>,
    pub allowed_skew: Option<u64>,
    pub jwk_url: Option<String>,
    pub header: Option<serde_json::Value>,
    pub claims_namespace_path: Option<String>,
    pub claims_map: Option<serde_json::Value>,
}

/// A public key published in the JWKS besides the signing key: the previous key during a rotation, or the
/// next key before it starts signing.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedKey {
    #[serde(rename = "type")]
    pub key_type: String,
    pub key: String,
    pub kid: Option<String>,
}

#[derive(Clone, Debug)]
pub struct JwtConfig {
    pub secret: JwtSecret,
    /// Custom claims resolved from the user at token time (`AUTH_JWT_CUSTOM_CLAIMS[_DEFAULTS]`).
    pub custom_claims: CustomClaims,
    /// Publish the permissions of the user's roles as `x-hasura-permissions`.
    pub permissions_claim: bool,
    pub published_keys: Vec<PublishedKey>,
    pub access_token_expires_in: i64,
    /// `Cache-Control: max-age` of the JWKS, in seconds.
    pub jwks_max_age: u32,
}

/// How Hasura reaches hauth besides JWTs: the auth webhook and the action handlers.
#[derive(Clone, Debug)]
pub struct HasuraHooksConfig {
    /// Role the webhook gives requests without credentials; `None` answers them 401.
    pub webhook_unauthenticated_role: Option<String>,
    /// Shared secret Hasura sends in `X-Hauth-Actions-Secret`; the action handler is off without it.
    pub actions_secret: Option<SecretString>,
}

#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub refresh_token_expires_in: i64,
    /// Seconds during which an already rotated refresh token still yields a session (two tabs racing).
    pub reuse_grace_period: i64,
    /// Seconds after sign-in past which a session can no longer be refreshed (`None`: no limit, as nhost).
    pub max_lifetime: Option<i64>,
    /// The furthest a personal access token may expire, in seconds from its creation.
    pub pat_max_expires_in: i64,
}

#[derive(Clone, Debug)]
pub struct UserConfig {
    pub default_role: String,
    pub default_allowed_roles: Vec<String>,
    pub locale_default: String,
    pub allowed_locales: Vec<String>,
    pub password_min_length: usize,
    pub disable_signup: bool,
    pub disable_new_users: bool,
    pub email_verified_required: bool,
    pub gravatar_enabled: bool,
    pub gravatar_default: String,
    pub gravatar_rating: String,
}

/// Argon2id parameters for new password hashes (OWASP's recommendation by default).
#[derive(Clone, Debug)]
pub struct PasswordConfig {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// How many hashes may run at once on the blocking pool.
    pub max_concurrent_hashes: usize,
}

#[derive(Clone, Debug)]
pub struct HasuraConfig {
    pub admin_secret: Option<SecretString>,
    pub graphql_url: Option<Url>,
}

#[derive(Clone, Debug)]
pub struct LogConfig {
    pub filter: String,
    pub json: bool,
}

/// Every problem found while loading, reported together.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<String>);

/// Reads typed values out of the environment map, collecting problems instead of stopping at the first.
struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).to_string()
    }

    fn parsed<T: std::str::FromStr>(&mut self, name: &str, default: T) -> T {
        let Some(value) = self.raw(name).map(str::to_string) else {
            return default;
        };
        value.parse().unwrap_or_else(|_| {
            self.problems.push(format!("{name}: cannot parse {value:?}"));
            default
        })
    }

    fn boolean(&mut self, name: &str, default: bool) -> bool {
        match self.raw(name).map(str::to_ascii_lowercase).as_deref() {
            None => default,
            Some("true" | "1" | "yes" | "on") => true,
            Some("false" | "0" | "no" | "off") => false,
            Some(other) => {
                self.problems.push(format!("{name}: expected true or false, got {other:?}"));
                default
            }
        }
    }

    fn list(&self, name: &str, default: &[&str]) -> Vec<String> {
        match self.raw(name) {
            None => default.iter().map(|s| s.to_string()).collect(),
            Some(v) => v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect(),
        }
    }

    fn url(&mut self, name: &str, default: Option<&str>) -> Option<Url> {
        let value = self.raw(name).or(default)?;
        match Url::parse(value) {
            Ok(url) => Some(url),
            Err(e) => {
                self.problems.push(format!("{name}: not a URL ({e})"));
                None
            }
        }
    }
}

impl DatabaseConfig {
    /// The URL migrations run with.
    pub fn migrations_url(&self) -> &str {
        self.migrations_url.as_ref().unwrap_or(&self.url).expose_secret()
    }
}

impl Config {
    /// Loads from the process environment.
    pub fn from_process_env() -> Result<Self, ConfigErrors> {
        Self::from_env(&std::env::vars().collect())
    }

    /// Loads from an explicit map of environment variables.
    pub fn from_env(vars: &HashMap<String, String>) -> Result<Self, ConfigErrors> {
        let mut r = Reader { vars, problems: Vec::new() };

        let port = r.parsed("AUTH_PORT", 4000u16);
        let api_prefix = normalise_prefix(&r.string("AUTH_API_PREFIX", ""));
        let default_server_url = format!("http://localhost:{port}{api_prefix}");
        let server_url = r.url("AUTH_SERVER_URL", Some(&default_server_url));
        let host = r.string("AUTH_HOST", "0.0.0.0");
        let client_url = r.url("AUTH_CLIENT_URL", None);
        let max_body_bytes = r.parsed("AUTH_MAX_BODY_BYTES", 64 * 1024usize);

        let database_url = ["DATABASE_URL", "POSTGRES_CONNECTION", "HASURA_GRAPHQL_DATABASE_URL"]
            .iter()
            .find_map(|name| r.raw(name).map(str::to_string));
        if database_url.is_none() {
            r.problems.push("DATABASE_URL (or HASURA_GRAPHQL_DATABASE_URL): required, a postgres:// URL".into());
        }
        let database = DatabaseConfig {
            migrations_url: r.raw("POSTGRES_MIGRATIONS_CONNECTION").map(|u| SecretString::from(u.to_string())),
            url: SecretString::from(database_url.unwrap_or_default()),
            pool_size: r.parsed("AUTH_DATABASE_POOL_SIZE", 16usize),
            migrate_on_start: !r.boolean("AUTH_SKIP_MIGRATIONS", false),
        };

        let secret = match r.raw("HASURA_GRAPHQL_JWT_SECRET") {
            None => {
                r.problems.push("HASURA_GRAPHQL_JWT_SECRET: required (Hasura's JWT secret JSON)".into());
                None
            }
            Some(raw) => match serde_json::from_str::<JwtSecret>(raw) {
                Ok(secret) => Some(secret),
                Err(e) => {
                    r.problems.push(format!("HASURA_GRAPHQL_JWT_SECRET: not valid JSON of the expected shape ({e})"));
                    None
                }
            },
        };
        let published_keys = match r.raw("AUTH_JWT_PUBLISHED_KEYS") {
            None => Vec::new(),
            Some(raw) => serde_json::from_str::<Vec<PublishedKey>>(raw).unwrap_or_else(|e| {
                r.problems.push(format!(
                    "AUTH_JWT_PUBLISHED_KEYS: expected a JSON array of {{\"type\",\"key\",\"kid\"?}} ({e})"
                ));
                Vec::new()
            }),
        };
        let custom_claims =
            CustomClaims::parse(r.raw("AUTH_JWT_CUSTOM_CLAIMS"), r.raw("AUTH_JWT_CUSTOM_CLAIMS_DEFAULTS"))
                .unwrap_or_else(|e| {
                    r.problems.push(e);
                    CustomClaims::default()
                });
        let permissions_claim = r.boolean("AUTH_JWT_PERMISSIONS_CLAIM_ENABLED", false);
        let audience = r.list("AUTH_JWT_AUDIENCE", &[]);
        let secret = secret.map(|mut secret| {
            if !audience.is_empty() {
                secret.audience = Some(serde_json::Value::from(audience));
            }
            secret
        });
        let access_token_expires_in = r.parsed("AUTH_ACCESS_TOKEN_EXPIRES_IN", 900i64);
        let jwks_max_age = r.parsed("AUTH_JWKS_MAX_AGE", 300u32);

        let session = SessionConfig {
            refresh_token_expires_in: r.parsed("AUTH_REFRESH_TOKEN_EXPIRES_IN", 2_592_000i64),
            reuse_grace_period: r.parsed("AUTH_REFRESH_TOKEN_REUSE_GRACE_PERIOD", 30i64),
            max_lifetime: r
                .raw("AUTH_SESSION_MAX_LIFETIME")
                .is_some()
                .then(|| r.parsed("AUTH_SESSION_MAX_LIFETIME", 0i64)),
            pat_max_expires_in: r.parsed("AUTH_PAT_MAX_EXPIRES_IN", 31_536_000i64),
        };

        let default_role = r.string("AUTH_USER_DEFAULT_ROLE", "user");
        // As in nhost, the default role and locale always belong to their allowed lists.
        let mut default_allowed_roles = r.list("AUTH_USER_DEFAULT_ALLOWED_ROLES", &["me"]);
        if !default_allowed_roles.contains(&default_role) {
            default_allowed_roles.push(default_role.clone());
        }
        let locale_default = r.string("AUTH_LOCALE_DEFAULT", "en");
        let mut allowed_locales = r.list("AUTH_LOCALE_ALLOWED_LOCALES", &["en"]);
        if !allowed_locales.contains(&locale_default) {
            allowed_locales.push(locale_default.clone());
        }
        let users = UserConfig {
            password_min_length: r.parsed("AUTH_PASSWORD_MIN_LENGTH", 3usize),
            disable_signup: r.boolean("AUTH_DISABLE_SIGNUP", false),
            disable_new_users: r.boolean("AUTH_DISABLE_NEW_USERS", false),
            email_verified_required: r.boolean("AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED", true),
            gravatar_enabled: r.boolean("AUTH_GRAVATAR_ENABLED", true),
            gravatar_default: r.string("AUTH_GRAVATAR_DEFAULT", "blank"),
            gravatar_rating: r.string("AUTH_GRAVATAR_RATING", "g"),
            default_role,
            default_allowed_roles,
            locale_default,
            allowed_locales,
        };

        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let passwords = PasswordConfig {
            memory_kib: r.parsed("AUTH_PASSWORD_HASH_MEMORY_KIB", 19_456u32),
            iterations: r.parsed("AUTH_PASSWORD_HASH_ITERATIONS", 2u32),
            parallelism: r.parsed("AUTH_PASSWORD_HASH_PARALLELISM", 1u32),
            max_concurrent_hashes: r.parsed("AUTH_PASSWORD_HASH_CONCURRENCY", cpus),
        };

        let hasura = HasuraConfig {
            admin_secret: r.raw("HASURA_GRAPHQL_ADMIN_SECRET").map(|s| SecretString::from(s.to_string())),
            graphql_url: r.url("HASURA_GRAPHQL_GRAPHQL_URL", None),
        };
        let hooks = HasuraHooksConfig {
            webhook_unauthenticated_role: r
                .boolean("AUTH_WEBHOOK_ALLOW_UNAUTHENTICATED", true)
                .then(|| r.string("AUTH_WEBHOOK_UNAUTHENTICATED_ROLE", "public")),
            actions_secret: r.raw("AUTH_ACTIONS_SECRET").map(|s| SecretString::from(s.to_string())),
        };
        let access = AccessConfig {
            allowed_emails: r.list("AUTH_ACCESS_CONTROL_ALLOWED_EMAILS", &[]),
            allowed_email_domains: r.list("AUTH_ACCESS_CONTROL_ALLOWED_EMAIL_DOMAINS", &[]),
            blocked_emails: r.list("AUTH_ACCESS_CONTROL_BLOCKED_EMAILS", &[]),
            blocked_email_domains: r.list("AUTH_ACCESS_CONTROL_BLOCKED_EMAIL_DOMAINS", &[]),
            allowed_redirect_urls: r.list("AUTH_ACCESS_CONTROL_ALLOWED_REDIRECT_URLS", &[]),
        };
        let features = FeaturesConfig {
            anonymous_users: r.boolean("AUTH_ANONYMOUS_USERS_ENABLED", false),
            passwordless_email: r.boolean("AUTH_EMAIL_PASSWORDLESS_ENABLED", false),
            otp_email: r.boolean("AUTH_OTP_EMAIL_ENABLED", false),
            passwordless_sms: r.boolean("AUTH_SMS_PASSWORDLESS_ENABLED", false),
        };
        let codes = CodesConfig {
            link_expires_in: r.parsed("AUTH_EMAIL_LINK_EXPIRES_IN", 3600i64),
            otp_expires_in: r.parsed("AUTH_OTP_EXPIRES_IN", 300i64),
            otp_max_attempts: r.parsed("AUTH_OTP_MAX_ATTEMPTS", 5i32),
            otp_lockout_window: r.parsed("AUTH_OTP_LOCKOUT_WINDOW", 900i64),
        };
        let mail = MailConfig::from_env(vars).map_err(|problems| r.problems.extend(problems)).ok();
        let sms = if features.passwordless_sms {
            SmsConfig::from_env(vars).map(Some).map_err(|problems| r.problems.extend(problems)).ok()
        } else {
            Some(None)
        };
        let debug = r.boolean("AUTH_DEBUG", false);
        let text_logs = r.boolean("AUTH_LOG_FORMAT_TEXT", false);
        let log = LogConfig {
            filter: r.string("AUTH_LOG_LEVEL", if debug { "debug" } else { "info" }),
            json: !text_logs && r.string("AUTH_LOG_FORMAT", "json").eq_ignore_ascii_case("json"),
        };

        let (Some(secret), Some(server_url), Some(mail), Some(sms)) = (secret, server_url, mail, sms) else {
            return Err(ConfigErrors(r.problems));
        };
        let http = HttpConfig { host, port, api_prefix, server_url, client_url, max_body_bytes };
        let config = Config {
            http,
            database,
            jwt: JwtConfig {
                secret,
                custom_claims,
                permissions_claim,
                published_keys,
                access_token_expires_in,
                jwks_max_age,
            },
            hooks,
            access,
            features,
            codes,
            mail,
            sms,
            session,
            users,
            passwords,
            hasura,
            log,
        };
        r.problems.extend(config.validate());
        if r.problems.is_empty() { Ok(config) } else { Err(ConfigErrors(r.problems)) }
    }

    /// Rules that span several settings.
    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.users.locale_default.chars().count() != 2 {
            problems.push("AUTH_LOCALE_DEFAULT must be a two-letter locale".into());
        }
        if self.jwt.access_token_expires_in <= 0 {
            problems.push("AUTH_ACCESS_TOKEN_EXPIRES_IN must be positive".into());
        }
        if self.session.refresh_token_expires_in <= 0 {
            problems.push("AUTH_REFRESH_TOKEN_EXPIRES_IN must be positive".into());
        }
        if self.session.max_lifetime.is_some_and(|seconds| seconds <= 0) {
            problems.push("AUTH_SESSION_MAX_LIFETIME must be positive (or empty for no limit)".into());
        }
        if self.session.pat_max_expires_in <= 0 {
            problems.push("AUTH_PAT_MAX_EXPIRES_IN must be positive".into());
        }
        if self.session.reuse_grace_period < 0 {
            problems.push("AUTH_REFRESH_TOKEN_REUSE_GRACE_PERIOD must not be negative".into());
        }
        let codes = &self.codes;
        if codes.link_expires_in <= 0
            || codes.otp_expires_in <= 0
            || codes.otp_max_attempts <= 0
            || codes.otp_lockout_window <= 0
        {
            problems.push(
                "AUTH_EMAIL_LINK_EXPIRES_IN, AUTH_OTP_EXPIRES_IN, AUTH_OTP_MAX_ATTEMPTS and AUTH_OTP_LOCKOUT_WINDOW \
                 must be positive"
                    .into(),
            );
        }
        if self.passwords.max_concurrent_hashes == 0 || self.database.pool_size == 0 {
            problems.push("AUTH_PASSWORD_HASH_CONCURRENCY and AUTH_DATABASE_POOL_SIZE must be at least 1".into());
        }
        if let Err(e) = crate::domain::password::argon2_params(&self.passwords) {
            problems.push(format!("AUTH_PASSWORD_HASH_*: {e}"));
        }
        if !self.database.url.expose_secret().starts_with("postgres") {
            problems.push("DATABASE_URL must be a postgres:// or postgresql:// URL".into());
        }
        if let Err(e) = crate::jwt::keys::JwtKeys::from_config(&self.jwt) {
            problems.push(format!("HASURA_GRAPHQL_JWT_SECRET: {e}"));
        }
        problems
    }

    /// Settings that are valid but probably not what the operator wants.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for claim in self.jwt.custom_claims.0.iter().filter(|claim| claim.reads_metadata()) {
            warnings.push(format!(
                "AUTH_JWT_CUSTOM_CLAIMS: {} is read from metadata, which users can set themselves at sign-up and \
                 deanonymize; do not base permissions on it",
                claim.key
            ));
        }
        warnings
    }

    /// The effective configuration as `KEY=value` lines with every secret replaced by `<redacted>`.
    pub fn redacted(&self) -> String {
        let secret = |s: &Option<SecretString>| if s.is_some() { "<redacted>" } else { "<unset>" };
        let jwt = &self.jwt.secret;
        let mut lines: BTreeMap<&str, String> = BTreeMap::new();
        lines.insert("AUTH_HOST", self.http.host.clone());
        lines.insert("AUTH_PORT", self.http.port.to_string());
        lines.insert("AUTH_API_PREFIX", self.http.api_prefix.clone());
        lines.insert("AUTH_SERVER_URL", self.http.server_url.to_string());
        lines.insert("AUTH_CLIENT_URL", self.http.client_url.as_ref().map(Url::to_string).unwrap_or_default());
        lines.insert("AUTH_MAX_BODY_BYTES", self.http.max_body_bytes.to_string());
        lines.insert("DATABASE_URL", redact_url_password(self.database.url.expose_secret()));
        if let Some(url) = &self.database.migrations_url {
            lines.insert("POSTGRES_MIGRATIONS_CONNECTION", redact_url_password(url.expose_secret()));
        }
        lines.insert("AUTH_DATABASE_POOL_SIZE", self.database.pool_size.to_string());
        lines.insert("AUTH_SKIP_MIGRATIONS", (!self.database.migrate_on_start).to_string());
        lines.insert(
            "HASURA_GRAPHQL_JWT_SECRET",
            format!(
                "{{type: {}, key: {}, signing_key: {}, kid: {}, issuer: {}, claims_namespace: {}, claims_format: {}}}",
                jwt.key_type,
                if jwt.key_type.starts_with("HS") { secret(&jwt.key) } else { "<public key>" },
                secret(&jwt.signing_key),
                jwt.kid.as_deref().unwrap_or("<derived>"),
                jwt.issuer.as_deref().unwrap_or("hasura-auth"),
                jwt.claims_namespace.as_deref().unwrap_or(crate::jwt::claims::DEFAULT_NAMESPACE),
                jwt.claims_format.as_deref().unwrap_or("json"),
            ),
        );
        lines.insert("AUTH_JWT_PUBLISHED_KEYS", format!("{} key(s)", self.jwt.published_keys.len()));
        lines.insert("AUTH_ACCESS_TOKEN_EXPIRES_IN", self.jwt.access_token_expires_in.to_string());
        lines.insert("AUTH_JWKS_MAX_AGE", self.jwt.jwks_max_age.to_string());
        lines.insert("AUTH_JWT_CUSTOM_CLAIMS", format!("{} claim(s)", self.jwt.custom_claims.0.len()));
        lines.insert("AUTH_JWT_PERMISSIONS_CLAIM_ENABLED", self.jwt.permissions_claim.to_string());
        lines.insert(
            "AUTH_WEBHOOK_UNAUTHENTICATED_ROLE",
            self.hooks.webhook_unauthenticated_role.clone().unwrap_or_else(|| "<refuse>".into()),
        );
        lines.insert("AUTH_ACTIONS_SECRET", secret(&self.hooks.actions_secret).to_string());
        lines.insert("AUTH_REFRESH_TOKEN_EXPIRES_IN", self.session.refresh_token_expires_in.to_string());
        lines.insert("AUTH_REFRESH_TOKEN_REUSE_GRACE_PERIOD", self.session.reuse_grace_period.to_string());
        lines.insert("AUTH_PAT_MAX_EXPIRES_IN", self.session.pat_max_expires_in.to_string());
        lines.insert(
            "AUTH_SESSION_MAX_LIFETIME",
            self.session.max_lifetime.map(|seconds| seconds.to_string()).unwrap_or_default(),
        );
        let u = &self.users;
        lines.insert("AUTH_USER_DEFAULT_ROLE", u.default_role.clone());
        lines.insert("AUTH_USER_DEFAULT_ALLOWED_ROLES", u.default_allowed_roles.join(","));
        lines.insert("AUTH_LOCALE_DEFAULT", u.locale_default.clone());
        lines.insert("AUTH_LOCALE_ALLOWED_LOCALES", u.allowed_locales.join(","));
        lines.insert("AUTH_PASSWORD_MIN_LENGTH", u.password_min_length.to_string());
        lines.insert("AUTH_DISABLE_SIGNUP", u.disable_signup.to_string());
        lines.insert("AUTH_DISABLE_NEW_USERS", u.disable_new_users.to_string());
        lines.insert("AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED", u.email_verified_required.to_string());
        lines.insert("AUTH_GRAVATAR_ENABLED", u.gravatar_enabled.to_string());
        lines.insert("AUTH_GRAVATAR_DEFAULT", u.gravatar_default.clone());
        lines.insert("AUTH_GRAVATAR_RATING", u.gravatar_rating.clone());
        let p = &self.passwords;
        lines.insert("AUTH_PASSWORD_HASH_MEMORY_KIB", p.memory_kib.to_string());
        lines.insert("AUTH_PASSWORD_HASH_ITERATIONS", p.iterations.to_string());
        lines.insert("AUTH_PASSWORD_HASH_PARALLELISM", p.parallelism.to_string());
        lines.insert("AUTH_PASSWORD_HASH_CONCURRENCY", p.max_concurrent_hashes.to_string());
        lines.insert("HASURA_GRAPHQL_ADMIN_SECRET", secret(&self.hasura.admin_secret).to_string());
        lines.insert(
            "HASURA_GRAPHQL_GRAPHQL_URL",
            self.hasura.graphql_url.as_ref().map(Url::to_string).unwrap_or_default(),
        );
        let a = &self.access;
        lines.insert("AUTH_ACCESS_CONTROL_ALLOWED_EMAILS", a.allowed_emails.join(","));
        lines.insert("AUTH_ACCESS_CONTROL_ALLOWED_EMAIL_DOMAINS", a.allowed_email_domains.join(","));
        lines.insert("AUTH_ACCESS_CONTROL_BLOCKED_EMAILS", a.blocked_emails.join(","));
        lines.insert("AUTH_ACCESS_CONTROL_BLOCKED_EMAIL_DOMAINS", a.blocked_email_domains.join(","));
        lines.insert("AUTH_ACCESS_CONTROL_ALLOWED_REDIRECT_URLS", a.allowed_redirect_urls.join(","));
        let f = &self.features;
        lines.insert("AUTH_ANONYMOUS_USERS_ENABLED", f.anonymous_users.to_string());
        lines.insert("AUTH_EMAIL_PASSWORDLESS_ENABLED", f.passwordless_email.to_string());
        lines.insert("AUTH_OTP_EMAIL_ENABLED", f.otp_email.to_string());
        lines.insert("AUTH_SMS_PASSWORDLESS_ENABLED", f.passwordless_sms.to_string());
        lines.insert("AUTH_EMAIL_LINK_EXPIRES_IN", self.codes.link_expires_in.to_string());
        lines.insert("AUTH_OTP_EXPIRES_IN", self.codes.otp_expires_in.to_string());
        lines.insert("AUTH_OTP_MAX_ATTEMPTS", self.codes.otp_max_attempts.to_string());
        lines.insert("AUTH_OTP_LOCKOUT_WINDOW", self.codes.otp_lockout_window.to_string());
        lines.insert("AUTH_LOG_LEVEL", self.log.filter.clone());
        let sms_lines = self.sms.as_ref().map(SmsConfig::redacted_lines).unwrap_or_default();
        let sections = self.mail.redacted_lines().into_iter().chain(sms_lines);
        let mut owned: Vec<(String, String)> = sections.collect();
        owned.sort();
        lines.insert("AUTH_LOG_FORMAT", if self.log.json { "json" } else { "text" }.to_string());
        let mut out = String::new();
        let mut all: Vec<(String, String)> = lines.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        all.extend(owned);
        all.sort();
        for (key, value) in all {
            let _ = writeln!(out, "{key}={value}");
        }
        out
    }
}

fn normalise_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

fn redact_url_password(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("redacted"));
            }
            url.to_string()
        }
        Err(_) => "<unparsable>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const HS: &str = r#"{"type":"HS256","key":"0123456789abcdef0123456789abcdef"}"#;

    #[test]
    fn nhost_defaults_apply() -> Result<(), ConfigErrors> {
        let config =
            Config::from_env(&env(&[("DATABASE_URL", "postgres://localhost/db"), ("HASURA_GRAPHQL_JWT_SECRET", HS)]))?;
        assert_eq!(config.http.port, 4000);
        assert_eq!(config.jwt.access_token_expires_in, 900);
        assert_eq!(config.session.refresh_token_expires_in, 2_592_000);
        assert_eq!(config.session.reuse_grace_period, 30);
        assert_eq!(config.users.default_allowed_roles, vec!["me", "user"]);
        assert_eq!(config.users.allowed_locales, vec!["en"]);
        Ok(())
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = Config::from_env(&env(&[
            ("AUTH_PORT", "not-a-port"),
            ("AUTH_ACCESS_TOKEN_EXPIRES_IN", "soon"),
            ("HASURA_GRAPHQL_JWT_SECRET", HS),
        ]))
        .expect_err("must be refused");
        let text = err.to_string();
        assert!(text.contains("AUTH_PORT"), "{text}");
        assert!(text.contains("AUTH_ACCESS_TOKEN_EXPIRES_IN"), "{text}");
        assert!(text.contains("DATABASE_URL"), "{text}");
    }

    #[test]
    fn short_hmac_keys_are_refused_like_hasura_does() {
        let err = Config::from_env(&env(&[
            ("DATABASE_URL", "postgres://localhost/db"),
            ("HASURA_GRAPHQL_JWT_SECRET", r#"{"type":"HS256","key":"short"}"#),
        ]))
        .expect_err("must be refused");
        assert!(err.to_string().contains("32"), "{err}");
    }

    #[test]
    fn redacted_output_hides_secrets() -> Result<(), ConfigErrors> {
        let config = Config::from_env(&env(&[
            ("DATABASE_URL", "postgres://app:hunter2@localhost/db"),
            ("HASURA_GRAPHQL_JWT_SECRET", HS),
            ("HASURA_GRAPHQL_ADMIN_SECRET", "admin-secret-value"),
        ]))?;
        let out = config.redacted();
        assert!(!out.contains("hunter2"));
        assert!(!out.contains("0123456789abcdef"));
        assert!(!out.contains("admin-secret-value"));
        assert!(out.contains("HASURA_GRAPHQL_ADMIN_SECRET=<redacted>"));
        Ok(())
    }
}
