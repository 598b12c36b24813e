//! Tag `verification`: the links users follow from their mailbox. `GET /verify` checks the ticket without
//! using it and answers a small page that submits itself (browsers continue at once; link scanners, which
//! run no script, stop there); `POST /verify` uses the ticket and redirects to `redirectTo` with
//! `refreshToken` and `type`, or with `error` and `errorDescription`. A browser never gets raw JSON.
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::{Form, Html, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::error::ErrorBody;
use crate::flows::verification::{self, LinkOutcome};
use crate::mail::text::escape_html;
use crate::state::AppState;

#[derive(ApiResponse)]
pub enum VerifyResponse {
    /// Back to the application, signed in or with an error.
    #[oai(status = 302)]
    Redirect(#[oai(header = "Location")] String, #[oai(header = "Cache-Control")] String),
    /// A page that confirms the link in the browser (so mail scanners cannot use it up).
    #[oai(status = 200)]
    Confirm(
        Html<String>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Referrer-Policy")] String,
        #[oai(header = "Content-Security-Policy")] String,
    ),
    /// The ticket is missing or the form is malformed.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// A form posted from another site (the confirmation page posts from this service's own origin).
    #[oai(status = 403)]
    CrossSite(Json<ErrorBody>),
    /// The form is too large.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not a form.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// Too many attempts from this address (rate limits); `Retry-After` says when to try again.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
}

/// Whether the browser says the form comes from another site: `Sec-Fetch-Site` other than `same-origin`
/// or `none` (typed in, opened from a mail client), or an `Origin` other than this service's. Clients that
/// send neither header (no browser) are not affected.
fn cross_site(req: &Request, own_origin: &str) -> bool {
    let fetch_site = req.header("sec-fetch-site").map(str::to_ascii_lowercase);
    if fetch_site.is_some_and(|site| site != "same-origin" && site != "none") {
        return true;
    }
    req.header("origin").is_some_and(|origin| !origin.eq_ignore_ascii_case(own_origin))
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "VerifyTicketForm")]
pub struct VerifyForm {
    pub ticket: String,
    #[oai(rename = "redirectTo")]
    #[serde(rename = "redirectTo")]
    pub redirect_to: Option<String>,
}

fn redirect(outcome: LinkOutcome) -> VerifyResponse {
    let params = match outcome.result {
        Ok(params) => params,
        Err(error) => super::redirect::error_params(error),
    };
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    VerifyResponse::Redirect(super::redirect::location(&outcome.redirect_to, &params), "no-store".into())
}

fn confirm_page(ticket: &str, redirect_to: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Continue</title></head>
<body style="font-family: sans-serif; text-align: center; margin-top: 4em">
<form id="verify" method="post" action="verify">
<input type="hidden" name="ticket" value="{ticket}">
<input type="hidden" name="redirectTo" value="{redirect_to}">
<button type="submit" style="font-size: 1.2em; padding: .6em 1.4em">Continue</button>
</form>
<script>document.getElementById("verify").submit();</script>
</body></html>
"#,
        ticket = escape_html(ticket),
        redirect_to = escape_html(redirect_to),
    )
}

pub struct VerifyApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Verification")]
impl VerifyApi {
    /// Verify email and authentication tickets
    ///
    /// Checks the ticket without using it; answers a page that confirms it with `POST /verify`, or
    /// redirects to `redirectTo` with `error` when the ticket is not valid.
    #[oai(path = "/verify", method = "get", operation_id = "verifyTicket")]
    async fn verify_get(
        &self,
        ticket: Query<String>,
        /// Deprecated and ignored; the ticket says what it is for.
        #[oai(name = "type")]
        _link_type: Query<Option<String>>,
        #[oai(name = "redirectTo")] redirect_to: Query<Option<String>>,
    ) -> VerifyResponse {
        match verification::check_link(&self.state, &ticket.0, redirect_to.0.as_deref()).await {
            Ok(redirect_to) => VerifyResponse::Confirm(
                Html(confirm_page(&ticket.0, &redirect_to)),
                "no-store".into(),
                "no-referrer".into(),
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'".into(),
            ),
            Err(outcome) => redirect(outcome),
        }
    }

    /// Use a ticket
    ///
    /// Uses the ticket once and redirects to `redirectTo` with `refreshToken` and `type`, or with `error`
    /// and `errorDescription`.
    #[oai(path = "/verify", method = "post", operation_id = "verifyTicketConfirm")]
    async fn verify_post(&self, req: &Request, form: Form<VerifyForm>) -> VerifyResponse {
        let own_origin = self.state.config.http.server_url.origin().ascii_serialization();
        if cross_site(req, &own_origin) {
            tracing::warn!("a ticket was posted to /verify from another site; refused");
            return VerifyResponse::CrossSite(Json(ErrorBody {
                status: 403,
                error: "cross-site-request".into(),
                message: "Tickets are only accepted from this service's own confirmation page".into(),
            }));
        }
        redirect(verification::follow_link(&self.state, &form.0.ticket, form.0.redirect_to.as_deref()).await)
    }
}
