select a.id, a.created_at, a.event, a.user_id, a.provider, a.ip, a.user_agent, a.request_id, a.metadata
from auth.audit_log a
where ($1::uuid is null or a.user_id = $1) and ($2::timestamptz is null or a.created_at < $2)
order by a.created_at desc, a.id
limit $3
