//! A lesson's attachments: `/api/library/lessons/{id}/attachments` lists
//! them and takes a new one (the body is the file's bytes, as a browser's
//! `fetch(url, {body: file})` and `curl --data-binary @file` send it;
//! `?kind=&name=` say what it is for and what it is called), and
//! `/attachments/{attachment}` downloads or removes one. They follow the
//! lesson's own rules (`auth::policy`): whoever may see the lesson lists
//! and downloads, whoever may edit it adds and removes. What a file is, and
//! how it is kept, is `library::attachments`'s.
//!
//! These routes sit outside the API's 1 MiB body limit: an attachment is
//! streamed to the media store with its own limit
//! (`[library] attachment_max_bytes`), never held whole in memory.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::AppState;
use super::byte_range::{ByteRange, byte_range};
use super::error::{ApiError, ErrorBody, Json, Path, Query};
use super::extract::Caller;
use super::library::{actor, viewer_school};
use crate::auth::policy;
use crate::catalog::library::attachments::{self as rows, Attachment};
use crate::catalog::library::lessons;
use crate::library::attachments::{self, Incoming, Kind};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/library/lessons/{id}/attachments",
            get(list_attachments).post(add_attachment),
        )
        .route(
            "/api/library/lessons/{id}/attachments/{attachment}",
            get(download_attachment).delete(remove_attachment),
        )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NewAttachment {
    /// `task_sheet` (学习任务单), `slides`, `exercises` (检测习题) or `other`.
    #[param(value_type = String)]
    pub kind: Kind,
    /// The file's name, as it is offered on download.
    pub name: String,
}

/// 404 for a lesson that does not exist; 403 unless the caller may see it.
async fn require_view(state: &AppState, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    let (facts, _) = lessons::facts(&state.db, id).await?;
    let viewer = viewer_school(state, caller).await?;
    caller.require(policy::can_view_lesson(&caller.principal, viewer, &facts))
}

/// As the lesson's PATCH: its own people while it is editable; 409 when it
/// is theirs but in review or published.
async fn require_edit(state: &AppState, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    let (facts, _) = lessons::facts(&state.db, id).await?;
    let who = &caller.principal;
    if policy::owns_lesson(who, &facts) && !facts.state.editable() {
        return Err(ApiError::Conflict("lesson_not_editable"));
    }
    caller.require(policy::can_edit_lesson(who, &facts))
}

/// A lesson's attachments, oldest first, for whoever may see the lesson.
#[utoipa::path(get, path = "/api/library/lessons/{id}/attachments", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<Attachment>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list_attachments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Attachment>>, ApiError> {
    require_view(&state, &caller, id).await?;
    Ok(Json(rows::list(&state.db, id).await?))
}

/// Attaches a file: the body is its bytes. Its type is read from the bytes
/// (PDF, DOCX, PPTX, PNG, JPEG, WebP, GIF), never from `Content-Type` or
/// the name; anything else is refused (415 `attachment_type_refused`),
/// and so is a file over `[library] attachment_max_bytes` (413). A refused
/// file leaves nothing behind.
#[utoipa::path(post, path = "/api/library/lessons/{id}/attachments",
    params(("id" = Uuid, Path), NewAttachment),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the file's bytes"),
    responses((status = 201, body = Attachment), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn add_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(query): Query<NewAttachment>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Attachment>), ApiError> {
    require_edit(&state, &caller, id).await?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let expects_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let incoming = Incoming {
        lesson: id,
        kind: query.kind,
        name: query.name,
        by: actor(&caller),
        body,
        declared,
        expects_continue,
    };
    let max = state.config.library.attachment_max_bytes;
    let added = attachments::add(&state.db, &state.storage, incoming, max).await?;
    caller
        .audit(
            &state,
            "lesson_attachment_added",
            Some(("micro_lesson", id.to_string())),
            serde_json::json!({"attachment_id": added.id, "kind": added.kind,
                "file_name": added.file_name, "content_type": added.content_type,
                "byte_size": added.byte_size}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(added)))
}

/// The file as it was attached, under its own name and sniffed type. A
/// single `Range: bytes=a-b`, `a-` or `-n` is answered with 206 and those
/// bytes (read from the store alone), one outside the file with 416; an
/// attachment's bytes never change under its id, so its id is its `ETag`
/// and `If-Range` with it keeps the range (resuming a download).
#[utoipa::path(get, path = "/api/library/lessons/{id}/attachments/{attachment}",
    params(("id" = Uuid, Path), ("attachment" = Uuid, Path),
        ("Range" = Option<String>, Header, description = "one byte range, e.g. bytes=0-1023")),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
        (status = 206, description = "the bytes asked for", content_type = "application/octet-stream"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 416, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn download_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, attachment)): Path<(Uuid, Uuid)>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    require_view(&state, &caller, id).await?;
    let found = rows::get(&state.db, id, attachment).await?;
    let len = u64::try_from(found.byte_size).unwrap_or(0);
    let etag = format!("\"{}\"", found.id);
    // A validator that is not this file's (or a date, which we never
    // send) means the client's copy is another: it gets the whole file.
    let same_file = request
        .get(header::IF_RANGE)
        .is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let range = request
        .get(header::RANGE)
        .filter(|_| same_file)
        .and_then(|v| v.to_str().ok());
    let mut response = match byte_range(range, len) {
        ByteRange::Whole => {
            let (size, stream) = state.storage.get_stream(&found.storage_key).await?;
            let mut response = Body::from_stream(stream).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, size.into());
            response
        }
        ByteRange::Part(part) => {
            let stream = state
                .storage
                .get_range_stream(&found.storage_key, part.clone())
                .await?;
            let mut response = Body::from_stream(stream).into_response();
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_LENGTH, (part.end - part.start).into());
            // Digits and punctuation: always a valid header value.
            if let Ok(value) =
                HeaderValue::from_str(&format!("bytes {}-{}/{len}", part.start, part.end - 1))
            {
                headers.insert(header::CONTENT_RANGE, value);
            }
            response
        }
        ByteRange::Unsatisfiable => return Err(ApiError::RangeNotSatisfiable(len)),
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // A quoted uuid: always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    // Sniffed and stored by us: always a valid header value.
    let content_type = HeaderValue::from_str(&found.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    // Percent-encoded, quoted ASCII: always a valid header value.
    if let Ok(disposition) =
        HeaderValue::from_str(&attachments::content_disposition(&found.file_name))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The lesson's audience may change: kept by the browser only.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(response)
}

/// Removes an attachment and its file.
#[utoipa::path(delete, path = "/api/library/lessons/{id}/attachments/{attachment}",
    params(("id" = Uuid, Path), ("attachment" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn remove_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, attachment)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    require_edit(&state, &caller, id).await?;
    let removed = attachments::remove(&state.db, &state.storage, id, attachment).await?;
    caller
        .audit(
            &state,
            "lesson_attachment_removed",
            Some(("micro_lesson", id.to_string())),
            serde_json::json!({"attachment_id": removed.id, "file_name": removed.file_name}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
