-- Leases up to $4 due rows to one worker round ($3, until $2) and counts an attempt for each. `skip locked`
-- keeps concurrent claims of every replica disjoint, and the lease hides the rows once this statement
-- commits, so the provider calls that follow hold no row lock. A row whose worker died is offered again when
-- its lease ends.
update auth.oauth_token_refresh_queue as queue
set leased_until = $2, lease_id = $3, attempts = queue.attempts + 1, last_attempt_at = $1
from (
  select id
  from auth.oauth_token_refresh_queue
  where refreshable and attempts < max_attempts and scheduled_at <= $1
    and (leased_until is null or leased_until <= $1)
  order by scheduled_at
  limit $4
  for update skip locked
) as due
where queue.id = due.id
returning queue.id, queue.user_provider_id, queue.lease_id, queue.attempts, queue.max_attempts
