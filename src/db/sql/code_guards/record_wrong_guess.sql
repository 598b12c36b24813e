insert into auth.code_guards as g (identifier, window_started_at, failures, locked_until)
values ($1, $2::timestamptz, 1,
        case when 1 >= $4::int then $2::timestamptz + make_interval(secs => $3::float8) end)
on conflict (identifier) do update set
  window_started_at = case when g.window_started_at + make_interval(secs => $3::float8) <= $2::timestamptz
                           then $2::timestamptz else g.window_started_at end,
  failures = case when g.window_started_at + make_interval(secs => $3::float8) <= $2::timestamptz
                  then 1 else g.failures + 1 end,
  locked_until = case when (case when g.window_started_at + make_interval(secs => $3::float8) <= $2::timestamptz
                                 then 1 else g.failures + 1 end) >= $4::int
                      then $2::timestamptz + make_interval(secs => $3::float8) else g.locked_until end
returning g.failures, g.locked_until
