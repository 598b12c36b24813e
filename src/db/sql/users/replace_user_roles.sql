delete from auth.user_roles where user_id = $1 and role <> all($2::text[])
