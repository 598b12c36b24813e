//! The OAuth 2.0 parts every provider shares, through the `oauth2` crate: the authorization URL (with state,
//! nonce, PKCE and the provider's extra parameters), the authorization-code and refresh-token grants with the
//! provider's client authentication, and the reading of their answers.
//!
//! Providers answer errors in their own ways: RFC 6749 error bodies, GitHub's and Slack's HTTP 200 with an
//! `error` field, or a bare 5xx. Each is sorted here into a refusal the client can act on
//! ([`ProviderError::Refused`], e.g. `invalid_grant`) or an outage worth retrying
//! ([`ProviderError::Unavailable`], with the HTTP status and `Retry-After` when there was one).
use std::sync::{Arc, Mutex};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{Authorization, ProviderError, TokenSet};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
}

/// A token endpoint's answer, read the way providers really send it: RFC 6749's fields plus the OpenID
/// Connect ID token, with `scope` as a space- or comma-joined string (LinkedIn joins with commas) or a JSON
/// array (Twitch), and `token_type` in any case or missing (read as `bearer`).
#[derive(Debug, Deserialize, Serialize)]
pub struct TokenAnswer {
    access_token: AccessToken,
    #[serde(default = "bearer", deserialize_with = "token_type")]
    token_type: BasicTokenType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<RefreshToken>,
    #[serde(default, deserialize_with = "scopes", skip_serializing_if = "Option::is_none")]
    scope: Option<Vec<Scope>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

fn token_type<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<BasicTokenType, D::Error> {
    let raw = String::deserialize(deserializer)?;
    Ok(match raw.to_ascii_lowercase().as_str() {
        "bearer" => BasicTokenType::Bearer,
        "mac" => BasicTokenType::Mac,
        _ => BasicTokenType::Extension(raw),
    })
}

fn scopes<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<Scope>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scopes {
        Joined(String),
        Listed(Vec<String>),
    }
    let listed = match Option::<Scopes>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(Scopes::Joined(joined)) => joined.split([' ', ',']).map(str::to_string).collect(),
        Some(Scopes::Listed(listed)) => listed,
    };
    Ok(Some(listed.into_iter().filter(|scope| !scope.is_empty()).map(Scope::new).collect()))
}

impl TokenResponse for TokenAnswer {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<std::time::Duration> {
        self.expires_in.map(std::time::Duration::from_secs)
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scope.as_ref()
    }
}

type Client = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A client of one provider's OAuth 2.0 endpoints.
#[derive(Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub authorize_url: Url,
    pub token_url: Url,
    pub auth: ClientAuth,
    pub http: reqwest::Client,
}

/// The HTTP status and `Retry-After` of the last token-endpoint answer, which `oauth2` does not report.
#[derive(Debug, Clone, Copy, Default)]
struct Observed {
    status: Option<u16>,
    retry_after: Option<u64>,
}

/// A PKCE S256 challenge for `verifier`.
pub fn pkce_challenge(verifier: &str) -> String {
    PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.to_string())).as_str().to_string()
}

impl OAuthClient {
    fn client(&self, secret: Option<&SecretString>) -> Client {
        let mut client = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(self.authorize_url.clone()))
            .set_token_uri(TokenUrl::from_url(self.token_url.clone()))
            .set_auth_type(match self.auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::Post => AuthType::RequestBody,
            });
        if let Some(secret) = secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_string()));
        }
        client
    }

    /// The URL the browser is sent to.
    pub fn authorization_url(
        &self,
        authorization: &Authorization<'_>,
        scopes: &[String],
        extra: &[(&str, &str)],
    ) -> Result<Url, ProviderError> {
        let redirect = RedirectUrl::new(authorization.redirect_uri.to_string())
            .map_err(|e| ProviderError::Unsupported(format!("callback URL: {e}")))?;
        let client = self.client(None).set_redirect_uri(redirect);
        let state = authorization.state.to_string();
        let mut request = client.authorize_url(move || CsrfToken::new(state));
        request = request.add_scopes(scopes.iter().map(|scope| Scope::new(scope.clone())));
        if let Some(nonce) = authorization.nonce {
            request = request.add_extra_param("nonce", nonce.to_string());
        }
        if let Some(challenge) = authorization.pkce_challenge {
            request = request
                .add_extra_param("code_challenge", challenge.to_string())
                .add_extra_param("code_challenge_method", "S256");
        }
        for (name, value) in extra {
            request = request.add_extra_param(*name, *value);
        }
        Ok(request.url().0)
    }

    /// The authorization-code grant.
    pub async fn exchange_code(
        &self,
        secret: Option<&SecretString>,
        code: &str,
        verifier: Option<&str>,
        redirect_uri: &str,
    ) -> Result<TokenSet, ProviderError> {
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| ProviderError::Unsupported(format!("callback URL: {e}")))?;
        let client = self.client(secret).set_redirect_uri(redirect);
        let observed = Arc::new(Mutex::new(Observed::default()));
        let http = self.observing_http(observed.clone());
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_string()));
        if let Some(verifier) = verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()));
        }
        let answer = request.request_async(&http).await;
        token_set(answer, &observed)
    }

    /// The refresh-token grant.
    pub async fn refresh(
        &self,
        secret: Option<&SecretString>,
        refresh_token: &SecretString,
    ) -> Result<TokenSet, ProviderError> {
        let client = self.client(secret);
        let observed = Arc::new(Mutex::new(Observed::default()));
        let http = self.observing_http(observed.clone());
        let token = oauth2::RefreshToken::new(refresh_token.expose_secret().to_string());
        let answer = client.exchange_refresh_token(&token).request_async(&http).await;
        token_set(answer, &observed)
    }

    /// An HTTP client for `oauth2` that also notes the answer's status and `Retry-After`.
    fn observing_http(
        &self,
        observed: Arc<Mutex<Observed>>,
    ) -> impl Fn(
        HttpRequest,
    )
        -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, reqwest::Error>> + Send>> {
        let http = self.http.clone();
        move |request: HttpRequest| {
            let http = http.clone();
            let observed = observed.clone();
            Box::pin(async move {
                let request = reqwest::Request::try_from(request)?;
                let response = http.execute(request).await?;
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.trim().parse::<u64>().ok());
                if let Ok(mut seen) = observed.lock() {
                    *seen = Observed { status: Some(status.as_u16()), retry_after };
                }
                let mut builder = http::Response::builder().status(status);
                for (name, value) in response.headers() {
                    builder = builder.header(name, value);
                }
                let body = response.bytes().await?.to_vec();
                Ok(builder.body(body).unwrap_or_default())
            })
        }
    }
}

/// Reads a token-endpoint answer, sorting failures into refusals and outages.
fn token_set<E: std::error::Error>(
    answer: Result<TokenAnswer, RequestTokenError<E, BasicErrorResponse>>,
    observed: &Mutex<Observed>,
) -> Result<TokenSet, ProviderError> {
    let seen = observed.lock().map(|seen| *seen).unwrap_or_default();
    match answer {
        Ok(answer) => Ok(TokenSet {
            access_token: SecretString::from(answer.access_token().secret().to_string()),
            refresh_token: answer.refresh_token().map(|token| SecretString::from(token.secret().to_string())),
            id_token: answer.id_token.clone(),
            expires_in: answer.expires_in().map(|lifetime| i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
            scopes: answer.scopes().map(|scopes| scopes.iter().map(|scope| scope.to_string()).collect()),
        }),
        Err(RequestTokenError::ServerResponse(error))
            if seen.status.is_none_or(|status| status < 500 && status != 429) =>
        {
            Err(ProviderError::Refused {
                code: error.error().as_ref().to_string(),
                description: error.error_description().cloned().unwrap_or_default(),
            })
        }
        Err(RequestTokenError::Parse(_, body)) => {
            // GitHub and Slack answer errors with HTTP 200 and an `error` field (Slack with `ok: false`);
            // Twitch answers 4xx with `{status, message}`.
            let body = serde_json::from_slice::<serde_json::Value>(&body).ok();
            let field = |name: &str| body.as_ref().and_then(|body| body.get(name)?.as_str().map(str::to_string));
            let refused_status = seen.status.is_none_or(|status| status < 500 && status != 429);
            let client_error = seen.status.is_some_and(|status| (400..500).contains(&status) && status != 429);
            match (field("error"), field("message")) {
                (Some(code), _) if refused_status => Err(ProviderError::Refused {
                    code,
                    description: field("error_description").or(field("message")).unwrap_or_default(),
                }),
                (None, Some(message)) if client_error => {
                    Err(ProviderError::Refused { code: "invalid_request".into(), description: message })
                }
                _ => Err(unavailable(seen, "unreadable answer from the token endpoint")),
            }
        }
        Err(RequestTokenError::ServerResponse(_)) => Err(unavailable(seen, "the token endpoint failed")),
        Err(RequestTokenError::Request(error)) => {
            Err(unavailable(seen, &format!("token endpoint unreachable: {error}")))
        }
        Err(RequestTokenError::Other(error)) => Err(unavailable(seen, &error)),
    }
}

fn unavailable(seen: Observed, detail: &str) -> ProviderError {
    ProviderError::Unavailable {
        detail: match seen.status {
            Some(status) => format!("{detail} (HTTP {status})"),
            None => detail.to_string(),
        },
        status: seen.status,
        retry_after: seen.retry_after,
    }
}

/// RFC 7009 revocation: `token=…` with the client's authentication. A provider answering 2xx revoked it.
pub async fn revoke(
    client: &OAuthClient,
    secret: Option<&SecretString>,
    url: &Url,
    token: &SecretString,
) -> Result<(), ProviderError> {
    let mut form = vec![("token", token.expose_secret().to_string())];
    let mut request = client.http.post(url.clone());
    match (client.auth, secret) {
        (ClientAuth::Basic, Some(secret)) => {
            request = request.basic_auth(&client.client_id, Some(secret.expose_secret()))
        }
        (_, secret) => {
            form.push(("client_id", client.client_id.clone()));
            if let Some(secret) = secret {
                form.push(("client_secret", secret.expose_secret().to_string()));
            }
        }
    }
    revocation_answer(request.form(&form).send().await)
}

/// A revocation endpoint's answer: any 2xx revoked the token; anything else is worth retrying later.
pub fn revocation_answer(answer: reqwest::Result<reqwest::Response>) -> Result<(), ProviderError> {
    let response = answer.map_err(|e| ProviderError::Unavailable {
        detail: format!("revocation endpoint unreachable: {e}"),
        status: None,
        retry_after: None,
    })?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(ProviderError::Unavailable {
            detail: "the revocation endpoint refused".into(),
            status: Some(response.status().as_u16()),
            retry_after: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> TokenAnswer {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    fn scope_names(answer: &TokenAnswer) -> Vec<String> {
        answer.scopes().map(|scopes| scopes.iter().map(|scope| scope.to_string()).collect()).unwrap_or_default()
    }

    #[test]
    fn scopes_are_read_however_providers_join_them() {
        let spaced = read(r#"{"access_token":"a","token_type":"Bearer","scope":"openid email"}"#);
        assert_eq!(scope_names(&spaced), ["openid", "email"]);
        let linkedin = read(r#"{"access_token":"a","token_type":"Bearer","scope":"email,openid,profile"}"#);
        assert_eq!(scope_names(&linkedin), ["email", "openid", "profile"]);
        let twitch = read(r#"{"access_token":"a","token_type":"bearer","scope":["openid","user:read:email"]}"#);
        assert_eq!(scope_names(&twitch), ["openid", "user:read:email"]);
        let none = read(r#"{"access_token":"a","token_type":"bearer","scope":null}"#);
        assert!(none.scopes().is_none());
    }

    #[test]
    fn token_type_is_case_insensitive_and_defaults_to_bearer() {
        assert_eq!(*read(r#"{"access_token":"a","token_type":"BEARER"}"#).token_type(), BasicTokenType::Bearer);
        assert_eq!(*read(r#"{"access_token":"a"}"#).token_type(), BasicTokenType::Bearer);
        let slack = read(r#"{"ok":true,"access_token":"xoxp-1","token_type":"Bearer","id_token":"x.y.z"}"#);
        assert_eq!(slack.id_token.as_deref(), Some("x.y.z"));
        assert!(serde_json::from_str::<TokenAnswer>(r#"{"ok":false,"error":"invalid_code"}"#).is_err());
    }
}
