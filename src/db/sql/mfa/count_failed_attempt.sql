update auth.mfa_tickets set failed_attempts = failed_attempts + 1 where id = $1 returning failed_attempts
