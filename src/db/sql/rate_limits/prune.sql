delete from auth.rate_limits r
where r.tat < $1::timestamptz
