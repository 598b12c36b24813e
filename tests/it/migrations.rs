//! Migrations: the nhost-compatible `auth` schema on a fresh database, adopting an nhost database in
//! place, and replicas that start together migrating exactly once.
use crate::helpers::db::TestDb;

#[tokio::test]
async fn migrations_create_the_nhost_tables_and_seed_data() {
    let db = TestDb::create_empty().await;
    let applied = hauth::db::migrate::run(&db.url).await.unwrap();
    assert_eq!(applied.len() as i32, hauth::db::migrate::latest_version());
    let client = db.connect().await;
    for table in [
        "users",
        "roles",
        "user_roles",
        "refresh_tokens",
        "refresh_token_types",
        "providers",
        "user_providers",
        "provider_requests",
        "user_security_keys",
        "hauth_migrations",
    ] {
        let found = client
            .query_opt(
                "select 1 from information_schema.tables where table_schema = 'auth' and table_name = $1",
                &[&table],
            )
            .await
            .unwrap();
        assert!(found.is_some(), "auth.{table} missing");
    }
    let roles: Vec<String> = client
        .query("select role from auth.roles order by role", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(roles, vec!["anonymous", "me", "user"]);
    let providers: Vec<String> =
        client.query("select id from auth.providers", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    for provider in [
        "google",
        "github",
        "facebook",
        "twitter",
        "linkedin",
        "apple",
        "azuread",
        "entraid",
        "slack",
        "discord",
        "twitch",
        "gitlab",
        "bitbucket",
        "spotify",
    ] {
        assert!(providers.contains(&provider.to_string()), "{provider} not seeded");
    }
    let types: i64 = client
        .query_one("select count(*) from auth.refresh_token_types where value in ('regular', 'pat')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(types, 2);
}

#[tokio::test]
async fn migrating_again_is_a_no_op() {
    let db = TestDb::create_empty().await;
    hauth::db::migrate::run(&db.url).await.unwrap();
    assert!(hauth::db::migrate::run(&db.url).await.unwrap().is_empty());
}

#[tokio::test]
async fn replicas_migrating_at_once_take_turns() {
    let db = TestDb::create_empty().await;
    let runs = futures::future::join_all((0..4).map(|_| hauth::db::migrate::run(&db.url))).await;
    let mut total = 0;
    for run in runs {
        total += run.expect("every replica starts").len();
    }
    assert_eq!(total as i32, hauth::db::migrate::latest_version(), "each migration applied exactly once");
}

#[tokio::test]
async fn an_existing_nhost_style_schema_is_adopted_in_place() {
    let db = TestDb::create_empty().await;
    let client = db.connect().await;
    // The shape nhost leaves behind: its own history table, tables, a user and a session of its own.
    client
        .batch_execute(
            r#"
            create extension if not exists citext;
            create schema auth;
            create table auth.schema_migrations (version bigint primary key, dirty boolean not null);
            insert into auth.schema_migrations values (18, false);
            create table auth.roles (role text primary key);
            insert into auth.roles values ('user'), ('me');
            create table auth.users (
              id uuid primary key default gen_random_uuid(), created_at timestamptz not null default now(),
              updated_at timestamptz not null default now(), last_seen timestamptz, disabled boolean not null default false,
              display_name text not null default '', avatar_url text not null default '', locale varchar(2) not null,
              email citext unique, phone_number text unique, password_hash text, email_verified boolean not null default false,
              phone_number_verified boolean not null default false, new_email citext, otp_method_last_used text, otp_hash text,
              otp_hash_expires_at timestamptz not null default now(), default_role text not null default 'user' references auth.roles(role),
              is_anonymous boolean not null default false, totp_secret text, active_mfa_type text, ticket text,
              ticket_expires_at timestamptz not null default now(), metadata jsonb, webauthn_current_challenge text);
            create table auth.refresh_token_types (value text primary key, comment text);
            insert into auth.refresh_token_types values ('regular', null), ('pat', null);
            create table auth.refresh_tokens (id uuid primary key default gen_random_uuid(), created_at timestamptz not null default now(),
              expires_at timestamptz not null, user_id uuid not null references auth.users(id), metadata jsonb,
              type text not null default 'regular', refresh_token_hash varchar(255));
            insert into auth.users (id, email, locale, email_verified) values ('11111111-1111-1111-1111-111111111111', 'old@example.com', 'en', true);
            insert into auth.refresh_tokens (user_id, expires_at, refresh_token_hash)
              values ('11111111-1111-1111-1111-111111111111', now() + interval '1 day',
                      '\x' || encode(sha256('22222222-2222-2222-2222-222222222222'::bytea), 'hex'));
            "#,
        )
        .await
        .unwrap();
    hauth::db::migrate::run(&db.url).await.expect("adopts the nhost schema");
    let nhost_version: i64 = client.query_one("select version from auth.schema_migrations", &[]).await.unwrap().get(0);
    assert_eq!(nhost_version, 18, "nhost's own history is left alone");
    let family: Option<uuid::Uuid> =
        client.query_one("select family_id from auth.refresh_tokens", &[]).await.unwrap().get(0);
    assert!(family.is_some(), "existing sessions join the rotation scheme");

    // The session nhost issued keeps working against hauth.
    let mut env = crate::helpers::app::base_env(&db.url);
    env.insert("AUTH_SKIP_MIGRATIONS".into(), "true".into());
    let config = hauth::config::Config::from_env(&env).unwrap();
    let state = hauth::state::AppState::build(config, hauth::clock::Clock::System).unwrap();
    let session = hauth::flows::session::refresh(&state, "22222222-2222-2222-2222-222222222222").await.unwrap();
    assert_eq!(session.user.email.as_deref(), Some("old@example.com"));
}
