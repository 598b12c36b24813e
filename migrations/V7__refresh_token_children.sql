-- One live token per family. The first rotation of a token seals its child into the parent's row, encrypted
-- under a key derived from the parent's plaintext (which only the client holds), so a replay of the parent
-- inside the grace window gets that same child back instead of a new sibling. `signed_in_at` is when the
-- family started, for AUTH_SESSION_MAX_LIFETIME; rows written before this migration use `created_at`.
alter table auth.refresh_tokens
  add column if not exists child_token_sealed bytea,
  add column if not exists signed_in_at timestamptz;
