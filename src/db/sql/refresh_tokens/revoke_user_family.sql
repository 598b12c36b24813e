update auth.refresh_tokens set revoked_at = $3
where family_id = $2 and user_id = $1 and type = 'regular' and revoked_at is null
