//! Resumable uploads, tus 1.0: `/api/uploads` (capabilities, creation with
//! or without data) and `/api/uploads/{id}` (offset, chunks, termination),
//! plus `/api/uploads/{id}/info` (what the probe found). Thin: headers are
//! judged by `library::uploads::tus`, bytes and rows handled by
//! `library::uploads`.
//!
//! These routes sit outside the API's 1 MiB body limit: a chunk is as
//! large as the client likes, up to what the upload has left, and is
//! streamed to storage, never held in memory.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path};
use super::extract::Caller;
use crate::auth::policy;
use crate::catalog::library::uploads::{self as rows, NewUpload, Upload};
use crate::library::uploads::{self, Chunk, tus};

const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/uploads", post(create).options(capabilities))
        .route(
            "/api/uploads/{id}",
            axum::routing::head(offset).patch(append).delete(terminate),
        )
        .route("/api/uploads/{id}/info", get(info))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            TUS_RESUMABLE,
            HeaderValue::from_static(tus::VERSION),
        ))
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn value(text: impl ToString) -> HeaderValue {
    // Numbers, HTTP dates and our own paths: always valid header text.
    HeaderValue::from_str(&text.to_string()).expect("header-safe text")
}

fn upload_headers(upload_offset: u64, expires: Option<chrono::DateTime<Utc>>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("upload-offset", value(upload_offset));
    if let Some(at) = expires {
        headers.insert("upload-expires", value(tus::http_date(at)));
    }
    headers
}

/// The upload, for its uploader only.
async fn owned(state: &AppState, caller: &Caller, id: Uuid) -> Result<Upload, ApiError> {
    let upload = rows::get(&state.db, id, Utc::now()).await?;
    caller.require(policy::can_use_upload(&caller.principal, upload.owner_id))?;
    Ok(upload)
}

/// tus discovery: version, extensions, the size limit, checksums.
async fn capabilities(State(state): State<AppState>) -> Response {
    let headers = [
        ("tus-version", value(tus::VERSION)),
        ("tus-extension", value(tus::EXTENSIONS)),
        ("tus-max-size", value(state.config.uploads.max_bytes)),
        ("tus-checksum-algorithm", value(tus::CHECKSUM_ALGORITHMS)),
    ];
    (StatusCode::NO_CONTENT, headers).into_response()
}

#[utoipa::path(post, path = "/api/uploads", tag = "library",
    description = "tus 1.0 creation (Upload-Length, Upload-Metadata), with the first \
        chunk in the body if Content-Type is application/offset+octet-stream.",
    responses((status = 201, description = "Created; Location names the upload"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 412, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 460, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // With auth disabled there is nobody to own an upload.
    let allowed = policy::can_upload(&caller.principal) && !caller.principal.user_id.is_nil();
    caller.require(allowed)?;
    tus::check_version(text(&headers, "tus-resumable")).map_err(ApiError::Tus)?;
    let limits = &state.config.uploads;
    let length = tus::check_length(text(&headers, "upload-length"), limits.max_bytes)
        .map_err(ApiError::Tus)?;
    let metadata = tus::parse_metadata(text(&headers, "upload-metadata")).map_err(ApiError::Tus)?;
    let checksum = tus::parse_checksum(text(&headers, "upload-checksum")).map_err(ApiError::Tus)?;
    let with_data = text(&headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|c| c.starts_with(tus::CHUNK_TYPE));
    let now = Utc::now();
    let metadata = serde_json::to_value(&metadata).unwrap_or_default();
    let new = NewUpload {
        id: Uuid::new_v4(),
        owner_id: caller.principal.user_id,
        length,
        metadata: &metadata,
        expires_at: tus::expires_at(now, state.config.upload_expiry()),
    };
    let upload = rows::create(&state.db, new, now, |unfinished| {
        tus::check_room_for_another(unfinished, limits.max_per_user)
    })
    .await?
    .map_err(ApiError::Tus)?;
    let mut response = upload_headers(0, Some(upload.expires_at));
    if with_data || length == 0 {
        let chunk = Chunk {
            body,
            room: length,
            checksum,
        };
        let appended = uploads::append(
            &state.db,
            &state.storage,
            &upload,
            chunk,
            state.config.upload_expiry(),
        )
        .await?;
        response = upload_headers(
            appended.offset,
            (appended.offset < length).then_some(appended.expires_at),
        );
    }
    response.insert(
        header::LOCATION,
        value(format!("/api/uploads/{}", upload.id)),
    );
    caller
        .audit(
            &state,
            "upload_created",
            Some(("upload", upload.id.to_string())),
            serde_json::json!({"length": length, "filename": metadata.get("filename")}),
        )
        .await;
    Ok((StatusCode::CREATED, response).into_response())
}

#[utoipa::path(head, path = "/api/uploads/{id}", tag = "library",
    description = "tus: where the upload stands (Upload-Offset, Upload-Length).",
    responses((status = 200), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 412), (status = 503)))]
pub async fn offset(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    tus::check_version(text(&headers, "tus-resumable")).map_err(ApiError::Tus)?;
    let upload = owned(&state, &caller, id).await?;
    let expires = (!upload.is_complete()).then_some(upload.expires_at);
    let mut response = upload_headers(upload.received as u64, expires);
    response.insert("upload-length", value(upload.length));
    response.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((StatusCode::OK, response).into_response())
}

#[utoipa::path(patch, path = "/api/uploads/{id}", tag = "library",
    description = "tus: a chunk at Upload-Offset (application/offset+octet-stream, \
        optionally Upload-Checksum: sha1). The last chunk is probed: a file that is \
        not playable media is refused (422) and deleted.",
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 412, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 460, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn append(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    tus::check_version(text(&headers, "tus-resumable")).map_err(ApiError::Tus)?;
    let upload = owned(&state, &caller, id).await?;
    let (received, length) = (upload.received as u64, upload.length as u64);
    let room = tus::check_patch(
        text(&headers, header::CONTENT_TYPE.as_str()),
        text(&headers, "upload-offset"),
        received,
        length,
    )
    .map_err(ApiError::Tus)?;
    if upload.is_complete() {
        // A retried last chunk that already made it.
        return Ok((StatusCode::NO_CONTENT, upload_headers(length, None)).into_response());
    }
    let checksum = tus::parse_checksum(text(&headers, "upload-checksum")).map_err(ApiError::Tus)?;
    let chunk = Chunk {
        body,
        room,
        checksum,
    };
    let appended = uploads::append(
        &state.db,
        &state.storage,
        &upload,
        chunk,
        state.config.upload_expiry(),
    )
    .await?;
    let expires = (appended.offset < length).then_some(appended.expires_at);
    Ok((
        StatusCode::NO_CONTENT,
        upload_headers(appended.offset, expires),
    )
        .into_response())
}

#[utoipa::path(delete, path = "/api/uploads/{id}", tag = "library",
    description = "tus termination: the upload and everything stored of it go.",
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 412, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn terminate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    tus::check_version(text(&headers, "tus-resumable")).map_err(ApiError::Tus)?;
    let upload = owned(&state, &caller, id).await?;
    uploads::discard(&state.db, &state.storage, upload.id).await?;
    caller
        .audit(
            &state,
            "upload_deleted",
            Some(("upload", upload.id.to_string())),
            serde_json::json!({}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/uploads/{id}/info", tag = "library",
    description = "The upload as stored, with what the probe found once complete.",
    responses((status = 200, body = Upload), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn info(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Upload>, ApiError> {
    Ok(Json(owned(&state, &caller, id).await?))
}
