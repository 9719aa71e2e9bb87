//! The audit log, for system admins (everything) and school admins (what
//! their own school's people did).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Query};
use super::extract::Caller;
use crate::auth::{Role, policy};
use crate::catalog::accounts::audit::{self, AuditEntry};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/audit", get(read_audit))
}

#[derive(Deserialize, ToSchema)]
pub struct AuditQuery {
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/audit", tag = "accounts", params(("limit" = Option<i64>, Query)),
    responses((status = 200, body = [AuditEntry]), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn read_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    caller.require(policy::can_read_audit(&caller.principal))?;
    let limit = query.limit.unwrap_or(200).clamp(1, 1000);
    // A school's admin reads what their own school's people did.
    let school = if caller.principal.has(Role::SystemAdmin) {
        None
    } else {
        Some(caller.principal.school_id.ok_or(ApiError::Forbidden)?)
    };
    Ok(Json(audit::audit_log(&state.db, school, limit).await?))
}
