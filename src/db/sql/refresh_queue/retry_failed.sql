-- The manual reset of exhausted rows (nself's documented one): due at once, attempts from zero.
update auth.oauth_token_refresh_queue
set attempts = 0, error_message = null, scheduled_at = $1, leased_until = null, lease_id = null
where refreshable and attempts >= max_attempts
