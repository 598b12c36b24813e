-- GET /user's statement (src/db/sql/users/select_user_by_id.sql) for the seeded user (-D uid=…).
select u.id, u.created_at, u.display_name, u.avatar_url, u.locale::text as locale, u.email::text as email,
       u.phone_number, u.email_verified, u.phone_number_verified, u.default_role, u.is_anonymous, u.disabled,
       u.metadata, u.active_mfa_type, u.organisation_id,
       coalesce((select array_agg(r.role order by r.created_at, r.role) from auth.user_roles r where r.user_id = u.id),
                '{}'::text[]) as roles
from auth.users u
where u.id = :uid;
