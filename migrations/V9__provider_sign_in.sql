-- Sign-in with OAuth/OIDC providers.
--
-- Linked identities stay in nhost's `auth.user_providers` (its columns and Hasura metadata keep their
-- meaning). hauth writes the provider's tokens only AES-256-GCM encrypted, into new columns, with the id of
-- the key that sealed them; nhost's plaintext `access_token` column is left empty for rows hauth writes.
alter table auth.user_providers
  add column if not exists access_token_sealed bytea,
  add column if not exists refresh_token_sealed bytea,
  add column if not exists id_token_sealed bytea,
  add column if not exists token_key_id text,
  add column if not exists access_token_expires_at timestamptz,
  add column if not exists scopes text[],
  add column if not exists email text,
  add column if not exists profile jsonb,
  add column if not exists needs_reauthentication boolean not null default false;

-- One identity per provider per user. An adopted database that breaks the rule keeps working; only the
-- new rule is not enforced there until the duplicates are resolved.
do $$
begin
  if not exists (select 1 from auth.user_providers group by user_id, provider_id having count(*) > 1) then
    create unique index if not exists user_providers_user_id_provider_id_key
      on auth.user_providers (user_id, provider_id);
  end if;
end
$$;
create index if not exists user_providers_user_id_idx on auth.user_providers (user_id);

-- Microsoft Entra ID under one id (nhost's `azuread` and `entraid` rows stay valid and are read as it).
insert into auth.providers (id) values ('microsoft') on conflict (id) do nothing;

-- A provider sign-in in flight: one row per `state`, found by the state's hash and deleted when the callback
-- uses it (one time). The PKCE verifier and the nonce are sealed under a key derived from the state itself,
-- so the row alone cannot finish the flow. `link_user_id` is the signed-in user an identity is being linked
-- to. Rows live ten minutes.
create table if not exists auth.oauth_states (
  id uuid not null default gen_random_uuid() constraint oauth_states_pkey primary key,
  state varchar(64) not null constraint oauth_states_state_key unique,
  provider varchar(50) not null,
  redirect_url text,
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '10 minutes',
  redirect_uri text not null default '',
  sealed bytea,
  link_user_id uuid constraint oauth_states_link_user_id_fkey references auth.users (id) on delete cascade
);
comment on table auth.oauth_states is 'Provider sign-ins in flight (one-time, ten minutes).';
create index if not exists oauth_states_expires_at_idx on auth.oauth_states (expires_at);

-- Security events: sign-ins, sign-ups, links and unlinks, failures.
create table if not exists auth.audit_log (
  id uuid not null default gen_random_uuid() constraint audit_log_pkey primary key,
  created_at timestamptz not null default now(),
  event text not null,
  user_id uuid constraint audit_log_user_id_fkey references auth.users (id) on delete set null,
  provider text,
  ip text,
  user_agent text,
  request_id text,
  metadata jsonb not null default '{}'::jsonb
);
comment on table auth.audit_log is 'Security events, newest last.';
create index if not exists audit_log_user_id_created_at_idx on auth.audit_log (user_id, created_at);
create index if not exists audit_log_created_at_idx on auth.audit_log (created_at);

-- The one-time ticket of an explicit link (`POST /user/providers/{provider}/link`).
alter table auth.one_time_codes drop constraint if exists one_time_codes_kind_check;
alter table auth.one_time_codes add constraint one_time_codes_kind_check check (kind in (
  'verifyEmail', 'passwordReset', 'emailConfirmChange', 'emailRevertChange', 'passwordlessEmail', 'emailOtp', 'smsOtp',
  'linkProvider'
));
