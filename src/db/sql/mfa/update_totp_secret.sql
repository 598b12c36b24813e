update auth.users
set totp_secret = null, totp_secret_sealed = $2, totp_key_id = $3, totp_last_step = null
where id = $1
