insert into auth.audit_log (created_at, event, user_id, provider, ip, user_agent, request_id, metadata)
values ($1, $2, $3, $4, $5, $6, $7, $8)
