//! Provider settings: which providers are on, their client credentials and scopes, and endpoint overrides
//! (a staging identity provider or a local stand-in needs no code change). Each provider `<P>` reads
//! `AUTH_PROVIDER_<P>_*` (its upper-case name, `-` as `_`), described once here as templates. Microsoft also
//! answers to nhost's names for it. Generic OpenID providers are listed by name and discovered from their
//! issuer.
use secrecy::SecretString;
use url::Url;

use crate::config::env::{Env, ForProvider, Setting};

pub const OIDC_PROVIDERS: Setting = Setting::new(
    "AUTH_OIDC_PROVIDERS",
    None,
    "names of generic OpenID providers (comma-separated, e.g. `acme,corp`), each configured like the built-in ones",
);
pub const ENABLED: Setting = Setting::new("AUTH_PROVIDER_<P>_ENABLED", Some("false"), "sign-in with provider <P>");
pub const CLIENT_ID: Setting = Setting::new("AUTH_PROVIDER_<P>_CLIENT_ID", None, "the client id registered there");
pub const CLIENT_SECRET: Setting =
    Setting::new("AUTH_PROVIDER_<P>_CLIENT_SECRET", None, "the client secret (not for Apple)").secret();
pub const SCOPE: Setting = Setting::new(
    "AUTH_PROVIDER_<P>_SCOPE",
    None,
    "scopes asked for, comma- or space-separated; each provider has a default fit for sign-in",
);
pub const AUTHORIZATION_URL: Setting =
    Setting::new("AUTH_PROVIDER_<P>_AUTHORIZATION_URL", None, "overrides the provider's authorization endpoint");
pub const TOKEN_URL: Setting = Setting::new("AUTH_PROVIDER_<P>_TOKEN_URL", None, "overrides the token endpoint");
pub const USER_PROFILE_URL: Setting =
    Setting::new("AUTH_PROVIDER_<P>_USER_PROFILE_URL", None, "overrides the profile (or userinfo) endpoint");
pub const USER_EMAILS_URL: Setting =
    Setting::new("AUTH_PROVIDER_<P>_USER_EMAILS_URL", None, "overrides the emails endpoint (GitHub)");
pub const JWKS_URL: Setting = Setting::new("AUTH_PROVIDER_<P>_JWKS_URL", None, "overrides the signing keys URL");
pub const ISSUER: Setting = Setting::new(
    "AUTH_PROVIDER_<P>_ISSUER",
    None,
    "the issuer its ID tokens carry (required for a generic OpenID provider: discovery starts there); for \
     Microsoft it may hold `{tenantid}`, filled from each token",
);
pub const AUDIENCE: Setting = Setting::new(
    "AUTH_PROVIDER_<P>_AUDIENCE",
    None,
    "Apple and Google: the audiences (native bundle or package ids, comma-separated) of the ID tokens \
     `/signin/idtoken` accepts from apps, besides the client id",
);
pub const REVOCATION_URL: Setting =
    Setting::new("AUTH_PROVIDER_<P>_REVOCATION_URL", None, "overrides the token revocation endpoint");
pub const TEAM_ID: Setting = Setting::new("AUTH_PROVIDER_<P>_TEAM_ID", None, "Apple: the team id");
pub const KEY_ID: Setting = Setting::new("AUTH_PROVIDER_<P>_KEY_ID", None, "Apple: the id of the signing key");
pub const PRIVATE_KEY: Setting = Setting::new(
    "AUTH_PROVIDER_<P>_PRIVATE_KEY",
    None,
    "Apple: the private key (PEM) hauth signs its client secret with",
)
.secret();
pub const BASE_URL: Setting = Setting::new(
    "AUTH_PROVIDER_<P>_BASE_URL",
    None,
    "GitLab and GitHub: the base URL of a self-managed instance (every endpoint derives from it)",
);
pub const TENANT: Setting =
    Setting::new("AUTH_PROVIDER_<P>_TENANT", Some("common"), "Microsoft: the tenant (`common`, `organizations`, …)");

pub const SETTINGS: &[&Setting] = &[
    &OIDC_PROVIDERS,
    &ENABLED,
    &CLIENT_ID,
    &CLIENT_SECRET,
    &SCOPE,
    &AUTHORIZATION_URL,
    &TOKEN_URL,
    &USER_PROFILE_URL,
    &USER_EMAILS_URL,
    &JWKS_URL,
    &ISSUER,
    &AUDIENCE,
    &REVOCATION_URL,
    &TEAM_ID,
    &KEY_ID,
    &PRIVATE_KEY,
    &BASE_URL,
    &TENANT,
];

/// The providers hauth knows by name. A generic OpenID provider is any other name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Google,
    Github,
    Apple,
    Microsoft,
    Facebook,
    Twitter,
    Linkedin,
    Slack,
    Discord,
    Twitch,
    Gitlab,
    Bitbucket,
    Spotify,
    Oidc,
}

/// The built-in providers: their id, the names they are also reached (and stored) under, and their kind.
pub const BUILT_IN: &[(&str, &[&str], ProviderKind)] = &[
    ("google", &[], ProviderKind::Google),
    ("github", &[], ProviderKind::Github),
    ("apple", &[], ProviderKind::Apple),
    ("microsoft", &["azuread", "entraid"], ProviderKind::Microsoft),
    ("facebook", &[], ProviderKind::Facebook),
    ("twitter", &["x"], ProviderKind::Twitter),
    ("linkedin", &[], ProviderKind::Linkedin),
    ("slack", &[], ProviderKind::Slack),
    ("discord", &[], ProviderKind::Discord),
    ("twitch", &[], ProviderKind::Twitch),
    ("gitlab", &[], ProviderKind::Gitlab),
    ("bitbucket", &[], ProviderKind::Bitbucket),
    ("spotify", &[], ProviderKind::Spotify),
];

/// Endpoints set by hand instead of the provider's own (or its discovery's).
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    pub authorization: Option<Url>,
    pub token: Option<Url>,
    pub user_profile: Option<Url>,
    pub user_emails: Option<Url>,
    pub jwks: Option<Url>,
    /// The issuer, as written (Microsoft's may hold `{tenantid}`).
    pub issuer: Option<String>,
    pub revocation: Option<Url>,
    /// A self-managed instance (GitLab, GitHub Enterprise Server).
    pub base: Option<Url>,
}

/// Apple's client secret is an ES256 JWT hauth signs itself.
#[derive(Clone, Debug)]
pub struct AppleKey {
    pub team_id: String,
    pub key_id: String,
    pub private_key: SecretString,
}

/// One enabled provider.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// The id in URLs and in `auth.user_providers.provider_id`.
    pub id: String,
    /// Other ids it is reached and stored under.
    pub aliases: Vec<String>,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    /// `None`: the provider's default.
    pub scopes: Option<Vec<String>>,
    pub endpoints: Endpoints,
    pub apple: Option<AppleKey>,
    pub tenant: String,
    /// Audiences of ID tokens from native apps, besides the client id (Apple and Google).
    pub audience: Vec<String>,
}

/// Every enabled provider.
#[derive(Clone, Debug, Default)]
pub struct ProvidersConfig {
    pub providers: Vec<ProviderSettings>,
}

/// `acme-corp` → `ACME_CORP`: the `<P>` in a provider's settings.
pub fn settings_name(id: &str) -> String {
    id.to_ascii_uppercase().replace('-', "_")
}

fn scopes(raw: &str) -> Vec<String> {
    raw.split([',', ' ']).map(str::trim).filter(|scope| !scope.is_empty()).map(str::to_string).collect()
}

impl ProvidersConfig {
    pub fn load(env: &mut Env) -> ProvidersConfig {
        let mut providers = Vec::new();
        for (id, aliases, kind) in BUILT_IN {
            if let Some(settings) = load_one(env, id, aliases, *kind) {
                providers.push(settings);
            }
        }
        for name in env.list(&OIDC_PROVIDERS) {
            let valid = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !name.starts_with('-');
            let taken = BUILT_IN.iter().any(|(id, aliases, _)| *id == name || aliases.contains(&name.as_str()));
            if !valid || taken {
                env.problem(
                    &OIDC_PROVIDERS,
                    format!("{name:?} must be lower-case letters, digits and `-`, and not a built-in provider"),
                );
                continue;
            }
            if let Some(settings) = load_one(env, &name, &[], ProviderKind::Oidc) {
                providers.push(settings);
            }
        }
        ProvidersConfig { providers }
    }
}

/// Reads one provider's settings; `None` when it is not enabled.
fn load_one(env: &mut Env, id: &str, aliases: &[&str], kind: ProviderKind) -> Option<ProviderSettings> {
    let upper = settings_name(id);
    let other_names: Vec<String> = aliases.iter().map(|alias| settings_name(alias)).collect();
    let other_names: Vec<&str> = other_names.iter().map(String::as_str).collect();
    let setting = |template: &'static Setting| ForProvider { template, provider: &upper, other_names: &other_names };
    if !env.flag(&setting(&ENABLED)) {
        return None;
    }
    let client_id = env.text(&setting(&CLIENT_ID));
    if client_id.is_none() {
        env.problem(&setting(&CLIENT_ID), "required when the provider is enabled");
    }
    let client_secret = env.secret(&setting(&CLIENT_SECRET));
    if client_secret.is_none() && kind != ProviderKind::Apple {
        env.problem(&setting(&CLIENT_SECRET), "required when the provider is enabled");
    }
    let endpoints = Endpoints {
        authorization: env.url(&setting(&AUTHORIZATION_URL)),
        token: env.url(&setting(&TOKEN_URL)),
        user_profile: env.url(&setting(&USER_PROFILE_URL)),
        user_emails: env.url(&setting(&USER_EMAILS_URL)),
        jwks: env.url(&setting(&JWKS_URL)),
        issuer: env.text(&setting(&ISSUER)),
        revocation: env.url(&setting(&REVOCATION_URL)),
        base: match kind {
            ProviderKind::Gitlab | ProviderKind::Github => env.url(&setting(&BASE_URL)),
            _ => None,
        },
    };
    if kind == ProviderKind::Oidc && endpoints.issuer.is_none() {
        env.problem(&setting(&ISSUER), "required: a generic OpenID provider is discovered from its issuer");
    }
    let apple = if kind == ProviderKind::Apple {
        let team_id = env.text(&setting(&TEAM_ID));
        let key_id = env.text(&setting(&KEY_ID));
        let private_key = env.secret(&setting(&PRIVATE_KEY));
        for (value, template) in
            [(team_id.is_some(), &TEAM_ID), (key_id.is_some(), &KEY_ID), (private_key.is_some(), &PRIVATE_KEY)]
        {
            if !value {
                env.problem(&setting(template), "required for Apple");
            }
        }
        match (team_id, key_id, private_key) {
            (Some(team_id), Some(key_id), Some(private_key)) => Some(AppleKey { team_id, key_id, private_key }),
            _ => None,
        }
    } else {
        None
    };
    let tenant = if kind == ProviderKind::Microsoft { env.string(&setting(&TENANT)) } else { String::new() };
    let native = matches!(kind, ProviderKind::Apple | ProviderKind::Google);
    let audience = if native { env.list(&setting(&AUDIENCE)) } else { Vec::new() };
    Some(ProviderSettings {
        id: id.to_string(),
        aliases: aliases.iter().map(|alias| alias.to_string()).collect(),
        kind,
        client_id: client_id?,
        client_secret,
        scopes: env.text(&setting(&SCOPE)).map(|raw| scopes(&raw)),
        endpoints,
        apple,
        tenant,
        audience,
    })
}
