-- Rotation with reuse detection. Every refresh token belongs to a family (one sign-in); rotating a token
-- marks it `rotated_at` and inserts its child in the same family. Presenting a rotated token after the grace
-- window revokes the whole family.
alter table auth.refresh_tokens
  add column if not exists family_id uuid,
  add column if not exists parent_id uuid,
  add column if not exists rotated_at timestamptz,
  add column if not exists revoked_at timestamptz;

-- Tokens written before this migration (an adopted nhost database) each start their own family.
update auth.refresh_tokens set family_id = id where family_id is null;

create index if not exists refresh_tokens_family_id_idx on auth.refresh_tokens (family_id);
create unique index if not exists refresh_tokens_refresh_token_hash_key
  on auth.refresh_tokens (refresh_token_hash) where refresh_token_hash is not null;
create index if not exists user_roles_user_id_idx on auth.user_roles (user_id);
