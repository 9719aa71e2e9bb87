//! Playback URLs: a master playlist URL carrying a signed token, for
//! players that cannot send the session cookie. Tokens are short-lived;
//! players ask again (this same route) before `expires_at`, and at once
//! when a media request answers `playback_token_*`.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiError;
use super::extract::Caller;
use crate::auth::playback::{Grant, Scope};
use crate::catalog::accounts::revocations;

#[derive(Serialize, ToSchema)]
pub struct PlaybackUrl {
    /// Master playlist URL carrying `token`.
    pub url: String,
    /// The playback token alone, to put on other URLs of the same scope
    /// (`?token=`). Empty when sign-in is off.
    pub token: String,
    /// Refresh before this; the server refuses the token from then on.
    pub expires_at: DateTime<Utc>,
}

/// A tokened URL for `scope`, whose access the caller already passed. A
/// live token is bound to the lesson live now (none while idle: ask again
/// once the classroom is live).
pub async fn playback_url(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
) -> Result<PlaybackUrl, ApiError> {
    let ttl = state.config.playback_ttl_seconds();
    let expires_at = Utc::now() + Duration::seconds(ttl);
    let path = match scope {
        Scope::Live(id) => format!("/live/{id}/index.m3u8"),
        Scope::Recording(id) => format!("/vod/{id}/index.m3u8"),
    };
    if !state.config.auth.enabled {
        return Ok(PlaybackUrl {
            url: path,
            token: String::new(),
            expires_at,
        });
    }
    let viewer = caller.principal.user_id;
    // Epochs come from the database, not this node's copy: a token issued
    // here must not predate a revocation this node has not heard of yet.
    let epochs = revocations::epochs(&state.db, &[viewer, scope.id()]).await?;
    // The lesson this node shows; else the one another node runs.
    let lesson = match scope {
        Scope::Live(id) => {
            let here = state
                .live
                .room(id)
                .and_then(|room| room.status.borrow().session_id);
            match here {
                Some(lesson) => Some(lesson),
                None => crate::catalog::classrooms::open_lesson(&state.db, id).await?,
            }
        }
        Scope::Recording(_) => None,
    };
    let token = state.playback.sign(&Grant {
        scope,
        lesson,
        viewer,
        viewer_epoch: epochs[0],
        scope_epoch: epochs[1],
        expires: expires_at.timestamp(),
    });
    Ok(PlaybackUrl {
        url: format!("{path}?token={token}"),
        token,
        expires_at,
    })
}
