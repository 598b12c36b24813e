//! `TestApp`: the real routes and state over a fresh database, driven in-process with poem's test client,
//! with a manual clock. Helpers speak the API's language (`signup`, `signin`, `refresh`).
use std::collections::HashMap;

use hauth::clock::Clock;
use hauth::config::Config;
use hauth::random::Random;
use hauth::state::AppState;
use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::test::TestClient;
use poem::{EndpointExt, Response};
use serde_json::{Value, json};

use super::db::TestDb;
use super::sms_standin::SmsStandin;

pub const HS256_KEY: &str = "test-hs256-key-0123456789abcdefghijklmnopqrstuv";
pub const PASSWORD: &str = "correct-horse-battery";

/// The environment every test starts from; tests override single variables.
pub fn base_env(database_url: &str) -> HashMap<String, String> {
    let pairs = [
        ("DATABASE_URL", database_url.to_string()),
        ("HASURA_GRAPHQL_JWT_SECRET", json!({"type": "HS256", "key": HS256_KEY}).to_string()),
        ("AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED", "false".to_string()),
        ("AUTH_DATABASE_POOL_SIZE", "4".to_string()),
        // Cheap argon2id parameters keep the suite fast; production defaults are tested in domain::password.
        ("AUTH_PASSWORD_HASH_MEMORY_KIB", "4096".to_string()),
        ("AUTH_PASSWORD_HASH_ITERATIONS", "1".to_string()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A response read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: poem::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub async fn read(response: Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.into_body().into_string().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, body, text }
    }

    /// Asserts the nhost error shape and returns the error code.
    pub fn error_code(&self) -> &str {
        assert_eq!(self.body["status"], self.status.as_u16(), "status field of {}", self.text);
        assert!(self.body["message"].is_string(), "message field of {}", self.text);
        self.body["error"].as_str().unwrap_or_else(|| panic!("no error code in {}", self.text))
    }
}

pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
    pub clock: Clock,
    pub client: TestClient<BoxEndpoint<'static, Response>>,
    pub prefix: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }

    /// An app whose configuration is the base plus `overrides`.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
        Self::spawn_with_random(overrides, Random::System).await
    }

    /// An app whose ids, tokens, tickets and codes come from a generator seeded with `seed`.
    pub async fn spawn_seeded(seed: u64, overrides: &[(&str, &str)]) -> TestApp {
        Self::spawn_with_random(overrides, Random::seeded(seed)).await
    }

    /// An app with SMS sign-in through Twilio at the stand-in, with `service_id` as the messaging service
    /// (a `VA…` id makes it Twilio Verify), plus `overrides`.
    pub async fn spawn_with_sms(standin: &SmsStandin, service_id: &str, overrides: &[(&str, &str)]) -> TestApp {
        let verify_url = format!("{}/", standin.url);
        let mut env = vec![
            ("AUTH_SMS_PASSWORDLESS_ENABLED", "true"),
            ("AUTH_SMS_PROVIDER", "twilio"),
            ("AUTH_SMS_TWILIO_ACCOUNT_SID", standin.account_sid.as_str()),
            ("AUTH_SMS_TWILIO_AUTH_TOKEN", standin.auth_token.as_str()),
            ("AUTH_SMS_TWILIO_MESSAGING_SERVICE_ID", service_id),
            ("AUTH_SMS_TWILIO_BASE_URL", standin.url.as_str()),
            ("AUTH_SMS_TWILIO_VERIFY_BASE_URL", verify_url.as_str()),
            ("AUTH_SMS_DEFAULT_REGION", "US"),
        ];
        env.extend_from_slice(overrides);
        Self::spawn_with(&env).await
    }

    async fn spawn_with_random(overrides: &[(&str, &str)], random: Random) -> TestApp {
        if std::env::var_os("TEST_LOG").is_some() {
            hauth::telemetry::init("info,hauth=debug", false);
        }
        let db = TestDb::create().await;
        let mut env = base_env(&db.url);
        for (key, value) in overrides {
            env.insert(key.to_string(), value.to_string());
        }
        let config = Config::from_env(&env).unwrap_or_else(|e| panic!("{e}"));
        let prefix = config.http.api_prefix.clone();
        let clock = Clock::manual();
        let mut state = AppState::build(config, clock.clone()).expect("app state");
        state.random = random;
        let client = TestClient::new(hauth::api::routes(state.clone()).boxed());
        TestApp { db, state, clock, client, prefix }
    }

    fn path(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        let mut request = self.client.get(self.path(path));
        if let Some(token) = bearer {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        Reply::read(request.send().await.0).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.post_with(path, body, None).await
    }

    pub async fn post_with(&self, path: &str, body: Value, bearer: Option<&str>) -> Reply {
        let mut request = self.client.post(self.path(path)).body_json(&body);
        if let Some(token) = bearer {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        Reply::read(request.send().await.0).await
    }

    /// POSTs raw bytes as JSON (for malformed bodies).
    pub async fn post_raw(&self, path: &str, body: impl Into<String>) -> Reply {
        let request = self.client.post(self.path(path)).content_type("application/json").body(body.into());
        Reply::read(request.send().await.0).await
    }

    pub async fn signup(&self, email: &str) -> Reply {
        self.post("/signup/email-password", json!({"email": email, "password": PASSWORD})).await
    }

    /// Signs up and returns the session, asserting success.
    pub async fn signed_up_session(&self, email: &str) -> Value {
        let reply = self.signup(email).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["session"].clone()
    }

    pub async fn signin(&self, email: &str, password: &str) -> Reply {
        self.post("/signin/email-password", json!({"email": email, "password": password})).await
    }

    /// Hasura's GET-mode webhook call, with the client's headers.
    pub async fn webhook_get(&self, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(self.path("/hasura/webhook"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.0).await
    }

    /// Hasura's POST-mode webhook call, with the client's headers in the body.
    pub async fn webhook_post(&self, headers: Value) -> Reply {
        self.post("/hasura/webhook", json!({"headers": headers, "request": {"query": "{ users { id } }"}})).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        self.post("/token", json!({"refreshToken": refresh_token})).await
    }

    /// Rows of a query, for assertions on stored state.
    pub async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Vec<tokio_postgres::Row> {
        self.db.connect().await.query(sql, params).await.unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.rows(sql, &[]).await[0].get::<_, i64>(0)
    }
}
