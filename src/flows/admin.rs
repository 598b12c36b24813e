//! Administration, for callers holding the admin secret or an admin role (the API checks which) and for the
//! `hauth users …` commands: users listed with paging and search, read, created, disabled or enabled (which
//! ends their sessions), given roles, unlocked, deleted with their sessions; roles, permissions and which
//! roles grant which permissions. Every change is recorded in the audit log as `admin.<action>`.
use deadpool_postgres::GenericClient;
use secrecy::SecretString;
use uuid::Uuid;

use crate::db;
use crate::domain::Email;
use crate::domain::user::{NewUser, SignupOptions, User};
use crate::error::AuthError;
use crate::state::AppState;

/// The most users one page lists.
pub const MAX_PAGE: i64 = 200;

/// A page of users and how many match in all.
pub struct UserPage {
    pub users: Vec<User>,
    pub total: i64,
}

/// A new account made by an administrator.
pub struct NewAccount {
    pub email: Email,
    pub password: Option<SecretString>,
    pub display_name: Option<String>,
    pub default_role: Option<String>,
    pub roles: Option<Vec<String>>,
    pub email_verified: bool,
}

async fn record(
    state: &AppState,
    client: &impl GenericClient,
    action: &str,
    user_id: Option<Uuid>,
    detail: serde_json::Value,
) -> Result<(), AuthError> {
    let name = format!("admin.{action}");
    super::audit::record(state, client, super::audit::Event { name: &name, user_id, provider: None, metadata: detail })
        .await
}

async fn user(client: &impl GenericClient, id: Uuid) -> Result<User, AuthError> {
    db::users::select_user_by_id(client, id).await?.ok_or(AuthError::NotFound("No such user"))
}

pub async fn list_users(
    state: &AppState,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<UserPage, AuthError> {
    let client = db::client(&state.pool).await?;
    let search = search.map(str::trim).filter(|search| !search.is_empty());
    let (ids, total) = db::admin::list_user_ids(&client, search, limit.clamp(1, MAX_PAGE), offset.max(0)).await?;
    let mut users = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(found) = db::users::select_user_by_id(&client, id).await? {
            users.push(found);
        }
    }
    Ok(UserPage { users, total })
}

pub async fn get_user(state: &AppState, id: Uuid) -> Result<User, AuthError> {
    let client = db::client(&state.pool).await?;
    user(&client, id).await
}

/// Creates an account as the administrator describes it (the sign-up rules on roles do not apply: any
/// existing role may be given).
pub async fn create_user(state: &AppState, account: NewAccount) -> Result<User, AuthError> {
    let password_hash = match &account.password {
        Some(password) => {
            super::signup::check_password_policy(state, password).await?;
            Some(state.passwords.hash(password).await?)
        }
        None => None,
    };
    let options = SignupOptions { display_name: account.display_name.clone(), ..Default::default() };
    let profile = options.resolve(&state.config.users, Some(&account.email))?;
    let mut new_user = NewUser::from_profile(state.random.uuid(), Some(account.email), password_hash, profile, false);
    new_user.email_verified = account.email_verified;
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    db::users::insert_user(&transaction, &new_user, state.clock.now()).await?;
    if account.roles.is_some() || account.default_role.is_some() {
        let default_role = account.default_role.unwrap_or_else(|| new_user.default_role.clone());
        let mut roles = account.roles.unwrap_or_else(|| new_user.allowed_roles.clone());
        if !roles.contains(&default_role) {
            roles.push(default_role.clone());
        }
        db::admin::replace_roles(&transaction, new_user.id, &roles).await?;
        db::admin::update_default_role(&transaction, new_user.id, &default_role).await?;
    }
    record(state, &transaction, "user-created", Some(new_user.id), serde_json::json!({})).await?;
    let created = user(&transaction, new_user.id).await?;
    db::commit(transaction).await?;
    Ok(created)
}

/// Disables (ending every session) or enables a user.
pub async fn set_disabled(state: &AppState, id: Uuid, disabled: bool) -> Result<User, AuthError> {
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    if !db::admin::update_disabled(&transaction, id, disabled).await? {
        return Err(AuthError::NotFound("No such user"));
    }
    let ended = if disabled { db::admin::delete_sessions(&transaction, id).await? } else { 0 };
    let action = if disabled { "user-disabled" } else { "user-enabled" };
    record(state, &transaction, action, Some(id), serde_json::json!({"endedSessions": ended})).await?;
    let changed = user(&transaction, id).await?;
    db::commit(transaction).await?;
    Ok(changed)
}

/// Gives the user exactly `roles`, with `default_role` among them (added when missing). Takes effect at the
/// user's next refresh.
pub async fn set_roles(state: &AppState, id: Uuid, default_role: &str, roles: &[String]) -> Result<User, AuthError> {
    let mut roles = roles.to_vec();
    if !roles.iter().any(|role| role == default_role) {
        roles.push(default_role.to_string());
    }
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    db::users::lock_user(&transaction, id).await?;
    user(&transaction, id).await?;
    db::admin::replace_roles(&transaction, id, &roles).await?;
    db::admin::update_default_role(&transaction, id, default_role).await?;
    record(
        state,
        &transaction,
        "roles-set",
        Some(id),
        serde_json::json!({"defaultRole": default_role, "roles": roles}),
    )
    .await?;
    let changed = user(&transaction, id).await?;
    db::commit(transaction).await?;
    Ok(changed)
}

/// Deletes the user; their sessions, tokens, links and codes go with them.
pub async fn delete_user(state: &AppState, id: Uuid) -> Result<(), AuthError> {
    let mut client = db::client(&state.pool).await?;
    let transaction = db::begin(&mut client).await?;
    user(&transaction, id).await?;
    db::admin::delete_sessions(&transaction, id).await?;
    db::users::delete_user(&transaction, id).await?;
    record(state, &transaction, "user-deleted", None, serde_json::json!({"userId": id})).await?;
    db::commit(transaction).await
}

/// Lifts a lockout after failed sign-ins.
pub async fn unlock_user(state: &AppState, id: Uuid) -> Result<User, AuthError> {
    let client = db::client(&state.pool).await?;
    let found = user(&client, id).await?;
    super::lockout::unlock(&client, id).await?;
    record(state, &client, "user-unlocked", Some(id), serde_json::json!({})).await?;
    Ok(found)
}

/// The id of the account with this email.
pub async fn user_id_by_email(state: &AppState, email: &Email) -> Result<Uuid, AuthError> {
    let client = db::client(&state.pool).await?;
    db::users::select_user_id_by_email(&client, email.as_str()).await?.ok_or(AuthError::NotFound("No such user"))
}

pub async fn list_roles(state: &AppState) -> Result<Vec<(String, Vec<String>)>, AuthError> {
    let client = db::client(&state.pool).await?;
    db::admin::list_roles(&client).await
}

pub async fn create_role(state: &AppState, role: &str) -> Result<(), AuthError> {
    let client = db::client(&state.pool).await?;
    db::admin::insert_role(&client, role).await?;
    record(state, &client, "role-created", None, serde_json::json!({"role": role})).await
}

pub async fn delete_role(state: &AppState, role: &str) -> Result<(), AuthError> {
    let client = db::client(&state.pool).await?;
    if !db::admin::delete_role(&client, role).await? {
        return Err(AuthError::NotFound("No such role"));
    }
    record(state, &client, "role-deleted", None, serde_json::json!({"role": role})).await
}

pub async fn list_permissions(state: &AppState) -> Result<Vec<(String, String)>, AuthError> {
    let client = db::client(&state.pool).await?;
    db::admin::list_permissions(&client).await
}

pub async fn upsert_permission(state: &AppState, permission: &str, description: &str) -> Result<(), AuthError> {
    let client = db::client(&state.pool).await?;
    db::admin::upsert_permission(&client, permission, description).await?;
    record(state, &client, "permission-saved", None, serde_json::json!({"permission": permission})).await
}

pub async fn delete_permission(state: &AppState, permission: &str) -> Result<(), AuthError> {
    let client = db::client(&state.pool).await?;
    if !db::admin::delete_permission(&client, permission).await? {
        return Err(AuthError::NotFound("No such permission"));
    }
    record(state, &client, "permission-deleted", None, serde_json::json!({"permission": permission})).await
}

/// Lets `role` grant `permission` (both must exist).
pub async fn grant_permission(state: &AppState, role: &str, permission: &str) -> Result<(), AuthError> {
    let client = db::client(&state.pool).await?;
    if !db::admin::grant_permission(&client, role, permission).await? {
        return Err(AuthError::NotFound("No such role or permission"));
    }
    record(state, &client, "permission-granted", None, serde_json::json!({"role": role, "permission": permission}))
        .await
}

pub async fn revoke_permission(state: &AppState, role: &str, permission: &str) -> Result<(), AuthError> {
    let client = db::client(&state.pool).await?;
    if !db::admin::revoke_permission(&client, role, permission).await? {
        return Err(AuthError::NotFound("The role does not grant this permission"));
    }
    record(state, &client, "permission-revoked", None, serde_json::json!({"role": role, "permission": permission}))
        .await
}
