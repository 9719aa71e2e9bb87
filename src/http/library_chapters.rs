//! `/api/library/lessons/{id}/chapters.vtt`: a lesson's video chapters
//! (视频分段) as a WebVTT chapters track, for the player's
//! `<track kind="chapters">`. Under exactly the lesson's own rules: whoever
//! may see the lesson reads its chapters. They are set with the lesson's
//! PATCH (`video_chapters`) and listed in its JSON; the track is made from
//! the rows on each request (`library::video_chapters::webvtt`).

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Path};
use super::extract::Caller;
use super::library::viewer_school;
use crate::auth::policy;
use crate::catalog::library::{lessons, video_chapters};
use crate::library::video_chapters::webvtt;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/library/lessons/{id}/chapters.vtt",
        get(chapters_track),
    )
}

/// The lesson's chapters as WebVTT: one cue per chapter, lasting until the
/// next one starts (the last until the video's end).
#[utoipa::path(get, path = "/api/library/lessons/{id}/chapters.vtt", params(("id" = Uuid, Path)),
    responses((status = 200, description = "a WebVTT chapters track", content_type = "text/vtt"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn chapters_track(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let (facts, _) = lessons::facts(&state.db, id).await?;
    let viewer = viewer_school(&state, &caller).await?;
    caller.require(policy::can_view_lesson(&caller.principal, viewer, &facts))?;
    let (chapters, duration) = video_chapters::list(&state.db, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/vtt; charset=utf-8"),
            // The lesson's audience and chapters may change: kept by the
            // browser only, and asked again each time.
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        webvtt(&chapters, duration),
    )
        .into_response())
}
