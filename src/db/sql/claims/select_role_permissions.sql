select distinct rp.permission
from auth.role_permissions rp
where rp.role = any($1::text[])
order by rp.permission
