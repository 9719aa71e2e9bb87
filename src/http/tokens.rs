//! API tokens: created (the secret shown once), listed and revoked.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path};
use super::extract::{Caller, random_secret, sha256};
use crate::auth::policy;
use crate::catalog::accounts::tokens::{self, ApiToken};
use crate::catalog::accounts::users;

/// API tokens start with this, so a leaked one is recognisable in logs and scanners.
const TOKEN_PREFIX: &str = "cc_";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route("/api/tokens/{id}", delete(revoke_token))
}

#[derive(Deserialize, ToSchema)]
pub struct NewToken {
    pub name: String,
    /// Days until it stops working; none: until revoked.
    pub expires_in_days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: ApiToken,
    /// The secret, shown this once: send it as `Authorization: Bearer …`.
    pub secret: String,
}

#[utoipa::path(get, path = "/api/tokens", tag = "accounts", responses(
    (status = 200, body = [ApiToken]), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(
        tokens::tokens(&state.db, caller.principal.user_id).await?,
    ))
}

#[utoipa::path(post, path = "/api/tokens", tag = "accounts", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    if caller.principal.user_id.is_nil() {
        // With auth disabled there is nobody to own a token.
        return Err(ApiError::Forbidden);
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_secret(32));
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let expires = body
        .expires_in_days
        .map(|d| Utc::now() + Duration::days(i64::from(d.clamp(1, 3650))));
    let token = tokens::create_token(
        &state.db,
        caller.principal.user_id,
        &body.name,
        &prefix,
        &sha256(&secret),
        expires,
    )
    .await?;
    caller
        .audit(
            &state,
            "token_created",
            Some(("token", token.id.to_string())),
            serde_json::json!({"name": token.name, "prefix": token.prefix}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "accounts",
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let token = tokens::token(&state.db, id).await?;
    let own = token.user_id == caller.principal.user_id;
    if !own {
        let owner = users::get(&state.db, token.user_id).await?;
        let roles = owner.role_kinds();
        caller.require(policy::can_manage_user(
            &caller.principal,
            owner.school_id,
            &roles,
        ))?;
    }
    tokens::revoke_token(&state.db, id).await?;
    caller
        .audit(
            &state,
            "token_revoked",
            Some(("token", id.to_string())),
            serde_json::json!({"prefix": token.prefix}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
