//! Media routes: live HLS from memory (`/live/{classroom}/…`), recordings
//! from disk (`/vod/{recording}/…`), and live thumbnails.
//!
//! File names are matched against a fixed shape before anything is read,
//! so no request can name a path outside the media root.
//!
//! Every file needs a signed-in caller allowed to watch, or a playback
//! token for exactly this lesson or recording (`?token=`, checked against
//! its signature and this node's revocation list without touching the
//! database, so token media plays on through a database outage).
//! Playlists fetched with a token list their URIs with the same token, so
//! hls.js and native players follow. Refusals are `ApiError`s like the
//! API's: a player can tell an expired token from a revoked one.

use axum::Router;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, Path, Query};
use super::extract::{Caller, ClientAddress};
use crate::auth::playback::Scope;
use crate::auth::policy;

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const SEGMENT_TYPE: &str = "video/iso.segment";
const INIT_TYPE: &str = "video/mp4";
/// Live playlists change every segment; players must re-fetch them.
const LIVE_PLAYLIST_CACHE: &str = "no-cache";
/// Segments and inits never change once named: caches may keep them.
/// Live segment and init names start again with every lesson, so a
/// cached one must not outlive its place in the live window.
const LIVE_FILE_CACHE: &str = "public, max-age=60";
const LIVE_FILE_CACHE_SIGNED_IN: &str = "private, max-age=60";
/// A recording's files never change once named.
const VOD_FILE_CACHE: &str = "public, max-age=31536000, immutable";
const VOD_FILE_CACHE_SIGNED_IN: &str = "private, max-age=31536000, immutable";
const VOD_PLAYLIST_CACHE: &str = "public, max-age=2";
const VOD_PLAYLIST_CACHE_SIGNED_IN: &str = "private, max-age=2";

/// With sign-in required, a shared cache must not hand one viewer's media
/// to another: only the browser keeps it.
fn cache(state: &AppState, open: &'static str, signed_in: &'static str) -> &'static str {
    if state.config.auth.enabled {
        signed_in
    } else {
        open
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/live/{classroom}/index.m3u8", get(live_master))
        .route("/live/{classroom}/thumbnail.jpg", get(live_thumbnail))
        .route("/live/{classroom}/{rendition}/{file}", get(live_file))
        .route("/vod/{recording}/index.m3u8", get(vod_master))
        .route("/vod/{recording}/{rendition}/{file}", get(vod_file))
}

/// Paths under the media routes (`/live`, `/vod`): never the UI's page.
pub fn is_media_path(path: &str) -> bool {
    ["/live", "/vod", "/whep", "/whip"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
}

fn body(
    content_type: &'static str,
    cache: &'static str,
    data: impl Into<axum::body::Body>,
) -> Response {
    let mut response = data.into().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

/// What a file name in a rendition directory may be.
#[derive(Debug, PartialEq, Eq)]
pub enum MediaFile {
    Playlist,
    Init(u32),
    Segment(u64),
}

pub fn parse_file(name: &str) -> Option<MediaFile> {
    if name == "index.m3u8" {
        return Some(MediaFile::Playlist);
    }
    if let Some(n) = name
        .strip_prefix("init-")
        .and_then(|r| r.strip_suffix(".mp4"))
    {
        return digits(n)
            .then(|| n.parse().ok())
            .flatten()
            .map(MediaFile::Init);
    }
    let n = name.strip_suffix(".m4s")?;
    digits(n)
        .then(|| n.parse().ok())
        .flatten()
        .map(MediaFile::Segment)
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Rendition names are ours: `source` or `{height}p`.
pub fn valid_rendition(name: &str) -> bool {
    name == "source"
        || name
            .strip_suffix('p')
            .is_some_and(|h| digits(h) && h.len() <= 4)
}

/// The signed-in caller, looked up only when the request carries no
/// playback token: a token is checked by HMAC alone, and the UI's player,
/// which also sends its session cookie, must not cost database queries on
/// every segment.
pub struct MediaCaller(pub Option<Caller>);

impl axum::extract::FromRequestParts<AppState> for MediaCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let has_token = parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|pair| pair.starts_with("token=")));
        if has_token {
            return Ok(MediaCaller(None));
        }
        <Caller as axum::extract::OptionalFromRequestParts<AppState>>::from_request_parts(
            parts, state,
        )
        .await
        .map(MediaCaller)
        .map_err(IntoResponse::into_response)
    }
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// May this request read `scope`? A token is checked first: players carry
/// one and it costs no database query. `live_lesson` is the lesson the
/// classroom shows now (live scopes).
pub(super) async fn authorize(
    state: &AppState,
    scope: Scope,
    live_lesson: Option<Uuid>,
    token: Option<&str>,
    caller: Option<Caller>,
) -> Result<(), ApiError> {
    if !state.config.auth.enabled {
        return Ok(());
    }
    if let Some(token) = token {
        let now = chrono::Utc::now().timestamp();
        let grant = state.playback.verify(scope, token, now)?;
        state.revocations.borrow().check(&grant, live_lesson)?;
        return Ok(());
    }
    let caller = caller.ok_or(ApiError::Unauthorized)?;
    // Unknown ids are 404 and database trouble 503, as in the API.
    let allowed = match scope {
        Scope::Live(id) => {
            let facts =
                crate::catalog::classrooms::facts(&state.db, id, chrono::Utc::now()).await?;
            policy::can_see_classroom(&caller.principal, &facts)
        }
        Scope::Recording(id) => {
            let facts = crate::catalog::recordings::facts(&state.db, id).await?;
            policy::can_view_recording(&caller.principal, &facts)
        }
    };
    caller.require(allowed)
}

/// A playlist whose every URI carries `token`, so the player's next
/// requests are authorised the same way.
pub fn with_token(playlist: &str, token: Option<&str>) -> String {
    let Some(token) = token else {
        return playlist.to_string();
    };
    let mut out = String::with_capacity(playlist.len() + 64 * 8);
    for line in playlist.lines() {
        if line.is_empty() {
        } else if !line.starts_with('#') {
            out.push_str(line);
            out.push_str("?token=");
            out.push_str(token);
        } else if let Some((head, rest)) = line.split_once("URI=\"") {
            let (uri, tail) = rest.split_once('"').unwrap_or((rest, ""));
            out.push_str(head);
            out.push_str("URI=\"");
            out.push_str(uri);
            out.push_str("?token=");
            out.push_str(token);
            out.push('"');
            out.push_str(tail);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The classroom's live output, once the request may see it.
async fn live_access(
    state: &AppState,
    classroom: &str,
    token: Option<&str>,
    caller: Option<Caller>,
) -> Result<crate::hls::SharedOutput, Response> {
    let id = Uuid::parse_str(classroom).map_err(|_| not_found())?;
    let room = state.live.room(id);
    let lesson = room
        .as_ref()
        .and_then(|room| room.status.borrow().session_id);
    authorize(state, Scope::Live(id), lesson, token, caller)
        .await
        .map_err(IntoResponse::into_response)?;
    let room = room.ok_or_else(not_found)?;
    let output = room.output.borrow().clone();
    Ok(output)
}

async fn live_master(
    State(state): State<AppState>,
    Path(classroom): Path<String>,
    Query(query): Query<TokenQuery>,
    MediaCaller(caller): MediaCaller,
) -> Response {
    let token = query.token.as_deref();
    let output = match live_access(&state, &classroom, token, caller).await {
        Ok(output) => output,
        Err(refusal) => return refusal,
    };
    match &output.master {
        Some(master) => body(
            PLAYLIST_TYPE,
            LIVE_PLAYLIST_CACHE,
            with_token(master, token),
        ),
        None => not_found(),
    }
}

async fn live_thumbnail(
    State(state): State<AppState>,
    Path(classroom): Path<String>,
    Query(query): Query<TokenQuery>,
    MediaCaller(caller): MediaCaller,
) -> Response {
    let token = query.token.as_deref();
    let output = match live_access(&state, &classroom, token, caller).await {
        Ok(output) => output,
        Err(refusal) => return refusal,
    };
    match &output.thumbnail {
        Some(jpeg) => body("image/jpeg", LIVE_PLAYLIST_CACHE, jpeg.clone()),
        None => not_found(),
    }
}

async fn live_file(
    State(state): State<AppState>,
    Path((classroom, rendition, file)): Path<(String, String, String)>,
    Query(query): Query<TokenQuery>,
    MediaCaller(caller): MediaCaller,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
) -> Response {
    let Some(file) = parse_file(&file) else {
        return not_found();
    };
    let output = match live_access(&state, &classroom, query.token.as_deref(), caller).await {
        Ok(output) => output,
        Err(refusal) => return refusal,
    };
    let Some(view) = output.renditions.get(&rendition) else {
        return not_found();
    };
    match file {
        MediaFile::Playlist => {
            note_viewer(&state, &classroom, address, &headers);
            body(
                PLAYLIST_TYPE,
                LIVE_PLAYLIST_CACHE,
                with_token(&view.playlist, query.token.as_deref()),
            )
        }
        MediaFile::Init(n) => serve_bytes(&state, INIT_TYPE, view.inits.get(&n)),
        MediaFile::Segment(n) => {
            metrics::counter!("classcast_segment_requests_total").increment(1);
            serve_bytes(&state, SEGMENT_TYPE, view.segments.get(&n))
        }
    }
}

/// Players re-fetch the media playlist every segment: each fetch tells the
/// classroom its viewer is still there. A viewer is an address and a
/// player (User-Agent); best effort, so a busy classroom may miss one.
fn note_viewer(state: &AppState, classroom: &str, address: Option<IpAddr>, headers: &HeaderMap) {
    let Some(room) = Uuid::parse_str(classroom)
        .ok()
        .and_then(|id| state.live.room(id))
    else {
        return;
    };
    let mut hasher = std::hash::DefaultHasher::new();
    address.hash(&mut hasher);
    headers.get(header::USER_AGENT).hash(&mut hasher);
    let viewer = hasher.finish();
    room.note_viewer(viewer);
}

fn serve_bytes(state: &AppState, content_type: &'static str, data: Option<&Bytes>) -> Response {
    let cache = cache(state, LIVE_FILE_CACHE, LIVE_FILE_CACHE_SIGNED_IN);
    match data {
        Some(data) => body(content_type, cache, data.clone()),
        None => not_found(),
    }
}

async fn vod_master(
    State(state): State<AppState>,
    Path(recording): Path<String>,
    Query(query): Query<TokenQuery>,
    MediaCaller(caller): MediaCaller,
) -> Response {
    let Ok(id) = Uuid::parse_str(&recording) else {
        return not_found();
    };
    let token = query.token.as_deref();
    if let Err(refusal) = authorize(&state, Scope::Recording(id), None, token, caller).await {
        return refusal.into_response();
    }
    let path =
        crate::recording::recording_dir(&state.config.recordings_dir(), id).join("index.m3u8");
    serve_playlist(&state, path, token).await
}

async fn vod_file(
    State(state): State<AppState>,
    Path((recording, rendition, file)): Path<(String, String, String)>,
    Query(query): Query<TokenQuery>,
    MediaCaller(caller): MediaCaller,
) -> Response {
    let (Ok(id), Some(kind)) = (Uuid::parse_str(&recording), parse_file(&file)) else {
        return not_found();
    };
    if !valid_rendition(&rendition) {
        return not_found();
    }
    let token = query.token.as_deref();
    if let Err(refusal) = authorize(&state, Scope::Recording(id), None, token, caller).await {
        return refusal.into_response();
    }
    let path = crate::recording::recording_dir(&state.config.recordings_dir(), id)
        .join(&rendition)
        .join(&file);
    let content_type = match kind {
        MediaFile::Playlist => return serve_playlist(&state, path, token).await,
        MediaFile::Init(_) => INIT_TYPE,
        MediaFile::Segment(_) => SEGMENT_TYPE,
    };
    let cache = cache(&state, VOD_FILE_CACHE, VOD_FILE_CACHE_SIGNED_IN);
    serve_file(path, content_type, cache).await
}

async fn serve_playlist(
    state: &AppState,
    path: std::path::PathBuf,
    token: Option<&str>,
) -> Response {
    let cache = cache(state, VOD_PLAYLIST_CACHE, VOD_PLAYLIST_CACHE_SIGNED_IN);
    match tokio::fs::read_to_string(&path).await {
        Ok(text) => body(
            PLAYLIST_TYPE,
            cache,
            with_token(crate::hls::playlist::complete_prefix(&text), token),
        ),
        Err(_) => not_found(),
    }
}

async fn serve_file(
    path: std::path::PathBuf,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    match tokio::fs::read(&path).await {
        Ok(data) => body(content_type, cache, data),
        Err(_) => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokened_playlist_passes_its_token_on() {
        let media = "#EXTM3U\n#EXT-X-MAP:URI=\"init-1.mp4\"\n#EXTINF:2.000,\n7.m4s\n";
        let out = with_token(media, Some("abc"));
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-MAP:URI=\"init-1.mp4?token=abc\"\n#EXTINF:2.000,\n7.m4s?token=abc\n"
        );
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nsource/index.m3u8\n";
        assert!(with_token(master, Some("t")).contains("source/index.m3u8?token=t\n"));
        assert_eq!(with_token(media, None), media);
    }

    #[test]
    fn only_our_file_names_are_accepted() {
        assert_eq!(parse_file("index.m3u8"), Some(MediaFile::Playlist));
        assert_eq!(parse_file("init-3.mp4"), Some(MediaFile::Init(3)));
        assert_eq!(parse_file("42.m4s"), Some(MediaFile::Segment(42)));
        for bad in [
            "../42.m4s",
            "..%2F42.m4s",
            "/etc/passwd",
            "42.m4s/..",
            "init-.mp4",
            "-1.m4s",
            "+1.m4s",
            "1e3.m4s",
            "",
        ] {
            assert_eq!(parse_file(bad), None, "{bad}");
        }
        assert!(valid_rendition("source"));
        assert!(valid_rendition("720p"));
        assert!(!valid_rendition(".."));
        assert!(!valid_rendition("p"));
        assert!(!valid_rendition("../source"));
    }
}
