insert into auth.sign_in_lockouts (user_id, window_started_at, failures, lockouts)
values ($1, $2::timestamptz, 0, 0)
on conflict (user_id) do nothing
