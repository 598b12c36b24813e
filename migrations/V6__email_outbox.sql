-- Outgoing email, written in the same transaction as the change that causes it (sign-up, password reset,
-- ...) and delivered later by the mail outbox worker. A slow or failing SMTP server therefore never fails or
-- slows a request, and nothing is lost on restart. Workers claim due rows with `for update skip locked` and
-- lease them by moving `next_attempt_at` forward, so any number of replicas can run the worker. Once a
-- message is sent (or given up on) its bodies are wiped: they hold one-time links and codes.
create table if not exists auth.email_outbox (
  id uuid not null default gen_random_uuid() constraint email_outbox_pkey primary key,
  created_at timestamptz not null default now(),
  recipient text not null,
  subject text not null,
  html_body text not null,
  text_body text not null,
  -- Extra headers as a json array of [name, value] pairs, in order.
  headers jsonb not null default '[]'::jsonb,
  -- The template the message was rendered from (`email-verify`, `password-reset`, ...), for operators.
  template text not null,
  attempts integer not null default 0 constraint email_outbox_attempts_check check (attempts >= 0),
  next_attempt_at timestamptz not null,
  last_error text,
  sent_at timestamptz,
  failed_at timestamptz
);
comment on table auth.email_outbox is 'Durable queue of outgoing email, drained by the mail outbox worker.';

-- The worker's claim scans only messages still waiting, oldest due first.
create index if not exists email_outbox_due_idx on auth.email_outbox (next_attempt_at)
  where sent_at is null and failed_at is null;
