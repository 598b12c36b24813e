update auth.users
set email = $2::text, password_hash = $3, is_anonymous = false, default_role = $4, display_name = $5,
    locale = $6, metadata = $7, email_verified = false, avatar_url = $8
where id = $1 and is_anonymous
