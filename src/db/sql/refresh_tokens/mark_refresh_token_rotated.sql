update auth.refresh_tokens set rotated_at = $2, child_token_sealed = $3 where id = $1 and rotated_at is null
