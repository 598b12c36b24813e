//! A database as nhost's hasura-auth (v0.42) leaves it, for the adoption tests: every table, column, default,
//! constraint, index and trigger of its `auth` schema, its seed rows, and accounts of every kind it holds
//! (bcrypt passwords in both spellings, roles, a provider link, sessions and a personal access token stored as
//! `\x` + hex SHA-256, a security key, a provider request in flight). nhost's grants to its own database
//! roles are left out: roles are shared by every database of the test cluster.
use sha2::{Digest, Sha256};

use super::app::PASSWORD;
use super::db::TestDb;

/// nhost's `auth` schema (nhost's images also install `pgcrypto`, whose `public.gen_random_uuid()` its defaults
/// name).
pub const NHOST_SCHEMA: &str = r#"
    create extension if not exists citext;
    create extension if not exists pgcrypto;
    create schema auth;
    create domain auth.email as public.citext
      constraint email_check check (value operator(public.~)
        '^[a-zA-Z0-9.!#$%&''*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$'::public.citext);
    create function auth.set_current_timestamp_updated_at() returns trigger language plpgsql as $$
      declare _new record;
      begin _new := new; _new."updated_at" = now(); return _new; end;
    $$;

    create table auth.schema_migrations (version bigint not null, dirty boolean not null,
      constraint schema_migrations_pkey primary key (version));
    create table auth.provider_requests (id uuid not null, options jsonb,
      constraint provider_requests_pkey primary key (id));
    create table auth.providers (id text not null, constraint providers_pkey primary key (id));
    create table auth.refresh_token_types (value text not null, comment text,
      constraint refresh_token_types_pkey primary key (value));
    create table auth.roles (role text not null, constraint roles_pkey primary key (role));

    create table auth.users (
      id uuid not null default public.gen_random_uuid(),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      last_seen timestamptz,
      disabled boolean not null default false,
      display_name text not null default '',
      avatar_url text not null default '',
      locale varchar(2) not null,
      email auth.email,
      phone_number text,
      password_hash text,
      email_verified boolean not null default false,
      phone_number_verified boolean not null default false,
      new_email auth.email,
      otp_method_last_used text,
      otp_hash text,
      otp_hash_expires_at timestamptz not null default now(),
      default_role text not null default 'user',
      is_anonymous boolean not null default false,
      totp_secret text,
      active_mfa_type text,
      ticket text,
      ticket_expires_at timestamptz not null default now(),
      metadata jsonb,
      webauthn_current_challenge text,
      constraint users_pkey primary key (id),
      constraint users_email_key unique (email),
      constraint users_phone_number_key unique (phone_number),
      constraint active_mfa_types_check check (active_mfa_type = 'totp' or active_mfa_type = 'sms'),
      constraint fk_default_role foreign key (default_role) references auth.roles (role)
        on update cascade on delete restrict);
    create trigger set_auth_users_updated_at before update on auth.users
      for each row execute function auth.set_current_timestamp_updated_at();

    create table auth.refresh_tokens (
      id uuid not null default gen_random_uuid(),
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      user_id uuid not null,
      metadata jsonb,
      type text not null default 'regular',
      refresh_token_hash varchar(255),
      constraint refresh_tokens_pkey primary key (id),
      constraint fk_user foreign key (user_id) references auth.users (id) on update cascade on delete cascade,
      constraint refresh_tokens_types_fkey foreign key (type) references auth.refresh_token_types (value)
        on update restrict on delete restrict);
    create index refresh_tokens_refresh_token_hash_expires_at_user_id_idx
      on auth.refresh_tokens (refresh_token_hash, expires_at, user_id);

    create table auth.user_providers (
      id uuid not null default public.gen_random_uuid(),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      user_id uuid not null,
      access_token text not null,
      refresh_token text,
      provider_id text not null,
      provider_user_id text not null,
      constraint user_providers_pkey primary key (id),
      constraint user_providers_provider_id_provider_user_id_key unique (provider_id, provider_user_id),
      constraint fk_provider foreign key (provider_id) references auth.providers (id)
        on update cascade on delete restrict,
      constraint fk_user foreign key (user_id) references auth.users (id) on update cascade on delete cascade);
    create trigger set_auth_user_providers_updated_at before update on auth.user_providers
      for each row execute function auth.set_current_timestamp_updated_at();

    create table auth.user_roles (
      id uuid not null default public.gen_random_uuid(),
      created_at timestamptz not null default now(),
      user_id uuid not null,
      role text not null,
      constraint user_roles_pkey primary key (id),
      constraint user_roles_user_id_role_key unique (user_id, role),
      constraint fk_role foreign key (role) references auth.roles (role) on update cascade on delete restrict,
      constraint fk_user foreign key (user_id) references auth.users (id) on update cascade on delete cascade);

    create table auth.user_security_keys (
      id uuid not null default public.gen_random_uuid(),
      user_id uuid not null,
      credential_id text not null,
      credential_public_key bytea,
      counter bigint not null default 0,
      transports varchar(255) not null default '',
      nickname text,
      constraint user_security_keys_pkey primary key (id),
      constraint user_security_key_credential_id_key unique (credential_id),
      constraint fk_user foreign key (user_id) references auth.users (id) on update cascade on delete cascade);

    insert into auth.schema_migrations values (18, false);
    insert into auth.roles values ('user'), ('me'), ('anonymous'), ('editor');
    insert into auth.refresh_token_types values ('regular', 'Regular refresh token'), ('pat', 'Personal access token');
    insert into auth.providers values ('github'), ('google'), ('facebook'), ('twitter'), ('linkedin'), ('apple'),
      ('windowslive'), ('spotify'), ('strava'), ('gitlab'), ('bitbucket'), ('discord'), ('twitch'), ('workos'),
      ('azuread');
"#;

pub const ADA: &str = "a0000000-0000-4000-8000-000000000001";
pub const GRACE: &str = "a0000000-0000-4000-8000-000000000002";
pub const LINUS: &str = "a0000000-0000-4000-8000-000000000003";
pub const GUEST: &str = "a0000000-0000-4000-8000-000000000004";
pub const BARRED: &str = "a0000000-0000-4000-8000-000000000005";
/// Ada's live session, as nhost handed it to her browser.
pub const ADA_REFRESH_TOKEN: &str = "b0000000-0000-4000-8000-00000000000a";
/// Ada's session that expired.
pub const ADA_EXPIRED_TOKEN: &str = "b0000000-0000-4000-8000-00000000000b";
/// Grace's personal access token.
pub const GRACE_PAT: &str = "b0000000-0000-4000-8000-00000000000c";
pub const LINUS_GITHUB_ACCESS: &str = "gho_linus-plaintext-access-token";

/// nhost's stored form of a refresh token or PAT: `\x` and the hex of its SHA-256.
pub fn nhost_token_hash(token: &str) -> String {
    format!("\\x{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// An empty database holding nhost's schema and the accounts above.
pub async fn nhost_database() -> TestDb {
    let db = TestDb::create_empty().await;
    let client = db.connect().await;
    client.batch_execute(NHOST_SCHEMA).await.unwrap();
    // Ada's hash is bcrypt's `$2b$`; Grace's is `$2a$`, as the bcryptjs nhost used writes it.
    let ada_hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let grace_hash = bcrypt::hash(PASSWORD, 4).unwrap().replacen("$2b$", "$2a$", 1);
    client
        .execute(
            "insert into auth.users (id, created_at, updated_at, last_seen, display_name, avatar_url, locale, email,
                                     password_hash, email_verified, default_role, metadata, phone_number,
                                     phone_number_verified, disabled, is_anonymous)
             values ($1::text::uuid, '2023-01-02T03:04:05Z', '2024-05-06T07:08:09Z', '2025-01-01T00:00:00Z', 'Ada',
                     'https://example.com/ada.png', 'fr', 'ada@example.com', $6, true, 'user', '{\"plan\": \"pro\"}',
                     '+14155550101', true, false, false),
                    ($2::text::uuid, '2023-02-02T03:04:05Z', '2024-02-06T07:08:09Z', null, 'Grace', '', 'en',
                     'grace@example.com', $7, true, 'editor', null, null, false, false, false),
                    ($3::text::uuid, '2023-03-02T03:04:05Z', '2024-03-06T07:08:09Z', null, 'Linus', '', 'en',
                     'linus@example.com', null, true, 'user', '{}', null, false, false, false),
                    ($4::text::uuid, '2023-04-02T03:04:05Z', '2024-04-06T07:08:09Z', null, 'Anonymous', '', 'en',
                     null, null, false, 'anonymous', null, null, false, false, true),
                    ($5::text::uuid, '2023-05-02T03:04:05Z', '2024-05-06T07:08:09Z', null, 'Barred', '', 'en',
                     'barred@example.com', $6, true, 'user', null, null, false, true, false)",
            &[&ADA, &GRACE, &LINUS, &GUEST, &BARRED, &ada_hash, &grace_hash],
        )
        .await
        .unwrap();
    client
        .batch_execute(&format!(
            "insert into auth.user_roles (user_id, role, created_at) values
               ('{ADA}', 'user', '2023-01-02T03:04:05Z'), ('{ADA}', 'me', '2023-01-02T03:04:05Z'),
               ('{GRACE}', 'user', '2023-02-02T03:04:05Z'), ('{GRACE}', 'me', '2023-02-02T03:04:05Z'),
               ('{GRACE}', 'editor', '2023-02-03T03:04:05Z'),
               ('{LINUS}', 'user', '2023-03-02T03:04:05Z'), ('{LINUS}', 'me', '2023-03-02T03:04:05Z'),
               ('{GUEST}', 'anonymous', '2023-04-02T03:04:05Z'), ('{BARRED}', 'user', '2023-05-02T03:04:05Z');
             insert into auth.refresh_tokens (id, user_id, created_at, expires_at, refresh_token_hash, type, metadata) values
               ('c0000000-0000-4000-8000-000000000001', '{ADA}', now() - interval '1 day', now() + interval '29 days',
                '{}', 'regular', null),
               ('c0000000-0000-4000-8000-000000000002', '{ADA}', now() - interval '40 days', now() - interval '10 days',
                '{}', 'regular', null),
               ('c0000000-0000-4000-8000-000000000003', '{GRACE}', now() - interval '2 days', now() + interval '300 days',
                '{}', 'pat', '{{\"name\": \"ci\"}}');
             insert into auth.user_providers (id, user_id, created_at, updated_at, access_token, refresh_token,
                                              provider_id, provider_user_id) values
               ('d0000000-0000-4000-8000-000000000001', '{LINUS}', '2023-03-02T03:04:05Z', '2024-03-06T07:08:09Z',
                '{LINUS_GITHUB_ACCESS}', 'ghr_linus-refresh', 'github', '3003');
             insert into auth.user_security_keys (id, user_id, credential_id, credential_public_key, counter, transports,
                                                  nickname) values
               ('e0000000-0000-4000-8000-000000000001', '{ADA}', 'cred-ada-1', '\\x0102030405'::bytea, 7, 'usb,nfc',
                'YubiKey');
             insert into auth.provider_requests (id, options) values
               ('f0000000-0000-4000-8000-000000000001', '{{\"redirectTo\": \"https://app.example.com\"}}');",
            nhost_token_hash(ADA_REFRESH_TOKEN),
            nhost_token_hash(ADA_EXPIRED_TOKEN),
            nhost_token_hash(GRACE_PAT),
        ))
        .await
        .unwrap();
    db
}
