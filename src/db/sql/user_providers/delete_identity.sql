delete from auth.user_providers where id = $1
