select u.id
from auth.users u
where $1::text is null
   or u.email::text ilike '%' || $1 || '%'
   or u.display_name ilike '%' || $1 || '%'
   or u.phone_number ilike '%' || $1 || '%'
order by u.created_at, u.id
limit $2 offset $3
