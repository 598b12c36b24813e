update auth.users
set phone_number = $2, phone_number_verified = true, active_mfa_type = 'sms'
where id = $1
