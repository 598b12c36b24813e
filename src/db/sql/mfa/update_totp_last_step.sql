update auth.users set totp_last_step = $2 where id = $1 and (totp_last_step is null or totp_last_step < $2)
