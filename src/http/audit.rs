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
use crate::catalog::accounts::audit::{self, AuditEntry, AuditFilter};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/audit", get(read_audit))
}

#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Part of the actor's name, or of the username a failed sign-in tried.
    pub who: Option<String>,
    /// One action, e.g. `user_created`.
    pub action: Option<String>,
    /// At or after this instant (RFC 3339).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Before this instant (RFC 3339).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many, newest first (default 200, at most 1000).
    pub limit: Option<i64>,
    /// Skip this many (paging).
    pub offset: Option<i64>,
}

#[utoipa::path(get, path = "/api/audit", tag = "accounts", params(AuditQuery),
    responses((status = 200, body = [AuditEntry]), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn read_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    caller.require(policy::can_read_audit(&caller.principal))?;
    // A school's admin reads what their own school's people did.
    let school = if caller.principal.has(Role::SystemAdmin) {
        None
    } else {
        Some(caller.principal.school_id.ok_or(ApiError::Forbidden)?)
    };
    let filter = AuditFilter {
        school,
        who: query.who,
        action: query.action,
        from: query.from,
        to: query.to,
        limit: query.limit.unwrap_or(200).clamp(1, 1000),
        offset: query.offset.unwrap_or(0).max(0),
    };
    Ok(Json(audit::audit_log(&state.db, &filter).await?))
}
