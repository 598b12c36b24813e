insert into auth.providers (id) values ($1) on conflict (id) do nothing
