insert into auth.one_time_codes (user_id, kind, code_hash, created_at, expires_at, payload)
values ($1, $2, $3, $4, $5, $6)
returning id
