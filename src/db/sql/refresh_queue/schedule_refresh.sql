-- (Re)schedules an identity's refresh after new tokens were stored by a sign-in or link: a fresh start, so
-- attempts, the last error and any lease are cleared (a refresh in flight for the old tokens then finds its
-- lease gone and stores nothing).
insert into auth.oauth_token_refresh_queue (user_provider_id, scheduled_at, refreshable, max_attempts, created_at)
values ($1, $2, $3, $4, $5)
on conflict (user_provider_id) do update
set scheduled_at = excluded.scheduled_at, refreshable = excluded.refreshable, max_attempts = excluded.max_attempts,
    attempts = 0, error_message = null, leased_until = null, lease_id = null
