//! `hauth oauth …`: the provider commands nself users know. `refresh once | status | retry-failed` work the
//! provider-token refresh queue (`once` is for cron: its exit code says whether a refresh failed),
//! `accounts`, `link` and `unlink` act on one user's linked providers (with the API's rules), `list` shows
//! the providers and the callback URLs to register, `test` checks one provider's configuration. Output is a
//! table for people, or JSON with `--json`.
use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::Config;
use crate::db;
use crate::providers::config::{BUILT_IN, settings_name};
use crate::state::AppState;

#[derive(Debug, Subcommand)]
pub enum OauthCommand {
    /// The provider-token refresh queue.
    Refresh {
        #[command(subcommand)]
        command: RefreshCommand,
    },
    /// A user's linked providers (by user id or email): email, linked at, token expiry, refresh state.
    Accounts { user: String },
    /// Print a one-time URL (ten minutes) that links the provider to the user in the browser they open it in.
    Link { user: String, provider: String },
    /// Unlink a provider from a user; refused when it is their last way to sign in.
    Unlink { user: String, provider: String },
    /// Every provider: enabled, configured, and the callback URLs to register with it.
    List,
    /// Check a provider's configuration, and that its discovery document answers where it has one.
    Test { provider: String },
}

#[derive(Debug, Subcommand)]
pub enum RefreshCommand {
    /// Refresh every token due now, then exit; exits with 1 when a refresh failed (for cron).
    Once,
    /// Queue depth, due now, oldest overdue, last run, refreshed and failed in the last hour.
    Status,
    /// Make the tokens whose refresh attempts ran out due again (nself's manual reset).
    RetryFailed,
}

/// What a command prints: a value for `--json`, a text for people, and whether it failed.
struct Report {
    json: Value,
    text: String,
    failed: bool,
}

pub async fn run(command: OauthCommand, as_json: bool, vars: &HashMap<String, String>) -> anyhow::Result<()> {
    let config = Config::from_env(vars).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::telemetry::init(&config.log.filter, config.log.json);
    let report = match command {
        OauthCommand::List => list(&config, vars),
        command => {
            let state = AppState::build(config, Clock::System)?;
            let report = with_state(&state, command).await;
            // An unlink revokes the grant after answering: waited for before exiting.
            state.background.finish(std::time::Duration::from_secs(10)).await;
            report?
        }
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report.json)?);
    } else {
        print!("{}", report.text);
    }
    if report.failed {
        std::process::exit(1);
    }
    Ok(())
}

async fn with_state(state: &AppState, command: OauthCommand) -> anyhow::Result<Report> {
    match command {
        OauthCommand::Refresh { command: RefreshCommand::Once } => refresh_once(state).await,
        OauthCommand::Refresh { command: RefreshCommand::Status } => status(state).await,
        OauthCommand::Refresh { command: RefreshCommand::RetryFailed } => {
            let reset = crate::flows::token_refresh::retry_failed(state).await.map_err(flow_error)?;
            Ok(Report {
                json: json!({"reset": reset}),
                text: format!("{reset} exhausted token(s) due again\n"),
                failed: false,
            })
        }
        OauthCommand::Accounts { user } => accounts(state, &user).await,
        OauthCommand::Link { user, provider } => {
            let user_id = resolve_user(state, &user).await?;
            let url =
                crate::flows::providers::operator_link_url(state, user_id, &provider).await.map_err(flow_error)?;
            Ok(Report {
                json: json!({"userId": user_id, "provider": provider, "url": url}),
                text: format!("{url}\n(one use, valid ten minutes: the user opens it signed in to nothing else)\n"),
                failed: false,
            })
        }
        OauthCommand::Unlink { user, provider } => {
            let user_id = resolve_user(state, &user).await?;
            crate::flows::provider_tokens::unlink(state, user_id, &provider).await.map_err(flow_error)?;
            Ok(Report {
                json: json!({"userId": user_id, "provider": provider, "unlinked": true}),
                text: format!("{provider} unlinked from {user_id}\n"),
                failed: false,
            })
        }
        OauthCommand::Test { provider } => test(state, &provider).await,
        OauthCommand::List => anyhow::bail!("list needs no database"),
    }
}

fn flow_error(error: crate::error::AuthError) -> anyhow::Error {
    match error {
        crate::error::AuthError::Internal(cause) => cause,
        other => anyhow::anyhow!("{other}"),
    }
}

/// A user id, or the id of the user with that email.
async fn resolve_user(state: &AppState, user: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(user) {
        return Ok(id);
    }
    let client = db::client(&state.pool).await.map_err(flow_error)?;
    db::users::select_user_id_by_email(&client, user)
        .await
        .map_err(flow_error)?
        .with_context(|| format!("no user with id or email {user:?}"))
}

async fn refresh_once(state: &AppState) -> anyhow::Result<Report> {
    let outcome = crate::workers::provider_tokens::process_due(state).await?;
    let json = json!({"processed": outcome.processed, "failed": outcome.failed,
        "refreshed": outcome.processed - outcome.failed});
    let text = format!(
        "refreshed {} of {} due token(s), {} failed\n",
        outcome.processed - outcome.failed,
        outcome.processed,
        outcome.failed
    );
    Ok(Report { json, text, failed: outcome.failed > 0 })
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".to_string(), |at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

async fn status(state: &AppState) -> anyhow::Result<Report> {
    let status = crate::flows::token_refresh::status(state).await.map_err(flow_error)?;
    let now = state.clock.now();
    let lag_seconds = status.oldest_due_at.map_or(0, |at| (now - at).num_seconds().max(0));
    let mut json = serde_json::to_value(&status)?;
    json["lagSeconds"] = json!(lag_seconds);
    let rows = vec![
        vec!["queue depth".into(), status.depth.to_string()],
        vec!["due now".into(), status.due.to_string()],
        vec!["oldest overdue".into(), format!("{} (lag {lag_seconds} s)", when(status.oldest_due_at))],
        vec!["in flight".into(), status.in_flight.to_string()],
        vec!["retrying".into(), status.retrying.to_string()],
        vec!["exhausted".into(), status.exhausted.to_string()],
        vec!["not refreshable".into(), status.not_refreshable.to_string()],
        vec!["last run".into(), when(status.last_run_at)],
        vec!["refreshed (last hour)".into(), status.refreshed_last_hour.to_string()],
        vec!["failed (last hour)".into(), status.failed_last_hour.to_string()],
    ];
    Ok(Report { json, text: table(&["", ""], &rows), failed: false })
}

async fn accounts(state: &AppState, user: &str) -> anyhow::Result<Report> {
    let client = db::client(&state.pool).await.map_err(flow_error)?;
    let accounts = db::refresh_queue::select_user_accounts(&client, user).await.map_err(flow_error)?;
    if accounts.is_empty() {
        resolve_user(state, user).await?;
    }
    let rows = accounts
        .iter()
        .map(|account| {
            let refresh = match (account.refreshable, account.refresh_attempts, account.refresh_max_attempts) {
                (Some(true), Some(attempts), Some(max)) if attempts >= max => "exhausted".to_string(),
                (Some(true), _, _) => format!("at {}", when(account.refresh_scheduled_at)),
                (Some(false), _, _) => "never".to_string(),
                _ => "-".to_string(),
            };
            vec![
                account.provider.clone(),
                account.email.clone().unwrap_or_else(|| "-".into()),
                when(Some(account.linked_at)),
                when(account.token_expires_at),
                refresh,
                if account.needs_reauthentication { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect::<Vec<_>>();
    let text = if rows.is_empty() {
        "no linked providers\n".to_string()
    } else {
        table(&["provider", "email", "linked at", "token expires", "next refresh", "needs re-authentication"], &rows)
    };
    Ok(Report { json: serde_json::to_value(&accounts)?, text, failed: false })
}

fn list(config: &Config, vars: &HashMap<String, String>) -> Report {
    let server = config.http.server_url.as_str().trim_end_matches('/');
    let generic = config.providers.providers.iter().filter(|p| !BUILT_IN.iter().any(|(id, _, _)| *id == p.id));
    let names: Vec<String> =
        BUILT_IN.iter().map(|(id, _, _)| id.to_string()).chain(generic.map(|p| p.id.clone())).collect();
    let mut entries = Vec::new();
    let mut rows = Vec::new();
    for id in names {
        let enabled = config.providers.providers.iter().any(|p| p.id == id);
        let client_id = format!("AUTH_PROVIDER_{}_CLIENT_ID", settings_name(&id));
        let configured = enabled || vars.get(&client_id).is_some_and(|value| !value.trim().is_empty());
        let callbacks = [format!("{server}/signin/provider/{id}/callback"), format!("{server}/oauth/{id}/callback")];
        rows.push(vec![
            id.clone(),
            if enabled { "yes" } else { "no" }.into(),
            if configured { "yes" } else { "no" }.into(),
            callbacks.join("  "),
        ]);
        entries.push(json!({"provider": id, "enabled": enabled, "configured": configured, "callbackUrls": callbacks}));
    }
    Report {
        json: Value::Array(entries),
        text: table(&["provider", "enabled", "configured", "callback URLs"], &rows),
        failed: false,
    }
}

async fn test(state: &AppState, name: &str) -> anyhow::Result<Report> {
    let Some(provider) = state.providers.find(name) else {
        let text = format!("{name}: not enabled (AUTH_PROVIDER_{}_ENABLED)\n", settings_name(name));
        return Ok(Report { json: json!({"provider": name, "enabled": false, "ok": false}), text, failed: true });
    };
    let facts = provider.facts().clone();
    // Where the provider is discovered (generic OpenID providers), this fetches its discovery document.
    let checked = provider.client().await;
    let secret = provider.client_secret();
    let mut problems = Vec::new();
    let mut json = json!({"provider": facts.id, "enabled": true, "scopes": facts.scopes, "pkce": facts.pkce});
    match &checked {
        Ok((client, endpoints)) => {
            json["clientId"] = json!(client.client_id);
            json["authorizationUrl"] = json!(endpoints.authorize.as_str());
            json["tokenUrl"] = json!(endpoints.token.as_str());
        }
        Err(error) => problems.push(format!("endpoints: {error}")),
    }
    if let Err(error) = secret {
        problems.push(format!("client secret: {error}"));
    }
    json["ok"] = json!(problems.is_empty());
    json["problems"] = json!(problems);
    let mut text = String::new();
    let _ = writeln!(text, "{}: {}", facts.id, if problems.is_empty() { "ok" } else { "problems found" });
    if let Ok((client, endpoints)) = &checked {
        let _ = writeln!(text, "  client id      {}", client.client_id);
        let _ = writeln!(text, "  authorization  {}", endpoints.authorize);
        let _ = writeln!(text, "  token          {}", endpoints.token);
    }
    let _ = writeln!(text, "  scopes         {}", facts.scopes.join(" "));
    for problem in &problems {
        let _ = writeln!(text, "  problem: {problem}");
    }
    Ok(Report { json, text, failed: !problems.is_empty() })
}

/// Rows under a header, each column as wide as its widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let text: Vec<String> =
            cells.zip(&widths).map(|(cell, width)| format!("{cell:<width$}", width = *width)).collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    if header.iter().any(|h| !h.is_empty()) {
        line(&mut header.iter().copied());
    }
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let rows = vec![vec!["google".to_string(), "yes".to_string()], vec!["x".to_string(), "no".to_string()]];
        assert_eq!(table(&["provider", "enabled"], &rows), "provider  enabled\ngoogle    yes\nx         no\n");
    }
}
