-- Role permissions, published as the `x-hasura-permissions` claim when AUTH_JWT_PERMISSIONS_CLAIM_ENABLED is
-- on, and organisations, published as `x-hasura-organisation-id` for users that belong to one.
create table if not exists auth.permissions (
  permission text not null constraint permissions_pkey primary key,
  description text not null default ''
);
comment on table auth.permissions is 'Named permissions an application checks in Hasura permission rules.';

create table if not exists auth.role_permissions (
  role text not null constraint role_permissions_role_fkey references auth.roles (role)
    on update cascade on delete cascade,
  permission text not null constraint role_permissions_permission_fkey references auth.permissions (permission)
    on update cascade on delete cascade,
  constraint role_permissions_pkey primary key (role, permission)
);
comment on table auth.role_permissions is 'Which roles grant which permissions.';

create table if not exists auth.organisations (
  id uuid not null default gen_random_uuid() constraint organisations_pkey primary key,
  name text not null,
  created_at timestamptz not null default now()
);
comment on table auth.organisations is 'Organisations users belong to.';

alter table auth.users add column if not exists organisation_id uuid
  constraint users_organisation_id_fkey references auth.organisations (id) on delete set null;
create index if not exists users_organisation_id_idx on auth.users (organisation_id);
