update auth.users set phone_number_verified = true where id = $1
