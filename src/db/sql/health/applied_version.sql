select coalesce(max(m.version), 0)::int4 as version
from auth.hauth_migrations m
