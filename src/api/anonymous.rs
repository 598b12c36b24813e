//! `POST /signin/anonymous` (tag `authentication`): a session for a new anonymous user. The body is
//! optional, and the nhost SDK sends none at all while still saying `Content-Type: application/json`; an
//! empty body therefore means "no body", not malformed JSON.
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;

use super::ApiTags;
use super::body::JsonBody;
use super::error::ApiError;
use super::schemas::SessionPayload;
use crate::flows;
use crate::flows::anonymous::AnonymousProfile;
use crate::state::AppState;

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignInAnonymousRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInAnonymousRequest {
    /// Defaults to "Anonymous User".
    pub display_name: Option<String>,
    /// A two-character locale; one that is not allowed falls back to the default.
    #[oai(validator(min_length = 2, max_length = 2))]
    pub locale: Option<String>,
    /// Free-form user metadata (a JSON object).
    pub metadata: Option<Value>,
}

pub struct AnonymousApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Authentication")]
impl AnonymousApi {
    /// Sign in anonymously
    ///
    /// Creates an anonymous user (role `anonymous`, no email) and returns their session. Needs
    /// when anonymous users are enabled.
    #[oai(path = "/signin/anonymous", method = "post", operation_id = "signInAnonymous")]
    async fn signin_anonymous(
        &self,
        body: JsonBody<Option<SignInAnonymousRequest>>,
    ) -> Result<Json<SessionPayload>, ApiError> {
        let profile = body
            .0
            .map(|body| AnonymousProfile {
                display_name: body.display_name,
                locale: body.locale,
                metadata: body.metadata,
            })
            .unwrap_or_default();
        let session = flows::anonymous::signin_anonymous(&self.state, profile).await?;
        Ok(Json(SessionPayload { session: Some(session.into()) }))
    }
}
