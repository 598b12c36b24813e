//! The audit log: one row in `auth.audit_log` per security event (provider sign-ins, sign-ups, links,
//! unlinks and failures), naming the request that caused it (its id, the client's address and user agent).
//! Events of a change are written in the change's transaction; failures, which roll back, are written on
//! their own and never fail the request.
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::db;
use crate::error::AuthError;
use crate::state::AppState;
use crate::telemetry::current_request;

/// One event.
pub struct Event<'a> {
    pub name: &'a str,
    pub user_id: Option<Uuid>,
    pub provider: Option<&'a str>,
    pub metadata: serde_json::Value,
}

/// Records `event` in the caller's transaction.
pub async fn record(state: &AppState, client: &impl GenericClient, event: Event<'_>) -> Result<(), AuthError> {
    let request = current_request();
    db::audit_log::insert_event(
        client,
        &db::audit_log::NewEvent {
            at: state.clock.now(),
            event: event.name,
            user_id: event.user_id,
            provider: event.provider,
            ip: request.ip.as_deref(),
            user_agent: request.user_agent.as_deref(),
            request_id: &request.id,
            metadata: &event.metadata,
        },
    )
    .await
}

/// Records `event` on its own connection; a failure to record is logged, not returned.
pub async fn record_detached(state: &AppState, event: Event<'_>) {
    let name = event.name.to_string();
    let written = async {
        let client = db::client(&state.pool).await?;
        record(state, &client, event).await
    };
    if let Err(error) = written.await {
        tracing::error!(event = %name, error = ?error, "cannot write the audit log");
    }
}
