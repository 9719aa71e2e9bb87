//! `/api/schools`: the group, campuses and partner schools. Everyone signed
//! in reads them (names and time zones for the UI); the group's admins
//! create, change and delete them, each change audited.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path};
use super::extract::Caller;
use crate::auth::policy;
use crate::catalog::schools::{self, NewSchool, School, SchoolUpdate};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/schools", get(list_schools).post(create_school))
        .route(
            "/api/schools/{id}",
            patch(update_school).delete(delete_school),
        )
}

#[utoipa::path(get, path = "/api/schools", responses((status = 200, body = Vec<School>),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 503, body = ErrorBody)))]
pub async fn list_schools(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<School>>, ApiError> {
    Ok(Json(schools::list(&state.db).await?))
}

#[utoipa::path(post, path = "/api/schools", request_body = NewSchool,
    responses((status = 201, body = School), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn create_school(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewSchool>,
) -> Result<(StatusCode, Json<School>), ApiError> {
    caller.require(policy::can_manage_schools(&caller.principal))?;
    let school = schools::create(&state.db, new).await?;
    caller
        .audit(
            &state,
            "school_created",
            Some(("school", school.id.to_string())),
            serde_json::json!({"name": school.name, "kind": school.kind}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(school)))
}

#[utoipa::path(patch, path = "/api/schools/{id}", params(("id" = Uuid, Path)),
    request_body = SchoolUpdate,
    responses((status = 200, body = School), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn update_school(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(update): Json<SchoolUpdate>,
) -> Result<Json<School>, ApiError> {
    caller.require(policy::can_manage_schools(&caller.principal))?;
    let before = schools::get(&state.db, id).await?;
    let school = schools::update(&state.db, id, update).await?;
    // An empty change (same values back) is no event.
    if serde_json::to_value(&before).ok() != serde_json::to_value(&school).ok() {
        caller
            .audit(
                &state,
                "school_changed",
                Some(("school", id.to_string())),
                serde_json::json!({"name": school.name, "from": before.name}),
            )
            .await;
    }
    Ok(Json(school))
}

/// Deletes a school with no classrooms, people or campuses (409 `school_in_use` otherwise).
#[utoipa::path(delete, path = "/api/schools/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn delete_school(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(policy::can_manage_schools(&caller.principal))?;
    let school = schools::delete(&state.db, id).await?;
    caller
        .audit(
            &state,
            "school_deleted",
            Some(("school", id.to_string())),
            serde_json::json!({"name": school.name}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
