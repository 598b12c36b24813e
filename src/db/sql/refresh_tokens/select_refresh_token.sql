select t.id, t.user_id, coalesce(t.family_id, t.id) as family_id, t.type, t.expires_at, t.rotated_at,
       t.revoked_at, t.child_token_sealed, coalesce(t.signed_in_at, t.created_at) as signed_in_at
from auth.refresh_tokens t
where t.refresh_token_hash = $1
