-- The nhost-compatible `auth` schema: the same tables, columns and constraint names as nhost's
-- hasura-auth, so Hasura metadata and GraphQL clients written for nhost keep working. Every statement
-- is idempotent so that an existing nhost database can be adopted in place.
create extension if not exists citext with schema public;

create schema if not exists auth;

do $$
begin
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'auth' and t.typname = 'email') then
    create domain auth.email as public.citext
      constraint email_check check (value operator(public.~)
        '^[a-zA-Z0-9.!#$%&''*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$'::public.citext);
  end if;
end
$$;

create or replace function auth.set_current_timestamp_updated_at() returns trigger
language plpgsql as $$
declare
  _new record;
begin
  _new := new;
  _new."updated_at" = now();
  return _new;
end;
$$;

create table if not exists auth.roles (
  role text not null constraint roles_pkey primary key
);
comment on table auth.roles is 'Roles a user can be given; x-hasura-allowed-roles come from here.';

create table if not exists auth.providers (
  id text not null constraint providers_pkey primary key
);
comment on table auth.providers is 'OAuth providers a user can sign in with.';

create table if not exists auth.provider_requests (
  id uuid not null constraint provider_requests_pkey primary key,
  options jsonb
);
comment on table auth.provider_requests is 'OAuth requests, stored before redirecting to the provider.';

create table if not exists auth.refresh_token_types (
  value text not null constraint refresh_token_types_pkey primary key,
  comment text
);

create table if not exists auth.users (
  id uuid not null default gen_random_uuid() constraint users_pkey primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_seen timestamptz,
  disabled boolean not null default false,
  display_name text not null default '',
  avatar_url text not null default '',
  locale varchar(2) not null,
  email auth.email constraint users_email_key unique,
  phone_number text constraint users_phone_number_key unique,
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
  constraint active_mfa_types_check check (active_mfa_type = 'totp' or active_mfa_type = 'sms')
);
comment on table auth.users is 'User accounts.';

create table if not exists auth.user_roles (
  id uuid not null default gen_random_uuid() constraint user_roles_pkey primary key,
  created_at timestamptz not null default now(),
  user_id uuid not null,
  role text not null,
  constraint user_roles_user_id_role_key unique (user_id, role)
);
comment on table auth.user_roles is 'Roles each user is allowed to take.';

create table if not exists auth.refresh_tokens (
  id uuid not null default gen_random_uuid() constraint refresh_tokens_pkey primary key,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  user_id uuid not null,
  metadata jsonb,
  type text not null default 'regular',
  refresh_token_hash varchar(255)
);
comment on table auth.refresh_tokens is 'Refresh tokens, stored only as SHA-256 hashes.';

create table if not exists auth.user_providers (
  id uuid not null default gen_random_uuid() constraint user_providers_pkey primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  user_id uuid not null,
  access_token text not null,
  refresh_token text,
  provider_id text not null,
  provider_user_id text not null,
  constraint user_providers_provider_id_provider_user_id_key unique (provider_id, provider_user_id)
);
comment on table auth.user_providers is 'Provider accounts linked to users.';

create table if not exists auth.user_security_keys (
  id uuid not null default gen_random_uuid() constraint user_security_keys_pkey primary key,
  user_id uuid not null,
  credential_id text not null constraint user_security_key_credential_id_key unique,
  credential_public_key bytea,
  counter bigint not null default 0,
  transports varchar(255) not null default '',
  nickname text
);
comment on table auth.user_security_keys is 'WebAuthn security keys of users.';

create index if not exists refresh_tokens_refresh_token_hash_expires_at_user_id_idx
  on auth.refresh_tokens (refresh_token_hash, expires_at, user_id);

-- Constraints and triggers that `create table if not exists` cannot add to an adopted table.
do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'fk_default_role' and conrelid = 'auth.users'::regclass) then
    alter table auth.users add constraint fk_default_role foreign key (default_role)
      references auth.roles (role) on update cascade on delete restrict;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'fk_provider' and conrelid = 'auth.user_providers'::regclass) then
    alter table auth.user_providers add constraint fk_provider foreign key (provider_id)
      references auth.providers (id) on update cascade on delete restrict;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'fk_user' and conrelid = 'auth.user_providers'::regclass) then
    alter table auth.user_providers add constraint fk_user foreign key (user_id)
      references auth.users (id) on update cascade on delete cascade;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'fk_role' and conrelid = 'auth.user_roles'::regclass) then
    alter table auth.user_roles add constraint fk_role foreign key (role)
      references auth.roles (role) on update cascade on delete restrict;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'fk_user' and conrelid = 'auth.user_roles'::regclass) then
    alter table auth.user_roles add constraint fk_user foreign key (user_id)
      references auth.users (id) on update cascade on delete cascade;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'fk_user' and conrelid = 'auth.refresh_tokens'::regclass) then
    alter table auth.refresh_tokens add constraint fk_user foreign key (user_id)
      references auth.users (id) on update cascade on delete cascade;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'fk_user' and conrelid = 'auth.user_security_keys'::regclass) then
    alter table auth.user_security_keys add constraint fk_user foreign key (user_id)
      references auth.users (id) on update cascade on delete cascade;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'refresh_tokens_types_fkey') then
    alter table auth.refresh_tokens add constraint refresh_tokens_types_fkey foreign key (type)
      references auth.refresh_token_types (value) on update restrict on delete restrict;
  end if;
  if not exists (select 1 from pg_trigger where tgname = 'set_auth_users_updated_at') then
    create trigger set_auth_users_updated_at before update on auth.users
      for each row execute function auth.set_current_timestamp_updated_at();
  end if;
  if not exists (select 1 from pg_trigger where tgname = 'set_auth_user_providers_updated_at') then
    create trigger set_auth_user_providers_updated_at before update on auth.user_providers
      for each row execute function auth.set_current_timestamp_updated_at();
  end if;
end
$$;
