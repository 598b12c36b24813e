update auth.users
set default_role = $2, updated_at = now()
where id = $1
