select u.password_hash from auth.users u where u.id = $1
