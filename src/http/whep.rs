//! WHEP (WebRTC-HTTP egress, IETF draft): `POST /whep/{classroom}` with an
//! SDP offer answers 201 with the SDP answer and the session's URL; PATCH
//! there adds trickled candidates, DELETE ends it.
//!
//! Access is that of the live HLS: a session cookie, an API token as
//! Bearer, or `?token=` with a playback token for the classroom's lesson.
//! The session URL holds 122 random bits and is the capability to end or
//! trickle its own session, as WHEP intends (a player closing a tab sends
//! its DELETE without credentials). An offer must come as
//! `application/sdp`, which no cross-site form can send, so a cookie alone
//! cannot be used from another site.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, Path, Query};
use super::media::{MediaCaller, authorize};
use crate::auth::playback::Scope;
use crate::webrtc::offer::{self, Want};
use crate::webrtc::{Access, JoinError, Joined};

/// A lesson that is not live yet may be in a few seconds.
const NOT_LIVE_RETRY_SECONDS: u64 = 5;
const FULL_RETRY_SECONDS: u64 = 30;
const MAX_TRICKLED: usize = 16;
/// An SDP offer or trickle fragment is a few kilobytes.
pub const MAX_SDP_BYTES: usize = 32 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/whep/{classroom}", post(offer)).route(
        "/whep/{classroom}/{session}",
        axum::routing::patch(trickle).delete(end),
    )
}

#[derive(Debug, serde::Deserialize)]
pub struct WhepQuery {
    token: Option<String>,
    /// `source`, `720p`, … or `audio`; the best playable when absent.
    rendition: Option<String>,
}

pub(super) fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::NotFound)
}

async fn offer(
    State(state): State<AppState>,
    Path(classroom): Path<String>,
    Query(query): Query<WhepQuery>,
    MediaCaller(caller): MediaCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let classroom = parse_id(&classroom)?;
    let room = state.live.room(classroom);
    let lesson = room.as_ref().and_then(|r| r.status.borrow().session_id);
    let token = query.token.as_deref();
    let user = caller.as_ref().map(|c| c.principal.user_id);
    // The epochs are read before access is checked: a revocation landing
    // in between then ends the session instead of being missed.
    let access = access(&state, classroom, token, user);
    authorize(&state, Scope::Live(classroom), lesson, token, caller).await?;
    if room.is_none() {
        // A classroom that exists but has nothing running yet (no source
        // so far, as a remote classroom before it first sends) will be
        // live soon: say when to ask again, as for an idle one.
        crate::catalog::classrooms::get(&state.db, classroom).await?;
        return Err(ApiError::NotLive(NOT_LIVE_RETRY_SECONDS));
    }
    if !content_type_is(&headers, "application/sdp") {
        return Err(ApiError::UnsupportedMediaType);
    }
    let webrtc = state.webrtc.as_ref().ok_or(ApiError::WebRtcOff)?;
    let sdp = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadOffer(offer::OfferError::NotSdp.to_string()))?;
    let want = Want::from_query(query.rendition.as_deref());
    let facts = offer::inspect(sdp).map_err(|e| ApiError::BadOffer(e.to_string()))?;
    offer::check(&facts, &want).map_err(|e| ApiError::Unplayable(e.to_string()))?;
    let joined = webrtc
        .join(classroom, sdp.to_string(), facts, want, access)
        .await
        .map_err(|e| match e {
            JoinError::NotLive => ApiError::NotLive(NOT_LIVE_RETRY_SECONDS),
            JoinError::Full => ApiError::Busy(FULL_RETRY_SECONDS),
            JoinError::Choice(offer::ChoiceError::Unknown(name)) => {
                ApiError::BadRequest(format!("no rendition named {name}"))
            }
            JoinError::Choice(e) => ApiError::Unplayable(e.to_string()),
            JoinError::Offer(e) => ApiError::BadOffer(e),
            JoinError::Stopped => ApiError::WebRtcOff,
            JoinError::Revoked => ApiError::Forbidden,
        })?;
    let location = format!("/whep/{classroom}/{}", joined.session);
    let rendition = joined.rendition.clone();
    let mut response = created(location, &joined, &webrtc.ice_servers);
    if let Ok(value) = HeaderValue::from_str(&rendition) {
        response.headers_mut().insert("classcast-rendition", value);
    }
    Ok(response)
}

/// WHEP's and WHIP's 201: the SDP answer, the session's URL and ETag, and
/// the STUN/TURN servers as `Link` headers.
pub(super) fn created(location: String, joined: &Joined, ice_servers: &[String]) -> Response {
    let mut response = (StatusCode::CREATED, joined.answer.clone()).into_response();
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.append(name, value);
        }
    };
    set("location", location);
    set("etag", format!("\"{}\"", joined.session.simple()));
    for server in ice_servers {
        set("link", format!("<{server}>; rel=\"ice-server\""));
    }
    response
}

/// The revocation epochs this viewer came in under; None with sign-in off.
fn access(
    state: &AppState,
    classroom: Uuid,
    token: Option<&str>,
    user: Option<Uuid>,
) -> Option<Access> {
    if !state.config.auth.enabled {
        return None;
    }
    let revocations = state.revocations.borrow();
    if let Some(token) = token {
        let now = chrono::Utc::now().timestamp();
        let grant = state
            .playback
            .verify(Scope::Live(classroom), token, now)
            .ok()?;
        return Some(Access {
            viewer: grant.viewer,
            viewer_epoch: grant.viewer_epoch,
            scope: classroom,
            scope_epoch: grant.scope_epoch,
        });
    }
    let user = user?;
    Some(Access {
        viewer: user,
        viewer_epoch: revocations.epoch(user),
        scope: classroom,
        scope_epoch: revocations.epoch(classroom),
    })
}

async fn trickle(
    State(state): State<AppState>,
    Path((classroom, session)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let (classroom, session) = (parse_id(&classroom)?, parse_id(&session)?);
    if !content_type_is(&headers, "application/trickle-ice-sdpfrag") {
        return Err(ApiError::UnsupportedMediaType);
    }
    let webrtc = state.webrtc.as_ref().ok_or(ApiError::NotFound)?;
    let fragment = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the body is not text".into()))?;
    let candidates = fragment
        .lines()
        .filter_map(|line| line.trim().strip_prefix("a="))
        .filter(|line| line.starts_with("candidate:"))
        // The server is ICE-lite and needs none; a few help it accept a
        // peer's first packets, thousands would only cost the hub.
        .take(MAX_TRICKLED)
        .map(str::to_string)
        .collect();
    if webrtc.trickle(classroom, session, candidates).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn end(
    State(state): State<AppState>,
    Path((classroom, session)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (classroom, session) = (parse_id(&classroom)?, parse_id(&session)?);
    let webrtc = state.webrtc.as_ref().ok_or(ApiError::NotFound)?;
    if webrtc.leave(classroom, session).await {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::NotFound)
    }
}
