delete from auth.mfa_recovery_codes where user_id = $1
