//! The nine providers beyond Google, GitHub, Apple and Microsoft (Facebook, X, LinkedIn, Slack, Discord,
//! Twitch, GitLab, Bitbucket and Spotify) as one table of wire facts, [`CATALOG`], that the stand-in's shared
//! authorize and token endpoints consult: how the client must authenticate (X only with Basic, LinkedIn and
//! Twitch only in the body), what PKCE must look like (X requires S256, Discord takes only S256, LinkedIn
//! refuses a verifier, Bitbucket and Twitch ignore it, Spotify's confidential clients must not send one),
//! whether `redirect_uri` is required at the token endpoint, who signs id_tokens and echoes the nonce, how
//! refresh tokens rotate and what a rotation kills, and the shape of answers and errors (Slack's HTTP 200
//! `ok:false`, Twitch's `{status,message}` and `scope` array, LinkedIn's comma-joined scope, Bitbucket's
//! `scopes`, Facebook's `OAuthException`). What only one provider does (its profile API, its revocation) is a
//! small handler here, picked by the table.
use hmac::{Hmac, Mac};

use super::*;

/// The workspace of a Slack user whose `team_id` is not set.
pub const SLACK_DEFAULT_TEAM_ID: &str = "T0001";
/// The workspace name Slack's id_tokens carry.
const SLACK_TEAM_NAME: &str = "Stand-in Workspace";

/// How the client must authenticate at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ClientAuthRule {
    /// `Authorization: Basic` only (X's confidential clients): credentials in the body are refused.
    BasicOnly,
    /// `client_id` and `client_secret` in the body only (LinkedIn, Twitch): Basic is refused.
    PostOnly,
    /// Either, but not both at once.
    Either,
}

/// What the provider does with PKCE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PkceRule {
    /// Every authorization request must carry an S256 challenge (X).
    RequiredS256,
    /// Checked when a challenge was sent; `s256_only` refuses `plain` (Discord).
    Optional { s256_only: bool },
    /// The parameters are ignored at authorize and at token (Bitbucket, Twitch).
    Ignored,
    /// A `code_verifier` at the token endpoint is an `invalid_client` (LinkedIn web apps).
    VerifierRefused,
    /// PKCE is for public clients: a client authenticating with its secret must not send a verifier (Spotify).
    PublicClientsOnly,
}

/// When a code redemption yields a refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RefreshIssued {
    Always,
    /// Only when this scope was granted (X's `offline.access`).
    WithScope(&'static str),
    /// Only with token rotation on ([`ProviderStandin::token_rotation`]; Slack).
    WithTokenRotation,
}

/// What the refresh grant does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RefreshRule {
    /// No refresh tokens at all (Facebook, LinkedIn).
    Never,
    /// Each refresh answers with a new refresh token and the old one dies; `kills_access`: the grant's access
    /// tokens die too (GitLab).
    Rotating { issued: RefreshIssued, kills_access: bool },
    /// Spotify: a refresh answers without a refresh token (with a new one after
    /// [`ProviderStandin::token_rotation`]) and the old one keeps working.
    Kept,
}

/// How the token answer writes the granted scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ScopeStyle {
    /// `scope`, space-joined.
    Space,
    /// `scope`, comma-joined (LinkedIn).
    Comma,
    /// `scope`, a JSON array (Twitch).
    Array,
    /// `scopes`, space-joined (Bitbucket).
    PluralKey,
    /// No scope at all (Facebook, Slack).
    Absent,
}

/// A token answer's extra fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AnswerQuirk {
    /// Slack: `ok: true` on success (and `ok: false` with HTTP 200 on errors).
    SlackOk,
    /// GitLab (doorkeeper): `created_at`.
    CreatedAt,
    /// Bitbucket: `state: "authorization_code"`.
    BitbucketState,
}

/// The shape of token-endpoint and revocation errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ErrorStyle {
    /// RFC 6749 §5.2: `{error, error_description}` with a 4xx status.
    Rfc6749,
    /// HTTP 200 `{ok: false, error}`.
    Slack,
    /// `{status, message}`.
    Twitch,
    /// `{error: {message, type: "OAuthException", code, fbtrace_id}}`.
    Facebook,
}

/// How a revocation request must authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RevokeAuth {
    /// RFC 7009: the client authenticates as at the token endpoint (X with Basic only, LinkedIn in the body
    /// only, Discord and GitLab either way).
    Client,
    /// `client_id` in the form, no secret (Twitch).
    ClientId,
    /// Slack's `auth.revoke`: the token to revoke is the caller's, as the bearer or in the form.
    Bearer,
    /// The token as the bearer, with `appsecret_proof` (Facebook's `DELETE /me/permissions`).
    AppsecretProof,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Revocation {
    pub method: &'static str,
    pub path: &'static str,
    pub auth: RevokeAuth,
}

/// The provider's APIs the stand-in serves besides OAuth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Api {
    FacebookMe,
    TwitterMe,
    /// The standard OpenID userinfo (LinkedIn, GitLab).
    OidcUserinfo,
    SlackUserinfo,
    DiscordMe,
    TwitchUsers,
    TwitchValidate,
    BitbucketUser,
    BitbucketEmails,
    SpotifyMe,
}

/// An API endpoint: method, path, the setting hauth reads its URL from (if any), and the handler.
#[derive(Clone, Copy, Debug)]
pub(super) struct ApiRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub setting: Option<&'static str>,
    pub api: Api,
}

const fn api(method: &'static str, path: &'static str, setting: Option<&'static str>, api: Api) -> ApiRoute {
    ApiRoute { method, path, setting, api }
}

/// An OpenID provider's id_tokens.
#[derive(Clone, Copy, Debug)]
pub(super) struct Oidc {
    /// The issuer, relative to the stand-in's URL (`""`: the URL itself).
    pub issuer_path: &'static str,
    pub jwks_path: &'static str,
    /// LinkedIn does not put the nonce in its id_tokens.
    pub echoes_nonce: bool,
}

/// One provider, as data.
#[derive(Debug)]
pub(super) struct Facts {
    pub id: &'static str,
    pub display_name: &'static str,
    pub env_prefix: &'static str,
    pub authorize_path: &'static str,
    pub token_path: &'static str,
    pub client_auth: ClientAuthRule,
    pub pkce: PkceRule,
    /// The scopes the provider knows; any other is `invalid_scope`.
    pub known_scopes: &'static [&'static str],
    /// The scopes every grant has whatever is asked (Bitbucket fixes them on the consumer).
    pub fixed_scopes: Option<&'static [&'static str]>,
    /// A scope every authorization request must ask for (Slack's `openid`).
    pub required_scope: Option<&'static str>,
    /// The token endpoint takes a missing `redirect_uri` (one that is sent must still match).
    pub redirect_uri_optional_at_token: bool,
    /// The error page's text for an unregistered `redirect_uri`.
    pub redirect_mismatch: &'static str,
    pub oidc: Option<Oidc>,
    /// `expires_in` of access tokens; `None`: they never expire.
    pub access_token_lifetime: Option<i64>,
    pub refresh: RefreshRule,
    pub token_type: &'static str,
    pub scope_style: ScopeStyle,
    pub answer_quirk: Option<AnswerQuirk>,
    pub errors: ErrorStyle,
    pub revocation: Option<Revocation>,
    pub apis: &'static [ApiRoute],
    /// Prefixes of codes, access tokens and refresh tokens.
    pub token_prefixes: [&'static str; 3],
}

const PROFILE: Option<&str> = Some("USER_PROFILE_URL");

/// What most providers do; each entry of [`CATALOG`] says how its provider differs.
const STANDARD: Facts = Facts {
    id: "",
    display_name: "",
    env_prefix: "",
    authorize_path: "",
    token_path: "",
    client_auth: ClientAuthRule::Either,
    pkce: PkceRule::Optional { s256_only: false },
    known_scopes: &[],
    fixed_scopes: None,
    required_scope: None,
    redirect_uri_optional_at_token: false,
    redirect_mismatch: "",
    oidc: None,
    access_token_lifetime: None,
    refresh: RefreshRule::Rotating { issued: RefreshIssued::Always, kills_access: false },
    token_type: "Bearer",
    scope_style: ScopeStyle::Space,
    answer_quirk: None,
    errors: ErrorStyle::Rfc6749,
    revocation: None,
    apis: &[],
    token_prefixes: ["", "", ""],
};

pub(super) const CATALOG: [Facts; 9] = [
    Facts {
        id: "facebook",
        display_name: "Facebook",
        env_prefix: "AUTH_PROVIDER_FACEBOOK_",
        authorize_path: "/v22.0/dialog/oauth",
        token_path: "/v22.0/oauth/access_token",
        known_scopes: &["email", "public_profile", "user_friends", "user_birthday"],
        redirect_mismatch: "URL Blocked: This redirect failed because the redirect URI is not whitelisted in the app's \
                            Client OAuth Settings.",
        access_token_lifetime: Some(5_183_944),
        refresh: RefreshRule::Never,
        token_type: "bearer",
        scope_style: ScopeStyle::Absent,
        errors: ErrorStyle::Facebook,
        revocation: Some(Revocation {
            method: "DELETE",
            path: "/v22.0/me/permissions",
            auth: RevokeAuth::AppsecretProof,
        }),
        apis: &[api("GET", "/v22.0/me", PROFILE, Api::FacebookMe)],
        token_prefixes: ["AQ", "EAAG", ""],
        ..STANDARD
    },
    Facts {
        id: "twitter",
        display_name: "X",
        env_prefix: "AUTH_PROVIDER_TWITTER_",
        authorize_path: "/i/oauth2/authorize",
        token_path: "/2/oauth2/token",
        client_auth: ClientAuthRule::BasicOnly,
        pkce: PkceRule::RequiredS256,
        known_scopes: &["tweet.read", "users.read", "users.email", "offline.access", "follows.read"],
        redirect_mismatch: "Something went wrong. You weren't able to give access to the App. Go back and try \
                            logging in again.",
        access_token_lifetime: Some(7200),
        refresh: RefreshRule::Rotating { issued: RefreshIssued::WithScope("offline.access"), kills_access: false },
        token_type: "bearer",
        revocation: Some(Revocation { method: "POST", path: "/2/oauth2/revoke", auth: RevokeAuth::Client }),
        apis: &[api("GET", "/2/users/me", PROFILE, Api::TwitterMe)],
        ..STANDARD
    },
    Facts {
        id: "linkedin",
        display_name: "LinkedIn",
        env_prefix: "AUTH_PROVIDER_LINKEDIN_",
        authorize_path: "/oauth/v2/authorization",
        token_path: "/oauth/v2/accessToken",
        client_auth: ClientAuthRule::PostOnly,
        pkce: PkceRule::VerifierRefused,
        known_scopes: &["openid", "profile", "email", "w_member_social"],
        redirect_mismatch: "The redirect_uri does not match the registered value",
        oidc: Some(Oidc { issuer_path: "/oauth", jwks_path: "/oauth/openid/jwks", echoes_nonce: false }),
        access_token_lifetime: Some(5_184_000),
        refresh: RefreshRule::Never,
        scope_style: ScopeStyle::Comma,
        revocation: Some(Revocation { method: "POST", path: "/oauth/v2/revoke", auth: RevokeAuth::Client }),
        apis: &[api("GET", "/v2/userinfo", PROFILE, Api::OidcUserinfo)],
        token_prefixes: ["AQ", "AQV", "AQX"],
        ..STANDARD
    },
    Facts {
        id: "slack",
        display_name: "Slack",
        env_prefix: "AUTH_PROVIDER_SLACK_",
        authorize_path: "/openid/connect/authorize",
        token_path: "/api/openid.connect.token",
        known_scopes: &["openid", "email", "profile"],
        required_scope: Some("openid"),
        redirect_uri_optional_at_token: true,
        redirect_mismatch: "redirect_uri did not match any configured URIs.",
        oidc: Some(Oidc { issuer_path: "", jwks_path: "/openid/connect/keys", echoes_nonce: true }),
        access_token_lifetime: Some(43_200),
        refresh: RefreshRule::Rotating { issued: RefreshIssued::WithTokenRotation, kills_access: false },
        scope_style: ScopeStyle::Absent,
        answer_quirk: Some(AnswerQuirk::SlackOk),
        errors: ErrorStyle::Slack,
        revocation: Some(Revocation { method: "POST", path: "/api/auth.revoke", auth: RevokeAuth::Bearer }),
        apis: &[api("GET", "/api/openid.connect.userInfo", PROFILE, Api::SlackUserinfo)],
        token_prefixes: ["", "xoxp-", "xoxe-1-"],
        ..STANDARD
    },
    Facts {
        id: "discord",
        display_name: "Discord",
        env_prefix: "AUTH_PROVIDER_DISCORD_",
        authorize_path: "/oauth2/authorize",
        token_path: "/api/oauth2/token",
        pkce: PkceRule::Optional { s256_only: true },
        known_scopes: &["identify", "email", "guilds", "connections", "openid"],
        redirect_mismatch: "Invalid OAuth2 redirect_uri",
        access_token_lifetime: Some(604_800),
        revocation: Some(Revocation { method: "POST", path: "/api/oauth2/token/revoke", auth: RevokeAuth::Client }),
        apis: &[api("GET", "/api/v10/users/@me", PROFILE, Api::DiscordMe)],
        ..STANDARD
    },
    Facts {
        id: "twitch",
        display_name: "Twitch",
        env_prefix: "AUTH_PROVIDER_TWITCH_",
        authorize_path: "/oauth2/authorize",
        token_path: "/oauth2/token",
        client_auth: ClientAuthRule::PostOnly,
        pkce: PkceRule::Ignored,
        known_scopes: &["openid", "user:read:email", "user:read:follows", "channel:read:subscriptions"],
        redirect_mismatch: "redirect_mismatch: Parameter redirect_uri does not match registered URI",
        oidc: Some(Oidc { issuer_path: "/oauth2", jwks_path: "/oauth2/keys", echoes_nonce: true }),
        access_token_lifetime: Some(14_400),
        token_type: "bearer",
        scope_style: ScopeStyle::Array,
        errors: ErrorStyle::Twitch,
        revocation: Some(Revocation { method: "POST", path: "/oauth2/revoke", auth: RevokeAuth::ClientId }),
        apis: &[
            api("GET", "/helix/users", PROFILE, Api::TwitchUsers),
            api("GET", "/oauth2/validate", None, Api::TwitchValidate),
        ],
        ..STANDARD
    },
    Facts {
        id: "gitlab",
        display_name: "GitLab",
        env_prefix: "AUTH_PROVIDER_GITLAB_",
        authorize_path: "/oauth/authorize",
        token_path: "/oauth/token",
        known_scopes: &["openid", "email", "profile", "read_user", "api", "read_api"],
        redirect_mismatch: "The redirect URI included is not valid.",
        oidc: Some(Oidc { issuer_path: "", jwks_path: "/oauth/discovery/keys", echoes_nonce: true }),
        access_token_lifetime: Some(7200),
        refresh: RefreshRule::Rotating { issued: RefreshIssued::Always, kills_access: true },
        answer_quirk: Some(AnswerQuirk::CreatedAt),
        revocation: Some(Revocation { method: "POST", path: "/oauth/revoke", auth: RevokeAuth::Client }),
        apis: &[api("GET", "/oauth/userinfo", PROFILE, Api::OidcUserinfo)],
        ..STANDARD
    },
    Facts {
        id: "bitbucket",
        display_name: "Bitbucket",
        env_prefix: "AUTH_PROVIDER_BITBUCKET_",
        authorize_path: "/site/oauth2/authorize",
        token_path: "/site/oauth2/access_token",
        pkce: PkceRule::Ignored,
        known_scopes: &[],
        fixed_scopes: Some(&["account", "email"]),
        redirect_uri_optional_at_token: true,
        redirect_mismatch: "Invalid redirect_uri: this URL must match your app's callback URL.",
        access_token_lifetime: Some(7200),
        token_type: "bearer",
        scope_style: ScopeStyle::PluralKey,
        answer_quirk: Some(AnswerQuirk::BitbucketState),
        apis: &[
            api("GET", "/2.0/user", PROFILE, Api::BitbucketUser),
            api("GET", "/2.0/user/emails", Some("USER_EMAILS_URL"), Api::BitbucketEmails),
        ],
        ..STANDARD
    },
    Facts {
        id: "spotify",
        display_name: "Spotify",
        env_prefix: "AUTH_PROVIDER_SPOTIFY_",
        authorize_path: "/authorize",
        token_path: "/api/token",
        pkce: PkceRule::PublicClientsOnly,
        known_scopes: &["user-read-email", "user-read-private", "playlist-read-private", "user-library-read"],
        redirect_mismatch: "INVALID_CLIENT: Invalid redirect URI",
        access_token_lifetime: Some(3600),
        refresh: RefreshRule::Kept,
        apis: &[api("GET", "/v1/me", PROFILE, Api::SpotifyMe)],
        token_prefixes: ["AQ", "BQ", "AQ"],
        ..STANDARD
    },
];

/// The facts of the catalog provider with this id.
pub(super) fn facts_of(id: &str) -> &'static Facts {
    CATALOG.iter().find(|facts| facts.id == id).expect("a provider of the catalog")
}

impl Facts {
    /// The settings that point hauth at a stand-in on `base`.
    pub(super) fn env(&self, base: &str) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("AUTHORIZATION_URL", format!("{base}{}", self.authorize_path)),
            ("TOKEN_URL", format!("{base}{}", self.token_path)),
        ];
        for route in self.apis {
            if let Some(setting) = route.setting {
                env.push((setting, format!("{base}{}", route.path)));
            }
        }
        if let Some(oidc) = &self.oidc {
            env.push(("JWKS_URL", format!("{base}{}", oidc.jwks_path)));
            env.push(("ISSUER", format!("{base}{}", oidc.issuer_path)));
        }
        if let Some(revocation) = &self.revocation {
            env.push(("REVOCATION_URL", format!("{base}{}", revocation.path)));
        }
        env
    }

    pub(super) fn issuer(&self, base: &str) -> String {
        format!("{base}{}", self.oidc.map(|oidc| oidc.issuer_path).unwrap_or_default())
    }

    /// A fresh code (0), access token (1) or refresh token (2) in the provider's style.
    pub(super) fn new_credential(&self, which: usize) -> String {
        format!("{}{}", self.token_prefixes[which], random_urlsafe(if which == 0 { 24 } else { 40 }))
    }

    /// The lifetime of the access tokens issued now.
    pub(super) fn access_token_lifetime(&self, state: &State) -> Option<i64> {
        let rotation_only =
            matches!(self.refresh, RefreshRule::Rotating { issued: RefreshIssued::WithTokenRotation, .. });
        if rotation_only && !state.token_rotation {
            // Slack's tokens never expire unless token rotation is on.
            return None;
        }
        state.access_token_lifetime.or(self.access_token_lifetime)
    }

    /// Whether redeeming a code granted `scopes` yields a refresh token.
    pub(super) fn code_grants_refresh_token(&self, scopes: &[String], state: &State) -> bool {
        match self.refresh {
            RefreshRule::Never => false,
            RefreshRule::Kept => true,
            RefreshRule::Rotating { issued: RefreshIssued::Always, .. } => true,
            RefreshRule::Rotating { issued: RefreshIssued::WithScope(scope), .. } => scopes.iter().any(|s| s == scope),
            RefreshRule::Rotating { issued: RefreshIssued::WithTokenRotation, .. } => state.token_rotation,
        }
    }

    /// Whether a refresh answers with a new refresh token.
    pub(super) fn refresh_issues_refresh_token(&self, state: &State) -> bool {
        match self.refresh {
            RefreshRule::Never => false,
            RefreshRule::Kept => state.token_rotation,
            RefreshRule::Rotating { .. } => true,
        }
    }

    /// What a refresh kills: the presented refresh token, and with it the access tokens (GitLab).
    pub(super) fn retire_on_refresh(&self, state: &mut State, refresh_token: &str, grant: u64) {
        match self.refresh {
            RefreshRule::Rotating { kills_access: true, .. } => state.revoke_grant(grant),
            RefreshRule::Rotating { kills_access: false, .. } => {
                if let Some(record) = state.refresh_tokens.get_mut(refresh_token) {
                    record.revoked = true;
                }
            }
            RefreshRule::Never | RefreshRule::Kept => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Routing

pub(super) async fn route(shared: &Shared, facts: &'static Facts, incoming: &Incoming) -> Response {
    let method = incoming.method.as_str();
    let path = incoming.path.as_str();
    if method == "GET" && path == facts.authorize_path {
        return authorize(shared, incoming, None);
    }
    if method == "POST" && path == facts.token_path {
        return token_endpoint(shared, incoming, None).await;
    }
    if let Some(oidc) = &facts.oidc {
        if method == "GET" && path == oidc.jwks_path {
            return jwks(shared);
        }
        if method == "GET" && path == format!("{}/.well-known/openid-configuration", oidc.issuer_path) {
            return json_response(StatusCode::OK, discovery(shared, facts));
        }
    }
    if let Some(revocation) = facts.revocation.filter(|r| r.method == method && r.path == path) {
        return revoke(shared, facts, revocation.auth, incoming);
    }
    match facts.apis.iter().find(|route| route.method == method && route.path == path) {
        Some(route) => serve_api(shared, facts, route.api, incoming),
        None => not_found(shared.kind),
    }
}

fn discovery(shared: &Shared, facts: &Facts) -> Value {
    let base = &shared.base_url;
    let userinfo =
        facts.apis.iter().find(|route| route.setting == PROFILE).map(|route| format!("{base}{}", route.path));
    let auth_methods = match facts.client_auth {
        ClientAuthRule::BasicOnly => vec!["client_secret_basic"],
        ClientAuthRule::PostOnly => vec!["client_secret_post"],
        ClientAuthRule::Either => vec!["client_secret_post", "client_secret_basic"],
    };
    json!({
        "issuer": facts.issuer(base),
        "authorization_endpoint": format!("{base}{}", facts.authorize_path),
        "token_endpoint": format!("{base}{}", facts.token_path),
        "userinfo_endpoint": userinfo,
        "revocation_endpoint": facts.revocation.map(|r| format!("{base}{}", r.path)),
        "jwks_uri": facts.oidc.map(|oidc| format!("{base}{}", oidc.jwks_path)),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": facts.known_scopes,
        "token_endpoint_auth_methods_supported": auth_methods,
        "claims_parameter_supported": facts.id == "twitch",
    })
}

// ---------------------------------------------------------------------------------------------------------
// Authorize

/// Checks the parts of an authorization request the shared endpoint does not: `response_type`, known and
/// required scopes, Twitch's `claims`. `Err((error, description))` is sent back to the redirect URI.
pub(super) fn check_authorize(facts: &Facts, params: &Params, scopes: &[String]) -> Result<(), (String, String)> {
    let refuse = |error: &str, description: String| Err((error.to_string(), description));
    if params.get("response_type") != Some("code") {
        return refuse("unsupported_response_type", "response_type must be code".to_string());
    }
    if facts.fixed_scopes.is_none() {
        if let Some(unknown) = scopes.iter().find(|s| !facts.known_scopes.contains(&s.as_str())) {
            return refuse("invalid_scope", format!("Invalid scope: {unknown}"));
        }
        if scopes.is_empty() {
            return refuse("invalid_scope", "Missing required parameter: scope".to_string());
        }
    }
    if let Some(required) = facts.required_scope
        && !scopes.iter().any(|s| s == required)
    {
        return refuse("invalid_scope", format!("The {required} scope is required"));
    }
    if params.get("claims").is_some() && requested_claims(params).is_none() {
        return refuse("invalid_request", "claims must be a JSON object".to_string());
    }
    Ok(())
}

/// The id_token claims asked for with OpenID's `claims` parameter (Twitch returns only those).
pub(super) fn requested_claims(params: &Params) -> Option<Vec<String>> {
    let claims: Value = serde_json::from_str(params.get("claims")?).ok()?;
    let id_token = claims.as_object()?.get("id_token").cloned().unwrap_or(json!({}));
    Some(id_token.as_object()?.keys().cloned().collect())
}

/// The provider's PKCE rule at the authorize step, before the challenge itself is read: `Ok(false)` when the
/// parameters are to be ignored.
pub(super) fn pkce_at_authorize(facts: &Facts, challenge: Option<&str>, method: Option<&str>) -> Result<bool, String> {
    match facts.pkce {
        PkceRule::Ignored | PkceRule::VerifierRefused => Ok(false),
        PkceRule::RequiredS256 if challenge.is_none() => Err("Missing required parameter [code_challenge].".into()),
        PkceRule::RequiredS256 | PkceRule::Optional { s256_only: true }
            if challenge.is_some() && method != Some("S256") =>
        {
            Err("code_challenge_method must be S256".into())
        }
        _ => Ok(true),
    }
}

/// Whether the challenge must be S256 (no `plain`).
pub(super) fn s256_only(facts: &Facts) -> bool {
    matches!(facts.pkce, PkceRule::RequiredS256 | PkceRule::Optional { s256_only: true })
}

/// The provider's PKCE rule at the token endpoint, before the verifier is checked against the challenge:
/// `Ok(false)` when the verifier is to be ignored. The client registered at a stand-in is confidential.
pub(super) fn pkce_at_token(facts: &Facts, form: &Params) -> Result<bool, TokenError> {
    let verifier = form.get("code_verifier");
    match facts.pkce {
        PkceRule::Ignored => Ok(false),
        PkceRule::VerifierRefused if verifier.is_some() => Err(refusal(facts, Refusal::VerifierNotAllowed)),
        PkceRule::VerifierRefused => Ok(false),
        PkceRule::PublicClientsOnly if verifier.is_some() => Err(refusal(facts, Refusal::VerifierNotAllowed)),
        _ => Ok(true),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Client authentication and errors

/// The reasons a token request is refused, each worded the provider's way by [`refusal`].
#[derive(Clone, Debug)]
pub(super) enum Refusal {
    /// The client authenticated in a way this provider does not take.
    WrongAuthMethod,
    UnknownClient,
    BadSecret,
    /// A missing or unknown code, or an expired one.
    BadCode,
    ReusedCode,
    RedirectMismatch,
    Pkce(String),
    /// LinkedIn's web apps and Spotify's confidential clients take no verifier.
    VerifierNotAllowed,
    BadRefreshToken,
}

/// A refusal in the provider's words: the RFC 6749 code (Slack's own code), a description (Twitch's and
/// Facebook's message) and the status.
pub(super) fn refusal(facts: &Facts, reason: Refusal) -> TokenError {
    let (status, rfc, slack, message): (u16, &'static str, &'static str, String) = match (&reason, facts.id) {
        (Refusal::WrongAuthMethod, "twitter") => {
            (401, "unauthorized_client", "", "Missing valid authorization header".into())
        }
        (Refusal::WrongAuthMethod, "twitch") => (400, "invalid_client", "", "missing client secret".into()),
        (Refusal::WrongAuthMethod, "linkedin") => {
            (400, "invalid_request", "", "A required parameter \"client_id\" is missing".into())
        }
        (Refusal::WrongAuthMethod, _) => (
            400,
            "invalid_request",
            "invalid_arguments",
            "The client authenticated with more than one method, or with none.".into(),
        ),
        (Refusal::UnknownClient, "twitch") => (400, "invalid_client", "", "invalid client".into()),
        (Refusal::UnknownClient, _) => {
            (401, "invalid_client", "invalid_client_id", "Client authentication failed".into())
        }
        (Refusal::BadSecret, "twitch") => (403, "invalid_client", "", "invalid client secret".into()),
        (Refusal::BadSecret, "facebook") => (400, "invalid_client", "", "Error validating client secret.".into()),
        (Refusal::BadSecret, _) => (401, "invalid_client", "bad_client_secret", "Client authentication failed".into()),
        (Refusal::BadCode | Refusal::ReusedCode, "facebook") => (
            400,
            "invalid_grant",
            "",
            if matches!(reason, Refusal::ReusedCode) {
                "This authorization code has been used.".into()
            } else {
                "Invalid verification code format.".into()
            },
        ),
        (Refusal::BadCode | Refusal::ReusedCode, "twitch") => {
            (400, "invalid_grant", "", "Invalid authorization code".into())
        }
        (Refusal::BadCode, "twitter") => {
            (400, "invalid_request", "", "Value passed for the authorization code was invalid.".into())
        }
        (Refusal::ReusedCode, _) => {
            (400, "invalid_grant", "code_already_used", "The authorization code has already been used.".into())
        }
        (Refusal::BadCode, _) => (
            400,
            "invalid_grant",
            "invalid_code",
            "The provided authorization grant is invalid, expired, revoked, or was issued to another client.".into(),
        ),
        (Refusal::RedirectMismatch, "facebook") => (
            400,
            "invalid_grant",
            "",
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used \
             in the OAuth dialog request"
                .into(),
        ),
        (Refusal::RedirectMismatch, "twitch") => {
            (400, "invalid_grant", "", "Parameter redirect_uri does not match registered URI".into())
        }
        (Refusal::RedirectMismatch, _) => (
            400,
            "invalid_grant",
            "bad_redirect_uri",
            "The redirect_uri does not match the one of the authorization request.".into(),
        ),
        (Refusal::Pkce(description), _) => (400, "invalid_grant", "invalid_code_verifier", description.clone()),
        (Refusal::VerifierNotAllowed, "linkedin") => (401, "invalid_client", "", "Client authentication failed".into()),
        (Refusal::VerifierNotAllowed, _) => {
            (400, "invalid_request", "invalid_arguments", "code_verifier was not expected.".into())
        }
        (Refusal::BadRefreshToken, "twitch") => (400, "invalid_grant", "", "Invalid refresh token".into()),
        (Refusal::BadRefreshToken, _) => {
            (400, "invalid_grant", "invalid_refresh_token", "Invalid refresh token.".into())
        }
    };
    let error = if facts.errors == ErrorStyle::Slack { slack } else { rfc };
    TokenError::new(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), error, message)
}

/// The Slack code of a refusal the shared endpoint made in RFC 6749 terms.
fn slack_code(rfc: &str) -> &str {
    match rfc {
        "invalid_request" => "invalid_arguments",
        "unsupported_grant_type" => "invalid_grant_type",
        "invalid_client" => "invalid_client_id",
        "invalid_grant" => "invalid_code",
        other => other,
    }
}

/// A token-endpoint refusal in the provider's shape.
pub(super) fn error_response(facts: &Facts, error: TokenError) -> Response {
    match facts.errors {
        ErrorStyle::Rfc6749 => {
            json_response(error.status, json!({"error": error.error, "error_description": error.description}))
        }
        ErrorStyle::Slack => json_response(StatusCode::OK, json!({"ok": false, "error": slack_code(error.error)})),
        ErrorStyle::Twitch => {
            json_response(error.status, json!({"status": error.status.as_u16(), "message": error.description}))
        }
        ErrorStyle::Facebook => facebook_error(error.status, &error.description, "OAuthException", 100),
    }
}

fn facebook_error(status: StatusCode, message: &str, kind: &str, code: u32) -> Response {
    json_response(
        status,
        json!({"error": {"message": message, "type": kind, "code": code, "fbtrace_id": random_alphanumeric(11)}}),
    )
}

/// Checks the client's credentials, sent the way the provider's rule allows.
pub(super) fn authenticate_client(
    shared: &Shared,
    facts: &Facts,
    incoming: &Incoming,
    form: &Params,
) -> Result<(), TokenError> {
    let basic = incoming.basic_credentials();
    let body_secret = form.get("client_secret");
    let (id, secret) = match (facts.client_auth, basic, body_secret) {
        (_, Some(Err(())), _) | (_, Some(Ok(_)), Some(_)) => return Err(refusal(facts, Refusal::WrongAuthMethod)),
        (ClientAuthRule::PostOnly, Some(Ok(_)), None) | (ClientAuthRule::BasicOnly, None, Some(_)) => {
            return Err(refusal(facts, Refusal::WrongAuthMethod));
        }
        (_, Some(Ok((id, secret))), None) => {
            if form.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(refusal(facts, Refusal::UnknownClient));
            }
            (id, secret)
        }
        (_, None, Some(secret)) => (form.get("client_id").unwrap_or_default().to_string(), secret.to_string()),
        (_, None, None) => return Err(refusal(facts, Refusal::WrongAuthMethod)),
    };
    if id != shared.client.client_id {
        return Err(refusal(facts, Refusal::UnknownClient));
    }
    if secret != shared.client.client_secret {
        return Err(refusal(facts, Refusal::BadSecret));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Token answers and id_tokens

/// A token answer's fields, in the provider's shape.
pub(super) fn token_fields(
    facts: &Facts,
    scopes: &[String],
    access_token: String,
    lifetime: Option<i64>,
    refresh_token: Option<String>,
) -> Vec<(&'static str, Value)> {
    let mut fields: Vec<(&'static str, Value)> = Vec::new();
    if facts.answer_quirk == Some(AnswerQuirk::SlackOk) {
        fields.push(("ok", json!(true)));
    }
    fields.push(("access_token", json!(access_token)));
    fields.push(("token_type", json!(facts.token_type)));
    if let Some(lifetime) = lifetime {
        fields.push(("expires_in", json!(lifetime)));
    }
    if let Some(refresh_token) = refresh_token {
        fields.push(("refresh_token", json!(refresh_token)));
    }
    match facts.scope_style {
        ScopeStyle::Space => fields.push(("scope", json!(scopes.join(" ")))),
        ScopeStyle::Comma => {
            let mut sorted = scopes.to_vec();
            sorted.sort();
            fields.push(("scope", json!(sorted.join(","))));
        }
        ScopeStyle::Array => fields.push(("scope", json!(scopes))),
        ScopeStyle::PluralKey => fields.push(("scopes", json!(scopes.join(" ")))),
        ScopeStyle::Absent => {}
    }
    match facts.answer_quirk {
        Some(AnswerQuirk::CreatedAt) => fields.push(("created_at", json!(now_seconds()))),
        Some(AnswerQuirk::BitbucketState) => fields.push(("state", json!("authorization_code"))),
        Some(AnswerQuirk::SlackOk) | None => {}
    }
    fields
}

/// A name as a handle (`Ada Lovelace` → `adalovelace`), or `user<id>`.
fn handle(user: &StandinUser) -> String {
    let name: String = user.name.as_deref().unwrap_or_default().chars().filter(char::is_ascii_alphanumeric).collect();
    if name.is_empty() { format!("user{}", user.id) } else { name.to_ascii_lowercase() }
}

/// Slack's user id (`U…`) of a stand-in user.
pub(super) fn slack_user_id(user_id: &str) -> String {
    if user_id.starts_with('U') { user_id.to_string() } else { format!("U{}", user_id.to_ascii_uppercase()) }
}

/// Bitbucket's `{uuid}` of a stand-in user (stable for the user's id).
pub fn bitbucket_uuid(user_id: &str) -> String {
    let digest = Sha256::digest(user_id.as_bytes());
    let uuid = uuid::Uuid::from_slice(&digest[..16]).expect("16 bytes");
    format!("{{{uuid}}}")
}

/// The claims of a catalog provider's id_token (or, `for_userinfo`, of its userinfo answer).
pub(super) fn id_token_claims(
    shared: &Shared,
    facts: &Facts,
    user: &StandinUser,
    scopes: &[String],
    requested: &[String],
    nonce: Option<&str>,
    for_userinfo: bool,
) -> serde_json::Map<String, Value> {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let now = now_seconds();
    let mut claims = serde_json::Map::new();
    let mut set = |name: &str, value: Value| {
        claims.insert(name.to_string(), value);
    };
    if !for_userinfo {
        set("iss", json!(facts.issuer(&shared.base_url)));
        set("aud", json!(shared.client.client_id));
        set("iat", json!(now));
        set("exp", json!(now + ID_TOKEN_LIFETIME));
        if let Some(nonce) = nonce.filter(|_| facts.oidc.is_some_and(|oidc| oidc.echoes_nonce)) {
            set("nonce", json!(nonce));
        }
    }
    let email = user.email.clone();
    let (given, family) = user
        .name
        .as_deref()
        .map(|name| name.split_once(' ').unwrap_or((name, "")))
        .map(|(given, family)| (given.to_string(), family.to_string()))
        .unwrap_or_default();
    match facts.id {
        "linkedin" => {
            set("sub", json!(user.id));
            if has("profile") {
                set("name", json!(user.name));
                set("given_name", json!(given));
                set("family_name", json!(family));
                set("picture", json!(user.picture));
                set("locale", json!("en_US"));
            }
            if has("email") && email.is_some() {
                set("email", json!(email));
                // LinkedIn writes the flag as a string.
                set("email_verified", json!(user.email_verified.to_string()));
            }
        }
        "slack" => {
            let team = user.team_id.clone().unwrap_or_else(|| SLACK_DEFAULT_TEAM_ID.to_string());
            set("sub", json!(slack_user_id(&user.id)));
            set("https://slack.com/user_id", json!(slack_user_id(&user.id)));
            set("https://slack.com/team_id", json!(team));
            set("https://slack.com/team_name", json!(SLACK_TEAM_NAME));
            if has("email") && email.is_some() {
                set("email", json!(email));
                set("email_verified", json!(user.email_verified));
                set("date_email_verified", json!(now - 86_400));
            }
            if has("profile") {
                set("name", json!(user.name));
                set("given_name", json!(given));
                set("family_name", json!(family));
                set("picture", json!(user.picture));
                set("locale", json!("en-US"));
            }
        }
        "twitch" => {
            set("sub", json!(user.id));
            set("azp", json!(shared.client.client_id));
            let wants = |claim: &str| for_userinfo || requested.iter().any(|c| c == claim);
            if wants("preferred_username") {
                set("preferred_username", json!(handle(user)));
            }
            if wants("picture") {
                set("picture", json!(user.picture));
            }
            if has("user:read:email") && email.is_some() {
                if wants("email") {
                    set("email", json!(email));
                }
                if wants("email_verified") {
                    set("email_verified", json!(user.email_verified));
                }
            }
        }
        "gitlab" => {
            set("sub", json!(user.id));
            if for_userinfo {
                set("name", json!(user.name));
                set("nickname", json!(handle(user)));
                set("preferred_username", json!(handle(user)));
                set("picture", json!(user.picture));
                set("profile", json!(format!("{}/{}", shared.base_url, handle(user))));
                set("groups", json!([]));
            } else {
                set("sub_legacy", json!(hex::encode(Sha256::digest(user.id.as_bytes()))));
                set("auth_time", json!(now));
                set("groups_direct", json!([]));
            }
            if has("email") && email.is_some() {
                set("email", json!(email));
                set("email_verified", json!(user.email_verified));
            }
        }
        other => panic!("{other} signs no id_tokens"),
    }
    claims
}

// ---------------------------------------------------------------------------------------------------------
// Revocation

fn revoke(shared: &Shared, facts: &Facts, auth: RevokeAuth, incoming: &Incoming) -> Response {
    let mut state = shared.state.lock().unwrap();
    state.calls.revocations += 1;
    let client = &shared.client;
    let form = incoming.form();
    let field = |name: &str| form.as_ref().and_then(|form| form.get(name)).map(str::to_string);
    let token = match auth {
        RevokeAuth::Bearer => incoming.bearer_token(false).map(str::to_string).or_else(|| field("token")),
        RevokeAuth::AppsecretProof => incoming.bearer_token(false).map(str::to_string),
        RevokeAuth::Client | RevokeAuth::ClientId => field("token"),
    };
    let authenticated = match auth {
        RevokeAuth::Client => match &form {
            Some(form) => authenticate_client(shared, facts, incoming, form),
            None => Err(refusal(facts, Refusal::WrongAuthMethod)),
        },
        RevokeAuth::ClientId if field("client_id").as_deref() == Some(client.client_id.as_str()) => Ok(()),
        RevokeAuth::ClientId => Err(refusal(facts, Refusal::UnknownClient)),
        RevokeAuth::Bearer => Ok(()),
        RevokeAuth::AppsecretProof => {
            let proof = token.as_deref().map(|token| appsecret_proof(&client.client_secret, token));
            if proof.is_none() || incoming.query.get("appsecret_proof") != proof.as_deref() {
                return facebook_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid appsecret_proof provided in the API argument",
                    "GraphMethodException",
                    100,
                );
            }
            Ok(())
        }
    };
    if let Err(error) = authenticated {
        return error_response(facts, error);
    }
    let grant = token.as_deref().and_then(|token| {
        let live = |record: &TokenRecord| !record.revoked;
        state
            .access_tokens
            .get(token)
            .filter(|record| live(record))
            .or_else(|| state.refresh_tokens.get(token).filter(|record| live(record)))
            .map(|record| record.grant.id)
    });
    if let Some(grant) = grant {
        state.revoke_grant(grant);
    }
    match (auth, grant) {
        (RevokeAuth::Bearer, Some(_)) => json_response(StatusCode::OK, json!({"ok": true, "revoked": true})),
        (RevokeAuth::Bearer, None) => json_response(StatusCode::OK, json!({"ok": false, "error": "invalid_auth"})),
        (RevokeAuth::AppsecretProof, Some(_)) => json_response(StatusCode::OK, json!({"success": true})),
        (RevokeAuth::AppsecretProof, None) => facebook_invalid_token(),
        (RevokeAuth::ClientId, None) => {
            json_response(StatusCode::BAD_REQUEST, json!({"status": 400, "message": "Invalid token"}))
        }
        (RevokeAuth::Client, _) if facts.id == "twitter" => json_response(StatusCode::OK, json!({"revoked": true})),
        // RFC 7009: an unknown token is answered like a revoked one.
        _ => json_response(StatusCode::OK, json!({})),
    }
}

/// Facebook's `appsecret_proof`: the hex HMAC-SHA256 of the access token keyed with the app secret.
pub fn appsecret_proof(app_secret: &str, access_token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes any key");
    mac.update(access_token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

// ---------------------------------------------------------------------------------------------------------
// Profile APIs

fn facebook_invalid_token() -> Response {
    facebook_error(
        StatusCode::BAD_REQUEST,
        "Invalid OAuth access token - Cannot parse access token",
        "OAuthException",
        190,
    )
}

fn serve_api(shared: &Shared, facts: &Facts, which: Api, incoming: &Incoming) -> Response {
    // Twitch's validate endpoint takes its `OAuth` scheme as well as Bearer.
    let token = incoming.bearer_token(false).or_else(|| {
        (which == Api::TwitchValidate).then(|| incoming.header("authorization")?.strip_prefix("OAuth ")).flatten()
    });
    let caller = token.and_then(|token| api_caller(shared, token).map(|(user, grant)| (token, user, grant)));
    let Some((token, user, grant)) = caller else {
        return unauthorized(which);
    };
    let scopes = &grant.scopes;
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let email = user.email.clone();
    match which {
        Api::FacebookMe => {
            let Some(proof) = incoming.query.get("appsecret_proof") else {
                return facebook_error(
                    StatusCode::BAD_REQUEST,
                    "API calls from the server require an appsecret_proof argument",
                    "GraphMethodException",
                    100,
                );
            };
            if proof != appsecret_proof(&shared.client.client_secret, token) {
                return facebook_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid appsecret_proof provided in the API argument",
                    "GraphMethodException",
                    100,
                );
            }
            let fields = incoming.query.get("fields").unwrap_or("id,name");
            let mut profile = serde_json::Map::new();
            for field in fields.split(',') {
                let value = match field {
                    "id" => json!(user.id),
                    "name" => json!(user.name),
                    "email" if has("email") && email.is_some() => json!(email),
                    "picture" => json!({"data": {"height": 50, "is_silhouette": user.picture.is_none(), "url":
                        user.picture.clone().unwrap_or_else(|| "https://static.xx.fbcdn.net/silhouette.png".into()),
                        "width": 50}}),
                    "email" => continue,
                    other => {
                        return facebook_error(
                            StatusCode::BAD_REQUEST,
                            &format!("(#100) Tried accessing nonexisting field ({other}) on node type (User)"),
                            "OAuthException",
                            100,
                        );
                    }
                };
                profile.insert(field.to_string(), value);
            }
            json_response(StatusCode::OK, Value::Object(profile))
        }
        Api::TwitterMe => {
            let fields: Vec<&str> = incoming.query.get("user.fields").unwrap_or_default().split(',').collect();
            let mut data = serde_json::Map::new();
            data.insert("id".into(), json!(user.id));
            data.insert("name".into(), json!(user.name.clone().unwrap_or_else(|| handle(&user))));
            data.insert("username".into(), json!(handle(&user)));
            if fields.contains(&"profile_image_url") {
                data.insert("profile_image_url".into(), json!(user.picture));
            }
            // X returns only a confirmed address, and only with users.email.
            if fields.contains(&"confirmed_email") && has("users.email") && user.email_verified && email.is_some() {
                data.insert("confirmed_email".into(), json!(email));
            }
            json_response(StatusCode::OK, json!({"data": data}))
        }
        Api::OidcUserinfo | Api::SlackUserinfo => {
            let mut claims = id_token_claims(shared, facts, &user, scopes, &[], None, true);
            if which == Api::SlackUserinfo {
                claims.insert("ok".into(), json!(true));
            }
            json_response(StatusCode::OK, Value::Object(claims))
        }
        Api::DiscordMe => {
            let mut profile = json!({
                "id": user.id,
                "username": handle(&user),
                "discriminator": "0",
                "global_name": user.name,
                "avatar": user.avatar_hash,
                "public_flags": 0,
                "flags": 0,
                "locale": "en-US",
                "mfa_enabled": false,
            });
            if has("email") {
                profile["email"] = json!(email);
                profile["verified"] = json!(user.email_verified);
            }
            json_response(StatusCode::OK, profile)
        }
        Api::TwitchUsers => {
            if incoming.header("client-id") != Some(shared.client.client_id.as_str()) {
                return json_response(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": "Unauthorized", "status": 401, "message": "Client ID and OAuth token do not match"}),
                );
            }
            let mut entry = json!({
                "id": user.id,
                "login": handle(&user),
                "display_name": user.name.as_deref().unwrap_or_default().replace(' ', ""),
                "type": "",
                "broadcaster_type": "",
                "description": "",
                "profile_image_url": user.picture,
                "offline_image_url": "",
                "view_count": 0,
                "created_at": "2020-01-01T00:00:00Z",
            });
            // Helix gives the (verified) address only with user:read:email.
            if has("user:read:email") && user.email_verified {
                entry["email"] = json!(email);
            }
            json_response(StatusCode::OK, json!({"data": [entry]}))
        }
        Api::TwitchValidate => {
            let expires_in = {
                let state = shared.state.lock().unwrap();
                state.access_tokens.get(token).and_then(|record| record.expires_at).map(|at| (at - now_millis()) / 1000)
            };
            json_response(
                StatusCode::OK,
                json!({"client_id": shared.client.client_id, "login": handle(&user), "scopes": scopes,
                       "user_id": user.id, "expires_in": expires_in.unwrap_or(0)}),
            )
        }
        Api::BitbucketUser => json_response(
            StatusCode::OK,
            json!({
                "type": "user",
                "uuid": bitbucket_uuid(&user.id),
                "account_id": format!("557058:{}", user.id),
                "display_name": user.name,
                "username": handle(&user),
                "nickname": handle(&user),
                "links": {"avatar": {"href": user.picture}},
                "created_on": "2020-01-01T00:00:00+00:00",
            }),
        ),
        Api::BitbucketEmails => {
            let values: Vec<Value> = email
                .iter()
                .map(|email| json!({"type": "email", "email": email, "is_primary": true, "is_confirmed": user.email_verified}))
                .chain(std::iter::once(json!({
                    "type": "email",
                    "email": format!("{}@users.noreply.bitbucket.example", handle(&user)),
                    "is_primary": false,
                    "is_confirmed": true,
                })))
                .collect();
            json_response(StatusCode::OK, json!({"pagelen": 10, "page": 1, "size": values.len(), "values": values}))
        }
        Api::SpotifyMe => {
            let images: Vec<Value> = user
                .picture
                .iter()
                .flat_map(|url| {
                    [
                        json!({"url": format!("{url}?size=64"), "height": 64, "width": 64}),
                        json!({"url": url, "height": 300, "width": 300}),
                    ]
                })
                .collect();
            let mut profile = json!({
                "id": user.id,
                "display_name": user.name,
                "images": images,
                "type": "user",
                "uri": format!("spotify:user:{}", user.id),
                "followers": {"href": null, "total": 0},
            });
            if has("user-read-email") {
                profile["email"] = json!(email);
            }
            json_response(StatusCode::OK, profile)
        }
    }
}

/// Each API's answer to a missing, unknown, expired or revoked token.
fn unauthorized(which: Api) -> Response {
    let (status, body) = match which {
        Api::FacebookMe => return facebook_invalid_token(),
        Api::TwitterMe => {
            (401, json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}))
        }
        Api::OidcUserinfo => {
            (401, json!({"error": "invalid_token", "error_description": "The access token is invalid"}))
        }
        Api::SlackUserinfo => (200, json!({"ok": false, "error": "invalid_auth"})),
        Api::DiscordMe => (401, json!({"message": "401: Unauthorized", "code": 0})),
        Api::TwitchUsers => (401, json!({"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"})),
        Api::TwitchValidate => (401, json!({"status": 401, "message": "invalid access token"})),
        Api::BitbucketUser | Api::BitbucketEmails => {
            (401, json!({"type": "error", "error": {"message": "Access token expired or invalid."}}))
        }
        Api::SpotifyMe => (401, json!({"error": {"status": 401, "message": "Invalid access token"}})),
    };
    json_response(StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED), body)
}
