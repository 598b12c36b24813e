-- The queue at $1: what waits, what is due and since when, and what the last hour brought.
select count(*) filter (where refreshable and attempts < max_attempts) as depth,
       count(*) filter (where refreshable and attempts < max_attempts and scheduled_at <= $1) as due,
       min(scheduled_at) filter (where refreshable and attempts < max_attempts and scheduled_at <= $1) as oldest_due_at,
       count(*) filter (where leased_until > $1) as in_flight,
       count(*) filter (where refreshable and attempts > 0 and attempts < max_attempts and error_message is not null)
         as retrying,
       count(*) filter (where refreshable and attempts >= max_attempts) as exhausted,
       count(*) filter (where not refreshable) as not_refreshable,
       max(last_attempt_at) as last_run_at,
       count(*) filter (where last_refreshed_at > $1 - interval '1 hour') as refreshed_last_hour,
       count(*) filter (where last_failed_at > $1 - interval '1 hour') as failed_last_hour
from auth.oauth_token_refresh_queue
