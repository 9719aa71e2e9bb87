//! One live classroom as a task. It owns everything that changes while a
//! lesson runs: the camera's ingest, the slate, their ladders, the live HLS
//! tracks, the lesson's rows and its recorder. Others talk to it by message
//! and read what it publishes (status and live output) through `watch`.
//!
//! An *incarnation* is one ingest + ladder pair: a camera connection, or a
//! stretch of "signal lost" slate. A lesson spans incarnations; each new one
//! starts a discontinuity in the playlists, so viewers and the recording go
//! on through camera drops.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gstreamer as gst;
use gstreamer_app as gst_app;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{info, warn};
use utoipa::ToSchema;
use uuid::Uuid;

use super::LiveContext;
use crate::catalog::classrooms::Classroom;
use crate::catalog::recordings::RecordingStatus;
use crate::catalog::sources::{Source, SourceKind};
use crate::hls::playlist::{SegmentEntry, Variant, render_master};
use crate::hls::viewers::{DEFAULT_VIEWER_TIMEOUT, Viewers};
use crate::hls::{LiveOutput, LiveTrack, SharedOutput};
use crate::ingest::pipeline::{IngestPipeline, IngestSpec};
use crate::media::{Frame, MediaEvent, MediaMsg};
use crate::recording::{self, RecorderHandle, RecorderMsg};
use crate::transcode::audio_gaps::{AudioAction, AudioGaps};
use crate::transcode::plan::{self, RenditionPlan, VideoFormat};
use crate::transcode::{Ladder, LadderSettings};

mod feed;
mod output;

use feed::push_audio_action;

/// A camera that connects but sends no video for this long has failed.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// A finishing ladder gets this long to flush its last fragment.
const RETIRE_TIMEOUT: Duration = Duration::from_secs(5);
const TICK: Duration = Duration::from_millis(250);
/// A fragment this short flushed at the end holds only trailing audio.
const TAIL_FRAGMENT_MIN: gst::ClockTime = gst::ClockTime::from_mseconds(200);
const AUDIO_RATE: u64 = 48_000;
const AUDIO_BYTES_PER_FRAME: u64 = 4; // S16LE stereo
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
#[derive(Debug, Clone, Serialize, ToSchema)]
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
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("another feed is already live in this classroom")]
    Busy,
    #[error("cannot start ingest: {0}")]
    Pipeline(String),
    #[error("classroom is shutting down")]
    Gone,
}

pub enum ClassroomCmd {
    Reload {
        classroom: Classroom,
        sources: Vec<Source>,
    },
    AttachPush {
        source_id: Uuid,
        caps: &'static str,
        reply: oneshot::Sender<Result<gst_app::AppSrc, AttachError>>,
    },
    /// The source's key was rotated or it was removed: drop its feed.
    Detach {
        source_id: Uuid,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
    /// A viewer fetched a live media playlist (opaque key, see `hls::viewers`).
    ViewerSeen {
        viewer: u64,
    },
}

#[derive(Clone)]
pub struct ClassroomHandle {
    pub tx: mpsc::Sender<ClassroomCmd>,
    pub status: watch::Receiver<ClassroomStatus>,
    pub output: watch::Receiver<SharedOutput>,
}

struct Incarnation {
    id: u64,
    slate: bool,
    source_id: Option<Uuid>,
    ingest: Option<IngestPipeline>,
    ladder: Option<Ladder>,
    renditions: Vec<RenditionPlan>,
    format: Option<VideoFormat>,
    /// Ingest running time of the first keyframe: 0 on the ladder's timeline.
    origin: Option<gst::ClockTime>,
    wall_origin: DateTime<Utc>,
    audio: AudioGaps,
    started: Instant,
    last_video: Instant,
    video_end: u64,
    audio_seen: bool,
    unsupported: Option<String>,
    /// Renditions that already produced a segment (the first one is a discontinuity).
    produced: Vec<bool>,
    retiring_since: Option<Instant>,
    /// The newest video frame, pushed once the next one arrives. A feed that
    /// ends mid-frame (an SRT caller hanging up mid-PES) leaves its last
    /// frame truncated; holding one frame back keeps it out of the lesson.
    held_video: Option<gst::Buffer>,
}

struct Lesson {
    session_id: Uuid,
    started_at: DateTime<Utc>,
    recorder: Option<RecorderHandle>,
    tracks: BTreeMap<String, LiveTrack>,
    thumbnail: Option<bytes::Bytes>,
    lost_since: Option<Instant>,
}

struct Stats {
    since: Instant,
    bytes: u64,
    frames: u64,
}

pub struct ClassroomTask {
    ctx: LiveContext,
    classroom: Classroom,
    sources: Vec<Source>,
    cmds: mpsc::Receiver<ClassroomCmd>,
    media_tx: mpsc::Sender<MediaMsg>,
    media_rx: mpsc::Receiver<MediaMsg>,
    status_tx: watch::Sender<ClassroomStatus>,
    output_tx: watch::Sender<SharedOutput>,
    next_incarnation: u64,
    camera: Option<Incarnation>,
    slate: Option<Incarnation>,
    retiring: Vec<Incarnation>,
    lesson: Option<Lesson>,
    retry_at: Option<Instant>,
    backoff: Duration,
    last_format: Option<VideoFormat>,
    /// The last camera's renditions: a slate replaces them name for name,
    /// so a player on `360p/index.m3u8` keeps playing through a drop.
    last_plan: Option<Vec<RenditionPlan>>,
    problem: Option<String>,
    stats: Stats,
    viewers: Viewers,
}

pub fn spawn(ctx: LiveContext, classroom: Classroom, sources: Vec<Source>) -> ClassroomHandle {
    let (tx, cmds) = mpsc::channel(32);
    // Room for a few seconds of frames and fragments if the task is busy with the database.
    let (media_tx, media_rx) = mpsc::channel(2048);
    let (status_tx, status) = watch::channel(ClassroomStatus::default());
    let (output_tx, output) = watch::channel(Arc::new(LiveOutput::default()));
    let id = classroom.id;
    let task = ClassroomTask {
        ctx,
        classroom,
        sources,
        cmds,
        media_tx,
        media_rx,
        status_tx,
        output_tx,
        next_incarnation: 1,
        camera: None,
        slate: None,
        retiring: Vec::new(),
        lesson: None,
        retry_at: Some(Instant::now()),
        backoff: Duration::from_secs(1),
        last_format: None,
        last_plan: None,
        problem: None,
        viewers: Viewers::new(DEFAULT_VIEWER_TIMEOUT),
        stats: Stats {
            since: Instant::now(),
            bytes: 0,
            frames: 0,
        },
    };
    tokio::spawn(tracing::Instrument::instrument(
        task.run(),
        tracing::info_span!("classroom", classroom = %id),
    ));
    ClassroomHandle { tx, status, output }
}

impl ClassroomTask {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                cmd = self.cmds.recv() => match cmd {
                    Some(ClassroomCmd::Shutdown { done }) => {
                        self.end_lesson("shutdown").await;
                        let _ = done.send(());
                        break;
                    }
                    Some(cmd) => self.command(cmd).await,
                    None => {
                        self.end_lesson("removed").await;
                        break;
                    }
                },
                Some(msg) = self.media_rx.recv() => self.media(msg).await,
                _ = tick.tick() => self.tick(Instant::now()).await,
            }
        }
        info!("classroom task stopped");
    }

    /// The pulled source this classroom runs, if any (IP camera or test pattern).
    fn pulled_source(&self) -> Option<&Source> {
        self.sources
            .iter()
            .find(|s| s.enabled && matches!(s.kind, SourceKind::Rtsp | SourceKind::Test))
    }

    async fn command(&mut self, cmd: ClassroomCmd) {
        match cmd {
            ClassroomCmd::Reload { classroom, sources } => {
                self.classroom = classroom;
                self.sources = sources;
                let camera_source = self.camera.as_ref().and_then(|c| c.source_id);
                let still_valid = camera_source
                    .is_none_or(|id| self.sources.iter().any(|s| s.id == id && s.enabled));
                if !still_valid {
                    self.camera_lost("source_removed", Instant::now()).await;
                }
                if self.camera.is_none() {
                    self.retry_at = Some(Instant::now());
                }
            }
            ClassroomCmd::AttachPush {
                source_id,
                caps,
                reply,
            } => {
                let _ = reply.send(self.attach_push(source_id, caps).await);
            }
            ClassroomCmd::Detach { source_id } => {
                if self.camera.as_ref().and_then(|c| c.source_id) == Some(source_id) {
                    self.camera_lost("publisher_disconnected", Instant::now())
                        .await;
                }
            }
            ClassroomCmd::ViewerSeen { viewer } => self.viewers.seen(viewer, Instant::now()),
            ClassroomCmd::Shutdown { .. } => unreachable!("handled in run"),
        }
    }

    async fn attach_push(
        &mut self,
        source_id: Uuid,
        caps: &'static str,
    ) -> Result<gst_app::AppSrc, AttachError> {
        if let Some(camera) = &self.camera {
            let healthy = camera.last_video.elapsed() < self.ctx.config.signal_timeout();
            if camera.origin.is_some() && healthy {
                return Err(AttachError::Busy);
            }
            self.camera_lost("replaced", Instant::now()).await;
        }
        let incarnation = self
            .start_incarnation(IngestSpec::Pushed { caps }, Some(source_id), false)
            .map_err(AttachError::Pipeline)?;
        let input = incarnation
            .ingest
            .as_ref()
            .and_then(|i| i.input())
            .ok_or_else(|| AttachError::Pipeline("no input".into()))?;
        self.camera = Some(incarnation);
        Ok(input)
    }

    fn start_incarnation(
        &mut self,
        spec: IngestSpec,
        source_id: Option<Uuid>,
        slate: bool,
    ) -> Result<Incarnation, String> {
        let id = self.next_incarnation;
        self.next_incarnation += 1;
        let ingest =
            IngestPipeline::start(&spec, id, self.media_tx.clone()).map_err(|e| e.to_string())?;
        info!(incarnation = id, slate, ?source_id, "ingest started");
        let now = Instant::now();
        Ok(Incarnation {
            id,
            slate,
            source_id,
            ingest: Some(ingest),
            ladder: None,
            renditions: Vec::new(),
            format: None,
            origin: None,
            wall_origin: Utc::now(),
            audio: AudioGaps::new(),
            started: now,
            last_video: now,
            video_end: 0,
            audio_seen: false,
            unsupported: None,
            produced: Vec::new(),
            retiring_since: None,
            held_video: None,
        })
    }

    fn start_pulled(&mut self) {
        let Some(source) = self.pulled_source().cloned() else {
            return;
        };
        let spec = match source.kind {
            SourceKind::Test => IngestSpec::Test {
                title: self.classroom.name.clone(),
                width: DEFAULT_WIDTH,
                height: DEFAULT_HEIGHT,
                fps: DEFAULT_FPS,
            },
            SourceKind::Rtsp => IngestSpec::Rtsp {
                url: source.url.clone().unwrap_or_default(),
                username: source.username.clone(),
                password: source.password.clone(),
            },
            _ => return,
        };
        match self.start_incarnation(spec, Some(source.id), false) {
            Ok(incarnation) => self.camera = Some(incarnation),
            Err(e) => {
                warn!("cannot start source: {e}");
                self.problem = Some(format!("source_failed: {e}"));
                self.schedule_retry(Instant::now());
            }
        }
    }

    fn schedule_retry(&mut self, now: Instant) {
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(self.ctx.config.reconnect_max());
    }

    fn find(&mut self, id: u64) -> Option<&mut Incarnation> {
        if self.camera.as_ref().is_some_and(|c| c.id == id) {
            return self.camera.as_mut();
        }
        if self.slate.as_ref().is_some_and(|c| c.id == id) {
            return self.slate.as_mut();
        }
        self.retiring.iter_mut().find(|c| c.id == id)
    }

    /// The camera's first keyframe: the lesson starts (or resumes after a drop).
    async fn camera_started(&mut self, id: u64) {
        self.backoff = Duration::from_secs(1);
        self.problem = None;
        if let Some(camera) = &self.camera {
            if let Some(format) = &camera.format {
                self.last_format = Some(format.clone());
            }
            self.last_plan = Some(camera.renditions.clone());
        }
        if let Some(slate) = self.slate.take() {
            self.retire(slate);
        }
        match &mut self.lesson {
            Some(lesson) => {
                if lesson.lost_since.take().is_some() {
                    // The recorder closes the gap at the camera's first segment.
                    info!(incarnation = id, "signal restored");
                }
            }
            None => self.start_lesson().await,
        }
        self.publish_status();
    }

    async fn start_lesson(&mut self) {
        let started_at = Utc::now();
        let source_id = self.camera.as_ref().and_then(|c| c.source_id);
        let db = &self.ctx.db;
        let session = match crate::catalog::lessons::start(
            db,
            self.classroom.id,
            source_id,
            started_at,
            &self.ctx.node,
        )
        .await
        {
            Ok(session) => session,
            Err(e) => {
                // The lesson still goes live; only its catalogue row is missing.
                warn!("cannot record the live session: {e}");
                return;
            }
        };
        let mut recorder = None;
        if self.classroom.recording_enabled {
            let id = Uuid::new_v4();
            let rolling = self
                .classroom
                .recording_window_seconds
                .map(|s| Duration::from_secs(s.max(1) as u64));
            let title = format!(
                "{} {}",
                self.classroom.name,
                started_at
                    .with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M")
            );
            match crate::catalog::recordings::start(
                db,
                id,
                self.classroom.id,
                session.id,
                started_at,
                rolling.is_some(),
                &title,
            )
            .await
            {
                Ok(()) => {
                    recorder = Some(recording::start(
                        self.ctx.db.clone(),
                        &self.ctx.config.recordings_dir(),
                        id,
                        rolling,
                        self.ctx.config.segment_duration(),
                    ))
                }
                Err(e) => warn!("cannot start the recording: {e}"),
            }
        }
        info!(session = %session.id, recording = ?recorder.as_ref().map(|r| r.id), "lesson started");
        metrics::counter!("classcast_live_sessions_total", "classroom" => self.classroom.id.to_string()).increment(1);
        self.lesson = Some(Lesson {
            session_id: session.id,
            started_at,
            recorder,
            tracks: BTreeMap::new(),
            thumbnail: None,
            lost_since: None,
        });
    }

    fn retire(&mut self, mut inc: Incarnation) {
        inc.ingest = None; // stops the ingest pipeline
        if let Some(ladder) = &inc.ladder {
            if let Some(action) = inc.audio.finish(inc.video_end) {
                push_audio_action(ladder, action, None);
            }
            ladder.finish();
            inc.retiring_since = Some(Instant::now());
            self.retiring.push(inc);
        }
    }

    async fn camera_lost(&mut self, reason: &str, now: Instant) {
        let Some(camera) = self.camera.take() else {
            return;
        };
        let had_video = camera.origin.is_some();
        if !had_video {
            let detail = if let Some(caps) = &camera.unsupported {
                format!("unsupported_video: {caps}")
            } else if camera.audio_seen {
                "audio_only".to_string()
            } else {
                format!("no_video: {reason}")
            };
            warn!(
                incarnation = camera.id,
                "feed gave no usable video: {detail}"
            );
            if !self
                .problem
                .as_deref()
                .is_some_and(|p| p.starts_with("source_failed"))
                || camera.audio_seen
            {
                self.problem = Some(detail);
            }
        } else {
            info!(incarnation = camera.id, reason, "signal lost");
            metrics::counter!("classcast_pipeline_restarts_total", "classroom" => self.classroom.id.to_string()).increment(1);
        }
        let pulled = camera
            .source_id
            .is_some_and(|id| self.pulled_source().is_some_and(|s| s.id == id));
        self.retire(camera);
        if pulled {
            self.schedule_retry(now);
        }
        if let Some(lesson) = &mut self.lesson {
            if lesson.lost_since.is_none() {
                // The recorder opens the gap at the slate's first segment,
                // after the camera's last picture still in the ladder.
                lesson.lost_since = Some(now);
            }
            if self.slate.is_none() {
                // At the size of the camera's top rendition, which the
                // slate's own H.264 then fills without a transcode.
                let top = self.last_plan.as_ref().and_then(|p| p.first());
                let spec = IngestSpec::Slate {
                    width: top.map_or(DEFAULT_WIDTH, |r| r.width),
                    height: top.map_or(DEFAULT_HEIGHT, |r| r.height),
                    fps: self.last_format.as_ref().map_or(DEFAULT_FPS, |f| f.fps),
                };
                match self.start_incarnation(spec, None, true) {
                    Ok(slate) => self.slate = Some(slate),
                    Err(e) => warn!("cannot start slate: {e}"),
                }
            }
        }
        self.publish_status();
    }

    async fn tick(&mut self, now: Instant) {
        let timeout = self.ctx.config.signal_timeout();
        if let Some(camera) = &self.camera {
            let stalled = camera.origin.is_some() && now - camera.last_video > timeout;
            let never_started =
                camera.origin.is_none() && now - camera.started > FIRST_FRAME_TIMEOUT;
            if stalled || never_started {
                self.camera_lost(if stalled { "timeout" } else { "no_first_frame" }, now)
                    .await;
            }
        }
        let grace = self
            .classroom
            .grace_seconds
            .map_or(self.ctx.config.grace_period(), |s| {
                Duration::from_secs(s.max(0) as u64)
            });
        if self
            .lesson
            .as_ref()
            .and_then(|l| l.lost_since)
            .is_some_and(|t| now - t > grace)
        {
            self.end_lesson("source_stopped").await;
        }
        if self.camera.is_none() && self.retry_at.is_some_and(|t| now >= t) {
            self.retry_at = None;
            self.start_pulled();
        }
        self.retiring
            .retain(|r| r.retiring_since.is_some_and(|t| now - t < RETIRE_TIMEOUT));
        let elapsed = now - self.stats.since;
        if elapsed >= Duration::from_secs(1) {
            let kbps = (self.stats.bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1000.0) as u64;
            let fps = self.stats.frames as f64 / elapsed.as_secs_f64();
            let labels = [("classroom", self.classroom.id.to_string())];
            metrics::gauge!("classcast_ingest_bitrate_bps", &labels).set(kbps as f64 * 1000.0);
            metrics::gauge!("classcast_ingest_fps", &labels).set(fps);
            let viewers = self.viewers.count(now);
            metrics::gauge!("classcast_viewers", &labels).set(viewers as f64);
            self.stats = Stats {
                since: now,
                bytes: 0,
                frames: 0,
            };
            self.status_tx.send_modify(|s| {
                s.ingest_kbps = kbps;
                s.fps = (fps * 10.0).round() / 10.0;
                s.viewers = viewers;
            });
        }
    }

    /// Ends the lesson: flushes the ladders so the last fragment is recorded,
    /// closes the recording and the session.
    async fn end_lesson(&mut self, reason: &str) {
        if let Some(camera) = self.camera.take() {
            self.retire(camera);
        }
        if let Some(slate) = self.slate.take() {
            self.retire(slate);
        }
        // Let the retiring ladders deliver their last fragments.
        let deadline = Instant::now() + RETIRE_TIMEOUT;
        while !self.retiring.is_empty() && self.lesson.is_some() {
            match tokio::time::timeout_at(deadline, self.media_rx.recv()).await {
                Ok(Some(msg)) => self.media(msg).await,
                _ => break,
            }
        }
        self.retiring.clear();
        let Some(lesson) = self.lesson.take() else {
            self.publish_status();
            return;
        };
        let ended_at = Utc::now();
        if let Some(recorder) = &lesson.recorder {
            recorder
                .finish(
                    RecordingStatus::Complete,
                    ended_at,
                    reason == "source_stopped",
                )
                .await;
        }
        if let Err(e) =
            crate::catalog::lessons::end(&self.ctx.db, lesson.session_id, ended_at, reason).await
        {
            warn!("cannot close the live session: {e}");
        }
        info!(session = %lesson.session_id, reason, "lesson ended");
        self.output_tx.send_replace(Arc::new(LiveOutput::default()));
        self.publish_status();
        if self.pulled_source().is_some() && self.camera.is_none() && reason != "shutdown" {
            self.retry_at.get_or_insert(Instant::now());
        }
    }
}
