//! Bearer access tokens: the `BearerAuth` security scheme for endpoints that require one, and a reader for
//! endpoints where the bearer is optional (`/signout`, `/token/verify`).
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

/// Bearer authentication with a JWT access token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "BearerAuth")]
pub struct BearerAuth(pub Bearer);

/// The bearer token of the `Authorization` header, if any.
pub fn optional_bearer(req: &Request) -> Option<&str> {
    let value = req.header("authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}
