select p.id, p.user_id, p.provider_id, p.provider_user_id, p.created_at, p.email, p.access_token,
       p.refresh_token, p.access_token_sealed, p.refresh_token_sealed, p.id_token_sealed, p.token_key_id,
       p.access_token_expires_at, p.needs_reauthentication
from auth.user_providers p
where p.id = $1
