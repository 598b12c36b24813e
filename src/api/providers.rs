//! Tag `providers`: sign-in with OAuth/OIDC providers, and the signed-in user's linked providers.
//! - `GET /signin/provider/{provider}` (and nself's `GET /oauth/{provider}`) starts a sign-in: a 302 to the
//!   provider with the cookie that binds it to this browser.
//! - `GET|POST /signin/provider/{provider}/callback` (and `/oauth/{provider}/callback`) finishes it: a 302
//!   back to the application with `refreshToken`, or with `error` and `errorDescription`; never JSON.
//! - `POST /user/providers/{provider}/link`, `GET /user/providers`, `DELETE /user/providers/{provider}`,
//!   `GET /user/providers/{provider}/token`, and `GET /admin/users/{id}/providers/{provider}/token` with the
//!   admin secret.
//!
//! - Mobile apps: `POST /signin/idtoken` and `POST /link/idtoken` take an ID token from Apple's or Google's
//!   SDK on the device; a start with the app's own `code_challenge` (S256) returns a one-time `code` to the
//!   app, redeemed at `POST /token/exchange` (`{code, codeVerifier}` → `{session}`) or nself's
//!   `POST /oauth/{provider}/token` (`{code, code_verifier}` → `{token, …session}`).
//!
//! The start URL may carry nhost's `connect=<access token>`: it is read here and never logged (the request
//! log holds the path only), and the answer tells the browser not to send it on as a referrer.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use super::ApiTags;
use super::body::JsonBody;
use super::error::ApiError;
use super::redirect::{error_params, location};
use super::schemas::{SecretField, SessionBody, SessionPayload, SignInResponseBody, SignUpOptionsBody};
use super::security::BearerAuth;
use crate::domain::user::SignupOptions;
use crate::error::AuthError;
use crate::flows;
use crate::flows::id_token::IdTokenRequest;
use crate::flows::providers::{CallbackRequest, Entry, StartRequest, StateCookie};
use crate::state::AppState;

#[derive(ApiResponse)]
pub enum ProviderRedirect {
    /// To the provider (a start) or back to the application (a callback, with the outcome).
    #[oai(status = 302)]
    Found(
        #[oai(header = "Location")] String,
        #[oai(header = "Set-Cookie")] Option<String>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Referrer-Policy")] String,
    ),
}

fn set_cookie(cookie: &StateCookie) -> String {
    let same_site = if cookie.cross_site { "None" } else { "Lax" };
    let secure = if cookie.secure { "; Secure" } else { "" };
    format!(
        "{}={}; Path={}; Max-Age={}; HttpOnly; SameSite={same_site}{secure}",
        cookie.name, cookie.value, cookie.path, cookie.max_age
    )
}

fn found(location: String, cookie: Option<&StateCookie>) -> ProviderRedirect {
    ProviderRedirect::Found(location, cookie.map(set_cookie), "no-store".into(), "no-referrer".into())
}

/// The request's cookies, as `name=value` pairs.
fn cookies(req: &Request) -> Vec<(String, String)> {
    req.headers()
        .get_all("cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(name, value)| (name.trim().to_string(), value.trim().trim_matches('"').to_string()))
        .collect()
}

/// The start's query, as nhost (and its SDK) send it.
struct StartQuery {
    allowed_roles: Option<String>,
    default_role: Option<String>,
    display_name: Option<String>,
    locale: Option<String>,
    metadata: Option<String>,
    redirect_to: Option<String>,
    connect: Option<String>,
    link_ticket: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

impl StartQuery {
    /// Reads the query string; the first value of each parameter wins.
    fn parse(req: &Request) -> StartQuery {
        let mut fields = query_fields(req);
        let mut take = |name: &str| fields.remove(name);
        StartQuery {
            allowed_roles: take("allowedRoles"),
            default_role: take("defaultRole"),
            display_name: take("displayName"),
            locale: take("locale"),
            metadata: take("metadata"),
            redirect_to: take("redirectTo"),
            connect: take("connect"),
            link_ticket: take("linkTicket"),
            code_challenge: take("code_challenge"),
            code_challenge_method: take("code_challenge_method"),
        }
    }

    fn into_request(self) -> Result<StartRequest, AuthError> {
        let metadata = match self.metadata.as_deref().map(str::trim).filter(|raw| !raw.is_empty()) {
            None => None,
            Some(raw) => Some(
                serde_json::from_str::<serde_json::Value>(raw)
                    .map_err(|_| AuthError::InvalidRequest("metadata must be a JSON object".into()))?,
            ),
        };
        let allowed_roles = self
            .allowed_roles
            .map(|raw| raw.split(',').map(str::trim).filter(|role| !role.is_empty()).map(str::to_string).collect());
        let app_challenge =
            flows::providers::app_challenge(self.code_challenge.as_deref(), self.code_challenge_method.as_deref())?;
        Ok(StartRequest {
            options: SignupOptions {
                allowed_roles,
                default_role: self.default_role,
                display_name: self.display_name,
                locale: self.locale,
                metadata,
                redirect_to: self.redirect_to,
            },
            connect: self.connect.filter(|token| !token.is_empty()).map(SecretString::from),
            link_ticket: self.link_ticket.filter(|ticket| !ticket.is_empty()).map(SecretString::from),
            app_challenge,
        })
    }
}

/// The provider's answer as a form (`response_mode=form_post`).
#[derive(Object, serde::Deserialize)]
#[oai(rename = "ProviderCallbackForm")]
pub struct CallbackForm {
    pub code: Option<String>,
    pub state: Option<String>,
    pub id_token: Option<String>,
    /// Apple's one-time JSON of the user's name and email, sent on the first sign-in only.
    pub user: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub error_uri: Option<String>,
}

impl CallbackForm {
    fn into_fields(self) -> HashMap<String, String> {
        [
            ("code", self.code),
            ("state", self.state),
            ("id_token", self.id_token),
            ("user", self.user),
            ("error", self.error),
            ("error_description", self.error_description),
            ("error_uri", self.error_uri),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name.to_string(), value)))
        .collect()
    }
}

/// The callback's query: every parameter, first value wins.
fn query_fields(req: &Request) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()) {
        fields.entry(name.into_owned()).or_insert_with(|| value.into_owned());
    }
    fields
}

pub struct ProviderSigninApi {
    pub state: AppState,
}

impl ProviderSigninApi {
    async fn start(&self, provider: &str, entry: Entry, query: StartQuery) -> Result<ProviderRedirect, ApiError> {
        let redirect_to = query.redirect_to.clone();
        let request = match query.into_request() {
            Ok(request) => request,
            Err(error) => {
                let target = self.state.redirects.resolve(redirect_to.as_deref()).unwrap_or_default();
                return failed(&target, error);
            }
        };
        match flows::providers::start(&self.state, provider, entry, request).await {
            Ok(redirect) => Ok(found(redirect.location, redirect.cookie.as_ref())),
            Err(failure) => failed(&failure.redirect_to, failure.error),
        }
    }

    async fn callback(&self, provider: &str, req: &Request, fields: HashMap<String, String>) -> ProviderRedirect {
        let request = CallbackRequest { fields, cookies: cookies(req) };
        match flows::providers::callback(&self.state, provider, request).await {
            Ok(done) => {
                let query = done.handed.query();
                let params: Vec<(&str, &str)> = query.iter().map(|(name, value)| (*name, *value)).collect();
                found(location(&done.redirect_to, &params), Some(&done.clear_cookie))
            }
            Err(failure) => {
                let params = error_params(failure.error);
                let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                found(location(&failure.redirect_to, &params), failure.cookie.as_ref())
            }
        }
    }
}

/// A start that failed: back to the application with the error when there is one to go back to, else the
/// error itself.
fn failed(redirect_to: &str, error: AuthError) -> Result<ProviderRedirect, ApiError> {
    if redirect_to.is_empty() {
        return Err(error.into());
    }
    let params = error_params(error);
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(found(location(redirect_to, &params), None))
}

#[OpenApi(tag = "ApiTags::Providers")]
impl ProviderSigninApi {
    /// Sign in with a provider
    ///
    /// Redirects to the provider. The options apply when the sign-in creates an account. `connect` (an
    /// access token) links the provider to that user instead; the `linkTicket` of
    /// `POST /user/providers/{provider}/link` does the same without putting a token in a URL.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/signin/provider/:provider", method = "get", operation_id = "signInProvider")]
    async fn signin_provider(
        &self,
        req: &Request,
        provider: Path<String>,
        #[oai(name = "allowedRoles")] _allowed_roles: Query<Option<String>>,
        #[oai(name = "defaultRole")] _default_role: Query<Option<String>>,
        #[oai(name = "displayName")] _display_name: Query<Option<String>>,
        #[oai(name = "locale")] _locale: Query<Option<String>>,
        /// The new user's metadata, a JSON object as a string.
        #[oai(name = "metadata")]
        _metadata: Query<Option<String>>,
        #[oai(name = "redirectTo")] _redirect_to: Query<Option<String>>,
        /// An access token: link the provider to its user (nhost's SDK `connectProvider`).
        #[oai(name = "connect")]
        _connect: Query<Option<String>>,
        /// A ticket from `POST /user/providers/{provider}/link`.
        #[oai(name = "linkTicket")]
        _link_ticket: Query<Option<String>>,
        /// A mobile app's PKCE challenge (RFC 7636): the app gets a one-time `code` on `redirectTo` instead of
        /// a refresh token, and redeems it with its verifier at `POST /token/exchange`.
        #[oai(name = "code_challenge")]
        _code_challenge: Query<Option<String>>,
        /// `S256`, the only method taken.
        #[oai(name = "code_challenge_method")]
        _code_challenge_method: Query<Option<String>>,
    ) -> Result<ProviderRedirect, ApiError> {
        // The parameters above document the query; it is read in one place for both paths.
        self.start(&provider.0, Entry::Nhost, StartQuery::parse(req)).await
    }

    /// Provider callback
    ///
    /// Where the provider sends the browser back. Redirects to the application with `refreshToken`, or with
    /// `error` and `errorDescription`.
    #[oai(path = "/signin/provider/:provider/callback", method = "get", operation_id = "signInProviderCallbackGet")]
    async fn callback_get(
        &self,
        req: &Request,
        provider: Path<String>,
        #[oai(name = "code")] _code: Query<Option<String>>,
        #[oai(name = "state")] _state: Query<Option<String>>,
        #[oai(name = "error")] _error: Query<Option<String>>,
    ) -> ProviderRedirect {
        // The parameters above document the query; every parameter is read from it, as sent.
        self.callback(&provider.0, req, query_fields(req)).await
    }

    /// Provider callback (form post)
    ///
    /// The same, for providers answering with `response_mode=form_post` (Apple).
    #[oai(path = "/signin/provider/:provider/callback", method = "post", operation_id = "signInProviderCallbackPost")]
    async fn callback_post(
        &self,
        req: &Request,
        provider: Path<String>,
        form: Form<CallbackForm>,
    ) -> Result<ProviderRedirect, ApiError> {
        // The error type documents what a body that is not a form gets (415, before this runs).
        Ok(self.callback(&provider.0, req, form.0.into_fields()).await)
    }

    /// Sign in with a provider (nself path)
    ///
    /// The same as `GET /signin/provider/{provider}`, for deployments whose callback URLs are registered
    /// under `/oauth/{provider}/callback`.
    #[oai(path = "/oauth/:provider", method = "get", operation_id = "oauthStart")]
    async fn oauth_start(
        &self,
        req: &Request,
        provider: Path<String>,
        #[oai(name = "redirectTo")] _redirect_to: Query<Option<String>>,
        /// A mobile app's PKCE challenge: the app gets a one-time `code` on `redirectTo`, redeemed at
        /// `POST /oauth/{provider}/token`.
        #[oai(name = "code_challenge")]
        _code_challenge: Query<Option<String>>,
        /// `S256`, the only method taken.
        #[oai(name = "code_challenge_method")]
        _code_challenge_method: Query<Option<String>>,
    ) -> Result<ProviderRedirect, ApiError> {
        self.start(&provider.0, Entry::Nself, StartQuery::parse(req)).await
    }

    /// Provider callback (nself path)
    ///
    /// The same as `GET /signin/provider/{provider}/callback`.
    #[oai(path = "/oauth/:provider/callback", method = "get", operation_id = "oauthCallbackGet")]
    async fn oauth_callback_get(&self, req: &Request, provider: Path<String>) -> ProviderRedirect {
        self.callback(&provider.0, req, query_fields(req)).await
    }

    /// Sign in with an ID token
    ///
    /// An ID token an app got from Apple's or Google's SDK on the device, with the raw nonce it generated
    /// (the token carries its SHA-256 in hex). Signs up, or joins the account of an address the provider
    /// verified, as the browser flow does. A refused token is 400 `invalid-request`.
    #[oai(path = "/signin/idtoken", method = "post", operation_id = "signInIdToken")]
    async fn signin_id_token(
        &self,
        body: JsonBody<SignInIdTokenRequest>,
    ) -> Result<Json<SignInResponseBody>, ApiError> {
        let body = body.0;
        let options: SignupOptions = body.options.unwrap_or_default().into();
        let request =
            IdTokenRequest { provider: body.provider.name().into(), id_token: body.id_token.0, nonce: body.nonce };
        let signed_in = flows::id_token::sign_in(&self.state, request, options).await?;
        Ok(Json(signed_in.into()))
    }

    /// Redeem a mobile sign-in code
    ///
    /// The one-time `code` a sign-in started with `code_challenge` returned to the app, with the verifier
    /// the challenge was made from. Works once, within three minutes; a wrong verifier spends the code.
    #[oai(path = "/token/exchange", method = "post", operation_id = "exchangeToken")]
    async fn token_exchange(&self, body: JsonBody<TokenExchangeRequest>) -> Result<Json<SessionPayload>, ApiError> {
        let body = body.0;
        let session = flows::providers::redeem_exchange_code(
            &self.state,
            body.code.0.expose_secret(),
            body.code_verifier.0.expose_secret(),
            None,
        )
        .await?;
        Ok(Json(SessionPayload { session: Some(session.into()) }))
    }

    /// Redeem a mobile sign-in code (nself path)
    ///
    /// The same as `POST /token/exchange`, in nself's shape: `token` is the access token, next to the
    /// session's fields.
    #[oai(path = "/oauth/:provider/token", method = "post", operation_id = "oauthToken")]
    async fn oauth_token(
        &self,
        provider: Path<String>,
        body: JsonBody<NselfTokenRequest>,
    ) -> Result<Json<NselfTokenResponse>, ApiError> {
        let body = body.0;
        let session = flows::providers::redeem_exchange_code(
            &self.state,
            body.code.0.expose_secret(),
            body.code_verifier.0.expose_secret(),
            Some(&provider.0),
        )
        .await?;
        let session: SessionBody = session.into();
        Ok(Json(NselfTokenResponse { token: session.access_token.clone(), session }))
    }

    /// Provider callback, form post (nself path)
    #[oai(path = "/oauth/:provider/callback", method = "post", operation_id = "oauthCallbackPost")]
    async fn oauth_callback_post(
        &self,
        req: &Request,
        provider: Path<String>,
        form: Form<CallbackForm>,
    ) -> Result<ProviderRedirect, ApiError> {
        Ok(self.callback(&provider.0, req, form.0.into_fields()).await)
    }
}

/// The providers whose apps sign in with an ID token.
#[derive(poem_openapi::Enum, serde::Deserialize, Clone, Copy)]
#[oai(rename = "IdTokenProvider", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum IdTokenProvider {
    Apple,
    Google,
}

impl IdTokenProvider {
    fn name(self) -> &'static str {
        match self {
            IdTokenProvider::Apple => "apple",
            IdTokenProvider::Google => "google",
        }
    }
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "SignInIdTokenRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInIdTokenRequest {
    pub provider: IdTokenProvider,
    /// The ID token from the provider's SDK.
    pub id_token: SecretField,
    /// The raw nonce the app generated; the token's `nonce` claim is its SHA-256 in hex.
    pub nonce: Option<String>,
    pub options: Option<SignUpOptionsBody>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "LinkIdTokenRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkIdTokenRequest {
    pub provider: IdTokenProvider,
    /// The ID token from the provider's SDK.
    pub id_token: SecretField,
    /// The raw nonce the app generated; the token's `nonce` claim is its SHA-256 in hex.
    pub nonce: Option<String>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "TokenExchangeRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenExchangeRequest {
    /// The one-time code the sign-in returned to the app.
    pub code: SecretField,
    /// The PKCE verifier the app's `code_challenge` was made from.
    pub code_verifier: SecretField,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "OauthTokenRequest", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct NselfTokenRequest {
    /// The one-time code the sign-in returned to the app.
    pub code: SecretField,
    /// The PKCE verifier the app's `code_challenge` was made from.
    pub code_verifier: SecretField,
}

/// nself's answer: `token` is the access token; the session's fields come with it.
#[derive(Object)]
#[oai(rename = "OauthTokenResponse")]
pub struct NselfTokenResponse {
    /// The access token.
    pub token: String,
    #[oai(flatten)]
    pub session: SessionBody,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "LinkProviderRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkRequest {
    /// Where the browser returns after linking.
    pub redirect_to: Option<String>,
}

#[derive(Object)]
#[oai(rename = "LinkProviderResponse")]
pub struct LinkResponse {
    /// Open this URL in the same browser within ten minutes; it works once.
    pub url: String,
}

/// A linked provider as its user sees it.
#[derive(Object)]
#[oai(rename = "LinkedProvider", rename_all = "camelCase")]
pub struct LinkedProvider {
    pub provider: String,
    pub provider_user_id: String,
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
    /// When the stored access token expires, when the provider said.
    pub token_expires_at: Option<DateTime<Utc>>,
    /// The provider refused to refresh the token: sign in with it again.
    pub needs_reauthentication: bool,
}

#[derive(Object)]
#[oai(rename = "ProviderAccessToken", rename_all = "camelCase")]
pub struct ProviderTokenBody {
    pub provider: String,
    pub access_token: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<flows::provider_tokens::ProviderAccess> for ProviderTokenBody {
    fn from(access: flows::provider_tokens::ProviderAccess) -> Self {
        ProviderTokenBody {
            provider: access.provider_id,
            access_token: access.access_token.expose_secret().to_string(),
            expires_at: access.expires_at,
        }
    }
}

#[derive(ApiResponse)]
pub enum TokenResponse {
    /// A usable access token at the provider.
    #[oai(status = 200)]
    Ok(Json<ProviderTokenBody>, #[oai(header = "Cache-Control")] String),
}

fn token_response(access: flows::provider_tokens::ProviderAccess) -> TokenResponse {
    TokenResponse::Ok(Json(access.into()), "no-store".into())
}

pub struct ProviderUserApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Providers")]
impl ProviderUserApi {
    /// Link a provider
    ///
    /// Returns a one-time URL that links the provider to the caller when followed in this browser within
    /// ten minutes. The URL carries neither the user id nor an access token.
    #[oai(path = "/user/providers/:provider/link", method = "post", operation_id = "linkProvider")]
    async fn link(
        &self,
        auth: BearerAuth,
        provider: Path<String>,
        body: JsonBody<LinkRequest>,
    ) -> Result<Json<LinkResponse>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        let claims = &bearer.claims;
        let url = flows::providers::link_url(
            &self.state,
            claims.user_id,
            claims.is_anonymous,
            &provider.0,
            body.0.redirect_to.as_deref(),
        )
        .await?;
        Ok(Json(LinkResponse { url }))
    }

    /// Link a provider with an ID token
    ///
    /// Links the identity in an ID token from Apple's or Google's SDK on the device to the caller. Refused
    /// when that identity belongs to another user (409 `provider-already-linked`).
    #[oai(path = "/link/idtoken", method = "post", operation_id = "linkIdToken")]
    async fn link_id_token(
        &self,
        auth: BearerAuth,
        body: JsonBody<LinkIdTokenRequest>,
    ) -> Result<Json<String>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        let body = body.0;
        let request =
            IdTokenRequest { provider: body.provider.name().into(), id_token: body.id_token.0, nonce: body.nonce };
        flows::id_token::link(&self.state, bearer.claims.user_id, bearer.claims.is_anonymous, request).await?;
        Ok(Json("OK".to_string()))
    }

    /// List linked providers
    #[oai(path = "/user/providers", method = "get", operation_id = "listProviders")]
    async fn list(&self, auth: BearerAuth) -> Result<Json<Vec<LinkedProvider>>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        let linked = flows::provider_tokens::list(&self.state, bearer.claims.user_id).await?;
        Ok(Json(
            linked
                .into_iter()
                .map(|identity| LinkedProvider {
                    provider: identity.provider_id,
                    provider_user_id: identity.provider_user_id,
                    email: identity.email,
                    linked_at: identity.linked_at,
                    token_expires_at: identity.token_expires_at,
                    needs_reauthentication: identity.needs_reauthentication,
                })
                .collect(),
        ))
    }

    /// Unlink a provider
    ///
    /// Refused when it is the last way to sign in. The provider's grant is revoked where it supports that.
    #[oai(path = "/user/providers/:provider", method = "delete", operation_id = "unlinkProvider")]
    async fn unlink(&self, auth: BearerAuth, provider: Path<String>) -> Result<Json<String>, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        flows::elevation::ensure(&self.state, &bearer).await?;
        flows::provider_tokens::unlink(&self.state, bearer.claims.user_id, &provider.0).await?;
        Ok(Json("OK".to_string()))
    }

    /// The caller's access token at a provider
    ///
    /// Refreshed first when it has expired and the provider gave a refresh token.
    #[oai(path = "/user/providers/:provider/token", method = "get", operation_id = "getProviderToken")]
    async fn token(&self, auth: BearerAuth, provider: Path<String>) -> Result<TokenResponse, ApiError> {
        let bearer = flows::session::authenticate(&self.state, &auth.0.token)?;
        let access = flows::provider_tokens::access_token(&self.state, bearer.claims.user_id, &provider.0).await?;
        Ok(token_response(access))
    }

    /// A user's access token at a provider (admin)
    ///
    /// For backends holding the Hasura admin secret (`x-hasura-admin-secret`).
    #[oai(path = "/admin/users/:id/providers/:provider/token", method = "get", operation_id = "getUserProviderToken")]
    async fn admin_token(
        &self,
        #[oai(name = "x-hasura-admin-secret")] admin_secret: poem_openapi::param::Header<Option<String>>,
        id: Path<Uuid>,
        provider: Path<String>,
    ) -> Result<TokenResponse, ApiError> {
        super::hasura::require_admin_secret(&self.state, admin_secret.0.as_deref())?;
        let access = flows::provider_tokens::access_token(&self.state, id.0, &provider.0).await?;
        Ok(token_response(access))
    }
}
