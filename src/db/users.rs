//! Queries on `auth.users` and `auth.user_roles`.
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{GenericClient, internal, unique_violation};
use crate::domain::user::{NewUser, User};
use crate::error::AuthError;

pub const INSERT_USER: &str = include_str!("sql/users/insert_user.sql");
pub const INSERT_USER_ROLES: &str = include_str!("sql/users/insert_user_roles.sql");
pub const SELECT_USER_BY_ID: &str = include_str!("sql/users/select_user_by_id.sql");
pub const SELECT_CREDENTIALS_BY_EMAIL: &str = include_str!("sql/users/select_credentials_by_email.sql");
pub const UPDATE_PASSWORD_HASH: &str = include_str!("sql/users/update_password_hash.sql");
pub const UPDATE_LAST_SEEN: &str = include_str!("sql/users/update_last_seen.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("users/insert_user", INSERT_USER),
    ("users/insert_user_roles", INSERT_USER_ROLES),
    ("users/select_user_by_id", SELECT_USER_BY_ID),
    ("users/select_credentials_by_email", SELECT_CREDENTIALS_BY_EMAIL),
    ("users/update_password_hash", UPDATE_PASSWORD_HASH),
    ("users/update_last_seen", UPDATE_LAST_SEEN),
];

/// What sign-in needs to know about the owner of an email address.
#[derive(Debug)]
pub struct Credentials {
    pub user_id: Uuid,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub email_verified: bool,
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
                .try_get::<_, Option<serde_json::Value>>("metadata")?
                .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
            active_mfa_type: row.try_get("active_mfa_type")?,
            organisation_id: row.try_get("organisation_id")?,
            roles: row.try_get("roles")?,
        })
    }
}

/// Inserts a user and their roles. A taken email becomes [`AuthError::EmailAlreadyInUse`].
pub async fn insert_user(client: &impl GenericClient, user: &NewUser, now: DateTime<Utc>) -> Result<(), AuthError> {
    let statement = client.prepare_cached(INSERT_USER).await.map_err(internal)?;
    client
        .execute(
            &statement,
            &[
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
            ],
        )
        .await
        .map_err(|e| match unique_violation(&e) {
            Some("users_email_key") => AuthError::EmailAlreadyInUse,
            _ => internal(e),
        })?;
    let statement = client.prepare_cached(INSERT_USER_ROLES).await.map_err(internal)?;
    client.execute(&statement, &[&user.id, &user.allowed_roles]).await.map_err(internal)?;
    Ok(())
}

pub async fn select_user_by_id(client: &impl GenericClient, id: Uuid) -> Result<Option<User>, AuthError> {
    let statement = client.prepare_cached(SELECT_USER_BY_ID).await.map_err(internal)?;
    let row = client.query_opt(&statement, &[&id]).await.map_err(internal)?;
    row.as_ref().map(User::try_from).transpose().map_err(internal)
}

pub async fn select_credentials_by_email(
    client: &impl GenericClient,
    email: &str,
) -> Result<Option<Credentials>, AuthError> {
    let statement = client.prepare_cached(SELECT_CREDENTIALS_BY_EMAIL).await.map_err(internal)?;
    let row = client.query_opt(&statement, &[&email]).await.map_err(internal)?;
    row.map(|row| {
        Ok(Credentials {
            user_id: row.try_get("id")?,
            password_hash: row.try_get("password_hash")?,
            disabled: row.try_get("disabled")?,
            email_verified: row.try_get("email_verified")?,
        })
    })
    .transpose()
    .map_err(internal)
}

pub async fn update_password_hash(client: &impl GenericClient, id: Uuid, hash: &str) -> Result<(), AuthError> {
    let statement = client.prepare_cached(UPDATE_PASSWORD_HASH).await.map_err(internal)?;
    client.execute(&statement, &[&id, &hash]).await.map_err(internal)?;
    Ok(())
}

pub async fn update_last_seen(client: &impl GenericClient, id: Uuid, now: DateTime<Utc>) -> Result<(), AuthError> {
    let statement = client.prepare_cached(UPDATE_LAST_SEEN).await.map_err(internal)?;
    client.execute(&statement, &[&id, &now]).await.map_err(internal)?;
    Ok(())
}
