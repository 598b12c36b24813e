select u.id, u.password_hash
from auth.users u
where u.email = $1::text::public.citext
