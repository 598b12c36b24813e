update auth.mfa_recovery_codes set used_at = $3
where user_id = $1 and code_hash = $2 and used_at is null
