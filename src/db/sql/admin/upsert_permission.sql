insert into auth.permissions (permission, description)
values ($1, $2)
on conflict (permission) do update set description = excluded.description
