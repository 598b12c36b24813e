delete from auth.refresh_tokens
where user_id = $1 and (type = 'pat' or family_id is distinct from $2)
