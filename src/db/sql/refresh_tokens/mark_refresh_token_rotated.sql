update auth.refresh_tokens set rotated_at = $2 where id = $1 and rotated_at is null
