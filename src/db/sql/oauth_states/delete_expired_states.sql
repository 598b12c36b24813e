delete from auth.oauth_states where expires_at < $1
