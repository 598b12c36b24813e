update auth.one_time_codes set used_at = $3
where user_id = $1 and kind = $2 and used_at is null
