-- The least a rotation must do: mark a refresh token (found by its hash) rotated and insert its child, in
-- one transaction. Token n is md5('bench' || n) in the UUID shape (bench/run.sh seeds them).
\set n random(1, :tokens)
begin;
update auth.refresh_tokens set rotated_at = now(), child_token_sealed = '\x00'
where refresh_token_hash = '\x' || encode(sha256(md5('bench' || :n)::uuid::text::bytea), 'hex');
insert into auth.refresh_tokens (id, user_id, refresh_token_hash, created_at, expires_at, type, family_id,
                                 parent_id, signed_in_at)
values (gen_random_uuid(), :uid, '\x' || md5(random()::text), now(), now() + interval '30 days', 'regular',
        gen_random_uuid(), null, now());
commit;
