select count(*) as waiting
from auth.email_outbox
where sent_at is null and failed_at is null
