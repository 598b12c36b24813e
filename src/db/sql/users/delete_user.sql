delete from auth.users where id = $1
