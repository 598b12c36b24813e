//! Tag `admin`: the admin API under `/admin`, for callers holding the Hasura admin secret
//! (`x-hasura-admin-secret`) or an access token whose allowed roles include `admin`. Users: list with
//! paging and search, read, create, disable or enable, set roles, unlock, delete with their sessions;
//! roles, permissions and which roles grant which permissions.
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::body::JsonBody;
use super::error::ApiError;
use super::schemas::{SecretField, UserBody};
use crate::domain::Email;
use crate::domain::user::User;
use crate::error::AuthError;
use crate::flows;
use crate::flows::admin::NewAccount;
use crate::state::AppState;

/// The role whose holders may use the admin API.
const ADMIN_ROLE: &str = "admin";

/// A user as an administrator sees it.
#[derive(Object)]
#[oai(rename = "AdminUser", rename_all = "camelCase")]
pub struct AdminUserBody {
    #[oai(flatten)]
    pub profile: UserBody,
    /// A disabled user cannot sign in.
    pub disabled: bool,
}

impl From<User> for AdminUserBody {
    fn from(user: User) -> Self {
        let disabled = user.disabled;
        AdminUserBody { profile: UserBody::from(user), disabled }
    }
}

#[derive(Object)]
#[oai(rename = "AdminUserList", rename_all = "camelCase")]
pub struct AdminUserListBody {
    pub users: Vec<AdminUserBody>,
    /// How many users match the search in all.
    pub total: i64,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "AdminCreateUserRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    /// Without one the user signs in another way (magic link, code, provider) or resets it.
    pub password: Option<SecretField>,
    pub display_name: Option<String>,
    pub default_role: Option<String>,
    pub roles: Option<Vec<String>>,
    /// Whether the email counts as verified already.
    #[serde(default)]
    pub email_verified: Option<bool>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "AdminSetRolesRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRolesRequest {
    pub default_role: String,
    /// Every role the user holds; the default role is added when missing.
    pub roles: Vec<String>,
}

#[derive(Object)]
#[oai(rename = "AdminRole", rename_all = "camelCase")]
pub struct RoleBody {
    pub role: String,
    /// The permissions the role grants.
    pub permissions: Vec<String>,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "AdminCreateRoleRequest", rename_all = "camelCase", deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoleRequest {
    pub role: String,
}

#[derive(Object, serde::Deserialize)]
#[oai(rename = "AdminPermission", rename_all = "camelCase", deny_unknown_fields, skip_serializing_if_is_none)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionBody {
    pub permission: String,
    #[serde(default)]
    pub description: Option<String>,
}

pub struct AdminApi {
    pub state: AppState,
}

impl AdminApi {
    fn authorize(&self, req: &Request) -> Result<(), ApiError> {
        authorize(&self.state, req)
    }
}

/// The admin secret, or a token whose allowed roles include `admin`.
pub fn authorize(state: &AppState, req: &Request) -> Result<(), ApiError> {
    if let Some(expected) = &state.config.hasura.admin_secret
        && super::hasura::secret_matches(req.header("x-hasura-admin-secret"), expected)
    {
        return Ok(());
    }
    let token = super::security::optional_bearer(req)
        .ok_or(AuthError::Unauthenticated("the admin secret or an admin's access token is required"))?;
    let bearer = flows::session::authenticate(state, token)?;
    if bearer.claims.allowed_roles.iter().any(|role| role == ADMIN_ROLE) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(Json(super::error::ErrorBody {
            status: 403,
            error: "forbidden".into(),
            message: "Only administrators may use the admin API".into(),
        })))
    }
}

fn name(text: &str, what: &str) -> Result<String, ApiError> {
    let trimmed = text.trim();
    let valid = !trimmed.is_empty() && trimmed.len() <= 100 && !trimmed.contains('\0');
    if valid {
        Ok(trimmed.to_string())
    } else {
        Err(ApiError::invalid_request(format!("{what} must be 1 to 100 characters")))
    }
}

/// Role names as given, each checked like a new role's name (a NUL byte cannot reach Postgres).
fn role_names(roles: &[String]) -> Result<Vec<String>, ApiError> {
    roles.iter().map(|role| name(role, "a role")).collect()
}

fn ok() -> Json<String> {
    Json("OK".to_string())
}

#[OpenApi(prefix_path = "/admin", tag = "ApiTags::Admin")]
impl AdminApi {
    /// List users
    ///
    /// Oldest first; `search` matches email, display name or phone number (any case).
    #[oai(path = "/users", method = "get", operation_id = "adminListUsers")]
    async fn list_users(
        &self,
        req: &Request,
        search: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
        #[oai(validator(minimum(value = "0")))] offset: Query<Option<i64>>,
    ) -> Result<Json<AdminUserListBody>, ApiError> {
        self.authorize(req)?;
        let page =
            flows::admin::list_users(&self.state, search.0.as_deref(), limit.0.unwrap_or(50), offset.0.unwrap_or(0))
                .await?;
        Ok(Json(AdminUserListBody { users: page.users.into_iter().map(Into::into).collect(), total: page.total }))
    }

    /// Create a user
    #[oai(path = "/users", method = "post", operation_id = "adminCreateUser")]
    async fn create_user(
        &self,
        req: &Request,
        body: JsonBody<CreateUserRequest>,
    ) -> Result<Json<AdminUserBody>, ApiError> {
        self.authorize(req)?;
        let body = body.0;
        let account = NewAccount {
            email: Email::parse(&body.email)?,
            password: body.password.map(|password| password.0),
            display_name: body.display_name,
            default_role: body.default_role.as_deref().map(|role| name(role, "a role")).transpose()?,
            roles: body.roles.as_deref().map(role_names).transpose()?,
            email_verified: body.email_verified.unwrap_or(false),
        };
        Ok(Json(flows::admin::create_user(&self.state, account).await?.into()))
    }

    /// Get a user
    #[oai(path = "/users/:id", method = "get", operation_id = "adminGetUser")]
    async fn get_user(&self, req: &Request, id: Path<Uuid>) -> Result<Json<AdminUserBody>, ApiError> {
        self.authorize(req)?;
        Ok(Json(flows::admin::get_user(&self.state, id.0).await?.into()))
    }

    /// Delete a user with their sessions
    #[oai(path = "/users/:id", method = "delete", operation_id = "adminDeleteUser")]
    async fn delete_user(&self, req: &Request, id: Path<Uuid>) -> Result<Json<String>, ApiError> {
        self.authorize(req)?;
        flows::admin::delete_user(&self.state, id.0).await?;
        Ok(ok())
    }

    /// Disable a user (their sessions end)
    #[oai(path = "/users/:id/disable", method = "post", operation_id = "adminDisableUser")]
    async fn disable_user(&self, req: &Request, id: Path<Uuid>) -> Result<Json<AdminUserBody>, ApiError> {
        self.authorize(req)?;
        Ok(Json(flows::admin::set_disabled(&self.state, id.0, true).await?.into()))
    }

    /// Enable a user
    #[oai(path = "/users/:id/enable", method = "post", operation_id = "adminEnableUser")]
    async fn enable_user(&self, req: &Request, id: Path<Uuid>) -> Result<Json<AdminUserBody>, ApiError> {
        self.authorize(req)?;
        Ok(Json(flows::admin::set_disabled(&self.state, id.0, false).await?.into()))
    }

    /// Lift a lockout after failed sign-ins
    #[oai(path = "/users/:id/unlock", method = "post", operation_id = "adminUnlockUser")]
    async fn unlock_user(&self, req: &Request, id: Path<Uuid>) -> Result<Json<AdminUserBody>, ApiError> {
        self.authorize(req)?;
        Ok(Json(flows::admin::unlock_user(&self.state, id.0).await?.into()))
    }

    /// Set a user's roles
    ///
    /// Takes effect at the user's next token refresh.
    #[oai(path = "/users/:id/roles", method = "put", operation_id = "adminSetUserRoles")]
    async fn set_roles(
        &self,
        req: &Request,
        id: Path<Uuid>,
        body: JsonBody<SetRolesRequest>,
    ) -> Result<Json<AdminUserBody>, ApiError> {
        self.authorize(req)?;
        let body = body.0;
        let (default_role, roles) = (name(&body.default_role, "a role")?, role_names(&body.roles)?);
        Ok(Json(flows::admin::set_roles(&self.state, id.0, &default_role, &roles).await?.into()))
    }

    /// List roles with their permissions
    #[oai(path = "/roles", method = "get", operation_id = "adminListRoles")]
    async fn list_roles(&self, req: &Request) -> Result<Json<Vec<RoleBody>>, ApiError> {
        self.authorize(req)?;
        let roles = flows::admin::list_roles(&self.state).await?;
        Ok(Json(roles.into_iter().map(|(role, permissions)| RoleBody { role, permissions }).collect()))
    }

    /// Create a role
    #[oai(path = "/roles", method = "post", operation_id = "adminCreateRole")]
    async fn create_role(&self, req: &Request, body: JsonBody<CreateRoleRequest>) -> Result<Json<String>, ApiError> {
        self.authorize(req)?;
        flows::admin::create_role(&self.state, &name(&body.0.role, "role")?).await?;
        Ok(ok())
    }

    /// Delete a role no user holds
    #[oai(path = "/roles/:role", method = "delete", operation_id = "adminDeleteRole")]
    async fn delete_role(&self, req: &Request, role: Path<String>) -> Result<Json<String>, ApiError> {
        self.authorize(req)?;
        flows::admin::delete_role(&self.state, &role.0).await?;
        Ok(ok())
    }

    /// List permissions
    #[oai(path = "/permissions", method = "get", operation_id = "adminListPermissions")]
    async fn list_permissions(&self, req: &Request) -> Result<Json<Vec<PermissionBody>>, ApiError> {
        self.authorize(req)?;
        let permissions = flows::admin::list_permissions(&self.state).await?;
        let bodies = permissions
            .into_iter()
            .map(|(permission, description)| PermissionBody { permission, description: Some(description) });
        Ok(Json(bodies.collect()))
    }

    /// Create or describe a permission
    #[oai(path = "/permissions", method = "post", operation_id = "adminSavePermission")]
    async fn save_permission(&self, req: &Request, body: JsonBody<PermissionBody>) -> Result<Json<String>, ApiError> {
        self.authorize(req)?;
        let permission = name(&body.0.permission, "permission")?;
        let description = body.0.description.unwrap_or_default();
        flows::admin::upsert_permission(&self.state, &permission, description.replace('\0', "").as_str()).await?;
        Ok(ok())
    }

    /// Delete a permission
    #[oai(path = "/permissions/:permission", method = "delete", operation_id = "adminDeletePermission")]
    async fn delete_permission(&self, req: &Request, permission: Path<String>) -> Result<Json<String>, ApiError> {
        self.authorize(req)?;
        flows::admin::delete_permission(&self.state, &permission.0).await?;
        Ok(ok())
    }

    /// Let a role grant a permission
    #[oai(path = "/roles/:role/permissions/:permission", method = "put", operation_id = "adminGrantPermission")]
    async fn grant(
        &self,
        req: &Request,
        role: Path<String>,
        permission: Path<String>,
    ) -> Result<Json<String>, ApiError> {
        self.authorize(req)?;
        flows::admin::grant_permission(&self.state, &role.0, &permission.0).await?;
        Ok(ok())
    }

    /// Stop a role granting a permission
    #[oai(path = "/roles/:role/permissions/:permission", method = "delete", operation_id = "adminRevokePermission")]
    async fn revoke(
        &self,
        req: &Request,
        role: Path<String>,
        permission: Path<String>,
    ) -> Result<Json<String>, ApiError> {
        self.authorize(req)?;
        flows::admin::revoke_permission(&self.state, &role.0, &permission.0).await?;
        Ok(ok())
    }
}
