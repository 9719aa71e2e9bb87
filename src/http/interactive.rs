//! `/api/interactive`: interactive sessions (三个课堂). Scheduling and the
//! teacher's controls are JSON; a participating classroom's camera and
//! microphone come in as a WHIP offer posted by a signed-in member of that
//! classroom's school, so a classroom device account or a teacher needs no
//! stream key. The feed then is an ordinary WHIP feed of that classroom.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, patch, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json, Path};
use super::extract::Caller;
use super::whep::content_type_is;
use crate::auth::policy;
use crate::catalog::interactive::{self, LinkedRecording, NewSession, Session, SessionState};
use crate::catalog::{CatalogError, classrooms, recordings, sources};
use crate::ingest::gate::Protocol;
use crate::ingest::pipeline::WHIP_CAPS;
use crate::webrtc::{JoinError, offer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/interactive", get(list).post(create))
        .route(
            "/api/interactive/{id}",
            get(show).patch(update).delete(remove),
        )
        .route("/api/interactive/{id}/start", post(start))
        .route("/api/interactive/{id}/end", post(end))
        .route(
            "/api/interactive/{id}/classrooms/{participant}",
            patch(set_muted),
        )
        .route(
            "/api/interactive/{id}/classrooms/{participant}/whip",
            post(publish),
        )
}

/// A session with what is happening in it now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = InteractiveSessionView)]
pub struct SessionView {
    #[serde(flatten)]
    session: Session,
    /// Participating classrooms whose publisher is talking now (RFC 6464).
    talking: Vec<Uuid>,
    /// Each participant's live state, by classroom.
    live: Vec<ParticipantLive>,
    /// The classrooms' recordings from while the session was live, those
    /// the caller may play (empty in lists: ask for the session).
    recordings: Vec<LinkedRecording>,
    /// Whether the caller may run it (start, end, mute, pick the speaker).
    can_run: bool,
    /// The participating classrooms the caller may send a picture for.
    can_send_for: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
struct ParticipantLive {
    classroom_id: Uuid,
    state: crate::live::classroom::LiveState,
}

/// Whether a view carries the linked recordings (a query and an access
/// check each): a session's page does, the list does not.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    Summary,
    Full,
}

async fn view(
    state: &AppState,
    caller: &Caller,
    session: Session,
    detail: Detail,
    now: DateTime<Utc>,
) -> Result<SessionView, ApiError> {
    let talking = state.webrtc.as_ref().map(|w| w.talking.borrow().clone());
    let talking = session
        .classroom_ids()
        .filter(|c| talking.as_ref().is_some_and(|t| t.contains(c)))
        .collect();
    let live = session
        .classroom_ids()
        .map(|classroom_id| ParticipantLive {
            classroom_id,
            state: state
                .live
                .room(classroom_id)
                .map(|r| r.status.borrow().state)
                .unwrap_or(crate::live::classroom::LiveState::Idle),
        })
        .collect();
    let mut playable = Vec::new();
    if detail == Detail::Full {
        for linked in interactive::recordings(&state.db, &session, now).await? {
            let facts = recordings::facts(&state.db, linked.recording_id).await?;
            if policy::can_view_recording(&caller.principal, &facts) {
                playable.push(linked);
            }
        }
    }
    let can_run = policy::can_run_interactive(&caller.principal, &facts_of_main(&session));
    let can_send_for = session
        .participants
        .iter()
        .filter(|p| policy::can_take_part(&caller.principal, &facts_of(p.school_id)))
        .map(|p| p.classroom_id)
        .collect();
    Ok(SessionView {
        session,
        talking,
        live,
        recordings: playable,
        can_run,
        can_send_for,
    })
}

fn facts_of(school_id: Uuid) -> policy::ClassroomFacts {
    policy::ClassroomFacts {
        school_id,
        ..Default::default()
    }
}

fn facts_of_main(session: &Session) -> policy::ClassroomFacts {
    facts_of(session.main_school())
}

/// Seeing a session: a member of a participating school, or an admin of one.
fn may_see(caller: &Caller, session: &Session) -> Result<(), ApiError> {
    let sees = session.participants.iter().any(|p| {
        let facts = facts_of(p.school_id);
        policy::can_watch_live(&caller.principal, &facts)
            || policy::can_manage_classroom(&caller.principal, &facts)
            || policy::can_take_part(&caller.principal, &facts)
    });
    // Unknown and invisible look the same: session ids are not for guessing.
    if sees {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

async fn load(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Session, ApiError> {
    let session = interactive::get(&state.db, id, now).await?;
    may_see(caller, &session)?;
    Ok(session)
}

async fn load_to_run(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Session, ApiError> {
    let session = load(state, caller, id, now).await?;
    caller.require(policy::can_run_interactive(
        &caller.principal,
        &facts_of_main(&session),
    ))?;
    Ok(session)
}

#[utoipa::path(get, path = "/api/interactive", responses((status = 200, body = [SessionView]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let schools = if caller.principal.has(crate::auth::Role::SystemAdmin) {
        None
    } else {
        Some(caller.principal.school_id.into_iter().collect::<Vec<_>>())
    };
    let now = Utc::now();
    let sessions = interactive::list(&state.db, schools.as_deref(), now).await?;
    let mut views = Vec::with_capacity(sessions.len());
    for session in sessions {
        if may_see(&caller, &session).is_ok() {
            views.push(view(&state, &caller, session, Detail::Summary, now).await?);
        }
    }
    Ok(Json(views))
}

#[utoipa::path(post, path = "/api/interactive", request_body = NewSession, responses((status = 201, body = SessionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewSession>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let now = Utc::now();
    let main = facts_or_invalid(&state, new.main_classroom_id, "main_classroom_id", now).await?;
    caller.require(policy::can_run_interactive(&caller.principal, &main))?;
    interactive::check_new(&new, now)?;
    // A remote classroom's camera reaches the main school's teacher: its
    // own school must have invited the main school (policy).
    for remote in &new.remote_classroom_ids {
        let facts = facts_or_invalid(&state, *remote, "remote_classroom_ids", now).await?;
        if !policy::can_link_remote(&caller.principal, &main, &facts) {
            return Err(
                CatalogError::Invalid([("remote_classroom_ids", "not_a_partner")].into()).into(),
            );
        }
    }
    let session = interactive::create(&state.db, new, Some(caller.principal.user_id), now).await?;
    caller
        .audit(
            &state,
            "interactive_session_created",
            Some(("interactive_session", session.id.to_string())),
            serde_json::json!({"title": session.title, "classrooms": session.classroom_ids().collect::<Vec<_>>()}),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(view(&state, &caller, session, Detail::Full, now).await?),
    ))
}

/// A classroom's facts, or 422 naming `field` for an unknown classroom.
async fn facts_or_invalid(
    state: &AppState,
    classroom: Uuid,
    field: &'static str,
    now: DateTime<Utc>,
) -> Result<policy::ClassroomFacts, ApiError> {
    classrooms::facts(&state.db, classroom, now)
        .await
        .map_err(|e| match e {
            CatalogError::NotFound => {
                CatalogError::Invalid([(field, "unknown_classroom")].into()).into()
            }
            other => other.into(),
        })
}

#[utoipa::path(get, path = "/api/interactive/{id}", params(("id" = Uuid, Path)), responses((status = 200, body = SessionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, ApiError> {
    let now = Utc::now();
    let session = load(&state, &caller, id, now).await?;
    Ok(Json(
        view(&state, &caller, session, Detail::Full, now).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = InteractiveSessionUpdate)]
#[serde(deny_unknown_fields)]
struct SessionUpdate {
    /// The classroom everyone sees and hears as speaking; null: the teacher.
    #[serde(default, deserialize_with = "crate::catalog::present_or_null")]
    #[schema(value_type = Option<Uuid>)]
    speaking_classroom_id: Option<Option<Uuid>>,
}

#[utoipa::path(patch, path = "/api/interactive/{id}", params(("id" = Uuid, Path)), request_body = SessionUpdate, responses((status = 200, body = SessionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(update): Json<SessionUpdate>,
) -> Result<Json<SessionView>, ApiError> {
    let now = Utc::now();
    let session = load_to_run(&state, &caller, id, now).await?;
    if let Some(speaking) = update.speaking_classroom_id {
        if speaking.is_some_and(|c| !session.takes_part(c)) {
            return Err(CatalogError::Invalid(
                [("speaking_classroom_id", "not_in_session")].into(),
            )
            .into());
        }
        interactive::set_speaking(&state.db, id, speaking).await?;
    }
    let session = load(&state, &caller, id, now).await?;
    Ok(Json(
        view(&state, &caller, session, Detail::Full, now).await?,
    ))
}

#[utoipa::path(post, path = "/api/interactive/{id}/start", params(("id" = Uuid, Path)), responses((status = 200, body = SessionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, ApiError> {
    let now = Utc::now();
    let session = load_to_run(&state, &caller, id, now).await?;
    let session = interactive::start(&state.db, session.id, now).await?;
    // The teacher's mutes hold from the first packet.
    if let Some(webrtc) = &state.webrtc {
        for p in &session.participants {
            webrtc.mute(p.classroom_id, p.muted).await;
        }
    }
    caller
        .audit(
            &state,
            "interactive_session_started",
            Some(("interactive_session", id.to_string())),
            serde_json::json!({}),
        )
        .await;
    Ok(Json(
        view(&state, &caller, session, Detail::Full, now).await?,
    ))
}

#[utoipa::path(post, path = "/api/interactive/{id}/end", params(("id" = Uuid, Path)), responses((status = 200, body = SessionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn end(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, ApiError> {
    let now = Utc::now();
    let before = load_to_run(&state, &caller, id, now).await?;
    let session = interactive::end(&state.db, id, now).await?;
    // Only a session that ran holds mutes (another session may hold a
    // classroom's mute while this one was merely scheduled).
    if before.running()
        && let Some(webrtc) = &state.webrtc
    {
        for p in &session.participants {
            webrtc.mute(p.classroom_id, false).await;
        }
    }
    caller
        .audit(
            &state,
            "interactive_session_ended",
            Some(("interactive_session", id.to_string())),
            serde_json::json!({}),
        )
        .await;
    Ok(Json(
        view(&state, &caller, session, Detail::Full, now).await?,
    ))
}

#[utoipa::path(delete, path = "/api/interactive/{id}", params(("id" = Uuid, Path)), responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let session = load_to_run(&state, &caller, id, Utc::now()).await?;
    // A running session (even one past its overrun that the follower has
    // not ended yet) is ended first: that is what revokes and unmutes.
    if session.running() {
        return Err(ApiError::Conflict("session_live"));
    }
    interactive::delete(&state.db, id).await?;
    caller
        .audit(
            &state,
            "interactive_session_deleted",
            Some(("interactive_session", id.to_string())),
            serde_json::json!({"title": session.title}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ParticipantUpdate {
    muted: bool,
}

#[utoipa::path(patch, path = "/api/interactive/{id}/classrooms/{participant}", params(("id" = Uuid, Path), ("participant" = Uuid, Path)), request_body = ParticipantUpdate, responses((status = 200, body = SessionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn set_muted(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, classroom)): Path<(Uuid, Uuid)>,
    Json(update): Json<ParticipantUpdate>,
) -> Result<Json<SessionView>, ApiError> {
    let now = Utc::now();
    let session = load_to_run(&state, &caller, id, now).await?;
    if classroom == session.main_classroom_id || !session.takes_part(classroom) {
        return Err(ApiError::NotFound);
    }
    interactive::set_muted(&state.db, id, classroom, update.muted).await?;
    if session.state == SessionState::Live
        && let Some(webrtc) = &state.webrtc
    {
        webrtc.mute(classroom, update.muted).await;
    }
    let session = load(&state, &caller, id, now).await?;
    Ok(Json(
        view(&state, &caller, session, Detail::Full, now).await?,
    ))
}

#[utoipa::path(post, path = "/api/interactive/{id}/classrooms/{participant}/whip", params(("id" = Uuid, Path), ("participant" = Uuid, Path)), request_body(content = String, content_type = "application/sdp"), responses((status = 201, description = "SDP answer; Location: the session to DELETE"), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
/// A participant's camera and microphone, as WHIP: 201 with the answer and
/// `/whip/sessions/{id}` to DELETE, as for a stream-key publisher.
async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, classroom)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !content_type_is(&headers, "application/sdp") {
        return Err(ApiError::UnsupportedMediaType);
    }
    // As on /whep and /whip: an offer is a few kilobytes.
    if body.len() > super::whep::MAX_SDP_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let session = load(&state, &caller, id, Utc::now()).await?;
    let Some(participant) = session
        .participants
        .iter()
        .find(|p| p.classroom_id == classroom)
    else {
        return Err(ApiError::NotFound);
    };
    caller.require(policy::can_take_part(
        &caller.principal,
        &facts_of(participant.school_id),
    ))?;
    if session.state != SessionState::Live {
        return Err(ApiError::Conflict("session_not_live"));
    }
    let webrtc = state.webrtc.as_ref().ok_or(ApiError::WebRtcOff)?;
    let sdp = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadOffer(offer::OfferError::NotSdp.to_string()))?;
    let facts = offer::inspect(sdp).map_err(|e| ApiError::BadOffer(e.to_string()))?;
    offer::check(&facts, &offer::Want::Best).map_err(|e| ApiError::Unplayable(e.to_string()))?;
    let (source, created) = sources::session_key(&state.db, classroom).await?;
    if created {
        // A classroom that joins from a browser needs no setup by its IT
        // office; the source it gets is theirs to see and turn off.
        state.live.sync(classroom).await;
        caller
            .audit(
                &state,
                "source_created",
                Some(("source", source.id.to_string())),
                serde_json::json!({"classroom": classroom, "kind": source.kind, "name": source.name}),
            )
            .await;
    }
    let key = source
        .stream_key
        .ok_or_else(|| ApiError::Internal("a WHIP source has no key".into()))?;
    webrtc.mute(classroom, participant.muted).await;
    let admitted = state
        .ingest
        .publish(&key, Protocol::Whip, WHIP_CAPS)
        .await
        .map_err(ApiError::PublishRefused)?;
    let joined = webrtc
        .publish(sdp.to_string(), admitted)
        .await
        .map_err(|e| match e {
            JoinError::Full => ApiError::Busy(30),
            JoinError::Offer(e) => ApiError::BadOffer(e),
            _ => ApiError::WebRtcOff,
        })?;
    tracing::info!(%classroom, session = %id, "interactive session: classroom publishing");
    Ok(super::whep::created(
        format!("/whip/sessions/{}", joined.session),
        &joined,
        &webrtc.ice_servers,
    ))
}
