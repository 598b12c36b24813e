update auth.users set password_hash = null where id = $1
