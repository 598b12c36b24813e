select t.family_id, t.signed_in_at, t.created_at as last_used_at, root.ip, root.user_agent
from auth.refresh_tokens t
left join auth.refresh_tokens root on root.id = t.family_id
where t.user_id = $1 and t.type = 'regular' and t.revoked_at is null and t.rotated_at is null and t.expires_at > $2
order by t.signed_in_at desc, t.family_id
