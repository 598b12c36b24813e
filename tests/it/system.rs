//! Health, version, the JWKS, the OpenAPI document and docs page, the route prefix, and the JSON error shape
//! of unknown routes, wrong methods (with `Allow`) and internal faults.
use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::app::Reply;

#[tokio::test]
async fn healthz_answers_get_and_head() {
    let app = TestApp::spawn().await;
    let reply = app.get("/healthz", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!("OK"));
    let head = app.client.head("/healthz").send().await;
    head.assert_status_is_ok();
}

#[tokio::test]
async fn version_reports_the_package_version() {
    let app = TestApp::spawn().await;
    let reply = app.get("/version", None).await;
    assert_eq!(reply.body, json!({"version": env!("CARGO_PKG_VERSION")}));
}

#[tokio::test]
async fn hmac_configurations_publish_an_empty_jwks_with_a_max_age() {
    let app = TestApp::spawn_with(&[("AUTH_JWKS_MAX_AGE", "120")]).await;
    let reply = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"keys": []}));
    assert_eq!(reply.headers["cache-control"], "public, max-age=120");
    assert_eq!(reply.headers["content-type"], "application/json");
}

#[tokio::test]
async fn openapi_document_and_docs_page_are_served() {
    let app = TestApp::spawn().await;
    let spec = app.get("/openapi.json", None).await;
    assert_eq!(spec.status, StatusCode::OK);
    for (path, method, operation) in [
        ("/signup/email-password", "post", "signUpEmailPassword"),
        ("/signin/email-password", "post", "signInEmailPassword"),
        ("/token", "post", "refreshToken"),
        ("/token/verify", "post", "verifyToken"),
        ("/signout", "post", "signOut"),
        ("/user", "get", "getUser"),
        ("/.well-known/jwks.json", "get", "getJWKs"),
        ("/healthz", "get", "healthCheckGet"),
        ("/version", "get", "getVersion"),
    ] {
        assert_eq!(spec.body["paths"][path][method]["operationId"], operation, "{method} {path}");
    }
    let docs = app.client.get("/docs").send().await;
    docs.assert_status_is_ok();
    let html = docs.0.into_body().into_string().await.unwrap();
    assert!(html.contains("<html") || html.contains("<!DOCTYPE"), "docs page is HTML");
    assert!(html.contains(r#""additionalProperties":false"#), "the docs page shows the published document");
}

#[tokio::test]
async fn the_openapi_document_says_what_the_service_does() {
    let app = TestApp::spawn_with(&[("AUTH_PASSWORD_MIN_LENGTH", "9")]).await;
    let spec = app.get("/openapi.json", None).await.body;
    let schema = |name: &str| spec["components"]["schemas"][name].clone();
    let response = |path: &str, method: &str, status: &str| spec["paths"][path][method]["responses"][status].clone();

    // The JWKS is an object with a key list, as served.
    let jwks = response("/.well-known/jwks.json", "get", "200");
    assert_eq!(jwks["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/JWKSet");
    assert_eq!(schema("JWKSet")["properties"]["keys"]["type"], "array");
    // Values that may be null say so.
    assert_eq!(schema("User")["properties"]["activeMfaType"]["nullable"], true);
    assert_eq!(schema("SignInEmailPasswordResponse")["properties"]["mfa"]["nullable"], true);
    // Every answer the service gives is documented.
    for status in ["302", "200", "400"] {
        assert!(response("/verify", "get", status).is_object(), "GET /verify {status}");
    }
    for status in ["302", "400", "403", "413", "415"] {
        assert!(response("/verify", "post", status).is_object(), "POST /verify {status}");
    }
    for status in ["200", "400", "401", "413", "415"] {
        assert!(response("/hasura/actions", "post", status).is_object(), "actions {status}");
    }
    // Validation rules are published.
    let signup = schema("SignUpEmailPasswordRequest");
    assert_eq!(signup["additionalProperties"], false);
    assert_eq!(signup["properties"]["email"]["format"], "email");
    assert_eq!(signup["properties"]["password"]["minLength"], 9);
    let longest = hauth::domain::password::PASSWORD_MAX_CHARS;
    assert!(longest >= 64, "passphrases fit");
    assert_eq!(signup["properties"]["password"]["maxLength"], longest);
    assert_eq!(schema("SignUpOptions")["additionalProperties"], false);
    assert_eq!(schema("SignUpOptions")["properties"]["metadata"]["type"], "object");
    assert!(schema("SignInEmailPasswordRequest")["properties"]["password"].get("minLength").is_none());
    assert!(schema("WebhookRequest").get("additionalProperties").is_none_or(|v| v != false), "Hasura may add fields");
    // A real parser agrees the document is valid JSON with an OpenAPI version.
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
}

#[tokio::test]
async fn api_prefix_moves_every_route() {
    let app = TestApp::spawn_with(&[("AUTH_API_PREFIX", "/v1")]).await;
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
    assert_eq!(app.signup("prefixed@example.com").await.status, StatusCode::OK);
    let unprefixed = app.client.get("/healthz").send().await;
    unprefixed.assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors_with_a_request_id() {
    let app = TestApp::spawn().await;
    let missing = app.get("/no-such-route", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "route-not-found");
    assert!(missing.headers.contains_key("x-request-id"));
    let wrong_method = app.get("/signin/email-password", None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.error_code(), "method-not-allowed");
    assert_eq!(wrong_method.headers["allow"], "POST");
    let verify = Reply::read(app.client.delete("/verify").send().await.0).await;
    assert_eq!(verify.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(verify.headers["allow"], "GET, HEAD, POST");
    let pat = Reply::read(app.client.get(format!("/user/pats/{}", uuid::Uuid::new_v4())).send().await.0).await;
    assert_eq!(pat.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(pat.headers["allow"], "DELETE");
}

#[tokio::test]
async fn an_internal_fault_returns_only_a_request_id() {
    let app = TestApp::spawn().await;
    // Break the database under the running app: the fault is internal, the client learns nothing about it.
    app.db.connect().await.batch_execute("alter table auth.users rename to users_gone").await.unwrap();
    let reply = app.signup("fault@example.com").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.error_code(), "internal-server-error");
    let request_id = reply.headers["x-request-id"].to_str().unwrap();
    assert!(reply.body["message"].as_str().unwrap().contains(request_id));
    assert!(!reply.text.contains("users"), "no internals in {}", reply.text);
}

#[tokio::test]
async fn browsers_on_any_origin_may_call_with_a_bearer_but_never_with_credentials() {
    let app = TestApp::spawn().await;
    let preflight = app
        .client
        .options("/token")
        .header("origin", "http://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type, authorization")
        .send()
        .await
        .0;
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers.get("access-control-allow-origin").unwrap(), "http://app.example");
    assert!(headers.get("access-control-allow-credentials").is_none());
    let reply = app.client.get("/healthz").header("origin", "http://app.example").send().await.0;
    assert_eq!(reply.headers().get("access-control-allow-origin").unwrap(), "http://app.example");
}
