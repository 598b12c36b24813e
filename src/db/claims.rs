//! What token issuance reads besides the user: the JSON document custom claims are evaluated over, and the
//! permissions granted by a set of roles.
use uuid::Uuid;

use super::{GenericClient, internal};
use crate::error::AuthError;

pub const SELECT_USER_CLAIMS_DOCUMENT: &str = include_str!("sql/claims/select_user_claims_document.sql");
pub const SELECT_ROLE_PERMISSIONS: &str = include_str!("sql/claims/select_role_permissions.sql");

pub const STATEMENTS: &[(&str, &str)] = &[
    ("claims/select_user_claims_document", SELECT_USER_CLAIMS_DOCUMENT),
    ("claims/select_role_permissions", SELECT_ROLE_PERMISSIONS),
];

pub async fn select_user_claims_document(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Option<serde_json::Value>, AuthError> {
    let row = super::query_opt(client, SELECT_USER_CLAIMS_DOCUMENT, &[&user_id]).await?;
    row.map(|row| row.try_get::<_, super::StoredJson>("document").map(|document| document.0))
        .transpose()
        .map_err(internal)
}

pub async fn select_role_permissions(client: &impl GenericClient, roles: &[String]) -> Result<Vec<String>, AuthError> {
    let rows = super::query(client, SELECT_ROLE_PERMISSIONS, &[&roles]).await?;
    rows.iter().map(|row| row.try_get("permission")).collect::<Result<_, _>>().map_err(internal)
}
