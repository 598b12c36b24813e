insert into auth.oauth_states (state, provider, redirect_url, metadata, created_at, expires_at, redirect_uri, sealed,
                               link_user_id)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
