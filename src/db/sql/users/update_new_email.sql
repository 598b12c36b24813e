update auth.users set new_email = $2::text where id = $1
