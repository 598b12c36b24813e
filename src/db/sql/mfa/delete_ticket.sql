delete from auth.mfa_tickets where id = $1
