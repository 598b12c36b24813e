delete from auth.audit_log
where id in (select id from auth.audit_log where created_at < $1 order by created_at limit $2)
