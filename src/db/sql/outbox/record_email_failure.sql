-- A failed attempt: keep the error and schedule the retry, or give up ($4 not null) and wipe the bodies and headers, which
-- hold one-time links and codes.
update auth.email_outbox
set last_error = $2,
  next_attempt_at = $3,
  failed_at = $4,
  html_body = case when $4::timestamptz is null then html_body else '' end,
  text_body = case when $4::timestamptz is null then text_body else '' end,
  headers = case when $4::timestamptz is null then headers else '[]'::jsonb end
where id = $1 and sent_at is null
