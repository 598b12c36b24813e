delete from auth.role_permissions
where role = $1 and permission = $2
