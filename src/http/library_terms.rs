//! `/api/library/{subjects,grades,editions}` and the knowledge points
//! (`/api/library/knowledge-points`): what lessons are filed under.
//! Everyone signed in reads them; resource-center staff edit the terms;
//! a subject's teaching-research group (教研组) edits its knowledge points.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path, Query};
use super::extract::Caller;
use crate::auth::policy;
use crate::catalog::library::knowledge_points::{
    self, ImportReport, KnowledgeNode, KnowledgePoint, KnowledgePointUpdate, NewKnowledgePoint,
};
use crate::catalog::library::terms::{self, NewTerm, Term, TermKind, TermUpdate};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/library/subjects",
            get(list_subjects).post(create_subject),
        )
        .route("/api/library/subjects/{id}", patch(update_subject))
        .route("/api/library/grades", get(list_grades).post(create_grade))
        .route("/api/library/grades/{id}", patch(update_grade))
        .route(
            "/api/library/editions",
            get(list_editions).post(create_edition),
        )
        .route("/api/library/editions/{id}", patch(update_edition))
        .route(
            "/api/library/knowledge-points",
            get(knowledge_tree).post(create_point),
        )
        .route(
            "/api/library/knowledge-points/{id}",
            patch(update_point).delete(delete_point),
        )
        .route("/api/library/knowledge-point-imports", post(import_points))
}

async fn create_term(
    state: &AppState,
    caller: &Caller,
    kind: TermKind,
    new: NewTerm,
) -> Result<(StatusCode, Json<Term>), ApiError> {
    caller.require(policy::can_edit_library_terms(&caller.principal))?;
    let term = terms::create(&state.db, kind, &new).await?;
    caller
        .audit(
            state,
            "library_term_created",
            Some(("library_term", term.id.to_string())),
            serde_json::json!({"code": term.code, "name": term.name}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(term)))
}

async fn update_term(
    state: &AppState,
    caller: &Caller,
    kind: TermKind,
    id: Uuid,
    update: TermUpdate,
) -> Result<Json<Term>, ApiError> {
    caller.require(policy::can_edit_library_terms(&caller.principal))?;
    let before = terms::get(&state.db, kind, id).await?;
    let term = terms::update(&state.db, kind, id, &update).await?;
    if term.name != before.name {
        caller
            .audit(
                state,
                "library_term_renamed",
                Some(("library_term", id.to_string())),
                serde_json::json!({"from": before.name, "to": term.name}),
            )
            .await;
    }
    Ok(Json(term))
}

#[utoipa::path(get, path = "/api/library/subjects",
    responses((status = 200, body = Vec<Term>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list_subjects(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<Term>>, ApiError> {
    Ok(Json(terms::list(&state.db, TermKind::Subject).await?))
}

#[utoipa::path(post, path = "/api/library/subjects", request_body = NewTerm,
    responses((status = 201, body = Term), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn create_subject(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewTerm>,
) -> Result<(StatusCode, Json<Term>), ApiError> {
    create_term(&state, &caller, TermKind::Subject, new).await
}

#[utoipa::path(patch, path = "/api/library/subjects/{id}", params(("id" = Uuid, Path)),
    request_body = TermUpdate,
    responses((status = 200, body = Term), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn update_subject(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(update): Json<TermUpdate>,
) -> Result<Json<Term>, ApiError> {
    update_term(&state, &caller, TermKind::Subject, id, update).await
}

#[utoipa::path(get, path = "/api/library/grades",
    responses((status = 200, body = Vec<Term>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list_grades(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<Term>>, ApiError> {
    Ok(Json(terms::list(&state.db, TermKind::Grade).await?))
}

#[utoipa::path(post, path = "/api/library/grades", request_body = NewTerm,
    responses((status = 201, body = Term), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn create_grade(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewTerm>,
) -> Result<(StatusCode, Json<Term>), ApiError> {
    create_term(&state, &caller, TermKind::Grade, new).await
}

#[utoipa::path(patch, path = "/api/library/grades/{id}", params(("id" = Uuid, Path)),
    request_body = TermUpdate,
    responses((status = 200, body = Term), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn update_grade(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(update): Json<TermUpdate>,
) -> Result<Json<Term>, ApiError> {
    update_term(&state, &caller, TermKind::Grade, id, update).await
}

#[utoipa::path(get, path = "/api/library/editions",
    responses((status = 200, body = Vec<Term>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list_editions(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<Term>>, ApiError> {
    Ok(Json(terms::list(&state.db, TermKind::Edition).await?))
}

#[utoipa::path(post, path = "/api/library/editions", request_body = NewTerm,
    responses((status = 201, body = Term), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn create_edition(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewTerm>,
) -> Result<(StatusCode, Json<Term>), ApiError> {
    create_term(&state, &caller, TermKind::Edition, new).await
}

#[utoipa::path(patch, path = "/api/library/editions/{id}", params(("id" = Uuid, Path)),
    request_body = TermUpdate,
    responses((status = 200, body = Term), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn update_edition(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(update): Json<TermUpdate>,
) -> Result<Json<Term>, ApiError> {
    update_term(&state, &caller, TermKind::Edition, id, update).await
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TreeQuery {
    pub subject_id: Uuid,
    pub grade_id: Uuid,
}

/// One subject and grade's knowledge points, as a tree, each with the
/// number of published lessons under it that the caller may see.
#[utoipa::path(get, path = "/api/library/knowledge-points", params(TreeQuery),
    responses((status = 200, body = Vec<KnowledgeNode>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn knowledge_tree(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TreeQuery>,
) -> Result<Json<Vec<KnowledgeNode>>, ApiError> {
    let viewer = super::library::browse_viewer(&state, &caller).await?;
    Ok(Json(
        knowledge_points::tree(&state.db, q.subject_id, q.grade_id, &viewer).await?,
    ))
}

#[utoipa::path(post, path = "/api/library/knowledge-points", request_body = NewKnowledgePoint,
    responses((status = 201, body = KnowledgePoint), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn create_point(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewKnowledgePoint>,
) -> Result<(StatusCode, Json<KnowledgePoint>), ApiError> {
    caller.require(policy::can_edit_knowledge_points(
        &caller.principal,
        new.subject_id,
    ))?;
    let point = knowledge_points::create(&state.db, &new).await?;
    Ok((StatusCode::CREATED, Json(point)))
}

#[utoipa::path(patch, path = "/api/library/knowledge-points/{id}", params(("id" = Uuid, Path)),
    request_body = KnowledgePointUpdate,
    responses((status = 200, body = KnowledgePoint), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn update_point(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(update): Json<KnowledgePointUpdate>,
) -> Result<Json<KnowledgePoint>, ApiError> {
    let point = knowledge_points::get(&state.db, id).await?;
    caller.require(policy::can_edit_knowledge_points(
        &caller.principal,
        point.subject_id,
    ))?;
    Ok(Json(
        knowledge_points::update(&state.db, id, &update).await?,
    ))
}

/// Deletes a knowledge point without children or lessons.
#[utoipa::path(delete, path = "/api/library/knowledge-points/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn delete_point(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let point = knowledge_points::get(&state.db, id).await?;
    caller.require(policy::can_edit_knowledge_points(
        &caller.principal,
        point.subject_id,
    ))?;
    knowledge_points::delete(&state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Imports knowledge points from CSV (UTF-8, one path from the root per
/// row: `数与代数,分数,分数的加减法`), making those not there yet.
#[utoipa::path(post, path = "/api/library/knowledge-point-imports", params(TreeQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn import_points(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TreeQuery>,
    csv: String,
) -> Result<Json<ImportReport>, ApiError> {
    caller.require(policy::can_edit_knowledge_points(
        &caller.principal,
        q.subject_id,
    ))?;
    let report = knowledge_points::import_csv(&state.db, q.subject_id, q.grade_id, &csv).await?;
    caller
        .audit(
            &state,
            "knowledge_points_imported",
            Some(("subject", q.subject_id.to_string())),
            serde_json::json!({"grade_id": q.grade_id, "created": report.created}),
        )
        .await;
    Ok(Json(report))
}
