-- A refresh failed: the error is kept and the retry is due at $3; $4 false stops the row for good (the
-- provider refused the grant, or there is nothing to refresh with). Only the lease holder ($2) records it.
update auth.oauth_token_refresh_queue
set scheduled_at = $3, refreshable = $4, error_message = $5, last_failed_at = $6, leased_until = null,
    lease_id = null
where id = $1 and lease_id = $2
