delete from auth.mfa_tickets where user_id = $1 and first_factor = $2
