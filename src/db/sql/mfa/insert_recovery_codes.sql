insert into auth.mfa_recovery_codes (user_id, code_hash, created_at)
select $1, hash, $3 from unnest($2::text[]) as hash
