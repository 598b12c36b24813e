delete from auth.refresh_tokens where id = $1 and user_id = $2 and type = 'pat'
