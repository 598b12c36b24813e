select u.id
from auth.users u
where u.id = (select t.user_id from auth.refresh_tokens t where t.refresh_token_hash = $1)
for no key update
