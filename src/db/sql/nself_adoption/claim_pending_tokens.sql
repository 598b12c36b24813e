select t.identity_id, t.access_token, t.refresh_token, t.id_token, p.access_token_expires_at
from auth_nself.pending_tokens t
join auth.user_providers p on p.id = t.identity_id
order by t.identity_id
limit $1
for update of t skip locked
