update auth.users set last_seen = $2 where id = $1
