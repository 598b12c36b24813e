-- A refresh succeeded: the next one is due at $3, the attempts start over, the lease ends. Only the holder
-- of the lease ($2) records it; no row means the lease was lost (the identity was linked again or unlinked)
-- and the caller stores nothing.
update auth.oauth_token_refresh_queue
set scheduled_at = $3, refreshable = $4, attempts = 0, error_message = null, leased_until = null, lease_id = null,
    last_refreshed_at = $5
where id = $1 and lease_id = $2
