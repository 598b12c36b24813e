select t.id, t.user_id, t.kind, t.first_factor, t.failed_attempts, t.code_hash, t.code_sent_at, t.phone_number
from auth.mfa_tickets t
where t.user_id = $1 and t.first_factor = $2 and t.expires_at > $3
order by t.created_at desc
limit 1
for update
