//! Database settings: the Postgres URL (with libpq's TLS parameters), a separate URL for migrations, the
//! pool size, and whether `hauth serve` migrates at start.
use secrecy::{ExposeSecret, SecretString};

use crate::config::env::{Env, Setting};

pub const CONNECTION_URL: Setting = Setting::new(
    "DATABASE_URL",
    None,
    "required: Postgres URL; TLS as libpq's `sslmode` says (`disable`, `prefer` (default), `require`, \
     `verify-ca`, `verify-full`), with `sslrootcert=<PEM file>` (the web PKI roots otherwise)",
)
.aliases(&["POSTGRES_CONNECTION", "HASURA_GRAPHQL_DATABASE_URL"])
.secret_url();
pub const MIGRATIONS_URL: Setting = Setting::new(
    "POSTGRES_MIGRATIONS_CONNECTION",
    None,
    "URL migrations run with, e.g. a more privileged role (the database URL when unset)",
)
.secret_url();
pub const POOL_SIZE: Setting = Setting::new("AUTH_DATABASE_POOL_SIZE", Some("16"), "database connections at most");
pub const SKIP_MIGRATIONS: Setting =
    Setting::new("AUTH_SKIP_MIGRATIONS", Some("false"), "`hauth serve` does not migrate at start");

pub const SETTINGS: &[&Setting] = &[&CONNECTION_URL, &MIGRATIONS_URL, &POOL_SIZE, &SKIP_MIGRATIONS];

#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    pub url: SecretString,
    /// A separate URL for migrations (nhost's), e.g. a more privileged role.
    pub migrations_url: Option<SecretString>,
    pub pool_size: usize,
    /// Run pending migrations when `hauth serve` starts.
    pub migrate_on_start: bool,
}

impl DatabaseConfig {
    pub fn load(env: &mut Env) -> Option<DatabaseConfig> {
        let url = env.secret(&CONNECTION_URL);
        match url.as_ref().map(|url| url.expose_secret().starts_with("postgres")) {
            None => env.problem(&CONNECTION_URL, "required, a postgres:// URL"),
            Some(false) => env.problem(&CONNECTION_URL, "must be a postgres:// or postgresql:// URL"),
            Some(true) => {}
        }
        let pool_size = env.parsed(&POOL_SIZE);
        if pool_size == 0 {
            env.problem(&POOL_SIZE, "must be at least 1");
        }
        Some(DatabaseConfig {
            migrations_url: env.secret(&MIGRATIONS_URL),
            pool_size,
            migrate_on_start: !env.flag(&SKIP_MIGRATIONS),
            url: url?,
        })
    }

    /// The URL migrations run with.
    pub fn migrations_url(&self) -> &str {
        self.migrations_url.as_ref().unwrap_or(&self.url).expose_secret()
    }
}
