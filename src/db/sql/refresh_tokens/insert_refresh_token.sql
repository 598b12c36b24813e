insert into auth.refresh_tokens (id, user_id, refresh_token_hash, created_at, expires_at, type, family_id, parent_id,
                                 signed_in_at, ip, user_agent)
values ($1, $2, $3, $4, $5, 'regular', $6, $7, $8, $9, $10)
