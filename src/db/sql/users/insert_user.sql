insert into auth.users (id, email, password_hash, display_name, avatar_url, locale, default_role, metadata,
                        email_verified, is_anonymous, disabled, created_at, updated_at)
values ($1, $2::text, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
