update auth.users set phone_number = $2 where id = $1
