delete from auth.roles
where role = $1
