//! Playback URLs: a master playlist URL carrying a signed token, for
//! players that cannot send the session cookie.

use chrono::{Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::extract::Caller;

#[derive(Serialize, ToSchema)]
pub struct PlaybackUrl {
    /// Master playlist URL carrying a playback token for this viewer.
    pub url: String,
    pub expires_at: chrono::DateTime<Utc>,
}

/// A tokened URL for `scope` (whose access the caller already passed).
pub fn playback_url(
    state: &AppState,
    caller: &Caller,
    scope: crate::auth::playback::Scope,
) -> PlaybackUrl {
    use crate::auth::playback::Scope;
    let ttl = state.config.auth.playback_ttl_seconds.max(1);
    let expires_at = Utc::now() + Duration::seconds(ttl);
    let path = match scope {
        Scope::Live(id) => format!("/live/{id}/index.m3u8"),
        Scope::Recording(id) => format!("/vod/{id}/index.m3u8"),
    };
    let url = if state.config.auth.enabled {
        let token = state
            .playback
            .sign(scope, caller.principal.user_id, expires_at.timestamp());
        format!("{path}?token={token}")
    } else {
        path
    };
    PlaybackUrl { url, expires_at }
}
