select u.id from auth.users u where u.id = $1 for no key update
