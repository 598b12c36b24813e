delete from auth_nself.pending_tokens where identity_id = $1
