update auth.users set email_verified = true where id = $1
