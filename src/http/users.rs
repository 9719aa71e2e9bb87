//! Users and the first admin: the one-time setup, and creating, listing,
//! changing and deleting accounts as their admins may.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path, Query};
use super::extract::{Caller, ClientAddress, same_secret};
use super::sessions::{checked_password, hash_error, limits};
use crate::auth::{Role, RoleGrant, policy};
use crate::catalog::accounts::secrets;
use crate::catalog::accounts::users::{self, NewUser, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/users",
            axum::routing::get(list_users).post(create_user),
        )
        .route(
            "/api/users/{id}",
            axum::routing::patch(update_user).delete(delete_user),
        )
        .route("/api/setup", post(setup_first_admin))
}

#[derive(Deserialize, ToSchema)]
pub struct Setup {
    /// The one-time code `classcast serve` prints while no user exists.
    pub code: String,
    pub username: String,
    pub password: String,
}

/// Creates the first system admin with the one-time setup code. Refused as
/// soon as any user exists, so no default password ever does: 409
/// `setup_done` (the link was used: sign in), told apart from 403
/// `setup_code_wrong` (a code mistyped or cut short: open the printed link).
#[utoipa::path(post, path = "/api/setup", tag = "accounts", request_body = Setup,
    responses((status = 201, body = User), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn setup_first_admin(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Json(body): Json<Setup>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let expected = setup_code(&state)
        .await?
        .ok_or(ApiError::Conflict("setup_done"))?;
    if !same_secret(body.code.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::Refused("setup_code_wrong"));
    }
    let user = create_account(
        &state,
        NewUser {
            school_id: None,
            username: body.username,
            display_name: String::new(),
            password: Some(body.password),
            roles: vec![RoleGrant {
                role: Role::SystemAdmin,
                review_level: None,
                subject_id: None,
            }],
        },
    )
    .await?;
    // Nobody was signed in: the entry is the new admin's own (whoever held
    // the printed code), from the address the link was opened at.
    let admin = Caller {
        principal: crate::auth::Principal {
            user_id: user.id,
            username: user.username.clone(),
            school_id: user.school_id,
            roles: user.roles.clone(),
        },
        address,
        session: None,
    };
    admin
        .audit(
            &state,
            "first_admin_created",
            Some(("user", user.id.to_string())),
            serde_json::json!({"username": user.username}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(user)))
}

/// The setup code, while no user exists (printed by `serve` for the admin).
pub async fn setup_code(state: &AppState) -> Result<Option<String>, ApiError> {
    if users::count(&state.db).await? > 0 {
        return Ok(None);
    }
    let secret = secrets::shared_secret(&state.db, "setup_code").await?;
    Ok(Some(URL_SAFE_NO_PAD.encode(&secret[..12])))
}

async fn create_account(state: &AppState, user: NewUser) -> Result<User, ApiError> {
    // Refuse bad input before spending a hash on it (create checks again).
    users::validate_new(&user)?;
    let hash = match user.password.clone() {
        Some(p) => Some(state.hashing.hash(p).await.map_err(hash_error)?),
        None => None,
    };
    Ok(users::create(&state.db, &user, hash).await?)
}

#[derive(Deserialize, ToSchema)]
pub struct UserQuery {
    pub school_id: Option<Uuid>,
}

/// Users an admin manages: all for system admins, their school's for school admins.
#[utoipa::path(get, path = "/api/users", tag = "accounts", params(("school_id" = Option<Uuid>, Query)),
    responses((status = 200, body = [User]), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<UserQuery>,
) -> Result<Json<Vec<User>>, ApiError> {
    let who = &caller.principal;
    let school = if who.has(Role::SystemAdmin) {
        query.school_id
    } else if who.has(Role::SchoolAdmin) {
        // A school admin without a school administers nobody (None here
        // would mean every school).
        Some(who.school_id.ok_or(ApiError::Forbidden)?)
    } else {
        return Err(ApiError::Forbidden);
    };
    Ok(Json(users::list(&state.db, school).await?))
}

#[utoipa::path(post, path = "/api/users", tag = "accounts", request_body = NewUser,
    responses((status = 201, body = User), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let roles = users::role_kinds(&body.roles);
    caller.require(policy::can_manage_user(
        &caller.principal,
        body.school_id,
        &roles,
    ))?;
    let user = create_account(&state, body).await?;
    caller
        .audit(
            &state,
            "user_created",
            Some(("user", user.id.to_string())),
            serde_json::json!({"username": user.username, "roles": user.roles}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub roles: Option<Vec<RoleGrant>>,
    pub disabled: Option<bool>,
    pub password: Option<String>,
    /// Required when users change their own password: a session left open
    /// on a classroom computer must not be enough to take the account.
    /// Checked under the same failure limits as sign-in.
    pub current_password: Option<String>,
}

#[utoipa::path(patch, path = "/api/users/{id}", tag = "accounts", request_body = UserUpdate,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UserUpdate>,
) -> Result<Json<User>, ApiError> {
    let user = users::get(&state.db, id).await?;
    let administers =
        policy::can_manage_user(&caller.principal, user.school_id, &user.role_kinds());
    let own = id == caller.principal.user_id;
    let self_service = own && body.roles.is_none() && body.disabled.is_none();
    caller.require(self_service || administers)?;
    if own && body.disabled == Some(true) {
        // Nobody locks themselves out by a slip of the mouse.
        return Err(ApiError::Conflict("cannot_disable_self"));
    }
    // Everything is checked before anything is written.
    let new_hash = match &body.password {
        Some(new_password) => {
            let mut v = crate::catalog::Validation::default();
            users::validate_password(new_password, &mut v);
            v.finish()?;
            if own {
                own_password_proven(&state, &caller, &user, body.current_password.clone()).await?;
            }
            Some(
                state
                    .hashing
                    .hash(new_password.clone())
                    .await
                    .map_err(hash_error)?,
            )
        }
        None => None,
    };
    if let Some(roles) = &body.roles {
        let mut v = crate::catalog::Validation::default();
        users::validate_roles(roles, &mut v);
        v.finish()?;
        let wanted = users::role_kinds(roles);
        caller.require(policy::can_manage_user(
            &caller.principal,
            user.school_id,
            &wanted,
        ))?;
    }
    if let Some(roles) = &body.roles {
        users::set_roles(&state.db, id, roles).await?;
        caller
            .audit(
                &state,
                "roles_changed",
                Some(("user", id.to_string())),
                serde_json::json!({"from": user.roles, "to": roles}),
            )
            .await;
    }
    if let Some(disabled) = body.disabled {
        users::set_disabled(&state.db, id, disabled).await?;
        caller
            .audit(
                &state,
                if disabled {
                    "user_disabled"
                } else {
                    "user_enabled"
                },
                Some(("user", id.to_string())),
                serde_json::json!({}),
            )
            .await;
    }
    if let Some(hash) = new_hash {
        users::set_password(&state.db, id, &hash).await?;
        caller
            .audit(
                &state,
                "password_changed",
                Some(("user", id.to_string())),
                serde_json::json!({"by_admin": !own}),
            )
            .await;
    }
    Ok(Json(users::get(&state.db, id).await?))
}

/// Your own password, admins included: prove you know the current one,
/// under the sign-in limits (a session left open must not become an
/// unlimited guessing oracle). An account without one (single sign-on)
/// gets none this way; an admin can set one.
async fn own_password_proven(
    state: &AppState,
    caller: &Caller,
    user: &User,
    given: Option<String>,
) -> Result<(), ApiError> {
    let stored = users::credentials(&state.db, &user.username)
        .await?
        .and_then(|c| c.password_hash)
        .ok_or(ApiError::Forbidden)?;
    let given = given.unwrap_or_default();
    if given.len() > crate::auth::password::MAX_LENGTH {
        return Err(ApiError::BadCredentials);
    }
    let limits = limits(state, &user.username, caller.address);
    if checked_password(state, &limits, given, Some(stored)).await? {
        return Ok(());
    }
    caller
        .audit(
            state,
            "password_check_failed",
            Some(("user", user.id.to_string())),
            serde_json::json!({"username": user.username}),
        )
        .await;
    Err(ApiError::BadCredentials)
}

#[utoipa::path(delete, path = "/api/users/{id}", tag = "accounts", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let user = users::get(&state.db, id).await?;
    let roles = user.role_kinds();
    caller.require(policy::can_manage_user(
        &caller.principal,
        user.school_id,
        &roles,
    ))?;
    if id == caller.principal.user_id {
        return Err(ApiError::Conflict("cannot_delete_self"));
    }
    users::delete(&state.db, id).await?;
    caller
        .audit(
            &state,
            "user_deleted",
            Some(("user", id.to_string())),
            serde_json::json!({"username": user.username}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
