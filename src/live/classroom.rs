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

    async fn media(&mut self, msg: MediaMsg) {
        let id = msg.incarnation;
        match msg.event {
            MediaEvent::Video { frame, format } => self.video(id, frame, format).await,
            MediaEvent::Audio(frame) => self.audio(id, frame),
            MediaEvent::AudioSeen => {
                if let Some(inc) = self.find(id) {
                    inc.audio_seen = true;
                }
            }
            MediaEvent::Unsupported(caps) => {
                if let Some(inc) = self.find(id) {
                    inc.unsupported = Some(caps);
                }
            }
            MediaEvent::IngestError(e) | MediaEvent::LadderError(e) => {
                warn!(incarnation = id, "pipeline error: {e}");
                if self.camera.as_ref().is_some_and(|c| c.id == id) {
                    self.problem = Some(format!("source_failed: {e}"));
                    self.camera_lost("error", Instant::now()).await;
                } else if self.slate.as_ref().is_some_and(|c| c.id == id) {
                    self.slate = None;
                } else {
                    self.retiring.retain(|r| r.id != id);
                }
            }
            MediaEvent::IngestEos => {
                if self.camera.as_ref().is_some_and(|c| c.id == id) {
                    self.camera_lost("source_ended", Instant::now()).await;
                }
            }
            MediaEvent::LadderEos => self.retiring.retain(|r| r.id != id),
            MediaEvent::Init { rendition, data } => self.init(id, rendition, data),
            MediaEvent::Fragment {
                rendition,
                data,
                pts,
                duration,
            } => self.fragment(id, rendition, data, pts, duration),
            MediaEvent::Thumbnail(jpeg) => {
                if let Some(lesson) = &mut self.lesson {
                    lesson.thumbnail = Some(jpeg);
                    self.publish_output();
                }
            }
        }
    }

    async fn video(&mut self, id: u64, frame: Frame, format: Option<VideoFormat>) {
        let is_camera = self.camera.as_ref().is_some_and(|c| c.id == id);
        let settings = LadderSettings {
            segment: self.ctx.config.segment_duration(),
            x264_preset: self.ctx.config.live.x264_preset.clone(),
        };
        let ladder_heights = self.classroom.ladder_heights.clone();
        let camera_plan = self.last_plan.clone();
        let media_tx = self.media_tx.clone();
        let Some(inc) = self.find(id) else { return };
        if inc.retiring_since.is_some() {
            return;
        }
        if let Some(format) = &format {
            if inc.format.as_ref().is_some_and(|f| {
                f.width != format.width || f.height != format.height || f.codec != format.codec
            }) {
                // A camera that changes size mid-stream gets a fresh incarnation.
                warn!(incarnation = id, "video format changed; reconnecting");
                if is_camera {
                    self.camera_lost("format_changed", Instant::now()).await;
                    self.retry_at = Some(Instant::now());
                }
                return;
            }
            inc.format = Some(format.clone());
        }
        let first = inc.origin.is_none();
        if first {
            if !frame.keyframe {
                return; // decoders need a keyframe to start
            }
            let Some(format) = inc.format.clone() else {
                return;
            };
            inc.origin = Some(frame.dts.min(frame.pts));
            inc.wall_origin = Utc::now();
            inc.renditions = match camera_plan {
                Some(camera) if inc.slate => plan::stand_in(&camera),
                _ => plan::plan(&format, &ladder_heights),
            };
            inc.produced = vec![false; inc.renditions.len()];
            let description = match crate::transcode::describe(&format, &inc.renditions, &settings)
            {
                Ok(d) => d,
                Err(e) => {
                    warn!("ladder description: {e}");
                    return;
                }
            };
            tracing::debug!(incarnation = id, "ladder:\n{description}");
            match Ladder::start(&description, &inc.renditions, id, media_tx) {
                Ok(ladder) => inc.ladder = Some(ladder),
                Err(e) => {
                    warn!("cannot start ladder: {e}");
                    return;
                }
            }
        }
        let origin = inc.origin.unwrap_or_default();
        let dts = frame.dts.saturating_sub(origin);
        let pts = frame.pts.saturating_sub(origin);
        let now = Instant::now();
        inc.last_video = now;
        let duration = frame.duration.unwrap_or(gst::ClockTime::from_mseconds(40));
        inc.video_end = inc.video_end.max((pts + duration).nseconds());
        let size = frame.buffer.size() as u64;
        let mut buffer = frame.buffer.copy();
        {
            // `copy` shares the memory and gives us a writable header.
            let buffer = buffer.get_mut().expect("fresh copy is writable");
            buffer.set_pts(pts);
            buffer.set_dts(dts);
        }
        let silence = inc.audio.on_video(dts.nseconds());
        if let Some(ladder) = &inc.ladder {
            if let Some(action) = silence {
                push_audio_action(ladder, action, None);
            }
            if let Some(previous) = inc.held_video.replace(buffer) {
                if ladder.push_video(previous).is_err() {
                    metrics::counter!("classcast_ladder_push_failed_total").increment(1);
                }
            }
        }
        if is_camera {
            self.stats.bytes += size;
            self.stats.frames += 1;
            if first {
                self.camera_started(id).await;
            }
        }
    }

    fn audio(&mut self, id: u64, frame: Frame) {
        let Some(inc) = self.find(id) else { return };
        let (Some(origin), Some(ladder)) = (inc.origin, &inc.ladder) else {
            return;
        };
        if frame.pts < origin || inc.retiring_since.is_some() {
            return;
        }
        let pts = (frame.pts - origin).nseconds();
        let samples = frame.buffer.size() as u64 / AUDIO_BYTES_PER_FRAME;
        let duration = samples * 1_000_000_000 / AUDIO_RATE;
        for action in inc.audio.on_audio(pts, duration) {
            push_audio_action(ladder, action, Some(&frame.buffer));
        }
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
                    info!(incarnation = id, "signal restored");
                    if let Some(recorder) = &lesson.recorder {
                        recorder.send(RecorderMsg::GapEnded);
                    }
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
        let session = match crate::catalog::sessions::start(
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
                lesson.lost_since = Some(now);
                if let Some(recorder) = &lesson.recorder {
                    recorder.send(RecorderMsg::GapStarted);
                }
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
            crate::catalog::sessions::end(&self.ctx.db, lesson.session_id, ended_at, reason).await
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

    fn init(&mut self, id: u64, rendition: usize, data: bytes::Bytes) {
        let window = self.ctx.config.live.playlist_segments;
        let target = self.ctx.config.segment_duration();
        let Some(name) = self
            .find(id)
            .and_then(|i| i.renditions.get(rendition))
            .map(|r| r.name.clone())
        else {
            return;
        };
        let Some(lesson) = &mut self.lesson else {
            return;
        };
        let variant = variant_placeholder(&name);
        let track = lesson
            .tracks
            .entry(name.clone())
            .or_insert_with(|| LiveTrack::new(window, target, variant));
        track.add_init(id as u32, data.clone());
        if let Some(recorder) = &lesson.recorder {
            recorder.send(RecorderMsg::Init {
                rendition: name,
                init: id as u32,
                data,
            });
        }
    }

    fn fragment(
        &mut self,
        id: u64,
        rendition: usize,
        data: bytes::Bytes,
        pts: gst::ClockTime,
        duration: gst::ClockTime,
    ) {
        let window = self.ctx.config.live.playlist_segments;
        let target = self.ctx.config.segment_duration();
        let classroom = self.classroom.id;
        let Some(inc) = self.find(id) else { return };
        if inc.retiring_since.is_some() && duration < TAIL_FRAGMENT_MIN {
            // Audio that ran past the last picture: a segment with no video
            // confuses players, and nobody misses 100 ms of sound.
            tracing::debug!(
                incarnation = id,
                ?duration,
                "dropping audio-only tail fragment"
            );
            return;
        }
        let Some(plan) = inc.renditions.get(rendition).cloned() else {
            return;
        };
        let discontinuity = !std::mem::replace(&mut inc.produced[rendition], true);
        let started_at = inc.wall_origin + chrono::Duration::nanoseconds(pts.nseconds() as i64);
        let slate = inc.slate;
        let fps = inc.format.as_ref().map(|f| f.fps as f64);
        // Codec parameters change only with a new incarnation: read them from
        // the muxer's pads on its first fragment, not on every one.
        let codecs = discontinuity
            .then(|| inc.ladder.as_ref().and_then(|l| l.codecs(&plan.name)))
            .flatten();
        let Some(lesson) = &mut self.lesson else {
            return;
        };
        let track = lesson
            .tracks
            .entry(plan.name.clone())
            .or_insert_with(|| LiveTrack::new(window, target, variant_placeholder(&plan.name)));
        track.variant.width = plan.width;
        track.variant.height = plan.height;
        track.variant.frame_rate = fps;
        if let Some(codecs) = codecs {
            track.variant.codecs = codecs;
        }
        let entry = SegmentEntry {
            sequence: track.next_sequence(),
            duration: Duration::from_nanos(duration.nseconds()),
            started_at,
            init: id as u32,
            discontinuity,
            slate,
            size: data.len() as u64,
        };
        track.add_segment(entry.clone(), data.clone());
        let variant = track.variant.clone();
        if let Some(recorder) = &lesson.recorder {
            recorder.send(RecorderMsg::Segment {
                rendition: plan.name,
                entry,
                data,
                variant,
            });
        }
        metrics::counter!("classcast_segments_written_total", "classroom" => classroom.to_string())
            .increment(1);
        self.publish_output();
    }

    /// Renditions of what is on air now, in ladder order, that have segments.
    fn current_variants(&self) -> Vec<Variant> {
        let Some(lesson) = &self.lesson else {
            return Vec::new();
        };
        let on_air = self
            .camera
            .as_ref()
            .filter(|c| c.ladder.is_some())
            .or(self.slate.as_ref());
        let names: Vec<String> = match on_air {
            Some(inc) => inc.renditions.iter().map(|r| r.name.clone()).collect(),
            None => lesson.tracks.keys().cloned().collect(),
        };
        names
            .iter()
            .filter_map(|n| lesson.tracks.get(n))
            .filter(|t| t.has_segments())
            .map(|t| t.variant.clone())
            .collect()
    }

    fn publish_output(&mut self) {
        let variants = self.current_variants();
        let Some(lesson) = &self.lesson else { return };
        let output = LiveOutput {
            master: (!variants.is_empty()).then(|| render_master(&variants)),
            renditions: lesson
                .tracks
                .iter()
                .map(|(n, t)| (n.clone(), t.view()))
                .collect(),
            thumbnail: lesson.thumbnail.clone(),
        };
        self.output_tx.send_replace(Arc::new(output));
        if self.status_tx.borrow().renditions != variants {
            self.status_tx.send_modify(|s| s.renditions = variants);
        }
    }

    fn publish_status(&self) {
        let state = match &self.lesson {
            None => LiveState::Idle,
            Some(l) if l.lost_since.is_some() => LiveState::SignalLost,
            Some(_) => LiveState::Live,
        };
        let lesson = self.lesson.as_ref();
        let variants = self.current_variants();
        self.status_tx.send_modify(|s| {
            s.state = state;
            s.session_id = lesson.map(|l| l.session_id);
            s.recording_id = lesson.and_then(|l| l.recorder.as_ref().map(|r| r.id));
            s.live_since = lesson.map(|l| l.started_at);
            s.source_id = self.camera.as_ref().and_then(|c| c.source_id);
            s.problem = self.problem.clone();
            s.renditions = variants;
            if state == LiveState::Idle {
                s.ingest_kbps = 0;
                s.fps = 0.0;
            }
        });
    }
}

fn variant_placeholder(name: &str) -> Variant {
    Variant {
        name: name.to_string(),
        width: 0,
        height: 0,
        bandwidth: 0,
        codecs: "avc1.640028,mp4a.40.2".into(),
        frame_rate: None,
    }
}

/// Pushes real audio or generated silence into the ladder.
fn push_audio_action(ladder: &Ladder, action: AudioAction, real: Option<&gst::Buffer>) {
    let buffer = match (action, real) {
        (AudioAction::Pass { start }, Some(real)) => {
            let mut buffer = real.copy();
            let b = buffer.get_mut().expect("fresh copy is writable");
            b.set_pts(gst::ClockTime::from_nseconds(start));
            b.set_dts(gst::ClockTime::NONE);
            buffer
        }
        (AudioAction::Silence { start, duration }, _) => {
            let samples = duration * AUDIO_RATE / 1_000_000_000;
            if samples == 0 {
                return;
            }
            let mut buffer =
                gst::Buffer::from_mut_slice(vec![0u8; (samples * AUDIO_BYTES_PER_FRAME) as usize]);
            let b = buffer.get_mut().expect("new buffer is writable");
            b.set_pts(gst::ClockTime::from_nseconds(start));
            b.set_duration(gst::ClockTime::from_nseconds(duration));
            buffer
        }
        _ => return,
    };
    if ladder.push_audio(buffer).is_err() {
        metrics::counter!("classcast_ladder_push_failed_total").increment(1);
    }
}
