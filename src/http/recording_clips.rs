//! `POST /api/recordings/{id}/clips`: a micro-lesson cut from a recording
//! (剪辑微课). Whoever may watch the recording and write library lessons
//! at its school picks a span on its timeline; the draft lesson comes back
//! with its video processing. The cut is `library::clips`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path};
use super::extract::Caller;
use super::library::{LessonView, actor, view};
use crate::auth::policy;
use crate::catalog::CatalogError;
use crate::catalog::accounts::users;
use crate::catalog::library::lessons::NewLesson;
use crate::catalog::recordings::{self, RecordingStatus};
use crate::library::Visibility;
use crate::library::clips::cut::CutError;
use crate::library::clips::make::{self, ClipError, Places, Request};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/recordings/{id}/clips", post(cut_clip))
}

/// A span of the recording and the draft micro-lesson to make of it. The
/// lesson's teacher is the recording's (while at its school); everything
/// else can be filled in later on the lesson, as for any draft.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClipRequest {
    /// Seconds on the recording's timeline (what its player shows).
    pub start_seconds: f64,
    pub end_seconds: f64,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub subject_id: Uuid,
    pub grade_id: Uuid,
    pub edition_id: Option<Uuid>,
    #[serde(default)]
    pub chapter: String,
    #[serde(default)]
    pub series: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub knowledge_point_ids: Vec<Uuid>,
    /// `school` when left out.
    pub visibility: Option<Visibility>,
}

impl From<ClipError> for ApiError {
    fn from(error: ClipError) -> Self {
        match error {
            ClipError::FilesMissing => ApiError::Conflict("recording_files_missing"),
            ClipError::StillRolling => ApiError::Conflict("recording_still_rolling"),
            ClipError::Refused(refused) => {
                let (field, code) = refused.field_and_code();
                ApiError::Invalid([(field, code)].into())
            }
            ClipError::Cut(CutError::Unsupported(_)) => {
                ApiError::Conflict("recording_codec_not_supported")
            }
            ClipError::Cut(CutError::NoVideo) => ApiError::Conflict("recording_has_no_video"),
            ClipError::Cut(CutError::Empty) => {
                ApiError::Invalid([("start_seconds", "clip_out_of_range")].into())
            }
            ClipError::Catalog(e) => e.into(),
            e @ (ClipError::Cut(CutError::Media(_) | CutError::Changed)
            | ClipError::Unplayable(_)
            | ClipError::Storage(_)
            | ClipError::Io(_)
            | ClipError::Task(_)) => ApiError::Internal(e.to_string()),
        }
    }
}

/// Cuts `start_seconds..end_seconds` out of the recording, frame-accurately
/// (whole GOPs copied, the edges re-encoded), and makes it the video of a
/// new draft micro-lesson, whose transcode is queued. 422 names the field
/// of a span that cannot be cut (outside the recording, under 1 s, over
/// 2 h, across a camera reconnect or the "signal lost" slate).
#[utoipa::path(post, path = "/api/recordings/{id}/clips", params(("id" = Uuid, Path)),
    request_body = ClipRequest,
    responses((status = 201, body = LessonView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn cut_clip(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<ClipRequest>,
) -> Result<(StatusCode, Json<LessonView>), ApiError> {
    let facts = recordings::facts(&state.db, id).await?;
    let who = &caller.principal;
    caller.require(
        policy::can_view_recording(who, &facts) && policy::can_create_lesson(who, facts.school_id),
    )?;
    let in_progress = recordings::get(&state.db, id).await?.status == RecordingStatus::Recording;
    // The recording's teacher, while they teach at its school (a teacher
    // who moved on is not named on the new lesson, rather than refusing it).
    let teacher = match facts.teacher_id {
        Some(t) => match users::get(&state.db, t).await {
            Ok(user) if user.school_id == Some(facts.school_id) => Some(t),
            Ok(_) | Err(CatalogError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (start, end) = (body.start_seconds, body.end_seconds);
    let request = Request {
        recording: id,
        in_progress,
        start_seconds: start,
        end_seconds: end,
        lesson: NewLesson {
            title: body.title,
            description: body.description,
            subject_id: body.subject_id,
            grade_id: body.grade_id,
            edition_id: body.edition_id,
            chapter: body.chapter,
            series: body.series,
            tags: body.tags,
            teacher_id: teacher,
            teacher_name: String::new(),
            school_id: Some(facts.school_id),
            knowledge_point_ids: body.knowledge_point_ids,
            visibility: body.visibility,
        },
        school: facts.school_id,
        author: actor(&caller),
    };
    let places = Places {
        recording_dir: crate::recording::recording_dir(&state.config.recordings_dir(), id),
        staging: state.config.media.dir.join("staging"),
    };
    // A task of its own, audit included: a client that goes away mid-cut
    // must not leave a draft without its video, or one nobody logged.
    let task_state = state.clone();
    let made = tokio::spawn(async move {
        let state = task_state;
        let made = make::make(&state.db, &state.storage, places, request).await?;
        tracing::info!(recording = %id, lesson = %made.lesson, start, end,
            copied = made.cut.copied_frames, encoded = made.cut.encoded_frames,
            took_ms = made.took.as_millis() as u64, "micro-lesson cut from a recording");
        caller
            .audit(
                &state,
                "lesson_clipped",
                Some(("micro_lesson", made.lesson.to_string())),
                serde_json::json!({"recording": id, "start_seconds": start,
                    "end_seconds": end, "job_id": made.job}),
            )
            .await;
        Ok::<_, ClipError>((made, caller))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("clip task: {e}")))?;
    let (made, caller) = made?;
    Ok((
        StatusCode::CREATED,
        Json(view(&state, &caller, made.lesson).await?),
    ))
}
