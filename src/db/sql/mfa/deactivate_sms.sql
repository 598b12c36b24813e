update auth.users set active_mfa_type = null where id = $1 and active_mfa_type = 'sms'
