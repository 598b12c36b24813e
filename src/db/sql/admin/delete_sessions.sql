delete from auth.refresh_tokens
where user_id = $1
