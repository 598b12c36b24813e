update auth.refresh_tokens set revoked_at = $2
where family_id = $1 and revoked_at is null
