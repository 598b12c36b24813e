//! A stand-in for the SMS providers on a local port, speaking their real wire formats: Twilio's
//! `Messages.json` (Basic auth, form fields, error JSON such as 21211 for an invalid `To`), Twilio Verify's
//! `Verifications` / `VerificationCheck` (it generates the code, approves only that code, 404 when nothing is
//! pending) and SNS `Publish` (it recomputes the SigV4 signature with the known secret key, so a request
//! signed with any other key is refused, and answers SNS's XML). Tests read what was "sent" from it.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine;
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Path};
use poem::{EndpointExt, Request, Response, Route, Server, handler, post};
use serde_json::json;
use sha2::Digest;

/// The AWS credentials the stand-in's SNS accepts.
pub const SNS_ACCESS_KEY_ID: &str = "AKIDSTANDIN0EXAMPLE1";
pub const SNS_SECRET_ACCESS_KEY: &str = "standin/K7MDENG+bPxRfiCYEXAMPLEKEYsecret";
/// Twilio's documented test number for "invalid `To`" (error 21211); the stand-in's SNS refuses it too.
/// libphonenumber accepts it, so it gets past hauth's own validation.
pub const INVALID_NUMBER: &str = "+15005550001";
/// Wrong codes after which Twilio Verify locks a verification.
const MAX_CHECK_ATTEMPTS: u32 = 5;
/// How far an SNS request's `X-Amz-Date` may be from now, as in AWS.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// A message sent through the Messages API.
#[derive(Clone, Debug)]
pub struct TwilioMessage {
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
}

/// A verification started through Twilio Verify.
#[derive(Clone, Debug)]
pub struct VerificationRequest {
    pub service_sid: String,
    pub to: String,
    pub channel: String,
    pub locale: Option<String>,
}

/// A message published through SNS.
#[derive(Clone, Debug)]
pub struct SnsMessage {
    pub phone_number: String,
    pub message: String,
    /// The region of the signature's credential scope.
    pub region: String,
    /// `MessageAttributes`: name → string value.
    pub attributes: HashMap<String, String>,
    /// The headers the (verified) signature covers, from `SignedHeaders`.
    pub signed_headers: Vec<String>,
}

struct PendingVerification {
    code: String,
    wrong_attempts: u32,
}

#[derive(Default)]
struct Recorded {
    messages: Vec<TwilioMessage>,
    verifications: Vec<VerificationRequest>,
    /// (service SID, phone) → the pending verification.
    pending: HashMap<(String, String), PendingVerification>,
    sns_messages: Vec<SnsMessage>,
}

struct Shared {
    account_sid: String,
    auth_token: String,
    recorded: Mutex<Recorded>,
}

pub struct SmsStandin {
    /// The base URL for every API: Twilio, Twilio Verify and SNS.
    pub url: String,
    /// The credentials Twilio requests must carry.
    pub account_sid: String,
    pub auth_token: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SmsStandin {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl SmsStandin {
    /// Starts the stand-in; Twilio requests must authenticate as `account_sid:auth_token`.
    pub async fn start(account_sid: &str, auth_token: &str) -> SmsStandin {
        let shared = Arc::new(Shared {
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            recorded: Mutex::new(Recorded::default()),
        });
        let routes = Route::new()
            .at("/2010-04-01/Accounts/:account_sid/Messages.json", post(twilio_messages))
            .at("/v2/Services/:service_sid/Verifications", post(twilio_verifications))
            .at("/v2/Services/:service_sid/VerificationCheck", post(twilio_verification_check))
            .at("/", post(sns_publish))
            .data(shared.clone());
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind the SMS stand-in");
        let address = *acceptor.local_addr()[0].as_socket_addr().expect("a socket address");
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(routes).await;
        });
        SmsStandin {
            url: format!("http://{address}"),
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            shared,
            server,
        }
    }

    /// Messages sent through the Messages API, as `(to, body)`.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.twilio_messages().into_iter().map(|m| (m.to, m.body)).collect()
    }

    /// Messages sent through the Messages API, with their sender fields.
    pub fn twilio_messages(&self) -> Vec<TwilioMessage> {
        self.shared.recorded.lock().unwrap().messages.clone()
    }

    /// Verifications started through Twilio Verify.
    pub fn verifications(&self) -> Vec<VerificationRequest> {
        self.shared.recorded.lock().unwrap().verifications.clone()
    }

    /// The code Twilio Verify "texted" to `phone` (E.164) and still waits for.
    pub fn verify_code_for(&self, phone: &str) -> Option<String> {
        let recorded = self.shared.recorded.lock().unwrap();
        recorded.pending.iter().find(|((_, to), _)| to == phone).map(|(_, pending)| pending.code.clone())
    }

    /// Messages published through SNS.
    pub fn sns_messages(&self) -> Vec<SnsMessage> {
        self.shared.recorded.lock().unwrap().sns_messages.clone()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Twilio (Messages and Verify share authentication, form parsing and the error shape)

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    Response::builder().status(status).content_type("application/json").body(body.to_string())
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    Response::builder().status(status).content_type("application/json").body(body.to_string())
}

/// Checks HTTP Basic auth against the account SID and auth token, answering Twilio's 401 (20003) otherwise.
fn check_twilio_auth(request: &Request, shared: &Shared) -> Result<(), Box<Response>> {
    let unauthorized = || Box::new(twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate"));
    let header = request.headers().get("authorization").and_then(|v| v.to_str().ok()).ok_or_else(unauthorized)?;
    let encoded = header.strip_prefix("Basic ").ok_or_else(unauthorized)?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| unauthorized())?;
    let decoded = String::from_utf8(decoded).map_err(|_| unauthorized())?;
    if decoded != format!("{}:{}", shared.account_sid, shared.auth_token) {
        return Err(unauthorized());
    }
    Ok(())
}

/// The form fields of a `application/x-www-form-urlencoded` body; Twilio ignores a body in another
/// encoding, so its fields are then missing.
fn form_fields(request: &Request, body: &[u8]) -> HashMap<String, String> {
    let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return HashMap::new();
    }
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Whether the stand-in's "network" can deliver to `phone`: E.164 and not the invalid test number.
fn deliverable(phone: &str) -> bool {
    let digits = phone.strip_prefix('+').unwrap_or_default();
    (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && phone != INVALID_NUMBER
}

fn new_sid(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

#[handler]
fn twilio_messages(
    request: &Request,
    Path(account_sid): Path<String>,
    body: Vec<u8>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    if let Err(response) = check_twilio_auth(request, shared) {
        return *response;
    }
    if account_sid != shared.account_sid {
        return twilio_error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found");
    }
    let fields = form_fields(request, &body);
    let Some(to) = fields.get("To").cloned() else {
        return twilio_error(StatusCode::BAD_REQUEST, 21604, "A 'To' phone number is required.");
    };
    if !deliverable(&to) {
        return twilio_error(StatusCode::BAD_REQUEST, 21211, &format!("Invalid 'To' Phone Number: {to}"));
    }
    let from = fields.get("From").cloned();
    let messaging_service_sid = fields.get("MessagingServiceSid").cloned();
    if from.is_none() && messaging_service_sid.is_none() {
        return twilio_error(StatusCode::BAD_REQUEST, 21603, "A 'From' or 'MessagingServiceSid' parameter is required");
    }
    if messaging_service_sid.as_ref().is_some_and(|sid| !sid.starts_with("MG")) {
        return twilio_error(StatusCode::BAD_REQUEST, 21701, "The Messaging Service Sid is invalid.");
    }
    let Some(text) = fields.get("Body").cloned().filter(|b| !b.is_empty()) else {
        return twilio_error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    };
    let sid = new_sid("SM");
    let response = json!({
        "sid": sid,
        "account_sid": shared.account_sid,
        "to": to,
        "from": from,
        "messaging_service_sid": messaging_service_sid,
        "body": text,
        "status": if messaging_service_sid.is_some() { "accepted" } else { "queued" },
        "num_segments": "1",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "price": null,
        "error_code": null,
        "error_message": null,
        "date_created": chrono::Utc::now().to_rfc2822(),
        "uri": format!("/2010-04-01/Accounts/{}/Messages/{sid}.json", shared.account_sid),
    });
    shared.recorded.lock().unwrap().messages.push(TwilioMessage { to, from, messaging_service_sid, body: text });
    json_response(StatusCode::CREATED, response)
}

fn verification_resource(shared: &Shared, service_sid: &str, to: &str, status: &str) -> serde_json::Value {
    let now = chrono::Utc::now().to_rfc3339();
    json!({
        "sid": new_sid("VE"),
        "service_sid": service_sid,
        "account_sid": shared.account_sid,
        "to": to,
        "channel": "sms",
        "status": status,
        "valid": status == "approved",
        "amount": null,
        "payee": null,
        "date_created": now,
        "date_updated": now,
    })
}

fn unknown_verification(service_sid: &str) -> Response {
    let message = format!("The requested resource /Services/{service_sid}/VerificationCheck was not found");
    twilio_error(StatusCode::NOT_FOUND, 20404, &message)
}

#[handler]
fn twilio_verifications(
    request: &Request,
    Path(service_sid): Path<String>,
    body: Vec<u8>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    if let Err(response) = check_twilio_auth(request, shared) {
        return *response;
    }
    if !service_sid.starts_with("VA") {
        return twilio_error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found");
    }
    let fields = form_fields(request, &body);
    let to = fields.get("To").cloned().unwrap_or_default();
    if !deliverable(&to) {
        return twilio_error(StatusCode::BAD_REQUEST, 60200, &format!("Invalid parameter `To`: {to}"));
    }
    let channel = fields.get("Channel").cloned().unwrap_or_default();
    if channel != "sms" {
        return twilio_error(StatusCode::BAD_REQUEST, 60200, "Invalid parameter: Channel");
    }
    let mut recorded = shared.recorded.lock().unwrap();
    recorded.verifications.push(VerificationRequest {
        service_sid: service_sid.clone(),
        to: to.clone(),
        channel,
        locale: fields.get("Locale").cloned(),
    });
    // Like Twilio, a verification started again within its lifetime re-sends the same code.
    recorded.pending.entry((service_sid.clone(), to.clone())).or_insert_with(|| PendingVerification {
        code: format!("{:06}", rand::random_range(0..1_000_000)),
        wrong_attempts: 0,
    });
    json_response(StatusCode::CREATED, verification_resource(shared, &service_sid, &to, "pending"))
}

#[handler]
fn twilio_verification_check(
    request: &Request,
    Path(service_sid): Path<String>,
    body: Vec<u8>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    if let Err(response) = check_twilio_auth(request, shared) {
        return *response;
    }
    let fields = form_fields(request, &body);
    let (Some(to), Some(code)) = (fields.get("To").cloned(), fields.get("Code").cloned()) else {
        return twilio_error(StatusCode::BAD_REQUEST, 60200, "Invalid parameter");
    };
    let mut recorded = shared.recorded.lock().unwrap();
    let key = (service_sid.clone(), to.clone());
    let Some(pending) = recorded.pending.get_mut(&key) else {
        return unknown_verification(&service_sid);
    };
    // Five wrong codes lock the verification: every later check, even with the right code, is refused.
    if pending.wrong_attempts >= MAX_CHECK_ATTEMPTS {
        return twilio_error(StatusCode::TOO_MANY_REQUESTS, 60202, "Max check attempts reached");
    }
    if pending.code == code {
        recorded.pending.remove(&key);
        return json_response(StatusCode::OK, verification_resource(shared, &service_sid, &to, "approved"));
    }
    pending.wrong_attempts += 1;
    json_response(StatusCode::OK, verification_resource(shared, &service_sid, &to, "pending"))
}

// ---------------------------------------------------------------------------------------------------------
// SNS

fn sns_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<ErrorResponse xmlns=\"https://sns.amazonaws.com/doc/2010-03-31/\">\n  <Error>\n    <Type>Sender</Type>\n    \
         <Code>{code}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        escape_xml(message),
        uuid::Uuid::new_v4()
    );
    Response::builder().status(status).content_type("text/xml").body(body)
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct SigV4Authorization {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
}

fn parse_authorization(header: &str) -> Option<SigV4Authorization> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut parts = HashMap::new();
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        parts.insert(name, value);
    }
    let scope: Vec<&str> = parts.get("Credential")?.split('/').collect();
    let [access_key_id, date, region, service, terminator] = scope.as_slice() else {
        return None;
    };
    let signed_headers: Vec<String> = parts.get("SignedHeaders")?.split(';').map(str::to_string).collect();
    let signature = parts.get("Signature")?.to_string();
    let well_formed = *terminator == "aws4_request"
        && date.len() == 8
        && date.chars().all(|c| c.is_ascii_digit())
        && signature.len() == 64
        && signature.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        && signed_headers.iter().all(|h| !h.is_empty() && *h == h.to_ascii_lowercase())
        && signed_headers.windows(2).all(|pair| pair[0] < pair[1])
        && signed_headers.iter().any(|h| h == "host")
        && signed_headers.iter().any(|h| h == "x-amz-date");
    well_formed.then(|| SigV4Authorization {
        access_key_id: access_key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature,
    })
}

/// Recomputes the request's signature with aws-sigv4 over its method, URI, signed headers and body, using
/// the stand-in's secret key and the request's own `X-Amz-Date`.
fn verify_signature(request: &Request, body: &[u8], authorization: &SigV4Authorization) -> Result<(), Box<Response>> {
    let mismatch = || {
        Box::new(sns_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret \
             Access Key and signing method. Consult the service documentation for details.",
        ))
    };
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let amz_date = header("x-amz-date").ok_or_else(mismatch)?;
    let time = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ").map_err(|_| mismatch())?.and_utc();
    if !amz_date.starts_with(&authorization.date) {
        return Err(mismatch());
    }
    let time = SystemTime::from(time);
    let skew = SystemTime::now().duration_since(time).unwrap_or_else(|e| e.duration());
    if skew > MAX_CLOCK_SKEW {
        return Err(Box::new(sns_error(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", "Signature expired")));
    }

    // The headers the client signed, as received, except the ones the signer itself adds.
    let mut signed_values = Vec::new();
    for name in &authorization.signed_headers {
        if matches!(name.as_str(), "x-amz-date" | "x-amz-content-sha256" | "x-amz-security-token") {
            continue;
        }
        let values: Vec<&str> =
            request.headers().get_all(name.as_str()).iter().filter_map(|v| v.to_str().ok()).collect();
        if values.is_empty() {
            return Err(mismatch());
        }
        signed_values.extend(values.into_iter().map(|value| (name.as_str(), value)));
    }
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    if authorization.signed_headers.iter().any(|h| h == "x-amz-content-sha256") {
        let declared = header("x-amz-content-sha256").unwrap_or_default();
        if declared != hex::encode(sha2::Sha256::digest(body)) {
            return Err(mismatch());
        }
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let host = header("host").ok_or_else(mismatch)?;
    let path_and_query = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let uri = format!("http://{host}{path_and_query}");

    let identity = Credentials::new(SNS_ACCESS_KEY_ID, SNS_SECRET_ACCESS_KEY, None, None, "sms-standin").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&authorization.region)
        .name(&authorization.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|_| mismatch())?
        .into();
    let signable =
        SignableRequest::new(request.method().as_str(), uri, signed_values.into_iter(), SignableBody::Bytes(body))
            .map_err(|_| mismatch())?;
    let (_, expected) = sign(signable, &params).map_err(|_| mismatch())?.into_parts();
    if expected != authorization.signature {
        return Err(mismatch());
    }
    Ok(())
}

#[handler]
fn sns_publish(request: &Request, body: Vec<u8>) -> Response {
    let Some(header) = request.headers().get("authorization").and_then(|v| v.to_str().ok()) else {
        return sns_error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        );
    };
    let Some(authorization) = parse_authorization(header) else {
        return sns_error(StatusCode::BAD_REQUEST, "IncompleteSignature", "The request signature is malformed");
    };
    if authorization.access_key_id != SNS_ACCESS_KEY_ID {
        return sns_error(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        );
    }
    if authorization.service != "sns" {
        return sns_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "Credential should be scoped to correct service: 'sns'.",
        );
    }
    if let Err(response) = verify_signature(request, &body, &authorization) {
        return *response;
    }
    let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return sns_error(StatusCode::BAD_REQUEST, "MissingAction", "Missing Action");
    }
    let fields: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if fields.get("Action").map(String::as_str) != Some("Publish") {
        return sns_error(StatusCode::BAD_REQUEST, "InvalidAction", "The action is not valid for this web service.");
    }
    if fields.get("Version").map(String::as_str) != Some("2010-03-31") {
        return sns_error(StatusCode::BAD_REQUEST, "InvalidParameterValue", "Unsupported Version");
    }
    let phone_number = fields.get("PhoneNumber").cloned().unwrap_or_default();
    if !deliverable(&phone_number) {
        let message = format!("Invalid parameter: PhoneNumber Reason: {phone_number} is not valid to publish to");
        return sns_error(StatusCode::BAD_REQUEST, "InvalidParameter", &message);
    }
    let Some(message) = fields.get("Message").cloned().filter(|m| !m.is_empty()) else {
        return sns_error(StatusCode::BAD_REQUEST, "InvalidParameter", "Invalid parameter: Empty message");
    };
    let mut attributes = HashMap::new();
    for index in 1.. {
        let field = |suffix: &str| fields.get(&format!("MessageAttributes.entry.{index}.{suffix}")).cloned();
        let Some(name) = field("Name") else { break };
        if field("Value.DataType").as_deref() != Some("String") {
            let message = format!("Invalid parameter: MessageAttributes Reason: {name} must have a DataType");
            return sns_error(StatusCode::BAD_REQUEST, "ParameterValueInvalid", &message);
        }
        attributes.insert(name, field("Value.StringValue").unwrap_or_default());
    }
    let shared = request.data::<Arc<Shared>>().expect("stand-in state");
    shared.recorded.lock().unwrap().sns_messages.push(SnsMessage {
        phone_number,
        message,
        region: authorization.region.clone(),
        attributes,
        signed_headers: authorization.signed_headers.clone(),
    });
    let body = format!(
        "<PublishResponse xmlns=\"https://sns.amazonaws.com/doc/2010-03-31/\">\n  <PublishResult>\n    \
         <MessageId>{}</MessageId>\n  </PublishResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  \
         </ResponseMetadata>\n</PublishResponse>\n",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    );
    Response::builder().status(StatusCode::OK).content_type("text/xml").body(body)
}
