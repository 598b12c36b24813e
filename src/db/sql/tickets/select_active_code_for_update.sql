select c.id, c.user_id, c.kind, c.code_hash, c.expires_at, c.used_at, c.failed_attempts, c.payload
from auth.one_time_codes c
where c.user_id = $1 and c.kind = $2 and c.used_at is null and c.expires_at > $3
order by c.created_at desc
limit 1
for update
