select t.id, t.metadata, t.created_at, t.expires_at
from auth.refresh_tokens t
where t.user_id = $1 and t.type = 'pat' and t.revoked_at is null
order by t.created_at, t.id
