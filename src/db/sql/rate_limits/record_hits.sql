insert into auth.rate_limits as r (key, tat, emission, tolerance, allowed)
select h.key, $4::timestamptz + make_interval(secs => h.emission), make_interval(secs => h.emission),
       make_interval(secs => h.tolerance), h.emission <= h.tolerance
from unnest($1::text[], $2::float8[], $3::float8[]) with ordinality as h(key, emission, tolerance, position)
order by h.position
on conflict (key) do update set
  allowed = greatest(r.tat, $4::timestamptz) + excluded.emission <= $4::timestamptz + excluded.tolerance,
  tat = case when greatest(r.tat, $4::timestamptz) + excluded.emission <= $4::timestamptz + excluded.tolerance
             then greatest(r.tat, $4::timestamptz) + excluded.emission else r.tat end,
  emission = excluded.emission,
  tolerance = excluded.tolerance
returning r.key, r.allowed, extract(epoch from (r.tat + r.emission - r.tolerance - $4::timestamptz))::float8 as wait_seconds
