-- The provider-token refresh queue: one row per linked identity (`auth.user_providers`), due
-- `scheduled_at`, a lead time before the stored access token expires. Workers of every replica claim due
-- rows with `for update skip locked` and hold them by a lease (`lease_id` until `leased_until`) while the
-- provider is called, so no row lock is held across that call; the on-demand refresh of the token endpoints
-- takes the same lease, so one token is never refreshed twice at once. nself's columns keep their meaning
-- (`attempts` counts the attempts since the last success; at `max_attempts` the row waits for a manual
-- reset). An identity without a refresh token is kept with `refreshable = false`: nothing is ever due.
--
-- The identity column is `user_provider_id`, not nself's `oauth_account_id`: a table with that column is
-- recognised as nself's and moved aside before migrations run.
create table if not exists auth.oauth_token_refresh_queue (
  id uuid not null default gen_random_uuid() constraint oauth_token_refresh_queue_pkey primary key,
  user_provider_id uuid not null
    constraint oauth_token_refresh_queue_user_provider_id_key unique
    constraint oauth_token_refresh_queue_user_provider_id_fkey references auth.user_providers (id) on delete cascade,
  scheduled_at timestamptz not null,
  last_attempt_at timestamptz,
  attempts integer not null default 0,
  max_attempts integer not null default 3,
  error_message text,
  created_at timestamptz not null default now(),
  refreshable boolean not null default true,
  leased_until timestamptz,
  lease_id uuid,
  last_refreshed_at timestamptz,
  last_failed_at timestamptz
);
comment on table auth.oauth_token_refresh_queue is
  'Provider access tokens to refresh before they expire (one row per linked identity).';
create index if not exists oauth_token_refresh_queue_due_idx
  on auth.oauth_token_refresh_queue (scheduled_at) where refreshable and attempts < max_attempts;

-- Identities linked before this version: due five minutes (the default lead time) before their expiry.
insert into auth.oauth_token_refresh_queue (user_provider_id, scheduled_at, refreshable)
select p.id,
       coalesce(p.access_token_expires_at, now()) - interval '5 minutes',
       (p.refresh_token_sealed is not null or coalesce(p.refresh_token, '') <> '')
         and p.access_token_expires_at is not null and not p.needs_reauthentication
from auth.user_providers p
on conflict (user_provider_id) do nothing;
