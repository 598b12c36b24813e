select p.provider_id, p.provider_user_id, p.email, p.created_at, p.access_token_expires_at, p.needs_reauthentication
from auth.user_providers p
where p.user_id = $1
order by p.created_at, p.provider_id
