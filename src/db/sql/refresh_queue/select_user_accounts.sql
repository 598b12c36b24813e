-- A user's linked providers with their refresh state, the user given by id or email ($1).
select u.id as user_id, u.email::text as user_email, p.provider_id, p.provider_user_id, p.email, p.created_at,
       p.access_token_expires_at, p.needs_reauthentication, q.scheduled_at, q.refreshable, q.attempts,
       q.max_attempts, q.error_message, q.last_refreshed_at
from auth.users u
join auth.user_providers p on p.user_id = u.id
left join auth.oauth_token_refresh_queue q on q.user_provider_id = p.id
where u.id::text = $1 or lower(u.email::text) = lower($1)
order by p.created_at, p.provider_id
