delete from auth.oauth_states
where state = $1
returning provider, redirect_url, metadata, expires_at, redirect_uri, sealed, link_user_id
