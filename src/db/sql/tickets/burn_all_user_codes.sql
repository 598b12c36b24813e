update auth.one_time_codes set used_at = $2 where user_id = $1 and used_at is null
