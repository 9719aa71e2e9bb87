//! Live classrooms: the registry that runs one classroom task per
//! classroom and answers the ingest gate, and the handle the rest of the
//! server uses.
//!
//! The registry publishes its map of classroom handles through `watch`, so
//! HTTP handlers find a classroom's status and live output without a round
//! trip. It never waits on a classroom or on the database: catalogue reads
//! happen in the caller's task (or a loader task), classroom shutdowns run
//! as tasks of their own.

pub mod classroom;
mod registry;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::catalog::ledger::Ledger;
use crate::catalog::{self, CatalogError};
use crate::config::Config;
use crate::ingest::gate::PublishRequest;
use classroom::{ClassroomCmd, ClassroomHandle};
use registry::RegistryCmd;

/// How long shutdown waits for the catalogue rows of the last lessons
/// once the database is unreachable.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

/// What every classroom task needs from the server.
#[derive(Clone)]
pub struct LiveContext {
    pub db: PgPool,
    pub config: Arc<Config>,
    /// Names this process in `live_sessions.node`.
    pub node: String,
    /// Where lessons' catalogue rows go, database or not.
    pub ledger: Ledger,
    /// The WebRTC fan-out's intake; None when WebRTC is off (some tests).
    pub rtp: Option<crate::transcode::rtp::RtpIntake>,
}

/// Cheap to clone; part of `AppState`.
#[derive(Clone)]
pub struct Live {
    tx: mpsc::Sender<RegistryCmd>,
    rooms: watch::Receiver<Arc<HashMap<Uuid, ClassroomHandle>>>,
    db: PgPool,
    ledger: Ledger,
}

impl Live {
    /// Loads the catalogue, starts one task per classroom, and answers
    /// the gate's publish requests from then on.
    pub async fn start(
        ctx: LiveContext,
        requests: mpsc::Receiver<PublishRequest>,
    ) -> Result<Self, CatalogError> {
        let snapshot = registry::load(&ctx.db).await?;
        let (tx, rooms) = registry::start(ctx.clone(), snapshot, requests);
        Ok(Self {
            tx,
            rooms,
            db: ctx.db,
            ledger: ctx.ledger,
        })
    }

    pub fn room(&self, id: Uuid) -> Option<ClassroomHandle> {
        self.rooms.borrow().get(&id).cloned()
    }

    /// Call after a classroom or its sources changed in the catalogue. The
    /// rows are read here, in the caller's task; the registry only applies
    /// them, so this returns as soon as it has (stream keys included).
    pub async fn sync(&self, classroom_id: Uuid) {
        let loaded_at = tokio::time::Instant::now();
        let found = match catalog::classrooms::get(&self.db, classroom_id).await {
            Ok(classroom) => {
                match catalog::sources::list_for_classroom(&self.db, classroom_id).await {
                    Ok(sources) => Some((classroom, sources)),
                    Err(e) => {
                        tracing::error!(classroom = %classroom_id, "cannot reload sources: {e}");
                        return;
                    }
                }
            }
            Err(CatalogError::NotFound) => None,
            Err(e) => {
                tracing::error!(classroom = %classroom_id, "cannot reload classroom: {e}");
                return;
            }
        };
        let (done, applied) = oneshot::channel();
        let cmd = RegistryCmd::Apply {
            classroom_id,
            found: found.map(Box::new),
            loaded_at,
            done,
        };
        if self.tx.send(cmd).await.is_ok() {
            let _ = applied.await;
        }
    }

    /// Drops the feed of a source whose key was rotated or that was
    /// removed. The registry learns the new keys first, so the old key is
    /// refused before the encoder can reconnect with it.
    pub async fn detach(&self, classroom_id: Uuid, source_id: Uuid) {
        self.sync(classroom_id).await;
        if let Some(room) = self.room(classroom_id) {
            let _ = room.tx.send(ClassroomCmd::Detach { source_id }).await;
        }
    }

    /// Ends every lesson cleanly (recordings finalised, catalogue rows
    /// written if the database lets them), then returns.
    pub async fn shutdown(&self) {
        let (done, stopped) = oneshot::channel();
        if self.tx.send(RegistryCmd::Shutdown { done }).await.is_ok() {
            let _ = stopped.await;
        }
        if !self.ledger.flush(SHUTDOWN_FLUSH).await {
            tracing::warn!(
                "the database did not take the last lessons' rows; recovery adds them at the next start"
            );
        }
    }
}
