//! `DELETE /api/library/lessons/{id}`: a micro-lesson deleted for good,
//! with its video, attachments, review history and the upload it was made
//! from. Who may is `auth::policy::lesson_deletion`; what goes, and in
//! which order, is `library::removal`'s.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::delete;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Path};
use super::extract::Caller;
use crate::auth::policy::{self, LessonDeletion};
use crate::catalog::library::lessons;
use crate::library::removal;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/library/lessons/{id}", delete(delete_lesson))
}

/// Deletes a lesson and everything of it: its author while it is a draft
/// or sent back (409 `lesson_not_deletable` once in review or published),
/// library staff at any stage. 409 `lesson_processing` while its video is
/// being transcoded: try again once that is done.
#[utoipa::path(delete, path = "/api/library/lessons/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn delete_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let (facts, _) = lessons::facts(&state.db, id).await?;
    match policy::lesson_deletion(&caller.principal, &facts) {
        LessonDeletion::Allowed => {}
        LessonDeletion::NotNow => return Err(ApiError::Conflict("lesson_not_deletable")),
        LessonDeletion::Refused => caller.require(false)?,
    }
    let (removed, cleanup) =
        removal::delete_lesson(&state.db, &state.storage, id, facts.state).await?;
    // Audited as soon as the rows are gone, before the (possibly long)
    // cleanup of its objects, which goes on even if this request is dropped.
    caller
        .audit(
            &state,
            "lesson_deleted",
            Some(("micro_lesson", id.to_string())),
            serde_json::json!({"title": removed.title, "review_steps": removed.review_steps,
                "jobs": removed.jobs, "uploads": removed.uploads}),
        )
        .await;
    // 204 when its objects are gone too (or left as logged orphans).
    if let Err(e) = cleanup.await {
        tracing::warn!(lesson = %id, "cleanup of a deleted lesson's objects failed: {e}");
    }
    Ok(StatusCode::NO_CONTENT)
}
