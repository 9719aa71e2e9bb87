//! `/api/jobs`: background jobs (lesson transcodes), their state and
//! progress. Anyone sees the jobs they asked for, system admins all.
//! Enqueuing by hand is for system admins only, until uploads enqueue
//! their own: it names files in the media directory, so the paths are
//! checked to stay inside it.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path, Query};
use super::extract::Caller;
use crate::auth::policy;
use crate::library::files::valid_key;
use crate::library::jobs::queue::{self, Job, NewJob};
use crate::library::vod_ladder;
use crate::storage::MediaStore;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", get(list_jobs).post(create_job))
        .route("/api/jobs/{id}", get(get_job))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct JobQuery {
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// Jobs, newest first: all of them for system admins, one's own otherwise.
#[utoipa::path(get, path = "/api/jobs", tag = "jobs", params(JobQuery),
    responses((status = 200, body = Vec<Job>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<JobQuery>,
) -> Result<Json<Vec<Job>>, ApiError> {
    let only = (!policy::can_list_all_jobs(&caller.principal)).then_some(caller.principal.user_id);
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(queue::list(&state.db, only, limit).await?))
}

/// One job: its state, attempts, progress, step and the reason it failed.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs", params(("id" = Uuid, Path)),
    responses((status = 200, body = Job), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Job>, ApiError> {
    let job = queue::get(&state.db, id).await?;
    caller.require(policy::can_view_job(&caller.principal, job.created_by))?;
    Ok(Json(job))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// `vod_ladder`, the only kind so far.
    pub kind: String,
    /// For `vod_ladder`: `{input, output_dir}`, paths inside the media directory.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// Queues a job by hand (system admins; there is no upload yet).
#[utoipa::path(post, path = "/api/jobs", tag = "jobs", request_body = JobRequest,
    responses((status = 201, body = Job), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn create_job(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<JobRequest>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.require(policy::can_enqueue_job(&caller.principal))?;
    let payload = validate(&state.storage, &request).await?;
    let job = queue::enqueue(
        &state.db,
        NewJob {
            kind: &request.kind,
            payload,
            max_attempts: state.config.jobs.max_attempts,
            created_by: (!caller.principal.user_id.is_nil()).then_some(caller.principal.user_id),
        },
    )
    .await?;
    caller
        .audit(
            &state,
            "job_enqueued",
            Some(("job", job.id.to_string())),
            serde_json::json!({"kind": job.kind, "payload": job.payload}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(job)))
}

/// The payload as the job will read it, or the fields that are wrong.
/// Keys name objects in the media store, where the job will look.
async fn validate(store: &MediaStore, request: &JobRequest) -> Result<serde_json::Value, ApiError> {
    let invalid = |field, code| ApiError::Invalid(BTreeMap::from([(field, code)]));
    if request.kind != vod_ladder::KIND {
        return Err(invalid("kind", "unknown_job_kind"));
    }
    let payload: vod_ladder::Payload = serde_json::from_value(request.payload.clone())
        .map_err(|_| invalid("payload", "invalid_value"))?;
    let mut fields = BTreeMap::new();
    if !valid_key(&payload.input) {
        fields.insert("payload.input", "invalid_media_key");
    } else if !store.exists(&payload.input).await? {
        fields.insert("payload.input", "no_such_input");
    }
    if !valid_key(&payload.output_dir) {
        fields.insert("payload.output_dir", "invalid_media_key");
    } else if payload.output_dir.starts_with("recordings")
        || !store
            .list(&format!("{}/", payload.output_dir))
            .await?
            .is_empty()
    {
        // A finished ladder replaces what is at its key: never someone
        // else's files, nor the recordings.
        fields.insert("payload.output_dir", "output_exists");
    }
    if !fields.is_empty() {
        return Err(ApiError::Invalid(fields));
    }
    // Re-serialised: exactly the fields the job reads.
    serde_json::to_value(&payload).map_err(|e| ApiError::Internal(e.to_string()))
}
