//! Interactive sessions as the hub lives them: every few seconds the
//! catalogue's word on which classrooms are muted replaces the hub's, and
//! sessions nobody ended are ended once their overrun is over. The teacher's
//! buttons act on the local hub at once; this loop is what makes a mute set
//! through another node, a hub restarted mid-session and a forgotten
//! session come right without anyone pressing anything.

use std::time::Duration;

use sqlx::PgPool;

use super::WebRtc;
use crate::catalog::interactive;

/// How often the catalogue is read: a mute through another node takes
/// effect here within this.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(2);

pub async fn follow(db: PgPool, webrtc: WebRtc, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = chrono::Utc::now();
        match interactive::end_overrun(&db, now).await {
            Ok(ended) => {
                for session in ended {
                    tracing::info!(%session, "interactive session over: its slot and overrun passed");
                }
            }
            // The database is away: the hub keeps the mutes it has.
            Err(e) => tracing::debug!("interactive sessions: {e}"),
        }
        match interactive::muted_classrooms(&db, now).await {
            Ok(muted) => webrtc.set_muted(muted.into_iter().collect()).await,
            Err(e) => tracing::debug!("interactive sessions: {e}"),
        }
    }
}
