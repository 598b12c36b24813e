select exists (select 1 from auth.roles r where r.role = $1) as found
