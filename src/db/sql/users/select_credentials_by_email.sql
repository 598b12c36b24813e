select u.id, u.password_hash, u.disabled, u.email_verified
from auth.users u
where u.email = $1::text::public.citext
