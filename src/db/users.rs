//! Queries on `auth.users` and `auth.user_roles`.
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use tokio_postgres::types::ToSql;

use super::{GenericClient, execute, execute_unique, internal, query_opt};
use crate::domain::user::{NewUser, User};
use crate::error::AuthError;

pub const INSERT_USER: &str = include_str!("sql/users/insert_user.sql");
pub const INSERT_USER_ROLES: &str = include_str!("sql/users/insert_user_roles.sql");
pub const SELECT_USER_BY_ID: &str = include_str!("sql/users/select_user_by_id.sql");
pub const SELECT_CREDENTIALS_BY_EMAIL: &str = include_str!("sql/users/select_credentials_by_email.sql");
pub const UPDATE_PASSWORD_HASH: &str = include_str!("sql/users/update_password_hash.sql");
pub const UPDATE_LAST_SEEN: &str = include_str!("sql/users/update_last_seen.sql");

pub const SELECT_USER_BY_EMAIL: &str = include_str!("sql/users/select_user_by_email.sql");
pub const SELECT_USER_BY_PHONE: &str = include_str!("sql/users/select_user_by_phone.sql");
pub const UPDATE_EMAIL_VERIFIED: &str = include_str!("sql/users/update_email_verified.sql");
pub const UPDATE_PHONE_VERIFIED: &str = include_str!("sql/users/update_phone_verified.sql");
pub const UPDATE_NEW_EMAIL: &str = include_str!("sql/users/update_new_email.sql");
pub const CONFIRM_NEW_EMAIL: &str = include_str!("sql/users/confirm_new_email.sql");
pub const DEANONYMIZE_USER: &str = include_str!("sql/users/deanonymize_user.sql");
pub const REPLACE_USER_ROLES: &str = include_str!("sql/users/replace_user_roles.sql");

pub const UPDATE_PHONE_NUMBER: &str = include_str!("sql/users/update_phone_number.sql");

pub const LOCK_USER: &str = include_str!("sql/users/lock_user.sql");

pub const DELETE_USER: &str = include_str!("sql/users/delete_user.sql");
pub const CLEAR_PASSWORD: &str = include_str!("sql/users/clear_password.sql");
pub const REVERT_EMAIL: &str = include_str!("sql/users/revert_email.sql");
pub const SELECT_PASSWORD_HASH: &str = include_str!("sql/users/select_password_hash.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("users/delete_user", DELETE_USER),
    ("users/clear_password", CLEAR_PASSWORD),
    ("users/revert_email", REVERT_EMAIL),
    ("users/select_password_hash", SELECT_PASSWORD_HASH),
    ("users/lock_user", LOCK_USER),
    ("users/update_phone_number", UPDATE_PHONE_NUMBER),
    ("users/select_user_by_email", SELECT_USER_BY_EMAIL),
    ("users/select_user_by_phone", SELECT_USER_BY_PHONE),
    ("users/update_email_verified", UPDATE_EMAIL_VERIFIED),
    ("users/update_phone_verified", UPDATE_PHONE_VERIFIED),
    ("users/update_new_email", UPDATE_NEW_EMAIL),
    ("users/confirm_new_email", CONFIRM_NEW_EMAIL),
    ("users/deanonymize_user", DEANONYMIZE_USER),
    ("users/replace_user_roles", REPLACE_USER_ROLES),
    ("users/insert_user", INSERT_USER),
    ("users/insert_user_roles", INSERT_USER_ROLES),
    ("users/select_user_by_id", SELECT_USER_BY_ID),
    ("users/select_credentials_by_email", SELECT_CREDENTIALS_BY_EMAIL),
    ("users/update_password_hash", UPDATE_PASSWORD_HASH),
    ("users/update_last_seen", UPDATE_LAST_SEEN),
];

/// What sign-in needs to know about the owner of an email address before the password is checked.
#[derive(Debug)]
pub struct Credentials {
    pub user_id: Uuid,
    pub password_hash: Option<String>,
}

impl TryFrom<&Row> for User {
    type Error = tokio_postgres::Error;
    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(User {
            id: row.try_get("id")?,
            created_at: row.try_get("created_at")?,
            display_name: row.try_get("display_name")?,
            avatar_url: row.try_get("avatar_url")?,
            locale: row.try_get("locale")?,
            email: row.try_get("email")?,
            phone_number: row.try_get("phone_number")?,
            email_verified: row.try_get("email_verified")?,
            phone_number_verified: row.try_get("phone_number_verified")?,
            default_role: row.try_get("default_role")?,
            is_anonymous: row.try_get("is_anonymous")?,
            disabled: row.try_get("disabled")?,
            metadata: row
                .try_get::<_, Option<super::StoredJson>>("metadata")?
                .map(|json| json.0)
                .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
            active_mfa_type: row.try_get("active_mfa_type")?,
            organisation_id: row.try_get("organisation_id")?,
            roles: row.try_get("roles")?,
        })
    }
}

/// The unique constraint on addresses, and what breaking it means to a client.
const EMAIL_KEY: &str = "users_email_key";
const EMAIL_TAKEN: fn() -> AuthError = || AuthError::EmailAlreadyInUse;

/// Inserts a user and their roles. A taken email becomes [`AuthError::EmailAlreadyInUse`].
pub async fn insert_user(client: &impl GenericClient, user: &NewUser, now: DateTime<Utc>) -> Result<(), AuthError> {
    let params: [&(dyn ToSql + Sync); 12] = [
        &user.id,
        &user.email.as_ref().map(|e| e.as_str()),
        &user.password_hash,
        &user.display_name,
        &user.avatar_url,
        &user.locale,
        &user.default_role,
        &user.metadata,
        &user.email_verified,
        &user.is_anonymous,
        &user.disabled,
        &now,
    ];
    execute_unique(client, INSERT_USER, &params, EMAIL_KEY, EMAIL_TAKEN).await?;
    execute(client, INSERT_USER_ROLES, &[&user.id, &user.allowed_roles]).await.map(|_| ())
}

/// The user with this id, with roles: the one place the user's columns are listed.
pub async fn select_user_by_id(client: &impl GenericClient, id: Uuid) -> Result<Option<User>, AuthError> {
    let row = query_opt(client, SELECT_USER_BY_ID, &[&id]).await?;
    row.as_ref().map(User::try_from).transpose().map_err(internal)
}

pub async fn select_credentials_by_email(
    client: &impl GenericClient,
    email: &str,
) -> Result<Option<Credentials>, AuthError> {
    let row = query_opt(client, SELECT_CREDENTIALS_BY_EMAIL, &[&email]).await?;
    row.map(|row| Ok(Credentials { user_id: row.try_get("id")?, password_hash: row.try_get("password_hash")? }))
        .transpose()
        .map_err(internal)
}

pub async fn update_password_hash(client: &impl GenericClient, id: Uuid, hash: &str) -> Result<(), AuthError> {
    execute(client, UPDATE_PASSWORD_HASH, &[&id, &hash]).await.map(|_| ())
}

pub async fn update_last_seen(client: &impl GenericClient, id: Uuid, now: DateTime<Utc>) -> Result<(), AuthError> {
    execute(client, UPDATE_LAST_SEEN, &[&id, &now]).await.map(|_| ())
}

async fn select_id(client: &impl GenericClient, sql: &str, key: &str) -> Result<Option<Uuid>, AuthError> {
    let row = query_opt(client, sql, &[&key]).await?;
    row.map(|row| row.try_get(0)).transpose().map_err(internal)
}

/// The id of the user with this email (case-insensitive), if any.
pub async fn select_user_id_by_email(client: &impl GenericClient, email: &str) -> Result<Option<Uuid>, AuthError> {
    select_id(client, SELECT_USER_BY_EMAIL, email).await
}

/// The id of the user with this E.164 phone number, if any.
pub async fn select_user_id_by_phone(client: &impl GenericClient, phone: &str) -> Result<Option<Uuid>, AuthError> {
    select_id(client, SELECT_USER_BY_PHONE, phone).await
}

pub async fn update_email_verified(client: &impl GenericClient, id: Uuid) -> Result<(), AuthError> {
    execute(client, UPDATE_EMAIL_VERIFIED, &[&id]).await.map(|_| ())
}

pub async fn update_phone_verified(client: &impl GenericClient, id: Uuid) -> Result<(), AuthError> {
    execute(client, UPDATE_PHONE_VERIFIED, &[&id]).await.map(|_| ())
}

pub async fn update_new_email(client: &impl GenericClient, id: Uuid, new_email: &str) -> Result<(), AuthError> {
    execute(client, UPDATE_NEW_EMAIL, &[&id, &new_email]).await.map(|_| ())
}

/// Makes the pending new email the user's email. A taken address becomes `EmailAlreadyInUse`.
pub async fn confirm_new_email(client: &impl GenericClient, id: Uuid, new_email: &str) -> Result<(), AuthError> {
    execute_unique(client, CONFIRM_NEW_EMAIL, &[&id, &new_email], EMAIL_KEY, EMAIL_TAKEN).await.map(|_| ())
}

/// Puts back the address an email change replaced, verified. A taken address becomes `EmailAlreadyInUse`.
pub async fn revert_email(client: &impl GenericClient, id: Uuid, old_email: &str) -> Result<(), AuthError> {
    execute_unique(client, REVERT_EMAIL, &[&id, &old_email], EMAIL_KEY, EMAIL_TAKEN).await.map(|_| ())
}

/// Turns an anonymous user into a regular one, keeping the id. Returns false if the user was not anonymous.
pub async fn deanonymize_user(client: &impl GenericClient, user: &NewUser) -> Result<bool, AuthError> {
    let params: [&(dyn ToSql + Sync); 8] = [
        &user.id,
        &user.email.as_ref().map(|e| e.as_str()),
        &user.password_hash,
        &user.default_role,
        &user.display_name,
        &user.locale,
        &user.metadata,
        &user.avatar_url,
    ];
    if execute_unique(client, DEANONYMIZE_USER, &params, EMAIL_KEY, EMAIL_TAKEN).await? == 0 {
        return Ok(false);
    }
    execute(client, REPLACE_USER_ROLES, &[&user.id, &user.allowed_roles]).await?;
    execute(client, INSERT_USER_ROLES, &[&user.id, &user.allowed_roles]).await?;
    Ok(true)
}

/// Sets a user's phone number. A number already taken becomes an internal error: callers look it up first.
pub async fn update_phone_number(client: &impl GenericClient, id: Uuid, phone: &str) -> Result<(), AuthError> {
    execute(client, UPDATE_PHONE_NUMBER, &[&id, &phone]).await.map(|_| ())
}

/// Locks a user's row until the transaction ends, so per-user changes (replacing a one-time code, rotating
/// or revoking refresh tokens) happen one at a time.
pub async fn lock_user(client: &impl GenericClient, id: Uuid) -> Result<(), AuthError> {
    query_opt(client, LOCK_USER, &[&id]).await.map(|_| ())
}

/// Deletes a user (and, by cascade, everything that belongs to them).
pub async fn delete_user(client: &impl GenericClient, id: Uuid) -> Result<(), AuthError> {
    execute(client, DELETE_USER, &[&id]).await.map(|_| ())
}

/// Removes a user's password: they sign in by another method until they set a new one.
pub async fn clear_password(client: &impl GenericClient, id: Uuid) -> Result<(), AuthError> {
    execute(client, CLEAR_PASSWORD, &[&id]).await.map(|_| ())
}

/// A user's password hash, if they have a password.
pub async fn select_password_hash(client: &impl GenericClient, id: Uuid) -> Result<Option<String>, AuthError> {
    let row = query_opt(client, SELECT_PASSWORD_HASH, &[&id]).await?;
    Ok(row.and_then(|row| row.try_get::<_, Option<String>>(0).ok().flatten()))
}

/// Whether a user has a password (one of their ways to sign in).
pub async fn has_password(client: &impl GenericClient, id: Uuid) -> Result<bool, AuthError> {
    Ok(select_password_hash(client, id).await?.is_some())
}
