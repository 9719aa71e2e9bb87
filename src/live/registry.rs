//! The registry task: one classroom task per catalogued classroom, kept in
//! step with the catalogue, and the ingest gate's answering side.
//!
//! It holds the classrooms, sources and stream keys as last loaded, so a
//! publisher is let in (or refused) without asking the database: a lesson
//! starts while PostgreSQL restarts. The snapshot is kept current by the
//! HTTP handlers' `Live::sync` after each change and by a reload every
//! few seconds (changes made on another node), each stamped with when its
//! load began, so an older load never undoes a newer one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use uuid::Uuid;

use super::LiveContext;
use super::classroom::{self, ClassroomCmd, ClassroomHandle};
use crate::catalog::classrooms::Classroom;
use crate::catalog::sources::{Source, SourceKind};
use crate::catalog::{self, CatalogError};
use crate::ingest::gate::{Protocol, PublishRequest, Refusal};

/// How often the whole catalogue is reloaded.
const RELOAD_EVERY: Duration = Duration::from_secs(10);

pub type Snapshot = Vec<(Classroom, Vec<Source>)>;

pub enum RegistryCmd {
    /// One classroom as just loaded (None: it is gone).
    Apply {
        classroom_id: Uuid,
        found: Option<Box<(Classroom, Vec<Source>)>>,
        loaded_at: Instant,
        done: oneshot::Sender<()>,
    },
    /// Every classroom, as loaded starting at `loaded_at`.
    Reloaded {
        snapshot: Snapshot,
        loaded_at: Instant,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

pub async fn load(db: &PgPool) -> Result<Snapshot, CatalogError> {
    let classrooms = catalog::classrooms::list(db).await?;
    let mut sources: HashMap<Uuid, Vec<Source>> = HashMap::new();
    for source in catalog::sources::list_all(db).await? {
        sources.entry(source.classroom_id).or_default().push(source);
    }
    Ok(classrooms
        .into_iter()
        .map(|c| {
            let s = sources.remove(&c.id).unwrap_or_default();
            (c, s)
        })
        .collect())
}

struct Entry {
    handle: ClassroomHandle,
    classroom: Classroom,
    sources: Vec<Source>,
    loaded_at: Instant,
}

struct Registry {
    ctx: LiveContext,
    rooms: HashMap<Uuid, Entry>,
    /// Stream key → source, for every classroom.
    keys: HashMap<String, Source>,
    published: watch::Sender<Arc<HashMap<Uuid, ClassroomHandle>>>,
    shutting_down: bool,
}

pub fn start(
    ctx: LiveContext,
    snapshot: Snapshot,
    mut requests: mpsc::Receiver<PublishRequest>,
) -> (
    mpsc::Sender<RegistryCmd>,
    watch::Receiver<Arc<HashMap<Uuid, ClassroomHandle>>>,
) {
    let (tx, mut cmds) = mpsc::channel::<RegistryCmd>(64);
    let (published, rooms) = watch::channel(Arc::new(HashMap::new()));
    let mut registry = Registry {
        ctx: ctx.clone(),
        rooms: HashMap::new(),
        keys: HashMap::new(),
        published,
        shutting_down: false,
    };
    registry.reloaded(snapshot, Instant::now());
    tokio::spawn(reloader(ctx.db.clone(), tx.downgrade()));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => registry.command(cmd),
                    None => break,
                },
                Some(request) = requests.recv() => registry.publish(request),
            }
        }
    });
    (tx, rooms)
}

/// Reloads the catalogue every few seconds; a failure (database down)
/// leaves the registry as it was.
async fn reloader(db: PgPool, registry: mpsc::WeakSender<RegistryCmd>) {
    let mut every = tokio::time::interval(RELOAD_EVERY);
    every.tick().await; // the first tick is immediate; start() just loaded
    let mut failing = false;
    loop {
        every.tick().await;
        let loaded_at = Instant::now();
        match load(&db).await {
            Ok(snapshot) => {
                if failing {
                    tracing::info!("catalogue reachable again");
                    failing = false;
                }
                let Some(tx) = registry.upgrade() else { return };
                if tx
                    .send(RegistryCmd::Reloaded {
                        snapshot,
                        loaded_at,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(
                        "cannot reload the catalogue ({e}); classrooms keep their last settings"
                    );
                    failing = true;
                }
                if registry.upgrade().is_none() {
                    return;
                }
            }
        }
    }
}

impl Registry {
    fn command(&mut self, cmd: RegistryCmd) {
        match cmd {
            RegistryCmd::Apply {
                classroom_id,
                found,
                loaded_at,
                done,
            } => {
                match found {
                    Some(found) => {
                        let (classroom, sources) = *found;
                        self.apply(classroom, sources, loaded_at);
                    }
                    None => self.remove(classroom_id, loaded_at),
                }
                self.publish_rooms();
                let _ = done.send(());
            }
            RegistryCmd::Reloaded {
                snapshot,
                loaded_at,
            } => {
                self.reloaded(snapshot, loaded_at);
            }
            RegistryCmd::Shutdown { done } => {
                self.shutting_down = true;
                let rooms: Vec<Entry> = self.rooms.drain().map(|(_, e)| e).collect();
                self.keys.clear();
                self.publish_rooms();
                tokio::spawn(async move {
                    let stops = rooms.into_iter().map(|e| stop(e.handle));
                    futures::future::join_all(stops).await;
                    let _ = done.send(());
                });
            }
        }
    }

    fn reloaded(&mut self, snapshot: Snapshot, loaded_at: Instant) {
        let present: Vec<Uuid> = snapshot.iter().map(|(c, _)| c.id).collect();
        let gone: Vec<Uuid> = self
            .rooms
            .keys()
            .filter(|id| !present.contains(id))
            .copied()
            .collect();
        for id in gone {
            self.remove(id, loaded_at);
        }
        for (classroom, sources) in snapshot {
            self.apply(classroom, sources, loaded_at);
        }
        self.publish_rooms();
    }

    fn apply(&mut self, classroom: Classroom, sources: Vec<Source>, loaded_at: Instant) {
        if self.shutting_down {
            return;
        }
        let id = classroom.id;
        match self.rooms.get_mut(&id) {
            Some(entry) if entry.loaded_at > loaded_at => return, // older news
            Some(entry) => {
                entry.loaded_at = loaded_at;
                if entry.classroom != classroom || entry.sources != sources {
                    entry.classroom = classroom.clone();
                    entry.sources = sources.clone();
                    let cmd = ClassroomCmd::Reload {
                        classroom: Box::new(classroom),
                        sources: sources.clone(),
                    };
                    send_later(&entry.handle, cmd);
                }
            }
            None => {
                let handle = classroom::spawn(self.ctx.clone(), classroom.clone(), sources.clone());
                self.rooms.insert(
                    id,
                    Entry {
                        handle,
                        classroom,
                        sources: sources.clone(),
                        loaded_at,
                    },
                );
            }
        }
        self.keys.retain(|_, s| s.classroom_id != id);
        for source in sources {
            if let Some(key) = source.stream_key.clone() {
                self.keys.insert(key, source);
            }
        }
    }

    fn remove(&mut self, id: Uuid, loaded_at: Instant) {
        if self.rooms.get(&id).is_some_and(|e| e.loaded_at > loaded_at) {
            return;
        }
        self.keys.retain(|_, s| s.classroom_id != id);
        if let Some(entry) = self.rooms.remove(&id) {
            // Its lesson ends on its own time, not the registry's.
            tokio::spawn(stop(entry.handle));
        }
    }

    fn publish_rooms(&self) {
        let rooms = self
            .rooms
            .iter()
            .map(|(id, e)| (*id, e.handle.clone()))
            .collect();
        self.published.send_replace(Arc::new(rooms));
    }

    /// The gate's question, answered from memory.
    fn publish(&mut self, request: PublishRequest) {
        let answer = (|| {
            let source = self
                .keys
                .get(&request.stream_key)
                .ok_or(Refusal::UnknownKey)?;
            if !source.enabled {
                return Err(Refusal::Disabled);
            }
            let accepts = matches!(
                (source.kind, request.protocol),
                (SourceKind::Rtmp, Protocol::Rtmp)
                    | (SourceKind::Srt, Protocol::Srt)
                    | (SourceKind::Whip, Protocol::Whip)
            );
            if !accepts {
                return Err(Refusal::WrongProtocol(request.protocol));
            }
            let room = self
                .rooms
                .get(&source.classroom_id)
                .ok_or(Refusal::Unavailable)?;
            Ok((room.handle.clone(), source.id))
        })();
        match answer {
            Err(refusal) => {
                let _ = request.reply.send(Err(refusal));
            }
            Ok((handle, source_id)) => {
                let cmd = ClassroomCmd::AttachPush {
                    source_id,
                    caps: request.caps,
                    reply: request.reply,
                };
                // The classroom answers the publisher itself.
                send_later(&handle, cmd);
            }
        }
    }
}

/// Delivers a command without the registry waiting for room.
fn send_later(handle: &ClassroomHandle, cmd: ClassroomCmd) {
    match handle.tx.try_send(cmd) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(cmd)) => {
            let tx = handle.tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(cmd).await;
            });
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}

/// Ends a classroom's lesson and waits until its outputs have finished.
async fn stop(handle: ClassroomHandle) {
    let (done, stopped) = oneshot::channel();
    if handle
        .tx
        .send(ClassroomCmd::Shutdown { done })
        .await
        .is_ok()
    {
        let _ = stopped.await;
    }
}
