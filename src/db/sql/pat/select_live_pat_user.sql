select t.id as pat_id, t.expires_at as pat_expires_at,
       u.id, u.created_at, u.display_name, u.avatar_url, u.locale::text as locale, u.email::text as email,
       u.phone_number, u.email_verified, u.phone_number_verified, u.default_role, u.is_anonymous, u.disabled,
       u.metadata, u.active_mfa_type, u.organisation_id,
       coalesce((select array_agg(r.role order by r.created_at, r.role) from auth.user_roles r where r.user_id = u.id),
                '{}'::text[]) as roles
from auth.refresh_tokens t
join auth.users u on u.id = t.user_id
where t.refresh_token_hash = $1 and t.type = 'pat' and t.revoked_at is null and t.expires_at > $2
