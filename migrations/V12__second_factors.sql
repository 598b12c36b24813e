-- Second factors.
--
-- nhost keeps a user's TOTP secret in plaintext in `auth.users.totp_secret`. hauth stores it AES-256-GCM
-- encrypted in `totp_secret_sealed`, with the id of the key that sealed it, and empties the plaintext column
-- the first time an adopted secret is used. `totp_last_step` is the last 30-second step a code was accepted
-- for: a code is never accepted twice.
alter table auth.users
  add column if not exists totp_secret_sealed bytea,
  add column if not exists totp_key_id text,
  add column if not exists totp_last_step bigint;

-- Single-use recovery codes, stored only as hashes.
create table if not exists auth.mfa_recovery_codes (
  id uuid not null default gen_random_uuid() constraint mfa_recovery_codes_pkey primary key,
  user_id uuid not null constraint mfa_recovery_codes_user_id_fkey references auth.users (id) on delete cascade,
  code_hash text not null,
  created_at timestamptz not null default now(),
  used_at timestamptz
);
comment on table auth.mfa_recovery_codes is 'Recovery codes standing in for a second factor (hashed, single-use).';
create index if not exists mfa_recovery_codes_user_id_idx on auth.mfa_recovery_codes (user_id);

-- A sign-in waiting for its second factor: the ticket (stored hashed) the client completes it with. Wrong
-- codes are counted on the ticket, which burns after five. `code_hash` and `code_sent_at` are the code an
-- SMS second factor sent, to `phone_number`. The same rows hold an SMS factor being enrolled and an SMS
-- elevation (`first_factor` `enrolment` or `elevation`), found by their user rather than by a ticket.
create table if not exists auth.mfa_tickets (
  id uuid not null constraint mfa_tickets_pkey primary key,
  ticket_hash text not null constraint mfa_tickets_ticket_hash_key unique,
  user_id uuid not null constraint mfa_tickets_user_id_fkey references auth.users (id) on delete cascade,
  kind text not null constraint mfa_tickets_kind_check check (kind in ('totp', 'sms')),
  first_factor text not null,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  failed_attempts integer not null default 0,
  code_hash text,
  code_sent_at timestamptz,
  phone_number text
);
comment on table auth.mfa_tickets is 'Sign-ins waiting for their second factor.';
create index if not exists mfa_tickets_user_id_idx on auth.mfa_tickets (user_id);
create index if not exists mfa_tickets_expires_at_idx on auth.mfa_tickets (expires_at);
