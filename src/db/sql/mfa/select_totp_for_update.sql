select u.totp_secret, u.totp_secret_sealed, u.totp_key_id, u.totp_last_step, u.active_mfa_type
from auth.users u
where u.id = $1
for no key update
