//! `/api/recordings` and `/api/sessions`: what was taught and recorded.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path, Query};
use super::extract::Caller;
use crate::auth::policy;
use crate::catalog::accounts::users;
use crate::catalog::lessons::{self, LiveSession};
use crate::catalog::recordings::{
    self, RecordingFilter, RecordingGap, RecordingListItem, RecordingStatus,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/recordings", get(list_recordings))
        .route(
            "/api/recordings/{id}",
            get(get_recording)
                .patch(update_recording)
                .delete(delete_recording),
        )
        .route("/api/recordings/{id}/playback", get(recording_playback))
        .route(
            "/api/recordings/{id}/shares",
            axum::routing::post(share_recording),
        )
        .route("/api/sessions", get(list_sessions))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only this classroom.
    pub classroom_id: Option<Uuid>,
    /// Only sessions still live.
    #[serde(default)]
    pub live: bool,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<i64>,
}

impl ListQuery {
    fn limit(&self) -> i64 {
        self.limit.unwrap_or(100).clamp(1, 1000)
    }
}

/// `/api/recordings`: the sessions list's filters plus the recordings page's.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RecordingQuery {
    /// Only this classroom.
    pub classroom_id: Option<Uuid>,
    /// Only this school's classrooms.
    pub school_id: Option<Uuid>,
    /// Only this teacher's lessons.
    pub teacher_id: Option<Uuid>,
    /// Part of the teacher's name or username.
    pub teacher: Option<String>,
    /// Part of the title.
    pub q: Option<String>,
    /// Started at or after this instant (RFC 3339).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Started before this instant (RFC 3339).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<i64>,
    /// Skip this many of those the caller may see (paging).
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingView {
    #[serde(flatten)]
    pub recording: RecordingListItem,
    /// Master playlist for playback.
    pub hls_url: String,
    pub gaps: Vec<RecordingGap>,
}

#[utoipa::path(get, path = "/api/recordings", params(RecordingQuery),
    responses((status = 200, body = Vec<RecordingListItem>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn list_recordings(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<RecordingQuery>,
) -> Result<Json<Vec<RecordingListItem>>, ApiError> {
    let filter = RecordingFilter {
        classroom_id: query.classroom_id,
        school_id: query.school_id,
        teacher_id: query.teacher_id,
        teacher: query.teacher,
        q: query.q,
        from: query.from,
        to: query.to,
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
        offset: query.offset.unwrap_or(0).max(0),
    };
    Ok(Json(
        recordings::list_visible(
            &state.db,
            &filter,
            |facts| policy::can_view_recording(&caller.principal, facts),
            |facts| policy::can_manage_recording(&caller.principal, facts),
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/api/recordings/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = RecordingView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn get_recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<RecordingView>, ApiError> {
    let facts = recordings::facts(&state.db, id).await?;
    caller.require(policy::can_view_recording(&caller.principal, &facts))?;
    let can_manage = policy::can_manage_recording(&caller.principal, &facts);
    let recording = recordings::list_item(&state.db, id, can_manage).await?;
    let gaps = recordings::gaps(&state.db, id).await?;
    Ok(Json(RecordingView {
        hls_url: format!("/vod/{id}/index.m3u8"),
        recording,
        gaps,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingUpdate {
    pub title: Option<String>,
}

/// Renames a recording; its teacher and the school's admins may.
#[utoipa::path(patch, path = "/api/recordings/{id}", params(("id" = Uuid, Path)),
    request_body = RecordingUpdate,
    responses((status = 200, body = RecordingListItem), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn update_recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(update): Json<RecordingUpdate>,
) -> Result<Json<RecordingListItem>, ApiError> {
    let facts = recordings::facts(&state.db, id).await?;
    caller.require(policy::can_manage_recording(&caller.principal, &facts))?;
    let before = recordings::get(&state.db, id).await?;
    if let Some(title) = update.title.as_deref()
        && title.trim() != before.title
    {
        recordings::set_title(&state.db, id, title).await?;
        caller
            .audit(
                &state,
                "recording_renamed",
                Some(("recording", id.to_string())),
                serde_json::json!({"from": before.title, "to": title.trim()}),
            )
            .await;
    }
    Ok(Json(recordings::list_item(&state.db, id, true).await?))
}

/// Deletes a finished recording and its files.
#[utoipa::path(delete, path = "/api/recordings/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn delete_recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let facts = recordings::facts(&state.db, id).await?;
    caller.require(policy::can_manage_recording(&caller.principal, &facts))?;
    let recording = recordings::get(&state.db, id).await?;
    if recording.status == RecordingStatus::Recording {
        return Err(ApiError::Conflict("still_recording"));
    }
    recordings::delete(&state.db, id).await?;
    caller
        .audit(
            &state,
            "recording_deleted",
            Some(("recording", id.to_string())),
            serde_json::json!({"classroom": recording.classroom_id}),
        )
        .await;
    let dir = crate::recording::recording_dir(&state.config.recordings_dir(), id);
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
        tracing::warn!(recording = %id, "recording files not removed: {e}");
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/sessions", params(ListQuery),
    responses((status = 200, body = Vec<LiveSession>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<LiveSession>>, ApiError> {
    Ok(Json(
        lessons::list_visible(
            &state.db,
            query.classroom_id,
            query.live,
            query.limit(),
            |facts| policy::can_see_classroom(&caller.principal, facts),
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/api/recordings/{id}/playback", params(("id" = Uuid, Path)),
    responses((status = 200, body = super::playback::PlaybackUrl),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn recording_playback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<super::playback::PlaybackUrl>, ApiError> {
    let facts = recordings::facts(&state.db, id).await?;
    caller.require(policy::can_view_recording(&caller.principal, &facts))?;
    Ok(Json(
        super::playback::playback_url(&state, &caller, crate::auth::playback::Scope::Recording(id))
            .await?,
    ))
}

/// Exactly one of the three.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Share {
    /// One person, by id…
    pub user_id: Option<Uuid>,
    /// …or by username, for those who may not list users (a teacher
    /// sharing with a colleague); an unknown name is a 422 on this field…
    pub username: Option<String>,
    /// …or everyone at a school (听评课 with a partner school).
    pub school_id: Option<Uuid>,
}

/// Shares a recording; its teacher and the school's admins may.
#[utoipa::path(post, path = "/api/recordings/{id}/shares", params(("id" = Uuid, Path)),
    request_body = Share,
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn share_recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(share): Json<Share>,
) -> Result<StatusCode, ApiError> {
    let facts = recordings::facts(&state.db, id).await?;
    // Only those who may share learn whether a username exists.
    caller.require(policy::can_manage_recording(&caller.principal, &facts))?;
    let user_id = match (share.user_id, share.username.as_deref()) {
        (Some(_), Some(_)) => return Err(invalid("username", "share_one_target")),
        (Some(user), None) => Some(user),
        // A name no account can have (a NUL, which PostgreSQL cannot even
        // take, or 100k characters) is refused without a lookup.
        (None, Some(name)) if !users::valid_username(&users::normalise_username(name)) => {
            return Err(invalid("username", "invalid_username"));
        }
        (None, Some(name)) => Some(
            users::id_by_username(&state.db, name)
                .await?
                .ok_or_else(|| invalid("username", "unknown_user"))?,
        ),
        (None, None) => None,
    };
    let by = (!caller.principal.user_id.is_nil()).then_some(caller.principal.user_id);
    recordings::share(&state.db, id, user_id, share.school_id, by).await?;
    caller
        .audit(
            &state,
            "recording_shared",
            Some(("recording", id.to_string())),
            serde_json::json!({"user_id": user_id, "school_id": share.school_id}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

fn invalid(field: &'static str, code: &'static str) -> ApiError {
    ApiError::Invalid(std::collections::BTreeMap::from([(field, code)]))
}
