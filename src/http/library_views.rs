//! Watching micro-lessons, counted: the player's heartbeats
//! (`POST /api/library/lessons/{id}/views`) and the statistics for library
//! staff (`GET /api/library/stats`, JSON or CSV for a spreadsheet). The
//! rules are in `library::views`, the rows in `catalog::library::views`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Lang, Path, Query, REQUEST_LANG};
use super::extract::Caller;
use super::library::viewer_school;
use crate::auth::policy;
use crate::catalog::library::{lessons, views};
use crate::library::views::{By, StatRow, csv, stats_range};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/library/lessons/{id}/views", post(heartbeat))
        .route("/api/library/stats", get(stats))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// Seconds played since the last heartbeat (0 when playback starts).
    pub seconds: u32,
}

/// The player says it is playing: the first heartbeat of a viewer on a day
/// counts a view, each adds the seconds played (no faster than the clock).
#[utoipa::path(post, path = "/api/library/lessons/{id}/views", params(("id" = Uuid, Path)),
    request_body = Heartbeat,
    responses((status = 204, description = "counted"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<Heartbeat>,
) -> Result<StatusCode, ApiError> {
    let (facts, _) = lessons::facts(&state.db, id).await?;
    let viewer = viewer_school(&state, &caller).await?;
    let who = &caller.principal;
    caller.require(policy::can_view_lesson(who, viewer, &facts))?;
    // The open bench's anonymous admin is nobody to count.
    if !who.user_id.is_nil() {
        let now = Utc::now();
        views::record(&state.db, id, who.user_id, who.school_id, body.seconds, now).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct StatsQuery {
    /// `lesson` (default), `school` (the viewer's) or `knowledge_point`.
    #[param(value_type = Option<String>)]
    pub by: Option<By>,
    /// First day, YYYY-MM-DD (default: 30 days ago).
    #[param(value_type = Option<String>)]
    pub from: Option<NaiveDate>,
    /// Last day, included (default: today, as the schools furthest east see it).
    #[param(value_type = Option<String>)]
    pub to: Option<NaiveDate>,
    /// `csv` for a spreadsheet; JSON otherwise.
    pub format: Option<String>,
}

/// Views (viewer-days), viewers and watch time per lesson, school or
/// knowledge point over a date range, busiest first: library staff.
#[utoipa::path(get, path = "/api/library/stats", params(StatsQuery),
    responses((status = 200, body = Vec<StatRow>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<StatsQuery>,
) -> Result<Response, ApiError> {
    caller.require(policy::is_library_staff(&caller.principal))?;
    let (from, to) = stats_range(q.from, q.to, Utc::now())
        .ok_or_else(|| ApiError::Invalid([("from", "invalid_date_range")].into()))?;
    let by = q.by.unwrap_or_default();
    let rows = views::stats(&state.db, by, from, to).await?;
    if q.format.as_deref() != Some("csv") {
        return Ok(Json(rows).into_response());
    }
    let lang = REQUEST_LANG.try_with(|l| *l).unwrap_or(Lang::Zh);
    let headers = [
        lang.message(&format!("stats.col.{}", by_key(by))),
        lang.message("stats.col.views"),
        lang.message("stats.col.viewers"),
        lang.message("stats.col.watch_seconds"),
    ];
    let text = csv(&rows, headers.each_ref().map(String::as_str));
    let mut response = text.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let name = format!(
        "attachment; filename=\"library-{}-{from}-{to}.csv\"",
        by_key(by)
    );
    if let Ok(value) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn by_key(by: By) -> &'static str {
    match by {
        By::Lesson => "lesson",
        By::School => "school",
        By::KnowledgePoint => "knowledge_point",
    }
}
