select l.window_started_at, l.failures, l.lockouts, l.locked_until
from auth.sign_in_lockouts l
where l.user_id = $1
for update
