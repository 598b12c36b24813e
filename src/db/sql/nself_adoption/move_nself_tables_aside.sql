-- Before hauth's migrations: nself's OAuth handler tables, recognised by their columns, leave schema `auth` for
-- `auth_nself`, where V10 adopts their rows. Two of their names are hauth's own (`oauth_states`, and the refresh
-- queue of a later version) with other columns, so left in place they would stand in for hauth's tables.
do $$
declare
  nself_table text;
begin
  for nself_table in
    select c.table_name
    from information_schema.columns c
    where c.table_schema = 'auth'
    group by c.table_name
    having (c.table_name = 'oauth_provider_accounts'
            and bool_or(c.column_name = 'provider_account_email') and bool_or(c.column_name = 'raw_profile'))
        or (c.table_name = 'oauth_states'
            and bool_or(c.column_name = 'state') and not bool_or(c.column_name = 'sealed'))
        or (c.table_name = 'oauth_token_refresh_queue' and bool_or(c.column_name = 'oauth_account_id'))
        or (c.table_name = 'oauth_audit_log'
            and bool_or(c.column_name = 'event_type') and bool_or(c.column_name = 'ip_address'))
        or (c.table_name = 'oauth_providers'
            and bool_or(c.column_name = 'authorization_url') and bool_or(c.column_name = 'requires_pkce'))
  loop
    create schema if not exists auth_nself;
    execute format('alter table auth.%I set schema auth_nself', nself_table);
  end loop;
end
$$
