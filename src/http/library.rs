//! `/api/library/lessons` and `/api/library/queue`: the micro-lesson
//! library. Describing a lesson, its three-level review, finding it.
//! Handlers load the facts, ask `auth::policy`, run the pure review
//! (`library::review`) and store its outcome; nothing is decided here.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path, Query};
use super::extract::Caller;
use crate::auth::policy::{self, ViewerSchool};
use crate::catalog::library::attachments::{self, Attachment};
use crate::catalog::library::browse::{self, LessonFilter, LessonPage, QueueCounts, Sort, Viewer};
use crate::catalog::library::is_partner_school;
use crate::catalog::library::lessons::{self, Lesson, LessonUpdate, NewLesson};
use crate::catalog::library::review_steps::{self, ReviewStep};
use crate::catalog::library::video_chapters;
use crate::library::review::Action;
use crate::library::search;
use crate::library::video_chapters::VideoChapter;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/library/lessons",
            get(list_lessons).post(create_lesson),
        )
        .route(
            "/api/library/lessons/{id}",
            get(get_lesson).patch(update_lesson),
        )
        .route("/api/library/lessons/{id}/submit", post(submit_lesson))
        .route("/api/library/lessons/{id}/approve", post(approve_lesson))
        .route("/api/library/lessons/{id}/reject", post(reject_lesson))
        .route(
            "/api/library/lessons/{id}/unpublish",
            post(unpublish_lesson),
        )
        .route("/api/library/lessons/{id}/featured", put(feature_lesson))
        .route("/api/library/queue", get(review_queue))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LessonQuery {
    /// Words to search for (Chinese, English or both).
    pub q: Option<String>,
    pub subject_id: Option<Uuid>,
    pub grade_id: Option<Uuid>,
    pub edition_id: Option<Uuid>,
    pub chapter: Option<String>,
    pub knowledge_point_id: Option<Uuid>,
    pub series: Option<String>,
    pub school_id: Option<Uuid>,
    pub teacher_id: Option<Uuid>,
    pub featured: Option<bool>,
    /// The caller's own lessons, at every stage of review.
    #[serde(default)]
    pub mine: bool,
    /// `relevance` (default), `newest`, `most_viewed`.
    #[param(value_type = Option<String>)]
    pub sort: Option<Sort>,
    /// Page size (default 20, at most 100).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A lesson with its review history and what the caller may do with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LessonView {
    #[serde(flatten)]
    pub lesson: Lesson,
    pub review_steps: Vec<ReviewStep>,
    /// Task sheet, slides, exercises (`/attachments`), oldest first.
    pub attachments: Vec<Attachment>,
    /// Chapters within the video (视频分段), first to last; as a WebVTT
    /// track at `/chapters.vtt`. Changed with the lesson's PATCH.
    pub video_chapters: Vec<VideoChapter>,
    pub can_edit: bool,
    pub can_decide: bool,
    pub can_curate: bool,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    /// Required for a rejection: what the author should change.
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Featured {
    pub featured: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Queue {
    pub counts: QueueCounts,
    /// Oldest first.
    pub lessons: Vec<Lesson>,
}

pub(super) async fn viewer_school(
    state: &AppState,
    caller: &Caller,
) -> Result<ViewerSchool, ApiError> {
    Ok(ViewerSchool {
        is_partner: is_partner_school(&state.db, caller.principal.school_id).await?,
    })
}

pub(super) fn actor(caller: &Caller) -> Option<Uuid> {
    (!caller.principal.user_id.is_nil()).then_some(caller.principal.user_id)
}
/// The caller as the library's visibility clause needs them.
pub(super) async fn browse_viewer(state: &AppState, caller: &Caller) -> Result<Viewer, ApiError> {
    Ok(Viewer {
        user_id: caller.principal.user_id,
        school_id: caller.principal.school_id,
        is_partner: viewer_school(state, caller).await?.is_partner,
        staff: policy::is_library_staff(&caller.principal),
    })
}

pub(super) async fn view(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<LessonView, ApiError> {
    let (facts, _) = lessons::facts(&state.db, id).await?;
    let who = &caller.principal;
    Ok(LessonView {
        lesson: lessons::get(&state.db, id).await?,
        review_steps: review_steps::steps(&state.db, id).await?,
        attachments: attachments::list(&state.db, id).await?,
        video_chapters: {
            let (chapters, duration) = video_chapters::list(&state.db, id).await?;
            crate::library::video_chapters::within_video(chapters, duration)
        },
        can_edit: policy::can_edit_lesson(who, &facts),
        can_decide: policy::can_decide(who, &facts),
        can_curate: policy::can_curate_library(who),
    })
}

#[utoipa::path(get, path = "/api/library/lessons", params(LessonQuery),
    responses((status = 200, body = LessonPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn list_lessons(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<LessonQuery>,
) -> Result<Json<LessonPage>, ApiError> {
    let viewer = browse_viewer(&state, &caller).await?;
    let filter = LessonFilter {
        query: q.q.as_deref().and_then(search::parse_query),
        subject_id: q.subject_id,
        grade_id: q.grade_id,
        edition_id: q.edition_id,
        chapter: q.chapter,
        knowledge_point_id: q.knowledge_point_id,
        series: q.series,
        school_id: q.school_id,
        teacher_id: q.teacher_id,
        featured: q.featured,
        mine: q.mine,
        sort: q.sort.unwrap_or_default(),
        limit: q.limit.unwrap_or(20).clamp(1, 100),
        offset: q.offset.unwrap_or(0).clamp(0, 10_000),
    };
    Ok(Json(browse::list(&state.db, &viewer, &filter).await?))
}

/// Drafts a lesson: teachers for their own school, library staff for any.
#[utoipa::path(post, path = "/api/library/lessons", request_body = NewLesson,
    responses((status = 201, body = LessonView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewLesson>,
) -> Result<(StatusCode, Json<LessonView>), ApiError> {
    let school = new
        .school_id
        .or(caller.principal.school_id)
        .ok_or_else(|| {
            ApiError::Invalid(std::collections::BTreeMap::from([(
                "school_id",
                "school_required",
            )]))
        })?;
    caller.require(policy::can_create_lesson(&caller.principal, school))?;
    let id = lessons::create(&state.db, &new, school, actor(&caller)).await?;
    caller
        .audit(
            &state,
            "lesson_created",
            Some(("micro_lesson", id.to_string())),
            serde_json::json!({"title": new.title.trim()}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(view(&state, &caller, id).await?)))
}

/// A lesson, with every review step taken on it.
#[utoipa::path(get, path = "/api/library/lessons/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = LessonView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn get_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<LessonView>, ApiError> {
    let (facts, _) = lessons::facts(&state.db, id).await?;
    let viewer = viewer_school(&state, &caller).await?;
    caller.require(policy::can_view_lesson(&caller.principal, viewer, &facts))?;
    Ok(Json(view(&state, &caller, id).await?))
}

/// Changes a draft (or a rejected or unpublished lesson): its author and library staff.
#[utoipa::path(patch, path = "/api/library/lessons/{id}", params(("id" = Uuid, Path)),
    request_body = LessonUpdate,
    responses((status = 200, body = LessonView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn update_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(update): Json<LessonUpdate>,
) -> Result<Json<LessonView>, ApiError> {
    let (facts, _) = lessons::facts(&state.db, id).await?;
    let who = &caller.principal;
    if policy::owns_lesson(who, &facts) && !facts.state.editable() {
        // Allowed in general, not now: in review or published.
        return Err(ApiError::Conflict("lesson_not_editable"));
    }
    caller.require(policy::can_edit_lesson(who, &facts))?;
    lessons::update(&state.db, id, &update).await?;
    Ok(Json(view(&state, &caller, id).await?))
}

/// Runs one review action if `allowed` says the caller may.
async fn act(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    action: Action,
    allowed: impl Fn(&policy::LessonFacts) -> bool,
) -> Result<Json<LessonView>, ApiError> {
    let (facts, review) = lessons::facts(&state.db, id).await?;
    caller.require(allowed(&facts))?;
    let transition = review.apply(action, chrono::Utc::now())?;
    review_steps::apply(
        &state.db,
        id,
        review,
        &transition,
        actor(caller),
        &caller.principal.username,
    )
    .await?;
    caller
        .audit(
            state,
            &format!("lesson_{}", transition.step.decision.as_str()),
            Some(("micro_lesson", id.to_string())),
            serde_json::json!({"level": transition.step.level, "comment": transition.step.comment}),
        )
        .await;
    Ok(Json(view(state, caller, id).await?))
}

/// Sends a lesson to its teaching-research group (教研组) for review.
#[utoipa::path(post, path = "/api/library/lessons/{id}/submit", params(("id" = Uuid, Path)),
    responses((status = 200, body = LessonView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn submit_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<LessonView>, ApiError> {
    let who = caller.principal.clone();
    act(&state, &caller, id, Action::Submit, |f| {
        policy::can_submit_lesson(&who, f)
    })
    .await
}

/// Approves at the level the lesson waits at; the last level publishes it.
#[utoipa::path(post, path = "/api/library/lessons/{id}/approve", params(("id" = Uuid, Path)),
    request_body = Comment,
    responses((status = 200, body = LessonView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn approve_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<Comment>,
) -> Result<Json<LessonView>, ApiError> {
    let who = caller.principal.clone();
    let action = Action::Approve {
        comment: body.comment,
    };
    act(&state, &caller, id, action, |f| policy::can_decide(&who, f)).await
}

/// Sends the lesson back to its author, saying why.
#[utoipa::path(post, path = "/api/library/lessons/{id}/reject", params(("id" = Uuid, Path)),
    request_body = Comment,
    responses((status = 200, body = LessonView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn reject_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<Comment>,
) -> Result<Json<LessonView>, ApiError> {
    let who = caller.principal.clone();
    let action = Action::Reject {
        comment: body.comment,
    };
    act(&state, &caller, id, action, |f| policy::can_decide(&who, f)).await
}

/// Takes a published lesson out of the library.
#[utoipa::path(post, path = "/api/library/lessons/{id}/unpublish", params(("id" = Uuid, Path)),
    request_body = Comment,
    responses((status = 200, body = LessonView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn unpublish_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<Comment>,
) -> Result<Json<LessonView>, ApiError> {
    let who = caller.principal.clone();
    let action = Action::Unpublish {
        comment: body.comment,
    };
    act(&state, &caller, id, action, |_| {
        policy::can_curate_library(&who)
    })
    .await
}

/// Marks a published lesson 精品课 (featured), or not.
#[utoipa::path(put, path = "/api/library/lessons/{id}/featured", params(("id" = Uuid, Path)),
    request_body = Featured,
    responses((status = 200, body = LessonView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn feature_lesson(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<Featured>,
) -> Result<Json<LessonView>, ApiError> {
    let who = caller.principal.clone();
    let action = Action::Feature(body.featured);
    act(&state, &caller, id, action, |_| {
        policy::can_curate_library(&who)
    })
    .await
}

/// What waits for the caller's review, with counts per level (for the
/// navigation); empty for those who review nothing.
#[utoipa::path(get, path = "/api/library/queue",
    responses((status = 200, body = Queue), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn review_queue(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Queue>, ApiError> {
    let scope = policy::review_scope(&caller.principal);
    let (counts, lessons) = browse::queue(&state.db, &scope, 200).await?;
    Ok(Json(Queue { counts, lessons }))
}
