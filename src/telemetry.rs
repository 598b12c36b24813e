//! Logging: `tracing` with an env-style filter, JSON lines by default, and the id of the request being
//! served (a task-local) for logs and errors to name. Secrets never reach the log: they are
//! `SecretString`s and handlers never log request bodies.
use tracing_subscriber::EnvFilter;

use crate::config::env::{Env, Setting};

pub const LOG_LEVEL: Setting = Setting::new(
    "AUTH_LOG_LEVEL",
    Some("info"),
    "log filter, e.g. `info` or `warn,hauth=debug` (`debug` when debugging is on)",
)
.aliases(&["RUST_LOG"]);
pub const LOG_FORMAT: Setting = Setting::new("AUTH_LOG_FORMAT", Some("json"), "`json` or `text`; logs go to stderr");
pub const DEBUG: Setting = Setting::new("AUTH_DEBUG", Some("false"), "debug logs (nhost's)");
pub const LOG_FORMAT_TEXT: Setting = Setting::new("AUTH_LOG_FORMAT_TEXT", Some("false"), "text logs (nhost's)");

pub const SETTINGS: &[&Setting] = &[&LOG_LEVEL, &LOG_FORMAT, &DEBUG, &LOG_FORMAT_TEXT];

#[derive(Clone, Debug)]
pub struct LogConfig {
    pub filter: String,
    pub json: bool,
}

impl LogConfig {
    pub fn load(env: &mut Env) -> LogConfig {
        let debug = env.flag(&DEBUG);
        let text_logs = env.flag(&LOG_FORMAT_TEXT);
        let filter = match env.raw(&LOG_LEVEL) {
            Some(filter) => filter,
            None if debug => "debug".to_string(),
            None => LOG_LEVEL.default.unwrap_or("info").to_string(),
        };
        env.show(&LOG_LEVEL, filter.clone());
        let format = env.string(&LOG_FORMAT);
        LogConfig { filter, json: !text_logs && format.eq_ignore_ascii_case("json") }
    }
}

/// The request being served, as logs, errors and the audit log name it.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub id: String,
    /// The client's address (the connection's peer).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

tokio::task_local! {
    static REQUEST: RequestInfo;
}

/// Runs `work` as part of `request`: logs, errors and audit rows inside it can name the request. A plain
/// function, not an `async fn`: that would hold `work` twice (as its argument and inside the scope), and
/// every request's future would be twice the size to move.
pub fn with_request<F: std::future::Future>(
    request: RequestInfo,
    work: F,
) -> impl std::future::Future<Output = F::Output> {
    REQUEST.scope(request, work)
}

/// The request being served (empty outside a request).
pub fn current_request() -> RequestInfo {
    REQUEST.try_with(Clone::clone).unwrap_or_default()
}

/// The id of the request being served ("-" outside a request).
pub fn current_request_id() -> String {
    REQUEST.try_with(|request| request.id.clone()).unwrap_or_else(|_| "-".to_string())
}

pub fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes only for a person at a terminal, never in files or log collectors.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // A second initialisation (tests) is harmless, so its error is ignored.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
