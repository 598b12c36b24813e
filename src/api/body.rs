//! [`JsonBody`]: a JSON request body read with serde, so a refused body names the field at fault
//! (`options.allowedRoles: invalid type: string "x", expected a sequence`) instead of an internal type. Its
//! schema in the OpenAPI document still comes from the type's `Object` derive, so each request type derives
//! both, with the same names.
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::error::ParseRequestPayloadError;
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::de::DeserializeOwned;

/// A JSON request body; an empty body reads as `null` (so `JsonBody<Option<T>>` is an optional body).
pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        matches!(content_type.parse::<mime::Mime>(), Ok(mime) if mime.type_() == "application"
            && (mime.subtype() == "json" || mime.suffix().is_some_and(|suffix| suffix == "json")))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + DeserializeOwned> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        let data: &[u8] = if data.iter().all(u8::is_ascii_whitespace) { b"null" } else { &data };
        let mut deserializer = serde_json::Deserializer::from_slice(data);
        let value = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| ParseRequestPayloadError { reason: describe(&error) })?;
        deserializer.end().map_err(|error| ParseRequestPayloadError { reason: error.to_string() })?;
        Ok(JsonBody(value))
    }
}

poem_openapi::impl_apirequest_for_payload!(JsonBody<T>, T: Type + DeserializeOwned);

/// `field.path: what is wrong`, without serde's line and column (bodies are one line).
fn describe(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = error.inner();
    let message = inner.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) if inner.line() > 0 => message[..at].to_string(),
        _ => message,
    };
    let path = error.path().to_string();
    if path == "." || path.is_empty() { message } else { format!("{path}: {message}") }
}
