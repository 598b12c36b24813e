//! The `dev` provider: nothing is sent, the code is written to the log at info
//! level so a developer can sign in without an SMS account. This is the only place a code is ever logged.
use super::{CodeMessage, SmsFuture, SmsSender};

pub(crate) struct DevSender;

impl SmsSender for DevSender {
    fn name(&self) -> &'static str {
        "dev"
    }

    fn send_code<'a>(&'a self, message: CodeMessage<'a>) -> SmsFuture<'a, ()> {
        tracing::info!(
            to = %message.to,
            code = %message.code,
            body = %message.body,
            "DEV MODE SMS (the dev SMS provider): not sent, code logged for development only"
        );
        Box::pin(async { Ok(()) })
    }
}
