insert into auth.refresh_tokens (id, user_id, refresh_token_hash, created_at, expires_at, type, metadata, family_id)
values ($1, $2, $3, $4, $5, 'pat', $6, $1)
