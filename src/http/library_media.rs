//! A micro-lesson's video: `PUT /api/library/lessons/{id}/media` makes a
//! finished upload the lesson's video and queues its transcode;
//! `/api/library/lessons/{id}/hls/...` plays the ladder once it is made.
//! Both follow the lesson's own rules (`auth::policy`): whoever may edit it
//! attaches, whoever may see it watches. The ladder is read from the media
//! store, so every node serves what any worker made.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path};
use super::extract::Caller;
use super::library::{LessonView, actor, view, viewer_school};
use crate::auth::policy;
use crate::catalog::library::{lessons, media, uploads};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/library/lessons/{id}/media", put(attach_media))
        .route("/api/library/lessons/{id}/hls/{*file}", get(lesson_file))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachMedia {
    /// A finished upload of the caller's (`/api/uploads`).
    pub upload_id: Uuid,
}

/// Makes a finished upload the lesson's video and queues its transcode
/// (HLS ladder, audio only): the lesson shows `media.state = processing`
/// with the job's progress, then `ready` with its playlist.
#[utoipa::path(put, path = "/api/library/lessons/{id}/media", params(("id" = Uuid, Path)),
    request_body = AttachMedia,
    responses((status = 202, body = LessonView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn attach_media(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<AttachMedia>,
) -> Result<(StatusCode, Json<LessonView>), ApiError> {
    let (facts, _) = lessons::facts(&state.db, id).await?;
    let who = &caller.principal;
    if policy::owns_lesson(who, &facts) && !facts.state.editable() {
        return Err(ApiError::Conflict("lesson_not_editable"));
    }
    caller.require(policy::can_edit_lesson(who, &facts))?;
    // Someone else's upload, or none, looks the same: no such upload of yours.
    let unknown = || ApiError::Invalid([("upload_id", "unknown_upload")].into());
    let upload = match uploads::get(&state.db, body.upload_id, chrono::Utc::now()).await {
        Ok(upload) if upload.owner_id == who.user_id => upload,
        Ok(_) | Err(crate::catalog::CatalogError::NotFound) => return Err(unknown()),
        Err(e) => return Err(e.into()),
    };
    if !upload.is_complete() {
        return Err(ApiError::Conflict("upload_not_complete"));
    }
    let attached = media::attach(&state.db, id, &upload, actor(&caller)).await?;
    if let Some(old) = attached.replaced_key {
        // Unreferenced now; a failure leaves garbage, never a broken lesson.
        if let Err(e) = state.storage.delete_prefix(&format!("{old}/")).await {
            tracing::warn!(lesson = %id, "replaced ladder not deleted: {e}");
        }
    }
    caller
        .audit(
            &state,
            "lesson_media_attached",
            Some(("micro_lesson", id.to_string())),
            serde_json::json!({"upload_id": upload.id, "job_id": attached.job_id}),
        )
        .await;
    Ok((StatusCode::ACCEPTED, Json(view(&state, &caller, id).await?)))
}

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
/// A ladder never changes under its key (a new video gets a new key), but
/// the lesson's audience may: kept by the browser only, and not for long.
const PLAYLIST_CACHE: &str = "private, max-age=60";
const SEGMENT_CACHE: &str = "private, max-age=3600";

fn content_type(file: &str) -> Option<(&'static str, &'static str)> {
    let extension = file.rsplit_once('.')?.1;
    Some(match extension {
        "m3u8" => (PLAYLIST_TYPE, PLAYLIST_CACHE),
        "ts" => ("video/mp2t", SEGMENT_CACHE),
        "m4s" => ("video/iso.segment", SEGMENT_CACHE),
        "mp4" => ("video/mp4", SEGMENT_CACHE),
        "aac" => ("audio/aac", SEGMENT_CACHE),
        "jpg" => ("image/jpeg", SEGMENT_CACHE),
        "vtt" => ("text/vtt; charset=utf-8", SEGMENT_CACHE),
        _ => return None,
    })
}

/// A file of the lesson's HLS ladder (`master.m3u8`, a rendition's
/// `index.m3u8`, its segments, `poster.jpg`, `preview/thumbnails.vtt` and
/// its sprite), for whoever may see the lesson.
#[utoipa::path(get, path = "/api/library/lessons/{id}/hls/{file}",
    params(("id" = Uuid, Path), ("file" = String, Path, description = "e.g. master.m3u8, 720/index.m3u8")),
    responses((status = 200, description = "the file", content_type = "application/vnd.apple.mpegurl"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn lesson_file(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file)): Path<(Uuid, String)>,
) -> Result<Response, ApiError> {
    let (facts, _) = lessons::facts(&state.db, id).await?;
    let viewer = viewer_school(&state, &caller).await?;
    caller.require(policy::can_view_lesson(&caller.principal, viewer, &facts))?;
    let Some((content_type, cache)) = content_type(&file) else {
        return Err(ApiError::NotFound);
    };
    if !crate::library::files::valid_key(&file) {
        return Err(ApiError::NotFound);
    }
    let Some(ladder) = media::ready_ladder(&state.db, id).await? else {
        return Err(ApiError::NotFound);
    };
    let data = state.storage.get(&format!("{ladder}/{file}")).await?;
    let mut response = data.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ladder_files_have_a_type() {
        assert_eq!(content_type("master.m3u8").unwrap().0, PLAYLIST_TYPE);
        assert_eq!(content_type("720/segment00001.ts").unwrap().0, "video/mp2t");
        assert!(content_type("720/../../etc/passwd").is_none());
        assert!(content_type("README").is_none());
    }
}
