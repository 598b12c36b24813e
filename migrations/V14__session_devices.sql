-- Where each session was started: the client's IP address and user agent at sign-in, on the first refresh
-- token of the family (later tokens of the family are found through `family_id`). Listed to the user by
-- `GET /user/sessions`.
alter table auth.refresh_tokens
  add column if not exists ip text,
  add column if not exists user_agent text;
