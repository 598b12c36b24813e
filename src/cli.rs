//! The command line: `serve` (production; never starts a database), `dev` (a private Postgres, generated
//! secrets, migrate, serve), `migrate`, `config check`, `hasura jwt-secret`, `keys generate-encryption`,
//! `keys rotate-encryption`, `adopt nself`, `oauth …` ([`oauth`]), `users list|create|disable|set-roles|unlock`
//! and `version`.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use rand::RngCore;
use secrecy::ExposeSecret;

pub mod oauth;

use crate::app;
use crate::clock::Clock;
use crate::config::Config;
use crate::db;
use crate::db::config::CONNECTION_URL;
use crate::jwt::JwtKeys;
use crate::jwt::config::JWT_SECRET;
use crate::state::AppState;

#[derive(Debug, Parser)]
#[command(name = "hauth", version, about = "Authentication for the Hasura GraphQL engine")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (configuration from the environment).
    Serve,
    /// Run a private Postgres cluster with generated dev secrets, migrate and serve.
    Dev {
        /// Folder for the cluster and the generated secrets.
        #[arg(long, default_value = ".hauth-dev")]
        data_dir: PathBuf,
        /// Port of the private Postgres cluster.
        #[arg(long, default_value_t = 54329)]
        pg_port: u16,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Hasura integration commands.
    Hasura {
        #[command(subcommand)]
        command: HasuraCommand,
    },
    /// Encryption key commands.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Adopt another service's database.
    Adopt {
        #[command(subcommand)]
        command: AdoptCommand,
    },
    /// Sign-in providers and their tokens: `refresh once|status|retry-failed`, `accounts`, `link`, `unlink`,
    /// `list`, `test`.
    Oauth {
        /// Print JSON instead of a table.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: oauth::OauthCommand,
    },
    /// User administration.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Print the version.
    Version,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users, oldest first, as JSON lines.
    List {
        /// Only users whose email, display name or phone number contains this.
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// Create a user; the password is read from the `HAUTH_NEW_PASSWORD` environment variable, if set.
    Create {
        email: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        default_role: Option<String>,
        /// Roles, comma-separated.
        #[arg(long, value_delimiter = ',')]
        roles: Option<Vec<String>>,
        /// Count the email as verified.
        #[arg(long)]
        verified: bool,
    },
    /// Disable an account (its sessions end), or enable it again with `--enable`.
    Disable {
        email: String,
        #[arg(long)]
        enable: bool,
    },
    /// Set an account's roles.
    SetRoles {
        email: String,
        #[arg(long)]
        default_role: String,
        /// Roles, comma-separated; the default role is added when missing.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
    },
    /// Lift the lockout of an account after failed sign-ins.
    Unlock {
        /// The account's email address.
        email: String,
    },
}

/// The JSON line `hauth users …` prints for a user.
fn user_line(user: &crate::domain::user::User) -> String {
    serde_json::json!({
        "id": user.id,
        "email": user.email,
        "displayName": user.display_name,
        "defaultRole": user.default_role,
        "roles": user.roles,
        "disabled": user.disabled,
        "emailVerified": user.email_verified,
    })
    .to_string()
}

async fn users_command(command: UsersCommand, vars: &HashMap<String, String>) -> anyhow::Result<()> {
    let config = load_config(vars)?;
    crate::telemetry::init(&config.log.filter, config.log.json);
    let state = AppState::build(config, Clock::System)?;
    let failed = |error: crate::error::AuthError| anyhow::anyhow!("{error}");
    let email_of = |email: &str| crate::domain::Email::parse(email).map_err(failed);
    match command {
        UsersCommand::List { search, limit, offset } => {
            let page =
                crate::flows::admin::list_users(&state, search.as_deref(), limit, offset).await.map_err(failed)?;
            for user in &page.users {
                println!("{}", user_line(user));
            }
            eprintln!("{} of {} user(s)", page.users.len(), page.total);
        }
        UsersCommand::Create { email, display_name, default_role, roles, verified } => {
            let password = vars.get("HAUTH_NEW_PASSWORD").map(|password| secrecy::SecretString::from(password.clone()));
            let account = crate::flows::admin::NewAccount {
                email: email_of(&email)?,
                password,
                display_name,
                default_role,
                roles,
                email_verified: verified,
            };
            println!("{}", user_line(&crate::flows::admin::create_user(&state, account).await.map_err(failed)?));
        }
        UsersCommand::Disable { email, enable } => {
            let id = crate::flows::admin::user_id_by_email(&state, &email_of(&email)?).await.map_err(failed)?;
            println!("{}", user_line(&crate::flows::admin::set_disabled(&state, id, !enable).await.map_err(failed)?));
        }
        UsersCommand::SetRoles { email, default_role, roles } => {
            let id = crate::flows::admin::user_id_by_email(&state, &email_of(&email)?).await.map_err(failed)?;
            let user = crate::flows::admin::set_roles(&state, id, &default_role, &roles).await.map_err(failed)?;
            println!("{}", user_line(&user));
        }
        UsersCommand::Unlock { email } => {
            let email = email_of(&email)?;
            let found = crate::flows::lockout::unlock_by_email(&state, &email)
                .await
                .map_err(|error| anyhow::anyhow!("unlock failed: {error:?}"))?;
            anyhow::ensure!(found, "no account has the email {}", email.as_str());
            println!("unlocked {}", email.as_str());
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum AdoptCommand {
    /// Adopt nself's OAuth handler tables (migrating first) and re-encrypt their provider tokens with
    /// nself's key (dropping them without it); `hauth serve` also does this at start.
    Nself,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it with secrets redacted.
    Check,
    /// Print every setting as a Markdown table (the README's).
    Docs,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new encryption key entry (`<kid>:<base64>`) to put first in the encryption keys.
    GenerateEncryption {
        /// The new key's id.
        #[arg(long, default_value = "key1")]
        id: String,
    },
    /// Re-encrypt every stored provider token under the first encryption key; afterwards the other keys
    /// can be removed.
    RotateEncryption,
}

#[derive(Debug, Subcommand)]
pub enum HasuraCommand {
    /// Print the JWT secret Hasura needs to trust this service.
    JwtSecret,
}

/// Hasura's JWT secret setting for this service: the JWKS URL for asymmetric keys, the shared key for HS*.
pub fn hasura_jwt_secret(config: &Config, keys: &JwtKeys) -> serde_json::Value {
    let secret = &config.jwt.secret;
    let mut out = serde_json::Map::new();
    if keys.is_hmac() {
        out.insert("type".into(), secret.key_type.clone().into());
        out.insert("key".into(), secret.key.as_ref().map(|k| k.expose_secret().to_string()).unwrap_or_default().into());
    } else {
        let jwks = format!("{}/.well-known/jwks.json", config.http.server_url.as_str().trim_end_matches('/'));
        out.insert("jwk_url".into(), jwks.into());
    }
    out.insert("issuer".into(), keys.issuer.clone().into());
    out.insert("claims_namespace".into(), keys.namespace.clone().into());
    out.insert("claims_format".into(), if keys.stringified_claims { "stringified_json" } else { "json" }.into());
    if let Some(audience) = &keys.audience {
        out.insert("audience".into(), audience.clone().into());
    }
    if keys.allowed_skew > 0 {
        out.insert("allowed_skew".into(), keys.allowed_skew.into());
    }
    serde_json::Value::Object(out)
}

fn load_config(vars: &HashMap<String, String>) -> anyhow::Result<Config> {
    Config::from_env(vars).map_err(|e| anyhow::anyhow!("{e}"))
}

async fn shutdown_signal(token: tokio_util::sync::CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = ctrl_c.await;
                token.cancel();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    token.cancel();
}

/// Builds the application state (parsing the keys, once) and serves until a shutdown signal.
async fn serve_with(config: Config, announce: impl FnOnce(&AppState)) -> anyhow::Result<()> {
    crate::telemetry::init(&config.log.filter, config.log.json);
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let state = AppState::build(config, Clock::System)?;
    announce(&state);
    let token = tokio_util::sync::CancellationToken::new();
    tokio::spawn(shutdown_signal(token.clone()));
    app::serve(state, token).await
}

/// Dev secrets persist in the data folder so restarts keep sessions valid.
fn dev_secrets(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("jwt-key");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= 64
    {
        #[cfg(unix)]
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        return Ok(existing.trim().to_string());
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = hex::encode(bytes);
    write_private(&path, &key)?;
    Ok(key)
}

/// The dev encryption key (for provider tokens) persists beside the JWT key.
fn dev_encryption_key(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("encryption-key");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && crate::domain::sealed::EncryptionKeys::parse(existing.trim()).is_ok()
    {
        return Ok(existing.trim().to_string());
    }
    let key = crate::domain::sealed::EncryptionKeys::generate("dev", &crate::random::Random::System);
    write_private(&path, &key)?;
    Ok(key)
}

/// Writes a secret to a file only its owner can read (mode 0600).
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(contents.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

async fn dev(data_dir: &Path, pg_port: u16) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let already_running = crate::pgcluster::port_open(pg_port);
    let cluster = crate::pgcluster::PrivateCluster::start(&data_dir.join("postgres"), pg_port, false)?;
    let served = dev_with(data_dir, &cluster).await;
    // The cluster is stopped when it was started here, also when serving failed.
    if !already_running {
        println!("hauth dev: stopping Postgres on 127.0.0.1:{pg_port}");
        if let Err(error) = cluster.stop() {
            eprintln!("hauth dev: could not stop Postgres: {error:#}");
        }
    }
    served
}

async fn dev_with(data_dir: &Path, cluster: &crate::pgcluster::PrivateCluster) -> anyhow::Result<()> {
    let pg_port = cluster.port;
    let key = dev_secrets(data_dir)?;
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    let mut default = |name: &str, value: String| {
        vars.entry(name.to_string()).or_insert(value);
    };
    default(CONNECTION_URL.name, cluster.url("postgres"));
    default(JWT_SECRET.name, serde_json::json!({"type": "HS256", "key": key}).to_string());
    default(crate::domain::sealed::ENCRYPTION_KEYS.name, dev_encryption_key(data_dir)?);
    default(crate::domain::user::EMAIL_VERIFIED_REQUIRED.name, "false".into());
    default(crate::telemetry::LOG_FORMAT.name, "text".into());
    // A development server is for this machine only.
    default(crate::api::config::HOST.name, "127.0.0.1".into());
    let config = load_config(&vars)?;
    let data_dir = cluster.data_dir.display().to_string();
    serve_with(config, |state| {
        println!("hauth dev: Postgres on 127.0.0.1:{pg_port} (data in {data_dir})");
        println!("hauth dev: API on {}", state.config.http.server_url);
        println!("{}='{}'", JWT_SECRET.name, hasura_jwt_secret(&state.config, &state.keys));
    })
    .await
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let vars: HashMap<String, String> = std::env::vars().collect();
    match cli.command {
        Command::Serve => serve_with(load_config(&vars)?, |_| ()).await,
        Command::Dev { data_dir, pg_port } => dev(&data_dir, pg_port).await,
        Command::Migrate => {
            let config = load_config(&vars)?;
            crate::telemetry::init(&config.log.filter, config.log.json);
            let applied = db::migrate::run(config.database.migrations_url()).await?;
            println!("applied {} migration(s): {applied:?}", applied.len());
            Ok(())
        }
        Command::Config { command: ConfigCommand::Docs } => {
            print!("{}", crate::config::settings_table());
            Ok(())
        }
        Command::Config { command: ConfigCommand::Check } => {
            let config = load_config(&vars)?;
            JwtKeys::from_config(&config.jwt).map_err(|e| anyhow::anyhow!("{}: {e}", JWT_SECRET.name))?;
            for warning in config.warnings() {
                eprintln!("warning: {warning}");
            }
            print!("{}", config.redacted(&vars));
            Ok(())
        }
        Command::Hasura { command: HasuraCommand::JwtSecret } => {
            let config = load_config(&vars)?;
            let keys = JwtKeys::from_config(&config.jwt).map_err(|e| anyhow::anyhow!(e))?;
            println!("{}", hasura_jwt_secret(&config, &keys));
            Ok(())
        }
        Command::Keys { command: KeysCommand::GenerateEncryption { id } } => {
            println!("{}", crate::domain::sealed::EncryptionKeys::generate(&id, &crate::random::Random::System));
            Ok(())
        }
        Command::Keys { command: KeysCommand::RotateEncryption } => {
            let config = load_config(&vars)?;
            crate::telemetry::init(&config.log.filter, config.log.json);
            let state = AppState::build(config, Clock::System)?;
            let current = state
                .config
                .encryption
                .as_ref()
                .map(|keys| keys.current_id().to_string())
                .ok_or_else(|| anyhow::anyhow!("{} is not set", crate::domain::sealed::ENCRYPTION_KEYS.name))?;
            let rewritten = crate::flows::provider_tokens::reseal_all(&state)
                .await
                .map_err(|error| anyhow::anyhow!("re-encryption stopped: {error:?}"))?;
            println!("re-encrypted the provider tokens of {rewritten} identities under key {current}");
            Ok(())
        }
        Command::Adopt { command: AdoptCommand::Nself } => {
            let config = load_config(&vars)?;
            crate::telemetry::init(&config.log.filter, config.log.json);
            let applied = db::migrate::run(config.database.migrations_url()).await?;
            let state = AppState::build(config, Clock::System)?;
            let outcome = crate::flows::nself_adoption::finish(&state)
                .await
                .map_err(|error| anyhow::anyhow!("adoption stopped: {error:?}"))?;
            println!(
                "applied {} migration(s); provider tokens of {} identities re-encrypted, of {} dropped",
                applied.len(),
                outcome.adopted,
                outcome.dropped
            );
            Ok(())
        }
        Command::Oauth { json, command } => oauth::run(command, json, &vars).await,
        Command::Users { command } => users_command(command, &vars).await,
        Command::Version => {
            println!("hauth {} (schema version {})", env!("CARGO_PKG_VERSION"), db::migrate::latest_version());
            Ok(())
        }
    }
}
