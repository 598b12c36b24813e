//! Adopting a database that nself's OAuth handler service used next to nhost's hasura-auth: its tables are
//! moved aside before the migrations, their rows become hauth's (links, audit rows), the provider tokens are
//! re-encrypted under hauth's key with nself's key or dropped without it, the schema ends up as a fresh
//! database's, and the adopted users sign in with their provider as before.
use std::collections::BTreeSet;

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{Aes256Gcm, AesGcm, Key, Nonce};
use hauth::clock::Clock;
use hauth::config::Config;
use hauth::state::AppState;
use poem::EndpointExt;
use poem::http::StatusCode;
use poem::test::TestClient;

use crate::helpers::app::{PASSWORD, TestApp, base_env};
use crate::helpers::db::TestDb;
use crate::helpers::nhost::NHOST_SCHEMA;
use crate::helpers::provider_flow::*;
use crate::helpers::provider_standin::StandinKind;

/// nself's key as its operators give it: 64 hex characters.
const NSELF_KEY_HEX: &str = "8f3a1c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3a5c7e9b1d3f5a7c9e0b";

const ADA: &str = "11111111-1111-4111-8111-111111111111";
const GRACE: &str = "22222222-2222-4222-8222-222222222222";
const LINUS: &str = "33333333-3333-4333-8333-333333333333";
const ADA_GITHUB: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const GRACE_GOOGLE: &str = "aaaaaaaa-0000-4000-8000-000000000002";
const LINUS_X: &str = "aaaaaaaa-0000-4000-8000-000000000003";

const ADA_ACCESS: &str = "gho_ada_access_token_from_nself";
const ADA_REFRESH: &str = "ghr_ada_refresh_token_from_nself";
const GRACE_ACCESS: &str = "ya29.grace_access_token_from_nself";
const GRACE_ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.grace.id-token";
const LINUS_ACCESS: &str = "x_linus_access_token_refreshed_in_plaintext";

/// Encrypts like nself's handler: AES-256-GCM, `iv:authTag:ciphertext` in hex.
fn nself_encrypt(plaintext: &str, iv: &[u8]) -> String {
    let key_bytes: [u8; 32] = hex::decode(NSELF_KEY_HEX).unwrap().try_into().unwrap();
    let key = Key::<Aes256Gcm>::from(key_bytes);
    let sealed = match iv.len() {
        12 => Aes256Gcm::new(&key).encrypt(&Nonce::from(<[u8; 12]>::try_from(iv).unwrap()), plaintext.as_bytes()),
        _ => AesGcm::<Aes256, U16>::new(&key).encrypt(&<[u8; 16]>::try_from(iv).unwrap().into(), plaintext.as_bytes()),
    }
    .unwrap();
    let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
    format!("{}:{}:{}", hex::encode(iv), hex::encode(tag), hex::encode(ciphertext))
}

/// nself's four OAuth handler tables, from the columns its documentation lists.
const NSELF_TABLES: &str = r#"
    create table auth.oauth_provider_accounts (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references auth.users(id) on delete cascade,
      provider varchar(50) not null, provider_user_id varchar(255) not null, provider_account_email varchar(255),
      access_token text, refresh_token text, token_expires_at timestamptz, id_token text, scopes text[],
      raw_profile jsonb, created_at timestamptz not null default now(), updated_at timestamptz not null default now(),
      unique (provider, provider_user_id), unique (user_id, provider));
    create index idx_oauth_provider_accounts_user_id on auth.oauth_provider_accounts (user_id);
    create table auth.oauth_states (
      id uuid primary key default gen_random_uuid(), state varchar(64) unique not null, provider varchar(50) not null,
      redirect_url text, metadata jsonb default '{}', created_at timestamptz not null default now(),
      expires_at timestamptz not null default now() + interval '10 minutes');
    create index idx_oauth_states_expires_at on auth.oauth_states (expires_at);
    create table auth.oauth_token_refresh_queue (
      id uuid primary key default gen_random_uuid(),
      oauth_account_id uuid not null references auth.oauth_provider_accounts(id) on delete cascade,
      scheduled_at timestamptz not null, last_attempt_at timestamptz, attempts int not null default 0,
      max_attempts int not null default 3, error_message text, created_at timestamptz not null default now());
    create table auth.oauth_audit_log (
      id uuid primary key default gen_random_uuid(), user_id uuid references auth.users(id) on delete set null,
      provider varchar(50) not null, event_type varchar(50) not null, ip_address inet, user_agent text,
      metadata jsonb default '{}', created_at timestamptz not null default now());
"#;

/// nself's rows: three users and their identities (GitHub with an access and a refresh token, Google with a
/// 16-byte IV and an ID token, X with a token nself's refresh job wrote back in plaintext), sign-ins in
/// flight, the refresh queue and audit rows.
async fn insert_nself_rows(client: &tokio_postgres::Client) {
    let password_hash = bcrypt::hash(PASSWORD, 4).unwrap();
    client
        .execute(
            "insert into auth.users (id, email, locale, email_verified, display_name, password_hash)
             values ($1::text::uuid, 'ada@example.com', 'en', true, 'Ada', $4),
                    ($2::text::uuid, 'grace@example.com', 'en', true, 'Grace', null),
                    ($3::text::uuid, 'linus@example.com', 'en', true, 'Linus', null)",
            &[&ADA, &GRACE, &LINUS, &password_hash],
        )
        .await
        .unwrap();
    let statement = "insert into auth.oauth_provider_accounts (id, user_id, provider, provider_user_id,
                       provider_account_email, access_token, refresh_token, token_expires_at, id_token, scopes,
                       raw_profile, created_at)
                     values ($1::text::uuid, $2::text::uuid, $3, $4, $5, $6, $7, now() + interval '1 hour', $8,
                             $9, $10, '2025-06-01T10:00:00Z')";
    // (id, user, provider, provider user id, email, access token, refresh token, ID token, scopes)
    type Account = (&'static str, &'static str, &'static str, &'static str, &'static str);
    type Tokens = (Option<String>, Option<String>, Option<String>, Vec<String>);
    let rows: [(Account, Tokens); 3] = [
        (
            (ADA_GITHUB, ADA, "github", "1001", "ada@example.com"),
            (
                Some(nself_encrypt(ADA_ACCESS, &[1; 12])),
                Some(nself_encrypt(ADA_REFRESH, &[2; 12])),
                None,
                vec!["read:user".into(), "user:email".into()],
            ),
        ),
        (
            (GRACE_GOOGLE, GRACE, "google", "g-2002", "grace@example.com"),
            (
                Some(nself_encrypt(GRACE_ACCESS, &[3; 16])),
                None,
                Some(nself_encrypt(GRACE_ID_TOKEN, &[4; 16])),
                vec!["openid".into(), "email".into()],
            ),
        ),
        ((LINUS_X, LINUS, "X", "x-3003", "linus@example.com"), (Some(LINUS_ACCESS.into()), None, None, vec![])),
    ];
    for ((id, user, provider, provider_user_id, email), (access, refresh, id_token, scopes)) in rows {
        let profile = serde_json::json!({"id": provider_user_id, "email": email});
        client
            .execute(
                statement,
                &[&id, &user, &provider, &provider_user_id, &email, &access, &refresh, &id_token, &scopes, &profile],
            )
            .await
            .unwrap();
    }
    client
        .batch_execute(&format!(
            "insert into auth.oauth_states (state, provider, expires_at) values
               ('expired-state', 'github', now() - interval '1 hour'), ('live-state', 'google', now() + interval '5 minutes');
             insert into auth.oauth_token_refresh_queue (oauth_account_id, scheduled_at)
               values ('{ADA_GITHUB}', now() + interval '55 minutes');
             insert into auth.oauth_audit_log (user_id, provider, event_type, ip_address, user_agent, metadata, created_at) values
               ('{ADA}', 'github', 'login', '203.0.113.7', 'Mozilla/5.0 (nself)', '{{\"via\": \"web\"}}', '2025-06-01T10:00:00Z'),
               ('{LINUS}', 'x', 'link', '2001:db8::1', null, null, '2025-06-02T10:00:00Z'),
               (null, 'google', 'unlink', null, 'curl/8', '{{}}', '2025-06-03T10:00:00Z');"
        ))
        .await
        .unwrap();
}

/// An empty database shaped like an nhost deployment with nself's OAuth handler and its rows.
async fn nself_database() -> TestDb {
    let db = TestDb::create_empty().await;
    let client = db.connect().await;
    client.batch_execute(NHOST_SCHEMA).await.unwrap();
    client.batch_execute(NSELF_TABLES).await.unwrap();
    insert_nself_rows(&client).await;
    db
}

/// hauth over `db` (already migrated), configured for the GitHub stand-in of `setup` plus `overrides`.
async fn app_over(db: TestDb, setup: &Setup, overrides: &[(&str, &str)]) -> TestApp {
    let mut env = base_env(&db.url);
    env.extend(setup.env.iter().cloned());
    for (key, value) in overrides {
        env.insert(key.to_string(), value.to_string());
    }
    let config = Config::from_env(&env).unwrap_or_else(|e| panic!("{e}"));
    let prefix = config.http.api_prefix.clone();
    let clock = Clock::manual();
    let state = AppState::build(config, clock.clone()).expect("app state");
    let client = TestClient::new(hauth::api::routes(state.clone()).boxed());
    TestApp { db, state, clock, client, prefix }
}

fn uuid(id: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(id).unwrap()
}

/// The tokens hauth stores for an identity, opened with hauth's keys.
async fn opened_tokens(app: &TestApp, provider: &str, provider_user_id: &str) -> (String, Option<String>) {
    let client = app.state.pool.get().await.unwrap();
    let stored = hauth::db::user_providers::select_identity(&client, &[provider.to_string()], provider_user_id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no {provider} identity {provider_user_id}"));
    let keys = hauth::flows::provider_tokens::keys(&app.state).unwrap();
    let opened = hauth::flows::provider_tokens::open_tokens(keys, &stored).unwrap();
    use secrecy::ExposeSecret as _;
    (
        opened.access.expose_secret().to_string(),
        opened
            .refresh
            .map(|token| token.expose_secret().to_string())
            .or(opened.id_token.map(|token| token.expose_secret().to_string())),
    )
}

#[tokio::test]
async fn an_nself_database_is_adopted_with_its_tokens_re_encrypted_under_hauths_key() {
    let setup = Setup::new(StandinKind::Github, &[]).await;
    let db = nself_database().await;
    let applied = hauth::db::migrate::run(&db.url).await.expect("migrates an nself database");
    assert_eq!(applied.len() as i32, hauth::db::migrate::latest_version());
    let app = app_over(db, &setup, &[("AUTH_NSELF_ENCRYPTION_KEY", NSELF_KEY_HEX)]).await;
    let outcome = hauth::flows::nself_adoption::finish(&app.state).await.unwrap();
    assert_eq!(outcome, hauth::flows::nself_adoption::AdoptionOutcome { adopted: 3, dropped: 0 });

    // Identities are links now, under hauth's provider ids (nself's `X` is `twitter`).
    let links = app
        .rows(
            "select id, user_id, provider_id, provider_user_id, email, scopes, profile, access_token, refresh_token,
                    token_key_id, needs_reauthentication, access_token_expires_at > now(), created_at
             from auth.user_providers order by provider_id",
            &[],
        )
        .await;
    let summary: Vec<(uuid::Uuid, uuid::Uuid, String, String, Option<String>)> =
        links.iter().map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4))).collect();
    assert_eq!(
        summary,
        vec![
            (uuid(ADA_GITHUB), uuid(ADA), "github".into(), "1001".into(), Some("ada@example.com".into())),
            (uuid(GRACE_GOOGLE), uuid(GRACE), "google".into(), "g-2002".into(), Some("grace@example.com".into())),
            (uuid(LINUS_X), uuid(LINUS), "twitter".into(), "x-3003".into(), Some("linus@example.com".into())),
        ]
    );
    for row in &links {
        assert_eq!(row.get::<_, String>(7), "", "nhost's plaintext column stays empty");
        assert_eq!(row.get::<_, Option<String>>(8), None);
        assert_eq!(row.get::<_, Option<String>>(9).as_deref(), Some("k2"), "sealed under hauth's key");
        assert!(!row.get::<_, bool>(10), "an adopted link with readable tokens needs no new sign-in");
        assert_eq!(row.get::<_, Option<bool>>(11), Some(true), "nself's expiry is kept");
        assert_eq!(row.get::<_, chrono::DateTime<chrono::Utc>>(12).to_rfc3339(), "2025-06-01T10:00:00+00:00");
    }
    assert_eq!(
        links[0].get::<_, Option<Vec<String>>>(5),
        Some(vec!["read:user".to_string(), "user:email".to_string()])
    );
    assert_eq!(links[0].get::<_, serde_json::Value>(6)["id"], "1001");
    let dump = app.rows("select to_jsonb(p)::text from auth.user_providers p", &[]).await;
    for row in dump {
        let text: String = row.get(0);
        for token in [ADA_ACCESS, ADA_REFRESH, GRACE_ACCESS, GRACE_ID_TOKEN, LINUS_ACCESS] {
            assert!(!text.contains(token), "a provider token is stored in plaintext");
        }
    }

    // The tokens read back through hauth: over the API for Ada (signed in with her nhost password)...
    let session = app.signin("ada@example.com", PASSWORD).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text);
    let bearer = session.body["session"]["accessToken"].as_str().unwrap().to_string();
    let token = app.get("/user/providers/github/token", Some(&bearer)).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    assert_eq!(token.body["accessToken"], ADA_ACCESS);
    assert_eq!(opened_tokens(&app, "github", "1001").await, (ADA_ACCESS.into(), Some(ADA_REFRESH.into())));
    // ... and with hauth's keys for the others (a 16-byte IV with an ID token; a plaintext token).
    assert_eq!(opened_tokens(&app, "google", "g-2002").await, (GRACE_ACCESS.into(), Some(GRACE_ID_TOKEN.into())));
    assert_eq!(opened_tokens(&app, "twitter", "x-3003").await, (LINUS_ACCESS.into(), None));

    // Audit rows moved, with their time, provider, address and user agent.
    let audit = app
        .rows(
            "select event, user_id, provider, ip, user_agent, created_at, metadata from auth.audit_log
             where metadata->>'adoptedFrom' = 'nself' order by created_at",
            &[],
        )
        .await;
    // (event, user, provider, address, user agent, time)
    type AuditRow = (String, Option<uuid::Uuid>, Option<String>, Option<String>, Option<String>, String);
    let audit: Vec<AuditRow> = audit
        .iter()
        .map(|row| {
            let at: chrono::DateTime<chrono::Utc> = row.get(5);
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), at.to_rfc3339())
        })
        .collect();
    assert_eq!(
        audit,
        vec![
            (
                "provider.signin".into(),
                Some(uuid(ADA)),
                Some("github".into()),
                Some("203.0.113.7".into()),
                Some("Mozilla/5.0 (nself)".into()),
                "2025-06-01T10:00:00+00:00".into()
            ),
            (
                "provider.link".into(),
                Some(uuid(LINUS)),
                Some("twitter".into()),
                Some("2001:db8::1".into()),
                None,
                "2025-06-02T10:00:00+00:00".into()
            ),
            (
                "provider.unlink".into(),
                None,
                Some("google".into()),
                None,
                Some("curl/8".into()),
                "2025-06-03T10:00:00+00:00".into()
            ),
        ]
    );
    let first_metadata: serde_json::Value =
        app.rows("select metadata from auth.audit_log where user_agent = 'Mozilla/5.0 (nself)'", &[]).await[0].get(0);
    assert_eq!(first_metadata, serde_json::json!({"via": "web", "adoptedFrom": "nself"}));

    // nself's tables are gone, hauth's state table is its own, nothing waits.
    for table in [
        "auth.oauth_provider_accounts",
        "auth_nself.oauth_token_refresh_queue",
        "auth.oauth_audit_log",
        "auth_nself.oauth_states",
        "auth_nself.oauth_provider_accounts",
    ] {
        let found: Option<String> = app.rows("select to_regclass($1)::text", &[&table]).await[0].get(0);
        assert_eq!(found, None, "{table} is left");
    }
    assert_eq!(app.count("select count(*) from auth.oauth_states").await, 0, "nself's sign-ins in flight are not kept");
    assert_eq!(app.count("select count(*) from auth_nself.pending_tokens").await, 0);
    // nself's refresh queue is not kept: hauth's own schedules every adopted identity.
    assert_eq!(app.count("select count(*) from auth.oauth_token_refresh_queue").await, 3);

    // Migrating and adopting again change nothing.
    assert!(hauth::db::migrate::run(&app.db.url).await.unwrap().is_empty());
    assert_eq!(hauth::flows::nself_adoption::finish(&app.state).await.unwrap(), Default::default());
    assert_eq!(app.count("select count(*) from auth.user_providers").await, 3);
    assert_eq!(
        app.count("select count(*) from auth.audit_log where metadata->>'adoptedFrom' = 'nself'").await,
        3,
        "nself's three"
    );

    // Ada signs in with GitHub as before: the adopted link finds her account.
    let signin = Setup { standin: setup.standin, app, name: setup.name, env: setup.env };
    // Another address than her account's: only the link can lead to her.
    signin.provider_user("1001", "ada@users.noreply.github.test", true);
    let mut browser = signin.browser();
    let landed = sign_in(&signin, &mut browser, "/oauth/github").await;
    let session = session_of(&signin.app, &landed).await;
    assert_eq!(session["user"]["id"], ADA);
    assert_eq!(signin.app.count("select count(*) from auth.users").await, 3, "nobody new");
    assert_eq!(signin.app.count("select count(*) from auth.user_providers where provider_id = 'github'").await, 1);
}

#[tokio::test]
async fn without_nselfs_key_the_tokens_are_dropped_and_the_users_sign_in_with_their_provider_again() {
    let setup = Setup::new(StandinKind::Github, &[]).await;
    let db = nself_database().await;
    hauth::db::migrate::run(&db.url).await.expect("migrates an nself database");
    let app = app_over(db, &setup, &[]).await;
    let outcome = hauth::flows::nself_adoption::finish(&app.state).await.unwrap();
    assert_eq!(outcome, hauth::flows::nself_adoption::AdoptionOutcome { adopted: 0, dropped: 3 });
    let links = app
        .rows(
            "select needs_reauthentication, access_token_sealed is null and refresh_token_sealed is null
                    and id_token_sealed is null and token_key_id is null and access_token = ''
             from auth.user_providers",
            &[],
        )
        .await;
    assert_eq!(links.len(), 3, "the links are kept");
    for row in &links {
        assert!(row.get::<_, bool>(0), "no token until the user signs in with the provider again");
        assert!(row.get::<_, bool>(1), "nothing of nself's tokens is kept");
    }
    assert_eq!(app.count("select count(*) from auth_nself.pending_tokens").await, 0);

    let session = app.signin("ada@example.com", PASSWORD).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text);
    let bearer = session.body["session"]["accessToken"].as_str().unwrap().to_string();
    let token = app.get("/user/providers/github/token", Some(&bearer)).await;
    assert_eq!(token.status, StatusCode::CONFLICT, "{}", token.text);
    assert_eq!(token.error_code(), "provider-reauthentication-required");

    // Rotating hauth's keys leaves such links alone (there is nothing to re-encrypt).
    assert_eq!(hauth::flows::provider_tokens::reseal_all(&app.state).await.unwrap(), 0);

    // Signing in with GitHub finds Ada's account and stores fresh tokens.
    let signin = Setup { standin: setup.standin, app, name: setup.name, env: setup.env };
    // Another address than her account's: only the link can lead to her.
    signin.provider_user("1001", "ada@users.noreply.github.test", true);
    let mut browser = signin.browser();
    let landed = sign_in(&signin, &mut browser, "/signin/provider/github").await;
    let session = session_of(&signin.app, &landed).await;
    assert_eq!(session["user"]["id"], ADA);
    let token = signin.app.get("/user/providers/github/token", Some(&bearer)).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    let fresh = token.body["accessToken"].as_str().unwrap();
    assert!(!fresh.is_empty() && fresh != ADA_ACCESS, "the token GitHub just gave");
    assert_eq!(signin.app.count("select count(*) from auth.users").await, 3);
}

/// The `auth` and `auth_nself` schemas as lines: columns, constraints, indexes, table comments.
async fn schema_of(client: &tokio_postgres::Client, skip_tables: &[&str]) -> BTreeSet<String> {
    let queries = [
        "select table_schema || '.' || table_name || '.' || column_name || ' ' || data_type || ' '
                || is_nullable || ' ' || coalesce(column_default, '')
         from information_schema.columns where table_schema in ('auth', 'auth_nself')",
        "select c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
         from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname in ('auth', 'auth_nself')",
        "select indexdef from pg_indexes where schemaname in ('auth', 'auth_nself')",
        "select n.nspname || '.' || c.relname || ' ' || coalesce(obj_description(c.oid, 'pg_class'), '')
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname in ('auth', 'auth_nself') and c.relkind = 'r'",
    ];
    let mut lines = BTreeSet::new();
    for sql in queries {
        for row in client.query(sql, &[]).await.unwrap() {
            let line: String = row.get(0);
            if !skip_tables.iter().any(|table| line.contains(table)) {
                lines.insert(line);
            }
        }
    }
    lines
}

#[tokio::test]
async fn an_adopted_nself_database_ends_up_with_a_fresh_databases_schema() {
    let fresh = TestDb::create_empty().await;
    hauth::db::migrate::run(&fresh.url).await.unwrap();
    let fresh_schema = schema_of(&fresh.connect().await, &[]).await;
    assert!(fresh_schema.iter().any(|line| line.starts_with("auth.oauth_states.sealed ")));
    assert!(fresh_schema.iter().any(|line| line.starts_with("auth_nself.pending_tokens.identity_id ")));

    // A deployment where an earlier hauth (up to V9) ran after nself's handler: V9 kept nself's
    // `oauth_states` in place of its own.
    let earlier = TestDb::create_empty().await;
    hauth::db::migrate::run(&earlier.url).await.unwrap();
    let client = earlier.connect().await;
    client
        .batch_execute(
            "delete from auth.hauth_migrations where version >= 10;
             drop schema auth_nself cascade;
             drop table auth.oauth_states;
             drop table auth.oauth_token_refresh_queue;",
        )
        .await
        .unwrap();
    client.batch_execute(NSELF_TABLES).await.unwrap();
    client.batch_execute("create index oauth_states_expires_at_idx on auth.oauth_states (expires_at)").await.unwrap();
    insert_nself_rows(&client).await;
    // Every later migration runs again (each is idempotent), as it would on a database hauth last saw at V9.
    let later: Vec<i32> = (10..=hauth::db::migrate::latest_version()).collect();
    assert_eq!(hauth::db::migrate::run(&earlier.url).await.unwrap(), later);
    assert_eq!(schema_of(&client, &[]).await, fresh_schema, "an nself database after hauth's V9");
    assert_eq!(client.query_one("select count(*) from auth.user_providers", &[]).await.unwrap().get::<_, i64>(0), 3);
    assert_eq!(
        client.query_one("select count(*) from auth_nself.pending_tokens", &[]).await.unwrap().get::<_, i64>(0),
        3
    );

    // nhost's hasura-auth with nself's handler, never migrated by hauth. nhost's own history table stays
    // (hauth leaves it alone); the adoption of nhost's own tables is proven in `migrations`, so here only the
    // tables the nself adoption changes, and which tables exist, are compared.
    let nself = nself_database().await;
    hauth::db::migrate::run(&nself.url).await.unwrap();
    let client = nself.connect().await;
    let adopted_schema = schema_of(&client, &[]).await;
    let mut adopted_tables = tables_of(&client).await;
    assert!(adopted_tables.remove("auth.schema_migrations"), "nhost's history table is left alone");
    assert_eq!(adopted_tables, tables_of(&fresh.connect().await).await);
    for table in ["auth.oauth_states", "auth.audit_log", "auth_nself.pending_tokens"] {
        let of = |schema: &BTreeSet<String>| -> BTreeSet<String> {
            let (with_dot, with_space) = (format!("{table}."), format!("{table} "));
            schema.iter().filter(|line| line.contains(&with_dot) || line.contains(&with_space)).cloned().collect()
        };
        assert!(!of(&fresh_schema).is_empty());
        assert_eq!(of(&adopted_schema), of(&fresh_schema), "{table}");
    }
}

async fn tables_of(client: &tokio_postgres::Client) -> BTreeSet<String> {
    client
        .query(
            "select table_schema || '.' || table_name from information_schema.tables
             where table_schema in ('auth', 'auth_nself')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn hauth_adopt_nself_migrates_adopts_and_reports() {
    let db = nself_database().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hauth"))
        .args(["adopt", "nself"])
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("HASURA_GRAPHQL_JWT_SECRET", r#"{"type":"HS256","key":"a-very-secret-signing-key-of-32-bytes!"}"#)
        .env("AUTH_ENCRYPTION_KEYS", "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
        .env("AUTH_NSELF_ENCRYPTION_KEY", NSELF_KEY_HEX)
        .env("AUTH_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let latest = hauth::db::migrate::latest_version();
    assert_eq!(
        stdout.trim(),
        format!("applied {latest} migration(s); provider tokens of 3 identities re-encrypted, of 0 dropped")
    );
    let client = db.connect().await;
    let sealed: i64 = client
        .query_one(
            "select count(*) from auth.user_providers where token_key_id = 'k1' and not needs_reauthentication",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(sealed, 3);
}
