update auth.users set email = $2::text, email_verified = true, new_email = null where id = $1
