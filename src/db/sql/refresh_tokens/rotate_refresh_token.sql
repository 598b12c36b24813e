-- Rotates a usable, not yet rotated refresh token in one round trip: locks its owner first (as
-- lock_token_owner does, so rotations, sign-outs and revocations of one user's tokens run one at a time),
-- marks the token rotated with its sealed child, stores the child, records the owner as seen, and answers
-- the owner as locked, with the token's family. No row when the token is unknown, rotated, revoked, expired
-- or past the session's maximum lifetime ($6 seconds, or none): the caller then reads the token itself.
with owner as (
    select u.id
    from auth.users u
    where u.id = (select t.user_id from auth.refresh_tokens t where t.refresh_token_hash = $1)
    for no key update
),
parent as (
    update auth.refresh_tokens t
    set rotated_at = $2, child_token_sealed = $3
    where t.refresh_token_hash = $1
      and t.user_id = (select id from owner)
      and t.rotated_at is null
      and t.revoked_at is null
      and t.type = 'regular'
      and t.expires_at > $2
      and ($6::bigint is null or $2 < coalesce(t.signed_in_at, t.created_at) + make_interval(secs => $6))
    returning t.id, t.user_id, coalesce(t.family_id, t.id) as family_id,
              coalesce(t.signed_in_at, t.created_at) as signed_in_at
),
child as (
    insert into auth.refresh_tokens (id, user_id, refresh_token_hash, created_at, expires_at, type, family_id,
                                     parent_id, signed_in_at)
    select $4, p.user_id, $5, $2, least($7, p.signed_in_at + make_interval(secs => $6)), 'regular', p.family_id,
           p.id, p.signed_in_at
    from parent p
    returning id
),
seen as (
    update auth.users u
    set last_seen = $2
    where u.id = (select p.user_id from parent p)
    returning u.id, u.created_at, u.display_name, u.avatar_url, u.locale::text as locale, u.email::text as email,
              u.phone_number, u.email_verified, u.phone_number_verified, u.default_role, u.is_anonymous,
              u.disabled, u.metadata, u.active_mfa_type, u.organisation_id
)
select s.*,
       coalesce((select array_agg(r.role order by r.created_at, r.role) from auth.user_roles r where r.user_id = s.id),
                '{}'::text[]) as roles,
       p.family_id,
       (select c.id from child c) as child_id
from seen s
cross join parent p
