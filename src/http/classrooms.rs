//! `/api/schools`, `/api/classrooms` and their sources: thin handlers over
//! the catalogue, telling the live registry when something changed.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, Json, Path};
use crate::catalog::classrooms::{self, Classroom, ClassroomUpdate, NewClassroom};
use crate::catalog::schools::{self, NewSchool, School};
use crate::catalog::sources::{self, NewSource, SourceUpdate, SourceView};
use crate::live::classroom::ClassroomStatus;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/schools", get(list_schools).post(create_school))
        .route(
            "/api/classrooms",
            get(list_classrooms).post(create_classroom),
        )
        .route(
            "/api/classrooms/{id}",
            get(get_classroom)
                .patch(update_classroom)
                .delete(delete_classroom),
        )
        .route(
            "/api/classrooms/{id}/sources",
            get(list_sources).post(create_source),
        )
        .route(
            "/api/classrooms/{id}/sources/{source_id}",
            get(get_source).patch(update_source).delete(delete_source),
        )
        .route(
            "/api/classrooms/{id}/sources/{source_id}/rotate-key",
            post(rotate_key),
        )
}

/// A classroom with what is happening in it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassroomView {
    #[serde(flatten)]
    pub classroom: Classroom,
    pub live: ClassroomStatus,
    /// Master playlist while live.
    pub hls_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

fn view(state: &AppState, classroom: Classroom) -> ClassroomView {
    let live = state
        .live
        .room(classroom.id)
        .map(|room| room.status.borrow().clone())
        .unwrap_or_default();
    let on_air = live.state != crate::live::classroom::LiveState::Idle;
    ClassroomView {
        hls_url: on_air.then(|| format!("/live/{}/index.m3u8", classroom.id)),
        thumbnail_url: on_air.then(|| format!("/live/{}/thumbnail.jpg", classroom.id)),
        classroom,
        live,
    }
}

#[utoipa::path(get, path = "/api/schools", responses((status = 200, body = Vec<School>)))]
async fn list_schools(State(state): State<AppState>) -> Result<Json<Vec<School>>, ApiError> {
    Ok(Json(schools::list(&state.db).await?))
}

#[utoipa::path(post, path = "/api/schools", request_body = NewSchool,
    responses((status = 201, body = School), (status = 422)))]
async fn create_school(
    State(state): State<AppState>,
    Json(new): Json<NewSchool>,
) -> Result<(StatusCode, Json<School>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(schools::create(&state.db, new).await?),
    ))
}

#[utoipa::path(get, path = "/api/classrooms", responses((status = 200, body = Vec<ClassroomView>)))]
async fn list_classrooms(
    State(state): State<AppState>,
) -> Result<Json<Vec<ClassroomView>>, ApiError> {
    let list = classrooms::list(&state.db).await?;
    Ok(Json(list.into_iter().map(|c| view(&state, c)).collect()))
}

#[utoipa::path(post, path = "/api/classrooms", request_body = NewClassroom,
    responses((status = 201, body = ClassroomView), (status = 400), (status = 422)))]
async fn create_classroom(
    State(state): State<AppState>,
    Json(new): Json<NewClassroom>,
) -> Result<(StatusCode, Json<ClassroomView>), ApiError> {
    let classroom = classrooms::create(&state.db, new).await?;
    state.live.sync(classroom.id).await;
    Ok((StatusCode::CREATED, Json(view(&state, classroom))))
}

#[utoipa::path(get, path = "/api/classrooms/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = ClassroomView), (status = 404)))]
async fn get_classroom(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<ClassroomView>, ApiError> {
    let classroom = classrooms::get(&state.db, id).await?;
    Ok(Json(view(&state, classroom)))
}

#[utoipa::path(patch, path = "/api/classrooms/{id}", params(("id" = Uuid, Path)),
    request_body = ClassroomUpdate,
    responses((status = 200, body = ClassroomView), (status = 404), (status = 422)))]
async fn update_classroom(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(update): Json<ClassroomUpdate>,
) -> Result<Json<ClassroomView>, ApiError> {
    let classroom = classrooms::update(&state.db, id, update).await?;
    state.live.sync(id).await;
    Ok(Json(view(&state, classroom)))
}

#[utoipa::path(delete, path = "/api/classrooms/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_classroom(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    classrooms::delete(&state.db, id).await?;
    state.live.sync(id).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/classrooms/{id}/sources", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<SourceView>), (status = 404)))]
async fn list_sources(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<SourceView>>, ApiError> {
    classrooms::get(&state.db, id).await?;
    let list = sources::list_for_classroom(&state.db, id).await?;
    Ok(Json(list.into_iter().map(SourceView::from).collect()))
}

#[utoipa::path(post, path = "/api/classrooms/{id}/sources", params(("id" = Uuid, Path)),
    request_body = NewSource,
    responses((status = 201, body = SourceView), (status = 404), (status = 422)))]
async fn create_source(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(new): Json<NewSource>,
) -> Result<(StatusCode, Json<SourceView>), ApiError> {
    let source = sources::create(&state.db, id, new).await?;
    state.live.sync(id).await;
    Ok((StatusCode::CREATED, Json(source.into())))
}

#[utoipa::path(get, path = "/api/classrooms/{id}/sources/{source_id}",
    params(("id" = Uuid, Path), ("source_id" = Uuid, Path)),
    responses((status = 200, body = SourceView), (status = 404)))]
async fn get_source(
    State(state): State<AppState>,
    Path((id, source_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<SourceView>, ApiError> {
    Ok(Json(sources::get(&state.db, id, source_id).await?.into()))
}

#[utoipa::path(patch, path = "/api/classrooms/{id}/sources/{source_id}",
    params(("id" = Uuid, Path), ("source_id" = Uuid, Path)), request_body = SourceUpdate,
    responses((status = 200, body = SourceView), (status = 404), (status = 422)))]
async fn update_source(
    State(state): State<AppState>,
    Path((id, source_id)): Path<(Uuid, Uuid)>,
    Json(update): Json<SourceUpdate>,
) -> Result<Json<SourceView>, ApiError> {
    let source = sources::update(&state.db, id, source_id, update).await?;
    state.live.sync(id).await;
    Ok(Json(source.into()))
}

#[utoipa::path(delete, path = "/api/classrooms/{id}/sources/{source_id}",
    params(("id" = Uuid, Path), ("source_id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_source(
    State(state): State<AppState>,
    Path((id, source_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    sources::delete(&state.db, id, source_id).await?;
    state.live.detach(id, source_id).await;
    state.live.sync(id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// New stream key; the publisher using the old one is disconnected.
#[utoipa::path(post, path = "/api/classrooms/{id}/sources/{source_id}/rotate-key",
    params(("id" = Uuid, Path), ("source_id" = Uuid, Path)),
    responses((status = 200, body = SourceView), (status = 404), (status = 422)))]
async fn rotate_key(
    State(state): State<AppState>,
    Path((id, source_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<SourceView>, ApiError> {
    let source = sources::rotate_key(&state.db, id, source_id).await?;
    tracing::info!(classroom = %id, source = %source_id, "stream key rotated");
    state.live.detach(id, source_id).await;
    Ok(Json(source.into()))
}
