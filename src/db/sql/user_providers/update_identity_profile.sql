update auth.user_providers set email = $2, profile = $3 where id = $1
