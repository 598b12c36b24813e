insert into auth.roles (role)
values ($1)
on conflict (role) do nothing
