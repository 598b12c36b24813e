select u.id
from auth.users u
where u.email = $1::text::public.citext
