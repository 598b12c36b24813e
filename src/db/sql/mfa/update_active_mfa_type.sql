update auth.users set active_mfa_type = $2 where id = $1
