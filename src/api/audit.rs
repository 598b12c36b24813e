//! Security events: `GET /user/security-events` (tag `user`, bearer) lists the caller's own,
//! `GET /admin/security-events` (tag `security`, the Hasura admin secret or an administrator's token) everyone's or one user's. Newest
//! first, a page at a time (`before` is the oldest `createdAt` of the previous page).
use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::ApiTags;
use super::error::ApiError;
use super::security::BearerAuth;
use crate::db::audit_log::StoredEvent;
use crate::flows;
use crate::state::AppState;

/// One security event.
#[derive(Object)]
#[oai(rename = "SecurityEvent", rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct SecurityEventBody {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// What happened: `signin`, `signin.failure`, `signin.challenged`, `signup`, `password.change`, …
    pub event: String,
    /// Absent for events of no known user (a sign-in failure for an unknown address, an adopted event).
    #[oai(nullable)]
    pub user_id: Option<String>,
    /// The provider of provider events, else absent.
    #[oai(nullable)]
    pub provider: Option<String>,
    #[oai(nullable)]
    pub ip: Option<String>,
    #[oai(nullable)]
    pub user_agent: Option<String>,
    /// The request that caused it (as in the service's logs); null for events recorded outside a request.
    #[oai(nullable)]
    pub request_id: Option<String>,
    pub metadata: Value,
}

impl From<StoredEvent> for SecurityEventBody {
    fn from(event: StoredEvent) -> Self {
        SecurityEventBody {
            id: event.id.to_string(),
            created_at: event.at,
            event: event.event,
            user_id: event.user_id.map(|id| id.to_string()),
            provider: event.provider,
            ip: event.ip,
            user_agent: event.user_agent,
            request_id: event.request_id,
            metadata: event.metadata,
        }
    }
}

fn page(events: Vec<StoredEvent>) -> Json<Vec<SecurityEventBody>> {
    Json(events.into_iter().map(SecurityEventBody::from).collect())
}

pub struct AuditUserApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::User")]
impl AuditUserApi {
    /// The signed-in user's security events
    #[oai(path = "/user/security-events", method = "get", operation_id = "listUserSecurityEvents")]
    async fn list(
        &self,
        auth: BearerAuth,
        before: Query<Option<DateTime<Utc>>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))] limit: Query<Option<i64>>,
    ) -> Result<Json<Vec<SecurityEventBody>>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        let limit = limit.0.unwrap_or(50);
        Ok(page(flows::audit::list(&self.state, Some(bearer.claims.user_id), before.0, limit).await?))
    }
}

pub struct AuditAdminApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Security")]
impl AuditAdminApi {
    /// Security events (admin)
    ///
    /// Everyone's, or one user's; with the Hasura admin secret (`x-hasura-admin-secret`) or an administrator's
    /// access token.
    #[oai(path = "/admin/security-events", method = "get", operation_id = "listSecurityEvents")]
    async fn list(
        &self,
        req: &Request,
        /// The Hasura admin secret (or send an administrator's bearer token).
        #[oai(name = "x-hasura-admin-secret")]
        _admin_secret: Header<Option<String>>,
        #[oai(name = "userId")] user_id: Query<Option<Uuid>>,
        before: Query<Option<DateTime<Utc>>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))] limit: Query<Option<i64>>,
    ) -> Result<Json<Vec<SecurityEventBody>>, ApiError> {
        super::admin::authorize(&self.state, req)?;
        let limit = limit.0.unwrap_or(50);
        Ok(page(flows::audit::list(&self.state, user_id.0, before.0, limit).await?))
    }
}
