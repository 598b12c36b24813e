update auth.users set email = $2::text, new_email = null, email_verified = true where id = $1
