insert into auth.user_providers (id, user_id, provider_id, provider_user_id, access_token, refresh_token,
                                 access_token_sealed, refresh_token_sealed, id_token_sealed, token_key_id,
                                 access_token_expires_at, scopes, email, profile, created_at, updated_at)
values ($1, $2, $3, $4, '', null, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
