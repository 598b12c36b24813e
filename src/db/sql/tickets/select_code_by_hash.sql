select c.id, c.user_id, c.kind, c.expires_at, c.used_at, c.failed_attempts, c.payload
from auth.one_time_codes c
where c.code_hash = $1
