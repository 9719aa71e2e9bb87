//! WHIP (RFC 9725): a browser, OBS 30+ or a hardware encoder publishes a
//! classroom's camera and microphone over WebRTC. `POST /whip` with the
//! source's stream key as Bearer token (or `POST /whip/{stream_key}` for
//! devices that cannot set a header) and an SDP offer answers 201 with the
//! SDP answer and the session's URL; DELETE there ends the publish (200, as
//! OBS expects). No trickle is needed: the server is ICE-lite.
//!
//! The stream key is the credential, as for RTMP and SRT: the ingest gate
//! decides, and a WHIP feed becomes a lesson like any other (transcoded,
//! served over HLS and WHEP, recorded).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, Path};
use super::whep::content_type_is;
use crate::ingest::gate::Protocol;
use crate::ingest::pipeline::WHIP_CAPS;
use crate::webrtc::JoinError;
use crate::webrtc::offer;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/whip", post(publish_with_bearer))
        .route("/whip/{stream_key}", post(publish_with_key_in_path))
        .route(
            "/whip/sessions/{session}",
            axum::routing::patch(trickle).delete(end),
        )
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn publish_with_bearer(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = bearer(&headers).ok_or(ApiError::Unauthorized)?.to_string();
    publish(&state, &key, &headers, &body).await
}

async fn publish_with_key_in_path(
    State(state): State<AppState>,
    Path(stream_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    publish(&state, &stream_key, &headers, &body).await
}

async fn publish(
    state: &AppState,
    key: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    if !content_type_is(headers, "application/sdp") {
        return Err(ApiError::UnsupportedMediaType);
    }
    let webrtc = state.webrtc.as_ref().ok_or(ApiError::WebRtcOff)?;
    // The offer is read before the gate is asked: a bad one starts nothing.
    let sdp = std::str::from_utf8(body)
        .map_err(|_| ApiError::BadOffer(offer::OfferError::NotSdp.to_string()))?;
    let facts = offer::inspect(sdp).map_err(|e| ApiError::BadOffer(e.to_string()))?;
    offer::check(&facts, &offer::Want::Best).map_err(|e| ApiError::Unplayable(e.to_string()))?;
    let admitted = state
        .ingest
        .publish(key, Protocol::Whip, WHIP_CAPS)
        .await
        .map_err(ApiError::PublishRefused)?;
    let classroom = admitted.classroom_id;
    let joined = webrtc
        .publish(sdp.to_string(), admitted)
        .await
        .map_err(|e| match e {
            JoinError::Full => ApiError::Busy(30),
            JoinError::Offer(e) => ApiError::BadOffer(e),
            JoinError::Revoked => ApiError::Forbidden,
            _ => ApiError::WebRtcOff,
        })?;
    tracing::info!(%classroom, session = %joined.session, "WHIP publisher connected");
    Ok(super::whep::created(
        format!("/whip/sessions/{}", joined.session),
        &joined,
        &webrtc.ice_servers,
    ))
}

fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::NotFound)
}

/// The server is ICE-lite and needs no candidates from a publisher; a
/// trickle to a live session is taken and ignored, as RFC 9725 allows.
async fn trickle(
    State(state): State<AppState>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let session = parse_id(&session)?;
    if !content_type_is(&headers, "application/trickle-ice-sdpfrag") {
        return Err(ApiError::UnsupportedMediaType);
    }
    let webrtc = state.webrtc.as_ref().ok_or(ApiError::NotFound)?;
    if webrtc.is_publishing(session).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn end(
    State(state): State<AppState>,
    Path(session): Path<String>,
) -> Result<StatusCode, ApiError> {
    let session = parse_id(&session)?;
    let webrtc = state.webrtc.as_ref().ok_or(ApiError::NotFound)?;
    if webrtc.unpublish(session).await {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::NotFound)
    }
}
