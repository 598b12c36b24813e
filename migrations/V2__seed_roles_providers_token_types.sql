-- Seed data every installation needs: the default roles, the refresh token types and the providers hauth
-- supports (nhost's ids, so rows written by nhost stay valid).
insert into auth.roles (role) values ('user'), ('me'), ('anonymous')
on conflict (role) do nothing;

insert into auth.refresh_token_types (value, comment) values
  ('regular', 'Regular refresh token'),
  ('pat', 'Personal access token')
on conflict (value) do nothing;

insert into auth.providers (id) values
  ('google'), ('github'), ('facebook'), ('twitter'), ('linkedin'), ('apple'), ('azuread'), ('entraid'),
  ('windowslive'), ('slack'), ('discord'), ('twitch'), ('gitlab'), ('bitbucket'), ('spotify'), ('strava'),
  ('workos')
on conflict (id) do nothing;
