select t.id, t.expires_at, t.user_id
from auth.refresh_tokens t
where t.refresh_token_hash = $1 and t.type = 'pat' and t.revoked_at is null and t.expires_at > $2
