update auth.user_providers set needs_reauthentication = true where id = $1
