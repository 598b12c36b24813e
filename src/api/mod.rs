//! The HTTP edge: the only module that imports poem. One API struct per tag of the reference API; handlers
//! parse the request into domain values, call one flow and map the result. `routes` adds the OpenAPI
//! document (`/openapi.json`), a human docs page (`/docs`), CORS and the request context middleware, all
//! under the configured route prefix.
pub mod account;
pub mod admin;
pub mod anonymous;
pub mod audit;
pub mod authentication;
pub mod body;
pub mod config;
pub mod context;
pub mod elevation;
pub mod error;
pub mod hasura;
pub mod mfa;
pub mod observe;
pub mod openapi;
pub mod passwordless;
pub mod pat;
pub mod providers;
pub mod rate_limit;
pub mod redirect;
pub mod refresh_cookie;
pub mod schemas;
pub mod security;
pub mod session;
pub mod system;
pub mod user;
pub mod verify;

use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::state::AppState;

#[derive(Tags)]
pub enum ApiTags {
    /// Sign-up and sign-in.
    Authentication,
    /// Token refresh, verification and sign-out.
    Session,
    /// The signed-in user's account.
    User,
    /// Health, version and public keys.
    System,
    /// Endpoints the Hasura GraphQL engine calls: the auth webhook and the action handler.
    Hasura,
    /// Personal access tokens and other credentials of the signed-in user.
    Security,
    /// The links users follow from their mailbox.
    Verification,
    /// Sign-in with OAuth/OIDC providers and the user's linked providers.
    Providers,
    /// Administration of users, roles and permissions (admin secret or an admin's token).
    Admin,
}

pub type Apis = (
    authentication::AuthenticationApi,
    session::SessionApi,
    user::UserApi,
    system::SystemApi,
    hasura::HasuraApi,
    anonymous::AnonymousApi,
    pat::PatSigninApi,
    pat::PatSecurityApi,
    pat::PatListApi,
    passwordless::PasswordlessApi,
    account::AccountApi,
    verify::VerifyApi,
    providers::ProviderSigninApi,
    providers::ProviderUserApi,
    // A tuple of more than 16 is not an `OpenApi`: the account-security and admin APIs are one member.
    (
        mfa::MfaUserApi,
        mfa::MfaSigninApi,
        elevation::ElevationApi,
        audit::AuditUserApi,
        audit::AuditAdminApi,
        admin::AdminApi,
    ),
);

/// The OpenAPI service (also used to write the committed `openapi.json`).
pub fn service(state: &AppState) -> OpenApiService<Apis, ()> {
    let apis = (
        authentication::AuthenticationApi { state: state.clone() },
        session::SessionApi { state: state.clone() },
        user::UserApi { state: state.clone() },
        system::SystemApi { state: state.clone() },
        hasura::HasuraApi { state: state.clone() },
        anonymous::AnonymousApi { state: state.clone() },
        pat::PatSigninApi { state: state.clone() },
        pat::PatSecurityApi { state: state.clone() },
        pat::PatListApi { state: state.clone() },
        passwordless::PasswordlessApi { state: state.clone() },
        account::AccountApi { state: state.clone() },
        verify::VerifyApi { state: state.clone() },
        providers::ProviderSigninApi { state: state.clone() },
        providers::ProviderUserApi { state: state.clone() },
        (
            mfa::MfaUserApi { state: state.clone() },
            mfa::MfaSigninApi { state: state.clone() },
            elevation::ElevationApi { state: state.clone() },
            audit::AuditUserApi { state: state.clone() },
            audit::AuditAdminApi { state: state.clone() },
            admin::AdminApi { state: state.clone() },
        ),
    );
    OpenApiService::new(apis, "hauth", env!("CARGO_PKG_VERSION"))
        .description("Authentication for the Hasura GraphQL engine, API-compatible with nhost hasura-auth.")
        .server(state.config.http.server_url.as_str().trim_end_matches('/'))
}

/// Every route of the service.
pub fn routes(state: AppState) -> impl Endpoint<Output = poem::Response> {
    let api = service(&state);
    let generated = api.spec();
    let document = openapi::publish(&generated, &state.config);
    let document_json = document.to_string();
    // The docs page embeds the document; it gets the published one instead of the generated one.
    let docs_page = api.redoc_html().replacen(&generated, &document_json, 1);
    let prefix = state.config.http.api_prefix.clone();
    let allowed = std::sync::Arc::new(openapi::AllowedMethods::new(&document, &prefix));
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder().content_type("application/json; charset=utf-8").body(document_json.clone())
    });
    let docs = poem::endpoint::make_sync(move |_| poem::web::Html(docs_page.clone()));
    let inner = Route::new().at("/openapi.json", spec).at("/docs", docs).nest("/", api);
    let route = if prefix.is_empty() { inner } else { Route::new().nest(prefix, inner) };
    // Browser clients (the nhost SDK) call from their own origin with a bearer token, never with cookies:
    // any origin may call, and no credentials are allowed cross-origin.
    let route = route.with(poem::middleware::Cors::new().allow_credentials(false));
    route.around(move |next, req| {
        let allowed = allowed.clone();
        let state = state.clone();
        async move { Ok(context::with_request_context(next, req, &state, &allowed).await) }
    })
}
