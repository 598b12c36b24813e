insert into auth.user_roles (user_id, role)
select $1, role from unnest($2::text[]) as role
on conflict (user_id, role) do nothing
