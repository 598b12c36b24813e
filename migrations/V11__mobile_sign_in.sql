-- The one-time code a mobile app redeems, with its PKCE verifier, for the session of a provider sign-in
-- it started with its own `code_challenge` (kind `mobileSignIn`). The kinds allowed so far are kept as
-- they are: the check is rebuilt from its current definition with the new kind added, whatever other
-- migrations added before this one.
do $$
declare
  allowed text;
begin
  select pg_get_constraintdef(c.oid) into allowed
  from pg_constraint c
  where c.conname = 'one_time_codes_kind_check' and c.conrelid = 'auth.one_time_codes'::regclass;
  if allowed is not null and position('''mobileSignIn''' in allowed) = 0 then
    alter table auth.one_time_codes drop constraint one_time_codes_kind_check;
    execute format(
      'alter table auth.one_time_codes add constraint one_time_codes_kind_check check (kind = %L or %s)',
      'mobileSignIn',
      substring(allowed from '^CHECK (.*)$')
    );
  end if;
end
$$;
