delete from auth.sign_in_lockouts l
where l.user_id = $1
