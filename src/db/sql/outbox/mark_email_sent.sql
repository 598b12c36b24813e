-- The bodies and headers (X-Ticket, X-Link) hold one-time links and codes: once delivered they are wiped.
update auth.email_outbox
set sent_at = $2, html_body = '', text_body = '', headers = '[]'::jsonb
where id = $1 and sent_at is null
