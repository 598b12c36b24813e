update auth.user_providers
set access_token = '', refresh_token = null, access_token_sealed = $2, refresh_token_sealed = $3,
    id_token_sealed = $4, token_key_id = $5, access_token_expires_at = $6, scopes = coalesce($7, scopes),
    needs_reauthentication = false, updated_at = now()
where id = $1
