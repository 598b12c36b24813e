//! The configuration: every section reads its own settings (declared next to the code that uses them) from
//! the environment through the one reader in [`env`], once, at start; this module only assembles them,
//! reports every problem at once, prints the result redacted (`hauth config check`) and renders the settings
//! table of the README. Nothing reads the environment after this.
//!
//! The reader is hand-written rather than figment or envy: those deserialize into a struct by field name,
//! while hauth must honour nhost's irregular names and their aliases, read each secret from `<NAME>_FILE`,
//! collect every problem instead of stopping at the first, and print and document each setting from the
//! same description.
pub mod env;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

pub use self::env::{Env, Setting};
use crate::api::config::HttpConfig;
use crate::db::config::DatabaseConfig;
use crate::domain::access::AccessConfig;
use crate::domain::password::PasswordConfig;
use crate::domain::sealed::EncryptionKeys;
use crate::domain::user::UserConfig;
use crate::flows::audit::AuditConfig;
use crate::flows::config::{CodesConfig, FeaturesConfig, HasuraConfig, HasuraHooksConfig, SessionConfig};
use crate::flows::elevation::ElevationConfig;
use crate::flows::mfa::MfaConfig;
use crate::flows::nself_adoption::NselfKey;
use crate::flows::rate_limit::RateLimitConfig;
use crate::flows::token_refresh::RefreshConfig;
use crate::jwt::config::JwtConfig;
use crate::mail::MailConfig;
use crate::providers::ProvidersConfig;
use crate::sms::SmsConfig;
use crate::telemetry::LogConfig;
use crate::workers::provider_tokens::WorkerConfig;

/// Every setting, in the order the README documents them.
pub fn settings() -> Vec<&'static Setting> {
    [
        crate::api::config::SETTINGS,
        crate::db::config::SETTINGS,
        crate::jwt::config::SETTINGS,
        crate::flows::config::SETTINGS,
        crate::flows::mfa::SETTINGS,
        crate::flows::elevation::SETTINGS,
        crate::flows::audit::SETTINGS,
        crate::flows::rate_limit::SETTINGS,
        crate::flows::lockout::SETTINGS,
        crate::domain::user::SETTINGS,
        crate::domain::password::SETTINGS,
        crate::flows::breached_passwords::SETTINGS,
        crate::domain::access::SETTINGS,
        crate::mail::config::SETTINGS,
        crate::sms::config::SETTINGS,
        crate::domain::sealed::SETTINGS,
        crate::flows::nself_adoption::SETTINGS,
        crate::providers::config::SETTINGS,
        crate::flows::token_refresh::SETTINGS,
        crate::workers::provider_tokens::SETTINGS,
        crate::telemetry::SETTINGS,
    ]
    .concat()
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub jwt: JwtConfig,
    pub session: SessionConfig,
    pub users: UserConfig,
    pub passwords: PasswordConfig,
    pub breached_passwords: crate::flows::breached_passwords::BreachedPasswordsConfig,
    pub hasura: HasuraConfig,
    pub hooks: HasuraHooksConfig,
    pub access: AccessConfig,
    pub features: FeaturesConfig,
    pub codes: CodesConfig,
    pub mfa: MfaConfig,
    pub elevation: ElevationConfig,
    pub audit: AuditConfig,
    pub rate_limits: RateLimitConfig,
    pub lockout: crate::flows::lockout::LockoutConfig,
    pub mail: MailConfig,
    /// Present when SMS sign-in is enabled; its settings are only required then.
    pub sms: Option<SmsConfig>,
    /// The keys provider tokens are encrypted under at rest; required when a provider is enabled.
    pub encryption: Option<EncryptionKeys>,
    /// nself's token key, when adopting an nself database.
    pub nself_key: Option<NselfKey>,
    pub providers: ProvidersConfig,
    pub token_refresh: RefreshConfig,
    pub token_refresh_worker: WorkerConfig,
    pub log: LogConfig,
    /// What each setting resolved to, safe to print.
    shown: BTreeMap<String, String>,
}

/// Every problem found while loading, reported together.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<String>);

impl Config {
    /// Loads from the process environment.
    pub fn from_process_env() -> Result<Self, ConfigErrors> {
        Self::from_env(&std::env::vars().collect())
    }

    /// Loads from an explicit map of environment variables.
    pub fn from_env(vars: &HashMap<String, String>) -> Result<Self, ConfigErrors> {
        let mut env = Env::new(vars);
        let http = HttpConfig::load(&mut env);
        let database = DatabaseConfig::load(&mut env);
        let jwt = JwtConfig::load(&mut env);
        let session = SessionConfig::load(&mut env);
        let users = UserConfig::load(&mut env);
        let passwords = PasswordConfig::load(&mut env);
        let breached_passwords = crate::flows::breached_passwords::BreachedPasswordsConfig::load(&mut env);
        let hasura = HasuraConfig::load(&mut env);
        let hooks = HasuraHooksConfig::load(&mut env);
        let access = AccessConfig::load(&mut env);
        let features = FeaturesConfig::load(&mut env);
        let codes = CodesConfig::load(&mut env);
        let mfa = MfaConfig::load(&mut env);
        let elevation = ElevationConfig::load(&mut env);
        let audit = AuditConfig::load(&mut env);
        let rate_limits = RateLimitConfig::load(&mut env);
        let lockout = crate::flows::lockout::LockoutConfig::load(&mut env);
        let mail = MailConfig::load(&mut env);
        let sms = (features.passwordless_sms || mfa.sms_enabled).then(|| SmsConfig::load(&mut env));
        let encryption = EncryptionKeys::load(&mut env);
        let nself_key = NselfKey::load(&mut env);
        let providers = ProvidersConfig::load(&mut env);
        let token_refresh = RefreshConfig::load(&mut env);
        let token_refresh_worker = WorkerConfig::load(&mut env);
        if mfa.enabled && encryption.is_none() {
            env.problem(
                &crate::domain::sealed::ENCRYPTION_KEYS,
                "required when MFA is enabled: TOTP secrets are stored encrypted",
            );
        }
        if !providers.providers.is_empty() && encryption.is_none() {
            env.problem(
                &crate::domain::sealed::ENCRYPTION_KEYS,
                "required when a sign-in provider is enabled: provider tokens are stored encrypted",
            );
        }
        let log = LogConfig::load(&mut env);
        let reading = env.finish();
        let (Some(http), Some(database), Some(jwt), None | Some(Some(_))) = (http, database, jwt, &sms) else {
            return Err(ConfigErrors(reading.problems));
        };
        if !reading.problems.is_empty() {
            return Err(ConfigErrors(reading.problems));
        }
        Ok(Config {
            http,
            database,
            jwt,
            session,
            users,
            passwords,
            breached_passwords,
            hasura,
            hooks,
            access,
            features,
            codes,
            mfa,
            elevation,
            audit,
            rate_limits,
            lockout,
            mail,
            sms: sms.flatten(),
            encryption,
            nself_key,
            providers,
            token_refresh,
            token_refresh_worker,
            log,
            shown: reading.resolved,
        })
    }

    /// Settings that are valid but probably not what the operator wants.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.passwords.min_length < 8 {
            warnings.push(format!(
                "{}: {} characters is short; 8 or more is advised",
                crate::domain::password::MIN_LENGTH.name,
                self.passwords.min_length
            ));
        }
        for claim in self.jwt.custom_claims.0.iter().filter(|claim| claim.reads_metadata()) {
            warnings.push(format!(
                "{}: {} is read from metadata, which users can set themselves at sign-up and deanonymize; do not \
                 base permissions on it",
                crate::jwt::config::CUSTOM_CLAIMS.name,
                claim.key
            ));
        }
        warnings
    }

    /// Every setting as a `NAME=value` line, secrets redacted: its effective value when it was read, else
    /// its value as set (or its default) for a feature that is off. A template stands for the settings read
    /// under it, one per configured provider.
    pub fn redacted(&self, vars: &HashMap<String, String>) -> String {
        let mut unread = Env::new(vars);
        let mut out = String::new();
        for setting in settings() {
            if setting.is_template() {
                let (prefix, suffix) = setting.name.split_once(env::TEMPLATE_MARK).unwrap_or((setting.name, ""));
                for (name, value) in &self.shown {
                    let provider = name.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(suffix));
                    if provider.is_some_and(|provider| !provider.is_empty()) {
                        let _ = writeln!(out, "{name}={value}");
                    }
                }
                continue;
            }
            let value = match self.shown.get(setting.name) {
                Some(shown) => shown.clone(),
                None => {
                    let raw = unread.raw(setting).or_else(|| setting.default.map(str::to_string));
                    setting.display(raw.as_deref().unwrap_or_default())
                }
            };
            let _ = writeln!(out, "{}={value}", setting.name);
        }
        out
    }
}

/// The settings table of the README.
pub fn settings_table() -> String {
    env::markdown_table(&settings())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::config::CONNECTION_URL;
    use crate::jwt::config::JWT_SECRET;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const HS: &str = r#"{"type":"HS256","key":"0123456789abcdef0123456789abcdef"}"#;

    #[test]
    fn nhost_defaults_apply() -> Result<(), ConfigErrors> {
        let config =
            Config::from_env(&env(&[(CONNECTION_URL.name, "postgres://localhost/db"), (JWT_SECRET.name, HS)]))?;
        assert_eq!(config.http.port, 4000);
        assert_eq!(config.http.server_url.as_str(), "http://localhost:4000/");
        assert_eq!(config.jwt.access_token_expires_in, 900);
        assert_eq!(config.session.refresh_token_expires_in, 2_592_000);
        assert_eq!(config.session.reuse_grace_period, 30);
        assert_eq!(config.users.default_allowed_roles, vec!["me", "user"]);
        assert_eq!(config.users.allowed_locales, vec!["en"]);
        assert!(config.users.email_verified_required);
        assert!(config.hooks.webhook_unauthenticated_role.is_some());
        Ok(())
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = Config::from_env(&env(&[
            (crate::api::config::PORT.name, "not-a-port"),
            (crate::jwt::config::ACCESS_TOKEN_EXPIRES_IN.name, "soon"),
            (JWT_SECRET.name, HS),
        ]))
        .expect_err("must be refused");
        let text = err.to_string();
        for setting in [&crate::api::config::PORT, &crate::jwt::config::ACCESS_TOKEN_EXPIRES_IN, &CONNECTION_URL] {
            assert!(text.contains(setting.name), "{text}");
        }
    }

    #[test]
    fn short_hmac_keys_are_refused_like_hasura_does() {
        let err = Config::from_env(&env(&[
            (CONNECTION_URL.name, "postgres://localhost/db"),
            (JWT_SECRET.name, r#"{"type":"HS256","key":"short"}"#),
        ]))
        .expect_err("must be refused");
        assert!(err.to_string().contains("32"), "{err}");
    }

    #[test]
    fn redacted_output_hides_secrets_and_lists_every_setting() -> Result<(), ConfigErrors> {
        let vars = env(&[
            (CONNECTION_URL.name, "postgres://app:hunter2@localhost/db"),
            (JWT_SECRET.name, HS),
            (crate::flows::config::ADMIN_SECRET.name, "admin-secret-value"),
        ]);
        let out = Config::from_env(&vars)?.redacted(&vars);
        assert!(!out.contains("hunter2"));
        assert!(!out.contains("0123456789abcdef"));
        assert!(!out.contains("admin-secret-value"));
        assert!(out.contains(&format!("{}=<redacted>", crate::flows::config::ADMIN_SECRET.name)));
        for setting in settings().iter().filter(|setting| !setting.is_template()) {
            let prefix = format!("{}=", setting.name);
            assert_eq!(out.lines().filter(|line| line.starts_with(&prefix)).count(), 1, "{}", setting.name);
        }
        // A provider template stands for the settings read under it: the built-in providers' switches.
        let google_switch = crate::providers::config::ENABLED.name.replace("<P>", "GOOGLE");
        assert!(out.contains(&format!("{google_switch}=false")), "{out}");
        Ok(())
    }

    #[test]
    fn an_enabled_provider_lists_its_settings_and_needs_encryption_keys() {
        use crate::providers::config::{CLIENT_ID, CLIENT_SECRET, ENABLED};
        let github = |setting: &Setting| setting.name.replace("<P>", "GITHUB");
        let mut vars = env(&[(CONNECTION_URL.name, "postgres://localhost/db"), (JWT_SECRET.name, HS)]);
        vars.insert(github(&ENABLED), "true".into());
        vars.insert(github(&CLIENT_ID), "client".into());
        vars.insert(github(&CLIENT_SECRET), "github-secret-value".into());
        let Err(errors) = Config::from_env(&vars) else { panic!("providers without encryption keys were accepted") };
        assert!(errors.0.iter().any(|problem| problem.contains(crate::domain::sealed::ENCRYPTION_KEYS.name)));
        vars.insert(
            crate::domain::sealed::ENCRYPTION_KEYS.name.into(),
            "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
        );
        let config = Config::from_env(&vars).unwrap_or_else(|errors| panic!("{errors}"));
        assert_eq!(config.providers.providers.len(), 1);
        let out = config.redacted(&vars);
        assert!(out.contains(&format!("{}=client", github(&CLIENT_ID))), "{out}");
        assert!(out.contains(&format!("{}=<redacted>", github(&CLIENT_SECRET))), "{out}");
        assert!(!out.contains("github-secret-value"));
        assert!(!out.contains("AAAAAAAA"));
    }

    #[test]
    fn every_setting_has_one_name_and_documentation() {
        let mut names = std::collections::HashSet::new();
        for setting in settings() {
            for name in std::iter::once(setting.name).chain(setting.aliases.iter().copied()) {
                assert!(names.insert(name), "{name} is declared twice");
            }
            assert!(!setting.doc.is_empty(), "{} has no documentation", setting.name);
        }
    }
}
