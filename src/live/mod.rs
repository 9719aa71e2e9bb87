//! Live classrooms: the registry task that starts, reloads and stops one
//! classroom task per classroom, and the handle the rest of the server uses.
//!
//! The registry publishes its map of classroom handles through `watch`, so
//! HTTP handlers find a classroom's live output without a round trip.

pub mod classroom;

use std::collections::HashMap;
use std::sync::Arc;

use gstreamer_app as gst_app;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::catalog::{self, CatalogError};
use crate::config::Config;
use classroom::{AttachError, ClassroomCmd, ClassroomHandle};

/// What every classroom task needs from the server.
#[derive(Clone)]
pub struct LiveContext {
    pub db: PgPool,
    pub config: Arc<Config>,
    /// Names this process in `live_sessions.node`.
    pub node: String,
}

enum RegistryCmd {
    Sync {
        classroom_id: Uuid,
        done: oneshot::Sender<()>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// Cheap to clone; part of `AppState`.
#[derive(Clone)]
pub struct Live {
    tx: mpsc::Sender<RegistryCmd>,
    rooms: watch::Receiver<Arc<HashMap<Uuid, ClassroomHandle>>>,
    db: PgPool,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("unknown stream key")]
    UnknownKey,
    #[error("source is disabled")]
    Disabled,
    #[error("source kind does not accept {0}")]
    WrongProtocol(&'static str),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl Live {
    /// Starts the registry and one task per catalogued classroom.
    pub async fn start(ctx: LiveContext) -> Result<Self, CatalogError> {
        let (tx, mut rx) = mpsc::channel::<RegistryCmd>(64);
        let (rooms_tx, rooms) = watch::channel(Arc::new(HashMap::new()));
        let db = ctx.db.clone();
        let mut registry: HashMap<Uuid, ClassroomHandle> = HashMap::new();
        for classroom in catalog::classrooms::list(&ctx.db).await? {
            let sources = catalog::sources::list_for_classroom(&ctx.db, classroom.id).await?;
            registry.insert(
                classroom.id,
                classroom::spawn(ctx.clone(), classroom, sources),
            );
        }
        rooms_tx.send_replace(Arc::new(registry.clone()));
        tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                match cmd {
                    RegistryCmd::Sync { classroom_id, done } => {
                        sync(&ctx, &mut registry, classroom_id).await;
                        rooms_tx.send_replace(Arc::new(registry.clone()));
                        let _ = done.send(());
                    }
                    RegistryCmd::Shutdown { done } => {
                        let mut waits = Vec::new();
                        for (_, room) in registry.drain() {
                            let (done, wait) = oneshot::channel();
                            if room.tx.send(ClassroomCmd::Shutdown { done }).await.is_ok() {
                                waits.push(wait);
                            }
                        }
                        for wait in waits {
                            let _ = wait.await;
                        }
                        rooms_tx.send_replace(Arc::new(HashMap::new()));
                        let _ = done.send(());
                        break;
                    }
                }
            }
        });
        Ok(Self { tx, rooms, db })
    }

    pub fn room(&self, id: Uuid) -> Option<ClassroomHandle> {
        self.rooms.borrow().get(&id).cloned()
    }

    /// Call after a classroom or its sources changed in the catalogue.
    pub async fn sync(&self, classroom_id: Uuid) {
        let (done, wait) = oneshot::channel();
        if self
            .tx
            .send(RegistryCmd::Sync { classroom_id, done })
            .await
            .is_ok()
        {
            let _ = wait.await;
        }
    }

    pub async fn detach(&self, classroom_id: Uuid, source_id: Uuid) {
        if let Some(room) = self.room(classroom_id) {
            let _ = room.tx.send(ClassroomCmd::Detach { source_id }).await;
        }
    }

    /// Finds the source behind a stream key and attaches a pushed feed to its
    /// classroom; the returned appsrc takes the feed's bytes.
    pub async fn publish(
        &self,
        stream_key: &str,
        protocol: crate::catalog::sources::SourceKind,
        caps: &'static str,
    ) -> Result<(Uuid, gst_app::AppSrc), PublishError> {
        let source = catalog::sources::find_by_stream_key(&self.db, stream_key)
            .await?
            .ok_or(PublishError::UnknownKey)?;
        if !source.enabled {
            return Err(PublishError::Disabled);
        }
        if source.kind != protocol {
            return Err(PublishError::WrongProtocol(match protocol {
                catalog::sources::SourceKind::Rtmp => "rtmp",
                _ => "srt",
            }));
        }
        let room = self.room(source.classroom_id).ok_or(AttachError::Gone)?;
        let (reply, wait) = oneshot::channel();
        room.tx
            .send(ClassroomCmd::AttachPush {
                source_id: source.id,
                caps,
                reply,
            })
            .await
            .map_err(|_| AttachError::Gone)?;
        let input = wait.await.map_err(|_| AttachError::Gone)??;
        Ok((source.classroom_id, input))
    }

    /// Ends every lesson cleanly (recordings finalised), then returns.
    pub async fn shutdown(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(RegistryCmd::Shutdown { done }).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn sync(ctx: &LiveContext, registry: &mut HashMap<Uuid, ClassroomHandle>, id: Uuid) {
    let classroom = match catalog::classrooms::get(&ctx.db, id).await {
        Ok(classroom) => classroom,
        Err(CatalogError::NotFound) => {
            if let Some(room) = registry.remove(&id) {
                let (done, wait) = oneshot::channel();
                if room.tx.send(ClassroomCmd::Shutdown { done }).await.is_ok() {
                    let _ = wait.await;
                }
            }
            return;
        }
        Err(e) => {
            tracing::error!(classroom = %id, "cannot reload classroom: {e}");
            return;
        }
    };
    let sources = match catalog::sources::list_for_classroom(&ctx.db, id).await {
        Ok(sources) => sources,
        Err(e) => {
            tracing::error!(classroom = %id, "cannot reload sources: {e}");
            return;
        }
    };
    match registry.get(&id) {
        Some(room) => {
            let _ = room
                .tx
                .send(ClassroomCmd::Reload { classroom, sources })
                .await;
        }
        None => {
            registry.insert(id, classroom::spawn(ctx.clone(), classroom, sources));
        }
    }
}
