-- Rate limits shared by every replica: one row per limited key (a bucket and a client address or an
-- account identifier) holding its theoretical arrival time (GCRA). A request is allowed while the time it
-- pushes `tat` to stays within `tolerance` of now; one upsert decides and records a hit atomically. Rows
-- whose `tat` has passed hold no state and are pruned.
create table if not exists auth.rate_limits (
  key text not null constraint rate_limits_pkey primary key,
  tat timestamptz not null,
  emission interval not null,
  tolerance interval not null,
  allowed boolean not null
);
comment on table auth.rate_limits is 'Request rate limits (GCRA state) per bucket and client address or identifier.';

-- Failed password sign-ins per account. After AUTH_LOCKOUT_THRESHOLD failures within AUTH_LOCKOUT_WINDOW the
-- account is locked until `locked_until`; each lockout in a row doubles the next one (`lockouts`).
create table if not exists auth.sign_in_lockouts (
  user_id uuid not null constraint sign_in_lockouts_pkey primary key
    constraint sign_in_lockouts_user_id_fkey references auth.users (id) on delete cascade,
  window_started_at timestamptz not null,
  failures integer not null default 0,
  lockouts integer not null default 0,
  locked_until timestamptz
);
comment on table auth.sign_in_lockouts is 'Failed password sign-ins per account, and its lockout.';
