select t.id, t.user_id, t.kind, t.first_factor, t.failed_attempts, t.code_hash, t.code_sent_at, t.phone_number
from auth.mfa_tickets t
where t.ticket_hash = $1 and t.expires_at > $2
for update
