-- One-time secrets sent to users: email links (verify email, reset password, confirm an email change, magic
-- link) and codes (email OTP, SMS OTP). Only a SHA-256 hash is stored; each is single use, expires, and
-- counts failed attempts so a code cannot be brute-forced.
create table if not exists auth.one_time_codes (
  id uuid not null default gen_random_uuid() constraint one_time_codes_pkey primary key,
  user_id uuid not null constraint one_time_codes_user_id_fkey references auth.users (id)
    on update cascade on delete cascade,
  kind text not null constraint one_time_codes_kind_check
    check (kind in ('verifyEmail', 'passwordReset', 'emailConfirmChange', 'passwordlessEmail', 'emailOtp', 'smsOtp')),
  code_hash text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  failed_attempts integer not null default 0,
  -- What the code is for: the new email of a change, the redirect target of a link.
  payload jsonb not null default '{}'::jsonb
);
comment on table auth.one_time_codes is 'Hashed, single-use, expiring tickets and OTPs.';

-- Links are found by their hash alone (128 random bits never collide). Six-digit codes are found by user and
-- kind, and a user's old codes may share a hash with a new one, so the hash is not unique.
create index if not exists one_time_codes_code_hash_idx on auth.one_time_codes (code_hash);
create index if not exists one_time_codes_user_id_kind_idx on auth.one_time_codes (user_id, kind);
