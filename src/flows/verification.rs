//! Email verification and the links users follow from their mailbox (`/verify`).
//!
//! Following a link is two steps so that mail scanners which prefetch links cannot use them up: the GET
//! only checks the ticket and shows a page that submits itself (a browser continues at once; a scanner,
//! which runs no script, stops there), and the POST uses the ticket once and redirects to `redirectTo`
//! with `refreshToken` and `type`. Failures redirect too, with `error` and `errorDescription`.
use super::email_change;
use super::session::{SigninMethod, complete_signin};
use super::tickets::{self, LinkKind, LinkRequest};
use crate::db;
use crate::domain::Email;
use crate::domain::redirect::RedirectPolicy;
use crate::error::AuthError;
use crate::state::AppState;

pub fn redirect_policy(state: &AppState) -> &RedirectPolicy {
    &state.redirects
}

/// `POST /user/email/send-verification-email`. Every address gets the same answer: the lookup and the mail
/// happen after it, and nothing is sent to unknown, already verified or disabled accounts.
pub fn send_verification_email(state: &AppState, email: Email, redirect_to: Option<&str>) -> Result<(), AuthError> {
    let redirect_to = redirect_policy(state).resolve(redirect_to)?;
    let background = state.clone();
    state
        .background
        .spawn("verification email", async move { send_verification_link(&background, email, redirect_to).await });
    Ok(())
}

async fn send_verification_link(state: &AppState, email: Email, redirect_to: String) -> Result<(), AuthError> {
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let Some(user) = tickets::enabled_user_by_email(&transaction, email.as_str()).await? else {
        return Ok(());
    };
    if user.email_verified {
        return Err(AuthError::EmailAlreadyVerified);
    }
    let to = user.email.clone().unwrap_or_default();
    tickets::send_link(
        state,
        &transaction,
        LinkRequest {
            kind: LinkKind::VerifyEmail,
            user: &user,
            to: &to,
            redirect_to: &redirect_to,
            new_email: None,
            old_email: None,
        },
    )
    .await?;
    db::commit(transaction).await
}

/// Where a followed link ends: the redirect target, and the query parameters of success (`refreshToken`,
/// `type`) or the error, which the HTTP edge turns into `error` and `errorDescription`.
pub struct LinkOutcome {
    pub redirect_to: String,
    pub result: Result<Vec<(&'static str, String)>, AuthError>,
}

/// The redirect target of a link: the given one if allowed, else the client URL with an error.
fn target(state: &AppState, redirect_to: Option<&str>) -> Result<String, LinkOutcome> {
    let policy = redirect_policy(state);
    policy
        .resolve(redirect_to)
        .map_err(|error| LinkOutcome { redirect_to: policy.default.clone().unwrap_or_default(), result: Err(error) })
}

/// `GET /verify`: checks the ticket without using it. `Ok` means "show the confirmation page".
pub async fn check_link(state: &AppState, ticket: &str, redirect_to: Option<&str>) -> Result<String, LinkOutcome> {
    let redirect_to = target(state, redirect_to)?;
    let checked = match db::client(&state.pool).await {
        Ok(client) => tickets::peek_link(&client, ticket, state.clock.now()).await,
        Err(error) => Err(error),
    };
    match checked {
        Ok(_) => Ok(redirect_to),
        Err(error) => Err(LinkOutcome { redirect_to, result: Err(error) }),
    }
}

/// `POST /verify`: uses the ticket once and signs the user in.
pub async fn follow_link(state: &AppState, ticket: &str, redirect_to: Option<&str>) -> LinkOutcome {
    let redirect_to = match target(state, redirect_to) {
        Ok(redirect_to) => redirect_to,
        Err(outcome) => return outcome,
    };
    let result = use_link(state, ticket, &redirect_to).await.map(|(kind, mut query)| {
        query.push(("type", kind.prefix().to_string()));
        query
    });
    LinkOutcome { redirect_to, result }
}

async fn use_link(
    state: &AppState,
    ticket: &str,
    redirect_to: &str,
) -> Result<(LinkKind, Vec<(&'static str, String)>), AuthError> {
    let now = state.clock.now();
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    let (kind, code) = tickets::consume_link(&transaction, ticket, now).await?;
    let method = match kind {
        LinkKind::VerifyEmail => SigninMethod::VerifyEmailLink,
        LinkKind::PasswordlessEmail => SigninMethod::MagicLink,
        LinkKind::PasswordReset => {
            super::lockout::unlock(&transaction, code.user_id).await?;
            SigninMethod::PasswordResetLink
        }
        LinkKind::EmailConfirmChange => {
            let new_email = code.payload["newEmail"].as_str().ok_or(AuthError::InvalidTicket)?;
            email_change::confirm_change(state, &transaction, code.user_id, new_email, redirect_to).await?;
            SigninMethod::EmailChangeLink
        }
        LinkKind::EmailRevertChange => {
            email_change::revert_change(state, &transaction, code.user_id, &code.payload).await?;
            SigninMethod::EmailRevertLink
        }
    };
    let user = db::users::select_user_by_id(&transaction, code.user_id).await?.ok_or(AuthError::InvalidTicket)?;
    let signed_in = complete_signin(state, &transaction, user, method).await?;
    db::commit(transaction).await?;
    Ok((kind, signed_in.redirect_query()))
}
