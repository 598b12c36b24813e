-- Gives the lease back without recording an outcome (an on-demand refresh that met a passing outage).
update auth.oauth_token_refresh_queue set leased_until = null, lease_id = null where id = $1 and lease_id = $2
