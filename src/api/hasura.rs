//! Tag `hasura`: the endpoints the Hasura GraphQL engine itself calls.
//! - `GET /hasura/webhook` (Hasura's GET mode: the client's headers arrive as headers) and
//!   `POST /hasura/webhook` (POST mode: `{"headers": {...}, "request": {...}}`) answer with session variables.
//! - `POST /hasura/actions` serves the actions of `hasura/metadata/actions.yaml`, guarded by the shared
//!   secret Hasura sends in `X-Hauth-Actions-Secret`. Action errors use Hasura's shape
//!   `{"message", "extensions": {"code"}}` with the REST API's status and code.
use std::collections::{BTreeMap, HashMap};

use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt, IntoResponse, Request};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Object, OpenApi};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ApiTags;
use super::error::{ApiError, ErrorBody};
use super::schemas::{SessionBody, UserBody};
use crate::domain::Email;
use crate::domain::user::SignupOptions;
use crate::error::AuthError;
use crate::flows;
use crate::flows::session::SignedIn;
use crate::flows::webhook::ClientHeaders;
use crate::state::AppState;

pub const ACTIONS_SECRET_HEADER: &str = "x-hauth-actions-secret";

/// Hasura treats any webhook status but 200 and 401 as a server fault. A request the webhook cannot read
/// (malformed POST body, wrong content type) carries no valid credentials, so it is answered 401.
fn only_200_or_401(endpoint: impl Endpoint + 'static) -> impl Endpoint {
    endpoint.map_to_response().around(|endpoint, req| async move {
        let response = endpoint.call(req).await.unwrap_or_else(|error| error.into_response());
        Ok(if response.status() == StatusCode::OK || response.status() == StatusCode::UNAUTHORIZED {
            response
        } else {
            ApiError::from(AuthError::Unauthenticated("the webhook request could not be read")).into_response()
        })
    })
}

/// Hasura's POST-mode webhook body.
#[derive(Object)]
#[oai(rename = "WebhookRequest")]
pub struct WebhookRequest {
    /// The client's request headers.
    pub headers: HashMap<String, String>,
    /// The client's GraphQL request (unused).
    pub request: Option<Value>,
}

/// An action error as Hasura passes it to the client.
#[derive(Debug, Object)]
#[oai(rename = "ActionError")]
pub struct ActionError {
    pub message: String,
    pub extensions: ActionErrorExtensions,
}

#[derive(Debug, Object)]
#[oai(rename = "ActionErrorExtensions")]
pub struct ActionErrorExtensions {
    /// The REST API's error code.
    pub code: String,
}

#[derive(ApiResponse)]
pub enum ActionResponse {
    /// The action's output type.
    #[oai(status = 200)]
    Ok(Json<Value>),
    #[oai(status = 400)]
    BadRequest(Json<ActionError>),
    #[oai(status = 401)]
    Unauthorized(Json<ActionError>),
    #[oai(status = 403)]
    Forbidden(Json<ActionError>),
    #[oai(status = 404)]
    NotFound(Json<ActionError>),
    #[oai(status = 409)]
    Conflict(Json<ActionError>),
    #[oai(status = 429)]
    TooManyRequests(Json<ActionError>),
    /// The body is larger than the configured limit (refused before it reaches the action handler).
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not JSON.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ActionError>),
    #[oai(status = 500)]
    Internal(Json<ActionError>),
    /// A sign-in provider is unavailable.
    #[oai(status = 503)]
    ServiceUnavailable(Json<ActionError>),
}

/// A request the framework refused before the handler ran (unreadable JSON, wrong content type) still
/// gets Hasura's action error shape.
fn as_action_errors(endpoint: impl Endpoint + 'static) -> impl Endpoint {
    endpoint.map_to_response().around(|endpoint, req| async move {
        Ok(match endpoint.call(req).await {
            Ok(response) => response,
            Err(error) => {
                let status = error.status();
                let body = Json(ActionError {
                    message: error.to_string(),
                    extensions: ActionErrorExtensions { code: "invalid-request".into() },
                });
                match status {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => ActionResponse::UnsupportedMediaType(body),
                    status if status.is_client_error() => ActionResponse::BadRequest(body),
                    _ => ActionResponse::from(AuthError::internal(error)),
                }
                .into_response()
            }
        })
    })
}

impl From<AuthError> for ActionResponse {
    fn from(error: AuthError) -> Self {
        let (status, body) = ApiError::from(error).into_parts();
        let error = Json(ActionError { message: body.message, extensions: ActionErrorExtensions { code: body.error } });
        match status {
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => ActionResponse::BadRequest(error),
            StatusCode::UNAUTHORIZED => ActionResponse::Unauthorized(error),
            StatusCode::FORBIDDEN => ActionResponse::Forbidden(error),
            StatusCode::NOT_FOUND => ActionResponse::NotFound(error),
            StatusCode::CONFLICT => ActionResponse::Conflict(error),
            StatusCode::TOO_MANY_REQUESTS => ActionResponse::TooManyRequests(error),
            StatusCode::SERVICE_UNAVAILABLE => ActionResponse::ServiceUnavailable(error),
            _ => ActionResponse::Internal(error),
        }
    }
}

fn header_ci<'a>(headers: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

/// The body of every action call.
#[derive(Deserialize)]
struct ActionCall {
    action: ActionName,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    session_variables: HashMap<String, String>,
}

#[derive(Deserialize)]
struct ActionName {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsInput {
    email: String,
    password: SecretString,
    #[serde(default)]
    options: Option<SignupOptions>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RefreshInput {
    refresh_token: SecretString,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderInput {
    provider: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignOutInput {
    refresh_token: Option<SecretString>,
    all: Option<bool>,
}

fn input<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, AuthError> {
    let value = if value.is_null() { json!({}) } else { value };
    serde_json::from_value(value).map_err(|e| AuthError::InvalidRequest(format!("invalid action input: {e}")))
}

fn session_json(session: flows::Session) -> Value {
    SessionBody::from(session).to_json().unwrap_or(Value::Null)
}

/// The user Hasura authenticated, from the action's session variables.
fn session_user(state: &AppState, variables: &HashMap<String, String>) -> Option<Uuid> {
    let role = variables.get("x-hasura-role")?;
    if state.config.hooks.webhook_unauthenticated_role.as_deref() == Some(role.as_str()) || role == "public" {
        return None;
    }
    variables.get("x-hasura-user-id").and_then(|id| Uuid::parse_str(id).ok())
}

async fn run_action(state: &AppState, call: ActionCall) -> Result<Value, AuthError> {
    match call.action.name.as_str() {
        "signUpEmailPassword" => {
            let input: CredentialsInput = input(call.input)?;
            let email = Email::parse(&input.email)?;
            let options = input.options.unwrap_or_default();
            let session = flows::signup::signup_email_password(state, email, input.password, options).await?;
            Ok(json!({"session": session.map(session_json)}))
        }
        "signInEmailPassword" => {
            let input: CredentialsInput = input(call.input)?;
            if input.options.is_some() {
                return Err(AuthError::InvalidRequest("signInEmailPassword takes no options".into()));
            }
            let email = Email::parse(&input.email)?;
            match flows::signin::signin_email_password(state, email, input.password).await? {
                SignedIn::Session(session) => Ok(json!({"session": session_json(*session), "mfa": null})),
                SignedIn::SecondFactor(challenge) => Ok(json!({"session": null, "mfa": {"ticket": challenge.ticket}})),
            }
        }
        "refreshToken" => {
            let input: RefreshInput = input(call.input)?;
            let session = flows::session::refresh(state, input.refresh_token.expose_secret()).await?;
            Ok(session_json(session))
        }
        "signOut" => {
            let input: SignOutInput = input(call.input)?;
            let user_id = session_user(state, &call.session_variables);
            let refresh_token = input.refresh_token.as_ref().map(|t| t.expose_secret());
            flows::session::sign_out(state, refresh_token, input.all.unwrap_or(false), user_id).await?;
            Ok(json!({"ok": true}))
        }
        "me" => {
            let user_id =
                session_user(state, &call.session_variables).ok_or(AuthError::Unauthenticated("no signed-in user"))?;
            let user = flows::user::current_user(state, user_id).await?;
            Ok(UserBody::from(user).to_json().unwrap_or(Value::Null))
        }
        "providerAccessToken" => {
            let input: ProviderInput = input(call.input)?;
            let user_id =
                session_user(state, &call.session_variables).ok_or(AuthError::Unauthenticated("no signed-in user"))?;
            let access = flows::provider_tokens::access_token(state, user_id, &input.provider).await?;
            Ok(json!({
                "provider": access.provider_id,
                "accessToken": access.access_token.expose_secret(),
                "expiresAt": access.expires_at.map(|at| at.to_rfc3339()),
            }))
        }
        other => Err(AuthError::InvalidRequest(format!("unknown action {other:?}"))),
    }
}

/// Compares a presented secret with the configured one without leaking where they differ.
/// Refuses a request without the Hasura admin secret (routes for administrators' backends).
pub fn require_admin_secret(state: &AppState, presented: Option<&str>) -> Result<(), AuthError> {
    match &state.config.hasura.admin_secret {
        Some(expected) if secret_matches(presented, expected) => Ok(()),
        _ => Err(AuthError::Unauthenticated("missing or wrong admin secret")),
    }
}

pub fn secret_matches(presented: Option<&str>, expected: &SecretString) -> bool {
    let Some(presented) = presented else { return false };
    Sha256::digest(presented.as_bytes()) == Sha256::digest(expected.expose_secret().as_bytes())
}

pub struct HasuraApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/hasura", tag = "ApiTags::Hasura")]
impl HasuraApi {
    /// Auth webhook (GET mode)
    ///
    /// Hasura forwards the client's headers; the answer is the session variables, all strings.
    #[oai(path = "/webhook", method = "get", operation_id = "hasuraWebhookGet", transform = "only_200_or_401")]
    async fn webhook_get(&self, req: &Request) -> Result<Json<BTreeMap<String, String>>, ApiError> {
        let headers =
            ClientHeaders { authorization: req.header("authorization"), requested_role: req.header("x-hasura-role") };
        Ok(Json(flows::webhook::authorize(&self.state, headers).await?))
    }

    /// Auth webhook (POST mode)
    ///
    /// Hasura sends `{"headers": {...}, "request": {...}}`; header names are matched case-insensitively.
    #[oai(path = "/webhook", method = "post", operation_id = "hasuraWebhookPost", transform = "only_200_or_401")]
    async fn webhook_post(&self, body: Json<WebhookRequest>) -> Result<Json<BTreeMap<String, String>>, ApiError> {
        let headers = ClientHeaders {
            authorization: header_ci(&body.0.headers, "authorization"),
            requested_role: header_ci(&body.0.headers, "x-hasura-role"),
        };
        Ok(Json(flows::webhook::authorize(&self.state, headers).await?))
    }

    /// Action handler
    ///
    /// Serves signUpEmailPassword, signInEmailPassword, refreshToken, signOut, me and providerAccessToken.
    #[oai(path = "/actions", method = "post", operation_id = "hasuraActions", transform = "as_action_errors")]
    async fn actions(&self, req: &Request, body: Json<Value>) -> ActionResponse {
        let authorised = match &self.state.config.hooks.actions_secret {
            Some(expected) => secret_matches(req.header(ACTIONS_SECRET_HEADER), expected),
            None => {
                tracing::warn!("action call refused: {} is not set", crate::flows::config::ACTIONS_SECRET.name);
                false
            }
        };
        if !authorised {
            return AuthError::Unauthenticated("missing or wrong actions secret").into();
        }
        let call: ActionCall = match serde_json::from_value(body.0) {
            Ok(call) => call,
            Err(e) => return AuthError::InvalidRequest(format!("not a Hasura action call: {e}")).into(),
        };
        match run_action(&self.state, call).await {
            Ok(output) => ActionResponse::Ok(Json(output)),
            Err(error) => error.into(),
        }
    }
}
