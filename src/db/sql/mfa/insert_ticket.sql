insert into auth.mfa_tickets (id, ticket_hash, user_id, kind, first_factor, created_at, expires_at, phone_number)
values ($1, $2, $3, $4, $5, $6, $7, $8)
