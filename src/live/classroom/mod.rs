//! One live classroom: a task that owns everything that changes while a
//! lesson runs (the camera's ingest, the slate, their ladders, the lesson
//! and its outputs). Others talk to it by message and read what it
//! publishes (status and live output) through `watch`.
//!
//! - `supervisor`: the decisions, pure (events and `now` in, actions out);
//! - `task`: the loop that feeds the supervisor and performs its actions;
//! - `incarnation`: one ingest + ladder pair and the frames through it;
//! - `lesson`: a lesson's ids, segment numbering and list of outputs;
//! - `outputs`: live HLS and the recorder, behind one small interface;
//! - `status`: what the API and the live wall are told.

mod incarnation;
mod lesson;
pub mod outputs;
mod status;
pub mod supervisor;
mod task;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use utoipa::ToSchema;
use uuid::Uuid;

use super::LiveContext;
use crate::catalog::classrooms::Classroom;
use crate::catalog::sources::Source;
use crate::hls::playlist::Variant;
use crate::hls::{LiveOutput, SharedOutput};
use crate::ingest::gate::{Admitted, Refusal};

/// Size of the demo pattern and of slates when no camera was ever seen.
pub const DEFAULT_WIDTH: u32 = 1280;
pub const DEFAULT_HEIGHT: u32 = 720;
pub const DEFAULT_FPS: u32 = 25;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    /// No lesson; waiting for a feed.
    Idle,
    /// A lesson is live and the camera delivers.
    Live,
    /// A lesson is live but the camera is gone; viewers see the slate.
    SignalLost,
}

/// What the API and the live wall show about a classroom.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ClassroomStatus {
    pub state: LiveState,
    pub session_id: Option<Uuid>,
    pub recording_id: Option<Uuid>,
    pub live_since: Option<DateTime<Utc>>,
    pub source_id: Option<Uuid>,
    /// Why the feed is not delivering (message code from the UI catalogue, and detail).
    pub problem: Option<String>,
    pub ingest_kbps: u64,
    pub fps: f64,
    /// Live viewers: clients that fetched a playlist in the last few seconds.
    pub viewers: usize,
    #[schema(value_type = Vec<Object>)]
    pub renditions: Vec<Variant>,
    /// The machine cannot keep up: transcoded renditions are dropping
    /// frames to stay live (the camera's own rendition and the recording of
    /// it are untouched).
    pub shedding: bool,
}

impl Default for ClassroomStatus {
    fn default() -> Self {
        Self {
            state: LiveState::Idle,
            session_id: None,
            recording_id: None,
            live_since: None,
            source_id: None,
            problem: None,
            ingest_kbps: 0,
            fps: 0.0,
            viewers: 0,
            renditions: Vec::new(),
            shedding: false,
        }
    }
}

pub enum ClassroomCmd {
    Reload {
        classroom: Box<Classroom>,
        sources: Vec<Source>,
    },
    /// An encoder was let in by the gate: attach its feed, or refuse it.
    AttachPush {
        source_id: Uuid,
        caps: &'static str,
        reply: oneshot::Sender<Result<Admitted, Refusal>>,
    },
    /// The source's key was rotated or it was removed: drop its feed.
    Detach { source_id: Uuid },
    /// End the lesson cleanly; `done` once its outputs have finished.
    Shutdown { done: oneshot::Sender<()> },
}

#[derive(Clone)]
pub struct ClassroomHandle {
    pub tx: mpsc::Sender<ClassroomCmd>,
    /// Viewer sightings (opaque keys, see `hls::viewers`) on a channel of
    /// their own, so a crowd of players never delays a command.
    viewers: mpsc::Sender<u64>,
    pub status: watch::Receiver<ClassroomStatus>,
    pub output: watch::Receiver<SharedOutput>,
}

impl ClassroomHandle {
    /// A player fetched a live media playlist. Best effort: a busy
    /// classroom may miss a sighting, never the stream.
    pub fn note_viewer(&self, viewer: u64) {
        if self.viewers.try_send(viewer).is_err() {
            metrics::counter!("classcast_channel_dropped_total", "channel" => "viewers")
                .increment(1);
        }
    }
}

pub fn spawn(ctx: LiveContext, classroom: Classroom, sources: Vec<Source>) -> ClassroomHandle {
    let (tx, cmds) = mpsc::channel(32);
    let (viewers_tx, viewers) = mpsc::channel(256);
    let (status_tx, status) = watch::channel(ClassroomStatus::default());
    let (output_tx, output) = watch::channel(Arc::new(LiveOutput::default()));
    let id = classroom.id;
    let task =
        task::ClassroomTask::new(ctx, classroom, sources, cmds, viewers, status_tx, output_tx);
    tokio::spawn(tracing::Instrument::instrument(
        task.run(),
        tracing::info_span!("classroom", classroom = %id),
    ));
    ClassroomHandle {
        tx,
        viewers: viewers_tx,
        status,
        output,
    }
}
