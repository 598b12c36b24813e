-- Adopting a deployment of nself's OAuth handler service.
--
-- Before any migration runs, hauth moves nself's tables out of `auth` into `auth_nself` (they are recognised by
-- their columns; two of their names are hauth's own). This migration turns their rows into hauth's: identities
-- become links in `auth.user_providers`, audit rows join `auth.audit_log`, and the tables are dropped. State rows
-- (sign-ins in flight at nself) and the refresh queue are not kept: hauth cannot finish nself's flows, and it
-- schedules refreshes itself. On any other database this only creates the staging table below, so every
-- database ends up with the same schema.
create schema if not exists auth_nself;
comment on schema auth_nself is 'Staging for a database adopted from nself''s OAuth handler service.';

-- nself's encrypted tokens of each adopted identity, kept until hauth re-encrypts them under its own keys at
-- start (given nself's key, `AUTH_NSELF_ENCRYPTION_KEY`) or drops them (without it): the key is a setting, so
-- SQL cannot do it.
create table if not exists auth_nself.pending_tokens (
  identity_id uuid not null constraint pending_tokens_pkey primary key
    constraint pending_tokens_identity_id_fkey references auth.user_providers (id) on delete cascade,
  access_token text,
  refresh_token text,
  id_token text
);
comment on table auth_nself.pending_tokens is 'nself''s encrypted provider tokens, until hauth adopts them at start.';

-- hauth's state table, as V9 defines it: on a database where V9 ran while nself's table still stood in its
-- place, that table has just been moved aside.
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

do $$
begin
  if to_regclass('auth_nself.oauth_provider_accounts') is not null then
    -- nself names X `x` or `twitter`; hauth's id is `twitter`. The other names are hauth's ids.
    insert into auth.providers (id)
    select distinct case lower(a.provider) when 'x' then 'twitter' else lower(a.provider) end
    from auth_nself.oauth_provider_accounts a
    on conflict (id) do nothing;

    -- An identity already linked (by nhost's hasura-auth) keeps its link. Adopted links hand out no token
    -- until start-up has re-encrypted theirs.
    insert into auth.user_providers (id, created_at, updated_at, user_id, access_token, refresh_token,
                                     provider_id, provider_user_id, access_token_expires_at, scopes, email,
                                     profile, needs_reauthentication)
    select a.id, a.created_at, a.updated_at, a.user_id, '', null,
           case lower(a.provider) when 'x' then 'twitter' else lower(a.provider) end,
           a.provider_user_id, a.token_expires_at, a.scopes, a.provider_account_email, a.raw_profile, true
    from auth_nself.oauth_provider_accounts a
    on conflict do nothing;

    insert into auth_nself.pending_tokens (identity_id, access_token, refresh_token, id_token)
    select a.id, a.access_token, a.refresh_token, a.id_token
    from auth_nself.oauth_provider_accounts a
    join auth.user_providers p on p.id = a.id and p.provider_user_id = a.provider_user_id
    where coalesce(a.access_token, a.refresh_token, a.id_token) is not null
    on conflict do nothing;
  end if;

  if to_regclass('auth_nself.oauth_audit_log') is not null then
    -- nself's `login` is hauth's `provider.signin`; `link`, `unlink`, `refresh` and `revoke` keep their names.
    insert into auth.audit_log (id, created_at, event, user_id, provider, ip, user_agent, request_id, metadata)
    select l.id, l.created_at,
           'provider.' || case l.event_type when 'login' then 'signin' else l.event_type end,
           l.user_id,
           case lower(l.provider) when 'x' then 'twitter' else lower(l.provider) end,
           host(l.ip_address), l.user_agent, null,
           case coalesce(jsonb_typeof(l.metadata), 'null') when 'object' then l.metadata
                when 'null' then '{}'::jsonb
                else jsonb_build_object('value', l.metadata) end
             || jsonb_build_object('adoptedFrom', 'nself')
    from auth_nself.oauth_audit_log l
    on conflict do nothing;
  end if;

  drop table if exists auth_nself.oauth_token_refresh_queue, auth_nself.oauth_states, auth_nself.oauth_audit_log,
    auth_nself.oauth_providers, auth_nself.oauth_provider_accounts;
end
$$;
