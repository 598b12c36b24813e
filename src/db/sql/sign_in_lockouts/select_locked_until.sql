select l.locked_until
from auth.sign_in_lockouts l
where l.user_id = $1 and l.locked_until > $2::timestamptz
