-- The on-demand refresh of one identity takes the row's lease ($4 until $3) unless someone holds it: the
-- worker and the token endpoints never refresh the same token at once. No attempt is counted. A row that
-- does not exist yet (a link older than the queue) is created leased.
insert into auth.oauth_token_refresh_queue as queue (user_provider_id, scheduled_at, leased_until, lease_id, created_at)
values ($1, $2, $3, $4, $2)
on conflict (user_provider_id) do update
set leased_until = excluded.leased_until, lease_id = excluded.lease_id
where queue.leased_until is null or queue.leased_until <= $2
returning queue.id, queue.user_provider_id, queue.lease_id, queue.attempts, queue.max_attempts
