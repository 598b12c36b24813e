insert into auth.role_permissions (role, permission)
select r.role, p.permission
from auth.roles r, auth.permissions p
where r.role = $1 and p.permission = $2
on conflict (role, permission) do nothing
