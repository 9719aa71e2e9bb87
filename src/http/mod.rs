//! HTTP: the API under `/api`, media under `/live` and `/vod`, metrics, and
//! the browser UI. One module per resource, each with its own `router()`,
//! merged here; every route sits under the one `api` or `media` branch so a
//! single auth layer can wrap each later.

pub mod audit;
mod body_limit;
mod byte_range;
pub mod classrooms;
pub mod error;
pub mod extract;
pub mod interactive;
pub mod jobs;
pub mod library;
pub mod library_attachments;
pub mod library_chapters;
pub mod library_media;
pub mod library_removal;
pub mod library_terms;
pub mod library_views;
pub mod media;
pub mod playback;
pub mod recording_clips;
pub mod recordings;
pub mod schools;
pub mod security;
pub mod serve;
pub mod sessions;
pub mod sso;
pub mod tokens;
pub mod uploads;
pub mod users;
pub mod whep;
pub mod whip;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tower::ServiceExt as _;
use tower_http::services::{ServeDir, ServeFile};
use utoipa::OpenApi;

use crate::config::Config;
use crate::live::Live;
use error::{Lang, REQUEST_LANG};

/// Shared by every handler: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub live: Live,
    pub metrics: PrometheusHandle,
    /// Signs and checks playback tokens; the same key on every node.
    pub playback: crate::auth::playback::PlaybackKey,
    /// Playback revocation epochs, kept current by a background task.
    pub revocations: tokio::sync::watch::Receiver<Arc<crate::auth::playback::Revocations>>,
    /// Password hashes run here, a few at a time.
    pub hashing: crate::auth::password::HashingSlots,
    /// WebRTC playback and publishing; None where it is not started (some tests).
    pub webrtc: Option<crate::webrtc::WebRtc>,
    /// Where WHIP publishers ask to be let in, like RTMP and SRT ones.
    pub ingest: crate::ingest::gate::Gate,
    /// Media objects (uploads now), shared by every node.
    pub storage: crate::storage::MediaStore,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "classcast API",
        description = "Recording classrooms: live, recordings, catalogue"
    ),
    paths(
        schools::list_schools,
        schools::create_school,
        schools::update_school,
        schools::delete_school,
        classrooms::list_classrooms,
        classrooms::create_classroom,
        classrooms::get_classroom,
        classrooms::update_classroom,
        classrooms::delete_classroom,
        classrooms::list_sources,
        classrooms::create_source,
        classrooms::get_source,
        classrooms::update_source,
        classrooms::delete_source,
        classrooms::rotate_key,
        recordings::list_recordings,
        recordings::get_recording,
        recordings::update_recording,
        recordings::delete_recording,
        recordings::list_sessions,
        sessions::current_session,
        sessions::sign_in,
        sessions::sign_out,
        users::setup_first_admin,
        users::list_users,
        users::create_user,
        users::update_user,
        users::delete_user,
        tokens::list_tokens,
        tokens::create_token,
        tokens::revoke_token,
        audit::read_audit,
        classrooms::live_playback,
        classrooms::get_audiences,
        classrooms::set_audiences,
        recordings::recording_playback,
        recordings::share_recording,
        recording_clips::cut_clip,
        sso::sso_info,
        sso::sso_login,
        sso::sso_callback,
        interactive::list,
        interactive::create,
        interactive::show,
        interactive::update,
        interactive::start,
        interactive::end,
        interactive::remove,
        interactive::set_muted,
        interactive::publish,
        jobs::list_jobs,
        jobs::get_job,
        jobs::create_job,
        uploads::create,
        uploads::offset,
        uploads::append,
        uploads::terminate,
        uploads::info,
        library::list_lessons,
        library::create_lesson,
        library::get_lesson,
        library::update_lesson,
        library_removal::delete_lesson,
        library::submit_lesson,
        library::approve_lesson,
        library::reject_lesson,
        library::unpublish_lesson,
        library::feature_lesson,
        library::review_queue,
        library_media::attach_media,
        library_media::lesson_file,
        library_attachments::list_attachments,
        library_attachments::add_attachment,
        library_attachments::download_attachment,
        library_attachments::remove_attachment,
        library_chapters::chapters_track,
        library_views::heartbeat,
        library_views::stats,
        library_terms::list_subjects,
        library_terms::create_subject,
        library_terms::update_subject,
        library_terms::list_grades,
        library_terms::create_grade,
        library_terms::update_grade,
        library_terms::list_editions,
        library_terms::create_edition,
        library_terms::update_edition,
        library_terms::knowledge_tree,
        library_terms::create_point,
        library_terms::update_point,
        library_terms::delete_point,
        library_terms::import_points,
    )
)]
pub struct ApiDoc;

pub fn router(state: AppState) -> Router {
    let body_limit = axum::extract::DefaultBodyLimit::max(state.config.http.max_body_bytes);
    let api = Router::new()
        .merge(sessions::router())
        .merge(users::router())
        .merge(tokens::router())
        .merge(audit::router())
        .merge(sso::router())
        .merge(schools::router())
        .merge(classrooms::router())
        .merge(recordings::router())
        .merge(recording_clips::router())
        .merge(interactive::router())
        .merge(jobs::router())
        .merge(library::router())
        .merge(library_terms::router())
        .merge(library_media::router())
        .merge(library_removal::router())
        .merge(library_chapters::router())
        .merge(library_views::router())
        .route("/api/openapi.json", get(openapi))
        // Unknown API paths are JSON 404s, not the UI's index page.
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .layer(body_limit)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            body_limit::limit,
        ));
    let sdp_limit = axum::extract::DefaultBodyLimit::max(whep::MAX_SDP_BYTES);
    let media = media::router()
        .merge(whep::router().layer(sdp_limit))
        .merge(whip::router().layer(sdp_limit));
    Router::new()
        .merge(api)
        .merge(media)
        // tus chunks are streamed to storage with their own limit (what
        // the upload has left), never through the API's buffering limit.
        .merge(uploads::router())
        // Attachments too: streamed to storage with their own limit.
        .merge(library_attachments::router())
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(ui_or_not_found)
        .layer(middleware::from_fn(cors_for_players))
        .layer(middleware::from_fn(security::headers))
        .layer(middleware::from_fn(with_language))
        .with_state(state)
}

async fn api_not_found() -> error::ApiError {
    error::ApiError::NotFound
}

/// The browser UI's files, and its index page for its own routes; but a
/// media path that matched no media route is a JSON 404, never the page.
async fn ui_or_not_found(State(state): State<AppState>, request: Request) -> Response {
    if media::is_media_path(request.uri().path()) {
        return error::ApiError::NotFound.into_response();
    }
    let web_dir = &state.config.http.web_dir;
    let index = ServeFile::new(web_dir.join("index.html"));
    match ServeDir::new(web_dir)
        .fallback(index)
        .oneshot(request)
        .await
    {
        Ok(response) => response.into_response(),
        // ServeDir's errors are I/O errors it already answers itself.
        Err(e) => error::ApiError::Internal(e.to_string()).into_response(),
    }
}

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// Prometheus scrapes with an API token of a system admin
/// (`authorization: credentials` in its scrape config): classroom ids and
/// audiences are not for everyone.
async fn metrics(State(state): State<AppState>, caller: Option<extract::Caller>) -> Response {
    if state.config.auth.enabled {
        match caller {
            None => return error::ApiError::Unauthorized.into_response(),
            Some(c) if !crate::auth::policy::can_read_metrics(&c.principal) => {
                return error::ApiError::Forbidden.into_response();
            }
            Some(_) => {}
        }
    }
    crate::metrics::record_process();
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// Runs the handler with the caller's language in scope for error messages.
async fn with_language(request: Request, next: Next) -> Response {
    let lang = Lang::from_accept_language(
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    REQUEST_LANG.scope(lang, next.run(request)).await
}

/// HLS is fetched by players on other origins (a school portal embedding a
/// lesson); browsers may ask first (CORS preflight), which is answered here.
async fn cors_for_players(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_media = media::is_media_path(path);
    // WHEP players and WHIP publishers on other sites post offers and end
    // sessions; they carry a token or Bearer, never a cookie (origin `*`).
    let is_whep = path.starts_with("/whep/") || path == "/whip" || path.starts_with("/whip/");
    if is_media && request.method() == axum::http::Method::OPTIONS {
        let (methods, allowed) = if is_whep {
            (
                "POST, PATCH, DELETE, OPTIONS",
                "authorization, content-type, if-match",
            )
        } else {
            ("GET, HEAD, OPTIONS", "range")
        };
        let headers = [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_ALLOW_METHODS, methods),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, allowed),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ];
        return (axum::http::StatusCode::NO_CONTENT, headers).into_response();
    }
    let mut response = next.run(request).await;
    if is_media {
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        if is_whep {
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("location, etag, link, classcast-rendition, retry-after"),
            );
        }
    }
    response
}
