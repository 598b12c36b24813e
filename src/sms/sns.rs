//! AWS SNS `Publish` to a phone number over the Query API: `POST {base}/` with the form
//! `Action=Publish&Version=2010-03-31&PhoneNumber=…&Message=…` and message attributes (`AWS.SNS.SMS.SMSType`
//! = `Transactional`, `AWS.SNS.SMS.SenderID` when configured), signed with SigV4 for service `sns` by
//! `aws-sigv4`. SNS answers XML: `<PublishResponse><PublishResult><MessageId>` or
//! `<ErrorResponse><Error><Code>…</Code><Message>…</Message>`.
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use secrecy::{ExposeSecret, SecretString};

use super::config::SnsConfig;
use super::{CodeMessage, REQUEST_TIMEOUT, SmsError, SmsFuture, SmsSender, excerpt, transport_error};

const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
const SIGNING_NAME: &str = "sns";
/// SNS error codes meaning the number or message was refused, rather than hauth's credentials or a limit.
const REJECTED_CODES: [&str; 4] = ["InvalidParameter", "InvalidParameterValue", "ValidationError", "OptedOut"];

pub(crate) struct Sns {
    http: reqwest::Client,
    url: String,
    region: String,
    access_key_id: String,
    secret_access_key: SecretString,
    sender_id: Option<String>,
}

impl Sns {
    pub(crate) fn new(config: &SnsConfig, http: reqwest::Client) -> Self {
        Sns {
            http,
            url: format!("{}/", config.base_url),
            region: config.region.clone(),
            access_key_id: config.access_key_id.clone(),
            secret_access_key: config.secret_access_key.clone(),
            sender_id: config.sender_id.clone(),
        }
    }

    /// The form-encoded `Publish` body. Its exact bytes are signed.
    fn publish_body(&self, message: &CodeMessage<'_>) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", "Publish")
            .append_pair("Version", "2010-03-31")
            .append_pair("PhoneNumber", message.to.as_str())
            .append_pair("Message", message.body)
            .append_pair("MessageAttributes.entry.1.Name", "AWS.SNS.SMS.SMSType")
            .append_pair("MessageAttributes.entry.1.Value.DataType", "String")
            .append_pair("MessageAttributes.entry.1.Value.StringValue", "Transactional");
        if let Some(sender_id) = &self.sender_id {
            form.append_pair("MessageAttributes.entry.2.Name", "AWS.SNS.SMS.SenderID")
                .append_pair("MessageAttributes.entry.2.Value.DataType", "String")
                .append_pair("MessageAttributes.entry.2.Value.StringValue", sender_id);
        }
        form.finish()
    }

    /// The SigV4 headers (`authorization`, `x-amz-date`) for a POST of `body` to `self.url`. The signed
    /// headers are `content-type`, `host` (from the URL, as the HTTP client sends it) and `x-amz-date`.
    fn signing_headers(&self, body: &str, time: SystemTime) -> Result<Vec<(String, String)>, SmsError> {
        let signing_failed =
            |e: &dyn std::fmt::Display| SmsError::Unavailable(format!("sns: cannot sign the request: {e}"));
        let identity = Credentials::new(
            self.access_key_id.as_str(),
            self.secret_access_key.expose_secret(),
            None,
            None,
            "hauth-environment",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| signing_failed(&e))?
            .into();
        let request = SignableRequest::new(
            "POST",
            self.url.as_str(),
            [("content-type", CONTENT_TYPE)].into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| signing_failed(&e))?;
        let (instructions, _signature) = sign(request, &params).map_err(|e| signing_failed(&e))?.into_parts();
        Ok(instructions.headers().map(|(name, value)| (name.to_string(), value.to_string())).collect())
    }

    async fn publish(&self, message: CodeMessage<'_>) -> Result<(), SmsError> {
        let body = self.publish_body(&message);
        let mut request =
            self.http.post(&self.url).header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE).timeout(REQUEST_TIMEOUT);
        for (name, value) in self.signing_headers(&body, SystemTime::now())? {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await.map_err(|e| transport_error("sns", e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| transport_error("sns", e))?;
        if !status.is_success() {
            return Err(error_from_response(status, &text));
        }
        match xml_element(&text, "MessageId") {
            Some(message_id) => {
                tracing::debug!(%message_id, "sns accepted the message");
                Ok(())
            }
            None => Err(SmsError::Unavailable(format!("sns: unexpected answer: {}", excerpt(&text)))),
        }
    }
}

impl SmsSender for Sns {
    fn name(&self) -> &'static str {
        "sns"
    }

    fn send_code<'a>(&'a self, message: CodeMessage<'a>) -> SmsFuture<'a, ()> {
        Box::pin(self.publish(message))
    }
}

/// Reads `<ErrorResponse><Error><Code>`: a 400 refusing the number or message is the user's problem;
/// signature and credential errors (403), throttling (400 `Throttling`) and 5xx are not.
fn error_from_response(status: reqwest::StatusCode, text: &str) -> SmsError {
    let code = xml_element(text, "Code");
    let detail = match (&code, xml_element(text, "Message")) {
        (Some(code), Some(message)) => format!("sns answered {}, {code}: {message}", status.as_u16()),
        (Some(code), None) => format!("sns answered {}, {code}", status.as_u16()),
        _ => format!("sns answered {}: {}", status.as_u16(), excerpt(text)),
    };
    let rejected =
        status == reqwest::StatusCode::BAD_REQUEST && code.is_some_and(|c| REJECTED_CODES.contains(&c.as_str()));
    if rejected { SmsError::Rejected(detail) } else { SmsError::Unavailable(detail) }
}

/// The text of the first `<name>` element (no attributes expected, as in SNS answers), entities decoded.
/// SNS's answers are small and flat enough that an XML parser is not needed.
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    let text = xml[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    Some(text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::{error_from_response, xml_element};
    use crate::sms::SmsError;

    #[test]
    fn reads_the_message_id_of_a_publish_response() {
        let xml = r#"<PublishResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult>
  <ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId></ResponseMetadata>
</PublishResponse>"#;
        assert_eq!(xml_element(xml, "MessageId").as_deref(), Some("567910cd-659e-55d4-8ccb-5aaf14679dc0"));
    }

    #[test]
    fn invalid_parameter_is_rejected_and_signature_errors_are_unavailable() {
        let error = |code: &str| {
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>a &amp; b</Message></Error></ErrorResponse>"
            )
        };
        let invalid = error_from_response(reqwest::StatusCode::BAD_REQUEST, &error("InvalidParameter"));
        assert!(matches!(&invalid, SmsError::Rejected(m) if m.ends_with("InvalidParameter: a & b")), "{invalid:?}");
        let signature = error_from_response(reqwest::StatusCode::FORBIDDEN, &error("SignatureDoesNotMatch"));
        assert!(matches!(signature, SmsError::Unavailable(_)));
        let throttled = error_from_response(reqwest::StatusCode::BAD_REQUEST, &error("Throttling"));
        assert!(matches!(throttled, SmsError::Unavailable(_)));
    }
}
