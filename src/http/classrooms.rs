//! `/api/classrooms` and their sources: thin handlers over the catalogue,
//! telling the live registry when something changed, and auditing every
//! change an admin makes.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path};
use super::extract::Caller;
use crate::auth::policy;
use crate::catalog::classrooms::{self, Classroom, ClassroomUpdate, NewClassroom};
use crate::catalog::schools;
use crate::catalog::sources::{self, NewSource, Source, SourceUpdate, SourceView};
use crate::live::classroom::ClassroomStatus;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/classrooms",
            get(list_classrooms).post(create_classroom),
        )
        .route(
            "/api/classrooms/{id}",
            get(get_classroom)
                .patch(update_classroom)
                .delete(delete_classroom),
        )
        .route("/api/classrooms/{id}/playback", get(live_playback))
        .route(
            "/api/classrooms/{id}/audiences",
            get(get_audiences).put(set_audiences),
        )
        .route(
            "/api/classrooms/{id}/sources",
            get(list_sources).post(create_source),
        )
        .route(
            "/api/classrooms/{id}/sources/{source_id}",
            get(get_source).patch(update_source).delete(delete_source),
        )
        .route(
            "/api/classrooms/{id}/sources/{source_id}/rotate-key",
            post(rotate_key),
        )
}

/// A classroom with what is happening in it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassroomView {
    #[serde(flatten)]
    pub classroom: Classroom,
    pub live: ClassroomStatus,
    /// Master playlist while live.
    pub hls_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

fn view(state: &AppState, classroom: Classroom) -> ClassroomView {
    let live = state
        .live
        .room(classroom.id)
        .map(|room| room.status.borrow().clone())
        .unwrap_or_default();
    let on_air = live.state != crate::live::classroom::LiveState::Idle;
    ClassroomView {
        hls_url: on_air.then(|| format!("/live/{}/index.m3u8", classroom.id)),
        thumbnail_url: on_air.then(|| format!("/live/{}/thumbnail.jpg", classroom.id)),
        classroom,
        live,
    }
}

/// A source as the API shows it, with the URLs an encoder publishes to:
/// `ingest.public_host`, else the host name this request came in by.
fn source_view(state: &AppState, headers: &HeaderMap, source: Source) -> SourceView {
    let host = state
        .config
        .ingest
        .public_host
        .clone()
        .unwrap_or_else(|| request_host(headers));
    let publish = sources::publish_urls(
        source.kind,
        source.stream_key.as_deref(),
        &host,
        state.config.ingest.rtmp_addr.port(),
        state.config.ingest.srt_addr.port(),
        state.config.http.addr.port(),
    );
    SourceView {
        publish,
        ..source.into()
    }
}

/// The Host header's name without its port (`[::1]:8080` → `[::1]`);
/// anything odd falls back to the HTTP listener's own address.
fn request_host(headers: &HeaderMap) -> String {
    let given = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = if let Some(end) = given.find(']') {
        &given[..=end]
    } else {
        given.split(':').next().unwrap_or("")
    };
    let plausible = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    if plausible {
        name.to_string()
    } else {
        "127.0.0.1".to_string()
    }
}

#[utoipa::path(get, path = "/api/classrooms", responses(
    (status = 200, body = Vec<ClassroomView>), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn list_classrooms(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ClassroomView>>, ApiError> {
    let list = classrooms::list(&state.db).await?;
    let mut audiences = classrooms::all_audiences(&state.db).await?;
    Ok(Json(
        list.into_iter()
            .filter(|c| {
                let facts = policy::ClassroomFacts {
                    school_id: c.school_id,
                    audiences: audiences.remove(&c.id).unwrap_or_default(),
                    guests: Vec::new(),
                };
                policy::can_see_classroom(&caller.principal, &facts)
            })
            .map(|c| view(&state, c))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/classrooms", request_body = NewClassroom,
    responses((status = 201, body = ClassroomView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn create_classroom(
    State(state): State<AppState>,
    caller: Caller,
    Json(mut new): Json<NewClassroom>,
) -> Result<(StatusCode, Json<ClassroomView>), ApiError> {
    let school = match new.school_id {
        Some(school) => school,
        None => schools::default_school(&state.db).await?,
    };
    caller.require(policy::can_create_classroom(&caller.principal, school))?;
    new.school_id = Some(school);
    let classroom = classrooms::create(&state.db, new).await?;
    caller
        .audit(
            &state,
            "classroom_created",
            Some(("classroom", classroom.id.to_string())),
            serde_json::json!({"name": classroom.name, "school_id": classroom.school_id}),
        )
        .await;
    state.live.sync(classroom.id).await;
    Ok((StatusCode::CREATED, Json(view(&state, classroom))))
}

#[utoipa::path(get, path = "/api/classrooms/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = ClassroomView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn get_classroom(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<ClassroomView>, ApiError> {
    may_see(&state, &caller, id).await?;
    let classroom = classrooms::get(&state.db, id).await?;
    Ok(Json(view(&state, classroom)))
}

#[utoipa::path(patch, path = "/api/classrooms/{id}", params(("id" = Uuid, Path)),
    request_body = ClassroomUpdate,
    responses((status = 200, body = ClassroomView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn update_classroom(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(update): Json<ClassroomUpdate>,
) -> Result<Json<ClassroomView>, ApiError> {
    may_manage(&state, &caller, id).await?;
    let before = classrooms::get(&state.db, id).await?;
    let classroom = classrooms::update(&state.db, id, update).await?;
    if changed(&before, &classroom) {
        caller
            .audit(
                &state,
                "classroom_changed",
                Some(("classroom", id.to_string())),
                serde_json::json!({"name": classroom.name, "from": before.name}),
            )
            .await;
    }
    state.live.sync(id).await;
    Ok(Json(view(&state, classroom)))
}

#[utoipa::path(delete, path = "/api/classrooms/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn delete_classroom(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    may_manage(&state, &caller, id).await?;
    let classroom = classrooms::get(&state.db, id).await?;
    classrooms::delete(&state.db, id).await?;
    caller
        .audit(
            &state,
            "classroom_deleted",
            Some(("classroom", id.to_string())),
            serde_json::json!({"name": classroom.name}),
        )
        .await;
    state.live.sync(id).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/classrooms/{id}/sources", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<SourceView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn list_sources(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<SourceView>>, ApiError> {
    may_manage(&state, &caller, id).await?;
    let list = sources::list_for_classroom(&state.db, id).await?;
    Ok(Json(
        list.into_iter()
            .map(|s| source_view(&state, &headers, s))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/classrooms/{id}/sources", params(("id" = Uuid, Path)),
    request_body = NewSource,
    responses((status = 201, body = SourceView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn create_source(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Json(new): Json<NewSource>,
) -> Result<(StatusCode, Json<SourceView>), ApiError> {
    may_manage(&state, &caller, id).await?;
    let source = sources::create(&state.db, id, new).await?;
    caller
        .audit(
            &state,
            "source_created",
            Some(("source", source.id.to_string())),
            serde_json::json!({"classroom": id, "kind": source.kind, "name": source.name}),
        )
        .await;
    state.live.sync(id).await;
    Ok((
        StatusCode::CREATED,
        Json(source_view(&state, &headers, source)),
    ))
}

#[utoipa::path(get, path = "/api/classrooms/{id}/sources/{source_id}",
    params(("id" = Uuid, Path), ("source_id" = Uuid, Path)),
    responses((status = 200, body = SourceView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn get_source(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, source_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<SourceView>, ApiError> {
    may_manage(&state, &caller, id).await?;
    let source = sources::get(&state.db, id, source_id).await?;
    Ok(Json(source_view(&state, &headers, source)))
}

#[utoipa::path(patch, path = "/api/classrooms/{id}/sources/{source_id}",
    params(("id" = Uuid, Path), ("source_id" = Uuid, Path)), request_body = SourceUpdate,
    responses((status = 200, body = SourceView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn update_source(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, source_id)): Path<(Uuid, Uuid)>,
    Json(update): Json<SourceUpdate>,
) -> Result<Json<SourceView>, ApiError> {
    may_manage(&state, &caller, id).await?;
    let before = sources::get(&state.db, id, source_id).await?;
    let source = sources::update(&state.db, id, source_id, update).await?;
    if !same_source(&before, &source) {
        caller
            .audit(
                &state,
                "source_changed",
                Some(("source", source_id.to_string())),
                serde_json::json!({"classroom": id, "name": source.name, "enabled": source.enabled}),
            )
            .await;
    }
    state.live.sync(id).await;
    Ok(Json(source_view(&state, &headers, source)))
}

#[utoipa::path(delete, path = "/api/classrooms/{id}/sources/{source_id}",
    params(("id" = Uuid, Path), ("source_id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn delete_source(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, source_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    may_manage(&state, &caller, id).await?;
    sources::delete(&state.db, id, source_id).await?;
    caller
        .audit(
            &state,
            "source_deleted",
            Some(("source", source_id.to_string())),
            serde_json::json!({"classroom": id}),
        )
        .await;
    state.live.detach(id, source_id).await;
    state.live.sync(id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// New stream key; the publisher using the old one is disconnected.
#[utoipa::path(post, path = "/api/classrooms/{id}/sources/{source_id}/rotate-key",
    params(("id" = Uuid, Path), ("source_id" = Uuid, Path)),
    responses((status = 200, body = SourceView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, source_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<SourceView>, ApiError> {
    may_manage(&state, &caller, id).await?;
    let source = sources::rotate_key(&state.db, id, source_id).await?;
    caller
        .audit(
            &state,
            "stream_key_rotated",
            Some(("source", source_id.to_string())),
            serde_json::json!({"classroom": id}),
        )
        .await;
    tracing::info!(classroom = %id, source = %source_id, "stream key rotated");
    state.live.detach(id, source_id).await;
    Ok(Json(source_view(&state, &headers, source)))
}

/// Partner schools invited to this classroom's live lessons (专递课堂).
#[utoipa::path(get, path = "/api/classrooms/{id}/audiences", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<Uuid>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn get_audiences(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Uuid>>, ApiError> {
    may_manage(&state, &caller, id).await?;
    Ok(Json(classrooms::audiences(&state.db, id).await?))
}

#[utoipa::path(put, path = "/api/classrooms/{id}/audiences", params(("id" = Uuid, Path)),
    request_body = Vec<Uuid>,
    responses((status = 200, body = Vec<Uuid>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn set_audiences(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(schools): Json<Vec<Uuid>>,
) -> Result<Json<Vec<Uuid>>, ApiError> {
    may_manage(&state, &caller, id).await?;
    classrooms::set_audiences(&state.db, id, &schools).await?;
    caller
        .audit(
            &state,
            "audiences_changed",
            Some(("classroom", id.to_string())),
            serde_json::json!({"schools": schools}),
        )
        .await;
    Ok(Json(classrooms::audiences(&state.db, id).await?))
}

/// A playback URL for players that cannot send the session cookie (a
/// portal on another site, a native app, VLC).
#[utoipa::path(get, path = "/api/classrooms/{id}/playback", params(("id" = Uuid, Path)),
    responses((status = 200, body = super::playback::PlaybackUrl),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn live_playback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<super::playback::PlaybackUrl>, ApiError> {
    may_see(&state, &caller, id).await?;
    Ok(Json(
        super::playback::playback_url(&state, &caller, crate::auth::playback::Scope::Live(id))
            .await?,
    ))
}

/// Watching or administering: who may see a classroom at all. Unknown ids
/// are 404 for everyone.
async fn may_see(state: &AppState, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    let facts = classrooms::facts(&state.db, id, chrono::Utc::now()).await?;
    caller.require(policy::can_see_classroom(&caller.principal, &facts))
}

/// Settings, sources and stream keys: the school's administrators.
async fn may_manage(state: &AppState, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    let facts = classrooms::facts(&state.db, id, chrono::Utc::now()).await?;
    caller.require(policy::can_manage_classroom(&caller.principal, &facts))
}

/// A classroom change worth an audit entry: anything but the timestamp.
fn changed(before: &Classroom, after: &Classroom) -> bool {
    let strip = |c: &Classroom| {
        let mut v = serde_json::to_value(c).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("updated_at");
        }
        v
    };
    strip(before) != strip(after)
}

/// Same settings (a PATCH that sent the values back): no audit entry.
fn same_source(a: &Source, b: &Source) -> bool {
    a.role == b.role
        && a.name == b.name
        && a.url == b.url
        && a.username == b.username
        && a.password == b.password
        && a.enabled == b.enabled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_publish_host_is_the_host_header_without_its_port() {
        let mut headers = HeaderMap::new();
        let host = |headers: &mut HeaderMap, value: &str| {
            headers.insert(header::HOST, value.parse().expect("a valid header value"));
        };
        host(&mut headers, "classcast.school.cn:8080");
        assert_eq!(request_host(&headers), "classcast.school.cn");
        host(&mut headers, "[::1]:8080");
        assert_eq!(request_host(&headers), "[::1]");
        host(&mut headers, "10.1.2.3");
        assert_eq!(request_host(&headers), "10.1.2.3");
        host(&mut headers, "evil/path");
        assert_eq!(request_host(&headers), "127.0.0.1");
    }
}
