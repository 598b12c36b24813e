insert into auth.email_outbox (created_at, recipient, subject, html_body, text_body, headers, template, next_attempt_at)
values ($1, $2, $3, $4, $5, $6, $7, $1)
returning id
