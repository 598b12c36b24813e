select to_regclass('auth_nself.pending_tokens') is not null
