//! Redirects back to the application: the target with the outcome appended as query parameters, and a
//! path on this service when no usable target is known. Flows that end in a browser (`/verify`, provider
//! callbacks) answer this way, never with raw JSON.
use url::Url;

use super::error::ApiError;
use crate::error::AuthError;

/// `redirect_to` with `params` appended.
pub fn location(redirect_to: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(redirect_to) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params.iter().copied());
            url.to_string()
        }
        // No usable client URL to go back to: a bare path on this service is the least surprising target.
        Err(_) => format!(
            "/?{}",
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter().copied()).finish()
        ),
    }
}

/// The `error` and `errorDescription` parameters of a failed flow (an internal fault is logged, and the
/// browser sees only its request id).
pub fn error_params(error: AuthError) -> Vec<(&'static str, String)> {
    let (_, body) = ApiError::from(error).into_parts();
    vec![("error", body.error), ("errorDescription", body.message)]
}
