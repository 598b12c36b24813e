//! Queries of the admin API: users listed with paging and search, disabled or enabled, given roles, signed
//! out everywhere; roles, permissions and which roles grant which permissions. A role still held by users
//! cannot be deleted (the foreign key refuses; that becomes [`AuthError::RoleInUse`]).
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::{GenericClient, execute, internal, query, query_opt};
use crate::error::AuthError;

pub const LIST_USERS: &str = include_str!("sql/admin/list_users.sql");
pub const COUNT_USERS: &str = include_str!("sql/admin/count_users.sql");
pub const UPDATE_DISABLED: &str = include_str!("sql/admin/update_disabled.sql");
pub const UPDATE_DEFAULT_ROLE: &str = include_str!("sql/admin/update_default_role.sql");
pub const DELETE_SESSIONS: &str = include_str!("sql/admin/delete_sessions.sql");
pub const LIST_ROLES: &str = include_str!("sql/admin/list_roles.sql");
pub const INSERT_ROLE: &str = include_str!("sql/admin/insert_role.sql");
pub const DELETE_ROLE: &str = include_str!("sql/admin/delete_role.sql");
pub const ROLE_EXISTS: &str = include_str!("sql/admin/role_exists.sql");
pub const LIST_PERMISSIONS: &str = include_str!("sql/admin/list_permissions.sql");
pub const UPSERT_PERMISSION: &str = include_str!("sql/admin/upsert_permission.sql");
pub const DELETE_PERMISSION: &str = include_str!("sql/admin/delete_permission.sql");
pub const GRANT_PERMISSION: &str = include_str!("sql/admin/grant_permission.sql");
pub const REVOKE_PERMISSION: &str = include_str!("sql/admin/revoke_permission.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("admin/list_users", LIST_USERS),
    ("admin/count_users", COUNT_USERS),
    ("admin/update_disabled", UPDATE_DISABLED),
    ("admin/update_default_role", UPDATE_DEFAULT_ROLE),
    ("admin/delete_sessions", DELETE_SESSIONS),
    ("admin/list_roles", LIST_ROLES),
    ("admin/insert_role", INSERT_ROLE),
    ("admin/delete_role", DELETE_ROLE),
    ("admin/role_exists", ROLE_EXISTS),
    ("admin/list_permissions", LIST_PERMISSIONS),
    ("admin/upsert_permission", UPSERT_PERMISSION),
    ("admin/delete_permission", DELETE_PERMISSION),
    ("admin/grant_permission", GRANT_PERMISSION),
    ("admin/revoke_permission", REVOKE_PERMISSION),
];

/// The ids of a page of users matching `search` (email, display name or phone, any case), oldest first,
/// and how many match in all.
pub async fn list_user_ids(
    client: &impl GenericClient,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Uuid>, i64), AuthError> {
    let rows = query(client, LIST_USERS, &[&search, &limit, &offset]).await?;
    let ids = rows.iter().map(|row| row.try_get("id")).collect::<Result<Vec<Uuid>, _>>().map_err(internal)?;
    let total = query_opt(client, COUNT_USERS, &[&search])
        .await?
        .map(|row| row.try_get("total"))
        .transpose()
        .map_err(internal)?
        .unwrap_or_default();
    Ok((ids, total))
}

/// Returns whether a user was changed.
pub async fn update_disabled(client: &impl GenericClient, id: Uuid, disabled: bool) -> Result<bool, AuthError> {
    execute(client, UPDATE_DISABLED, &[&id, &disabled]).await.map(|changed| changed > 0)
}

/// Sets the default role; an unknown role is [`AuthError::RoleNotAllowed`].
pub async fn update_default_role(client: &impl GenericClient, id: Uuid, role: &str) -> Result<(), AuthError> {
    execute_known_roles(client, UPDATE_DEFAULT_ROLE, &[&id, &role]).await
}

/// Gives the user exactly `roles`; an unknown role is [`AuthError::RoleNotAllowed`].
pub async fn replace_roles(client: &impl GenericClient, id: Uuid, roles: &[String]) -> Result<(), AuthError> {
    execute(client, super::users::REPLACE_USER_ROLES, &[&id, &roles]).await?;
    execute_known_roles(client, super::users::INSERT_USER_ROLES, &[&id, &roles]).await
}

/// Runs a statement whose roles must exist.
async fn execute_known_roles(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<(), AuthError> {
    let statement = client.prepare_cached(sql).await.map_err(internal)?;
    match client.execute(&statement, params).await {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => Err(AuthError::RoleNotAllowed),
        Err(error) => Err(internal(error)),
    }
}

/// Ends every session of the user (their refresh tokens and personal access tokens).
pub async fn delete_sessions(client: &impl GenericClient, id: Uuid) -> Result<u64, AuthError> {
    execute(client, DELETE_SESSIONS, &[&id]).await
}

/// Every role with the permissions it grants.
pub async fn list_roles(client: &impl GenericClient) -> Result<Vec<(String, Vec<String>)>, AuthError> {
    let rows = query(client, LIST_ROLES, &[]).await?;
    rows.iter()
        .map(|row| Ok((row.try_get("role")?, row.try_get("permissions")?)))
        .collect::<Result<_, _>>()
        .map_err(internal)
}

pub async fn insert_role(client: &impl GenericClient, role: &str) -> Result<(), AuthError> {
    execute(client, INSERT_ROLE, &[&role]).await.map(|_| ())
}

/// Returns whether the role existed; a role users still hold is refused.
pub async fn delete_role(client: &impl GenericClient, role: &str) -> Result<bool, AuthError> {
    let statement = client.prepare_cached(DELETE_ROLE).await.map_err(internal)?;
    match client.execute(&statement, &[&role]).await {
        Ok(deleted) => Ok(deleted > 0),
        Err(error) if error.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => Err(AuthError::RoleInUse),
        Err(error) => Err(internal(error)),
    }
}

pub async fn role_exists(client: &impl GenericClient, role: &str) -> Result<bool, AuthError> {
    let row = query_opt(client, ROLE_EXISTS, &[&role]).await?;
    row.map(|row| row.try_get("found")).transpose().map_err(internal).map(Option::unwrap_or_default)
}

pub async fn list_permissions(client: &impl GenericClient) -> Result<Vec<(String, String)>, AuthError> {
    let rows = query(client, LIST_PERMISSIONS, &[]).await?;
    rows.iter()
        .map(|row| Ok((row.try_get("permission")?, row.try_get("description")?)))
        .collect::<Result<_, _>>()
        .map_err(internal)
}

pub async fn upsert_permission(
    client: &impl GenericClient,
    permission: &str,
    description: &str,
) -> Result<(), AuthError> {
    execute(client, UPSERT_PERMISSION, &[&permission, &description]).await.map(|_| ())
}

pub async fn delete_permission(client: &impl GenericClient, permission: &str) -> Result<bool, AuthError> {
    execute(client, DELETE_PERMISSION, &[&permission]).await.map(|deleted| deleted > 0)
}

/// Returns false when the role or the permission does not exist.
pub async fn grant_permission(client: &impl GenericClient, role: &str, permission: &str) -> Result<bool, AuthError> {
    execute(client, GRANT_PERMISSION, &[&role, &permission]).await?;
    let roles = list_roles(client).await?;
    Ok(roles.iter().any(|(name, granted)| name == role && granted.iter().any(|p| p == permission)))
}

pub async fn revoke_permission(client: &impl GenericClient, role: &str, permission: &str) -> Result<bool, AuthError> {
    execute(client, REVOKE_PERMISSION, &[&role, &permission]).await.map(|deleted| deleted > 0)
}
