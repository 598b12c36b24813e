select r.role,
       coalesce((select array_agg(p.permission order by p.permission) from auth.role_permissions p where p.role = r.role),
                '{}'::text[]) as permissions
from auth.roles r
order by r.role
