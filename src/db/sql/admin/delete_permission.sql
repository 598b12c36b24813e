delete from auth.permissions
where permission = $1
