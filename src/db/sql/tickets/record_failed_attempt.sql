update auth.one_time_codes
set failed_attempts = failed_attempts + 1,
    used_at = case when failed_attempts + 1 >= $2 then $3 else used_at end
where id = $1
returning failed_attempts
