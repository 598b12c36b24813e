select jsonb_build_object(
  'id', u.id, 'createdAt', u.created_at, 'updatedAt', u.updated_at, 'lastSeen', u.last_seen,
  'disabled', u.disabled, 'displayName', u.display_name, 'avatarUrl', u.avatar_url, 'locale', u.locale,
  'email', u.email, 'phoneNumber', u.phone_number, 'emailVerified', u.email_verified,
  'phoneNumberVerified', u.phone_number_verified, 'defaultRole', u.default_role, 'isAnonymous', u.is_anonymous,
  'activeMfaType', u.active_mfa_type, 'metadata', u.metadata, 'organisationId', u.organisation_id,
  'defaultRoleByRole', jsonb_build_object('role', u.default_role),
  'roles', coalesce((select jsonb_agg(jsonb_build_object('id', r.id, 'role', r.role, 'userId', r.user_id,
                                                         'createdAt', r.created_at) order by r.created_at, r.role)
                     from auth.user_roles r where r.user_id = u.id), '[]'::jsonb),
  'userProviders', coalesce((select jsonb_agg(jsonb_build_object('id', p.id, 'providerId', p.provider_id,
                                                                 'providerUserId', p.provider_user_id,
                                                                 'createdAt', p.created_at) order by p.created_at)
                             from auth.user_providers p where p.user_id = u.id), '[]'::jsonb),
  'securityKeys', coalesce((select jsonb_agg(jsonb_build_object('id', k.id, 'credentialId', k.credential_id,
                                                                'nickname', k.nickname))
                            from auth.user_security_keys k where k.user_id = u.id), '[]'::jsonb)
) as document
from auth.users u
where u.id = $1
