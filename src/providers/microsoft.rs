//! Microsoft Entra ID (OpenID Connect, v2 endpoints under a tenant: `common` by default). A multi-tenant
//! issuer is a template, `https://login.microsoftonline.com/{tenantid}/v2.0`, filled from each token's
//! `tid` before it is compared. The user is the token's `oid` (stable within the directory). Entra does not
//! guarantee `email` is verified: it counts only when `xms_edov` says so or it is the verified primary
//! address. A refresh token comes with `offline_access`; each refresh returns a new one.

use super::config::ProviderSettings;
use super::oauth::ClientAuth;
use super::oidc::{IssuerCheck, KeySet};
use super::{
    Adapter, Answer, Endpoints, Facts, Identity, ProviderError, ProviderFuture, Registration, Revocation, url_or,
};

const LOGIN: &str = "https://login.microsoftonline.com";

pub struct Microsoft {
    registration: Registration,
    keys: KeySet,
    issuer: IssuerCheck,
    /// A specific tenant (not `common`, `organizations` or `consumers`): tokens of others are refused.
    pinned_tenant: Option<String>,
}

impl Microsoft {
    pub fn new(settings: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Microsoft> {
        let overrides = &settings.endpoints;
        let tenant = if settings.tenant.is_empty() { "common" } else { settings.tenant.as_str() };
        let endpoints = Endpoints {
            authorize: url_or(&overrides.authorization, &format!("{LOGIN}/{tenant}/oauth2/v2.0/authorize"))?,
            token: url_or(&overrides.token, &format!("{LOGIN}/{tenant}/oauth2/v2.0/token"))?,
            revocation: Revocation::None,
        };
        let template = overrides.issuer.clone().unwrap_or_else(|| format!("{LOGIN}/{{tenantid}}/v2.0"));
        let pinned_tenant =
            (!matches!(tenant, "common" | "organizations" | "consumers")).then(|| tenant.to_ascii_lowercase());
        let facts = Facts::standard(settings, ClientAuth::Post, &["openid", "profile", "email", "offline_access"]);
        Ok(Microsoft {
            keys: KeySet::new(url_or(&overrides.jwks, &format!("{LOGIN}/{tenant}/discovery/v2.0/keys"))?, http.clone()),
            registration: Registration::new(settings, facts, endpoints, http),
            issuer: IssuerCheck::Tenant(template),
            pinned_tenant,
        })
    }
}

impl Adapter for Microsoft {
    fn registration(&self) -> &Registration {
        &self.registration
    }

    fn identify<'a>(&'a self, answer: Answer<'a>) -> ProviderFuture<'a, Identity> {
        Box::pin(async move {
            let claims = super::id_token_claims(&self.keys, &self.registration, &self.issuer, &answer).await?;
            let extra = &claims.additional_claims().values;
            let tenant = extra.get("tid").and_then(|tid| tid.as_str()).unwrap_or_default().to_ascii_lowercase();
            if self.pinned_tenant.as_ref().is_some_and(|pinned| *pinned != tenant) {
                return Err(ProviderError::Identity(format!("a token of tenant {tenant} is not for this tenant")));
            }
            let user = extra.get("oid").and_then(|oid| oid.as_str()).unwrap_or(claims.subject().as_str()).to_string();
            let email = claims.email().map(|email| email.as_str().to_ascii_lowercase());
            let edov = match extra.get("xms_edov") {
                Some(serde_json::Value::Bool(flag)) => *flag,
                Some(serde_json::Value::String(flag)) => flag == "1" || flag.eq_ignore_ascii_case("true"),
                Some(serde_json::Value::Number(flag)) => flag.as_i64() == Some(1),
                _ => false,
            };
            let primary = extra.get("verified_primary_email").is_some_and(|verified| match verified {
                serde_json::Value::Array(addresses) => {
                    addresses.iter().any(|address| address.as_str().map(str::to_ascii_lowercase) == email)
                }
                serde_json::Value::String(address) => Some(address.to_ascii_lowercase()) == email,
                _ => false,
            });
            Ok(super::oidc::identity(&claims, user, edov || primary))
        })
    }
}
