//! Per-request context: a request id (the caller's `X-Request-Id` if it looks sane, else a new UUIDv7) in a
//! task-local and a tracing span, a bounded request body, the `X-Request-Id` response header, and the
//! conversion of every escaped error into the JSON error shape inside that context. Here, too, the client's
//! address is settled (`X-Forwarded-For` only from trusted proxies), the rate limits are counted, and each
//! request is counted and timed for `/metrics` by its route template, and the refresh-token cookie is read
//! and set.
use poem::http::{HeaderValue, StatusCode};
use poem::web::headers::{ContentLength, HeaderMapExt};
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;
use uuid::Uuid;

use super::error::{ApiError, error_response};
use super::openapi::AllowedMethods;
use crate::state::AppState;
use crate::telemetry::RequestInfo;

fn incoming_request_id(req: &Request) -> Option<String> {
    let id = req.header("x-request-id")?;
    let sane = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    sane.then(|| id.to_string())
}

async fn read_bounded_body(req: &mut Request, max_body_bytes: usize) -> Result<(), ApiError> {
    let too_large = || {
        ApiError::PayloadTooLarge(poem_openapi::payload::Json(super::error::ErrorBody {
            status: 413,
            error: "invalid-request".into(),
            message: format!("The request body is larger than {max_body_bytes} bytes"),
        }))
    };
    if let Some(ContentLength(length)) = req.headers().typed_get::<ContentLength>()
        && length > max_body_bytes as u64
    {
        return Err(too_large());
    }
    let bytes = req.take_body().into_bytes_limit(max_body_bytes).await.map_err(|e| match e {
        poem::error::ReadBodyError::PayloadTooLarge => too_large(),
        other => ApiError::invalid_request(format!("cannot read the request body: {other}")),
    })?;
    // An empty body is no body, whatever the headers say: endpoints with an optional body then see none
    // instead of failing on a missing content type.
    if bytes.is_empty() && req.header("content-type").is_none() {
        req.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    }
    req.set_body(bytes);
    Ok(())
}

/// The outermost middleware of every route.
pub async fn with_request_context<E: Endpoint>(
    next: E,
    mut req: Request,
    state: &AppState,
    allowed: &AllowedMethods,
) -> Response {
    let max_body_bytes = state.config.http.max_body_bytes;
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let peer = req.remote_addr().as_socket_addr().map(|address| address.ip());
    let client_ip = super::config::client_ip(peer, req.header("x-forwarded-for"), &state.config.http.trusted_proxies)
        .map(|ip| ip.to_string());
    let request_id = incoming_request_id(&req).unwrap_or_else(|| Uuid::now_v7().to_string());
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %req.uri().path());
    let started = std::time::Instant::now();
    let info = RequestInfo {
        id: request_id.clone(),
        ip: client_ip.clone(),
        user_agent: req.header("user-agent").map(|agent| agent.chars().take(512).collect()),
    };
    let route = allowed.template_for(&path).unwrap_or("unmatched");
    let route = route.strip_prefix(state.config.http.api_prefix.as_str()).unwrap_or(route);
    let response = crate::telemetry::with_request(info, async move {
        if let Err(error) = read_bounded_body(&mut req, max_body_bytes).await {
            return error.into_response();
        }
        let cookie = super::refresh_cookie::fill_request(state, route, &mut req).await;
        if state.rate_limiter.config.enabled {
            let limited = super::rate_limit::limited_request(state, &mut req, client_ip).await;
            if let Err(error) = crate::flows::rate_limit::check(state, &limited).await {
                return ApiError::from(error).into_response();
            }
        }
        let response = match next.call(req).await {
            Ok(response) => response.into_response(),
            Err(error) => error_response(error),
        };
        super::refresh_cookie::rewrite_response(state, route, cookie, response).await
    })
    .instrument(span.clone())
    .await;
    let mut response = super::observe::conceal(state, response).await;
    super::observe::record(state, route, method.as_str(), response.status(), started.elapsed().as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request served"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key("allow")
        && let Some(methods) = allowed.for_path(&path).and_then(|methods| HeaderValue::from_str(methods).ok())
    {
        response.headers_mut().insert("allow", methods);
    }
    response
}
