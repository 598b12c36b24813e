update auth.sign_in_lockouts
set window_started_at = $2::timestamptz, failures = $3::int, lockouts = $4::int, locked_until = $5::timestamptz
where user_id = $1
