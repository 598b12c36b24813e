-- Leases up to $3 due messages to the caller: moving next_attempt_at to the end of the lease ($2) hides them
-- from other workers once this statement commits, and `skip locked` keeps concurrent claims disjoint, so the
-- slow SMTP conversation that follows holds no row lock. The attempt is counted now, so a worker that dies
-- mid-send still uses one up.
update auth.email_outbox as outbox
set attempts = outbox.attempts + 1, next_attempt_at = $2
from (
  select id
  from auth.email_outbox
  where sent_at is null and failed_at is null and next_attempt_at <= $1
  order by next_attempt_at, created_at
  limit $3
  for update skip locked
) as due
where outbox.id = due.id
returning outbox.id, outbox.recipient, outbox.subject, outbox.html_body, outbox.text_body, outbox.headers,
  outbox.template, outbox.attempts
