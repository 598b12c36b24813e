select count(*) from auth.user_providers where user_id = $1
