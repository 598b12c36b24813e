delete from auth.refresh_tokens
where family_id = (select coalesce(t.family_id, t.id) from auth.refresh_tokens t
                   where t.refresh_token_hash = $1 and t.type = 'regular')
