update auth.users
set disabled = $2, updated_at = now()
where id = $1
