update auth.users
set totp_secret = null, totp_secret_sealed = null, totp_key_id = null, totp_last_step = null,
  active_mfa_type = null
where id = $1
