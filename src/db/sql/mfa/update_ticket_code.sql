update auth.mfa_tickets set code_hash = $2, code_sent_at = $3, failed_attempts = 0 where id = $1
