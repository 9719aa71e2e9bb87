//! The classroom task: feeds what happens to the supervisor, performs what
//! it decides, and moves media from ingest to ladder to the lesson's
//! outputs. It never awaits anything slow: pipelines stop off-thread, the
//! recorder writes on its own task, catalogue rows go through the ledger.
//!
//! Frames, ladder output and pipeline reports arrive on three bounded
//! channels of their own; every `try_send` into them is counted in
//! `classcast_channel_dropped_total` when it fails.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{info, warn};
use uuid::Uuid;

use super::incarnation::{Channels, Incarnation, IncarnationError, VideoOutcome, renditions_for};
use super::lesson::Lesson;
use super::status::StatusBoard;
use super::supervisor::{Action, EndCause, EndReason, Input, Refused, Settings, Supervisor};
use super::{ClassroomCmd, ClassroomStatus, DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH};
use crate::catalog::classrooms::Classroom;
use crate::catalog::sources::{Source, SourceKind};
use crate::hls::SharedOutput;
use crate::ingest::gate::{Admitted, Refusal};
use crate::ingest::pipeline::IngestSpec;
use crate::ingest::{FrameKind, FrameMsg};
use crate::live::LiveContext;
use crate::media::format::VideoFormat;
use crate::media::pipeline::{News, Report, Stage};
use crate::transcode::plan::RenditionPlan;
use crate::transcode::{LadderMsg, LadderOutput, LadderSettings};

/// A feed that connects but shows no picture for this long has failed.
const FIRST_PICTURE_TIMEOUT: Duration = Duration::from_secs(10);
/// A finishing ladder gets this long to flush its last fragment.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stopping classroom waits for its recorder to finish writing.
const FINISH_TIMEOUT: Duration = Duration::from_secs(15);
const TICK: Duration = Duration::from_millis(250);
/// A few seconds of frames at 60 fps with audio, should the task be busy.
const FRAME_QUEUE: usize = 512;
/// Minutes of fragments for a full ladder.
const LADDER_QUEUE: usize = 256;
const REPORT_QUEUE: usize = 64;

/// A publisher waiting for the supervisor's answer.
struct Waiting {
    source: Uuid,
    caps: &'static str,
    reply: oneshot::Sender<Result<Admitted, Refusal>>,
}

pub struct ClassroomTask {
    ctx: LiveContext,
    classroom: Classroom,
    sources: Vec<Source>,
    cmds: mpsc::Receiver<ClassroomCmd>,
    viewer_sightings: mpsc::Receiver<u64>,
    channels: Channels,
    frames: mpsc::Receiver<FrameMsg>,
    ladder_out: mpsc::Receiver<LadderMsg>,
    reports: mpsc::Receiver<Report>,
    status: StatusBoard,
    output_tx: watch::Sender<SharedOutput>,
    sup: Supervisor,
    incarnations: HashMap<u64, Incarnation>,
    /// The running lesson, and earlier ones still flushing their end.
    lessons: Vec<Lesson>,
    waiting: Option<Waiting>,
    last_format: Option<VideoFormat>,
    /// The last camera's renditions: a slate replaces them name for name,
    /// so a player on `360p/index.m3u8` keeps playing through a drop.
    last_plan: Option<Vec<RenditionPlan>>,
    finishing: Vec<oneshot::Receiver<()>>,
    stopped: Option<oneshot::Sender<()>>,
    /// The supervisor said everything has ended: leave the loop.
    done: bool,
}

impl ClassroomTask {
    pub fn new(
        ctx: LiveContext,
        classroom: Classroom,
        sources: Vec<Source>,
        cmds: mpsc::Receiver<ClassroomCmd>,
        viewer_sightings: mpsc::Receiver<u64>,
        status_tx: watch::Sender<ClassroomStatus>,
        output_tx: watch::Sender<SharedOutput>,
    ) -> Self {
        let (frames_tx, frames) = mpsc::channel(FRAME_QUEUE);
        let (ladder_tx, ladder_out) = mpsc::channel(LADDER_QUEUE);
        let (reports_tx, reports) = mpsc::channel(REPORT_QUEUE);
        let sup = Supervisor::new(settings(&ctx, &classroom));
        let rtp = ctx.rtp.as_ref().map(|intake| intake.tap(classroom.id));
        Self {
            ctx,
            classroom,
            sources,
            cmds,
            viewer_sightings,
            channels: Channels {
                frames: frames_tx,
                ladder: ladder_tx,
                reports: reports_tx,
                rtp,
            },
            frames,
            ladder_out,
            reports,
            status: StatusBoard::new(status_tx, Instant::now()),
            output_tx,
            sup,
            incarnations: HashMap::new(),
            lessons: Vec::new(),
            waiting: None,
            last_format: None,
            last_plan: None,
            finishing: Vec::new(),
            stopped: None,
            done: false,
        }
    }

    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        let mut commands_open = true;
        self.sources_changed();
        while !self.done {
            tokio::select! {
                cmd = self.cmds.recv(), if commands_open => match cmd {
                    Some(cmd) => self.command(cmd),
                    // The registry dropped us: the classroom was removed.
                    None => {
                        commands_open = false;
                        self.input(Input::Shutdown);
                    }
                },
                Some(viewer) = self.viewer_sightings.recv() => {
                    self.status.viewer(viewer, Instant::now());
                }
                Some(report) = self.reports.recv() => self.report(report),
                Some(msg) = self.ladder_out.recv() => self.ladder_output(msg),
                Some(msg) = self.frames.recv() => self.frame(msg),
                _ = tick.tick() => {
                    let now = Instant::now();
                    self.input(Input::Tick);
                    let shed = self.incarnations.values().map(|i| i.shed_frames()).sum();
                    self.status.tick(now, self.classroom.id, shed);
                }
            }
        }
        let finishing = std::mem::take(&mut self.finishing);
        let done = self.stopped.take();
        // Waiting for the recorder is the stopper's business, not the loop's.
        tokio::spawn(async move {
            let all = futures::future::join_all(finishing);
            if tokio::time::timeout(FINISH_TIMEOUT, all).await.is_err() {
                warn!("a recording did not finish writing in time");
            }
            if let Some(done) = done {
                let _ = done.send(());
            }
        });
        info!("classroom task stopped");
    }

    fn command(&mut self, cmd: ClassroomCmd) {
        match cmd {
            ClassroomCmd::Reload { classroom, sources } => {
                self.classroom = *classroom;
                self.sources = sources;
                self.sup.set_settings(settings(&self.ctx, &self.classroom));
                self.sources_changed();
            }
            ClassroomCmd::AttachPush {
                source_id,
                caps,
                reply,
            } => {
                if let Some(old) = self.waiting.take() {
                    let _ = old.reply.send(Err(Refusal::Unavailable));
                }
                self.waiting = Some(Waiting {
                    source: source_id,
                    caps,
                    reply,
                });
                self.input(Input::Publish { source: source_id });
            }
            ClassroomCmd::Detach { source_id } => self.input(Input::Detach { source: source_id }),
            ClassroomCmd::Shutdown { done } => {
                self.stopped = Some(done);
                self.input(Input::Shutdown);
            }
        }
    }

    fn sources_changed(&mut self) {
        let pulled = self
            .sources
            .iter()
            .find(|s| s.enabled && matches!(s.kind, SourceKind::Rtsp | SourceKind::Test))
            .map(|s| s.id);
        let enabled = self
            .sources
            .iter()
            .filter(|s| s.enabled)
            .map(|s| s.id)
            .collect();
        self.input(Input::Sources { pulled, enabled });
    }

    /// Hands an input to the supervisor and performs what it decides.
    fn input(&mut self, input: Input) {
        self.sup.handle(input, Instant::now());
        let mut acted = false;
        while let Some(action) = self.sup.poll_action() {
            acted = true;
            self.perform(action);
        }
        if acted {
            self.status.publish(&self.sup, &self.lessons);
        }
    }

    fn perform(&mut self, action: Action) {
        let now = Instant::now();
        match action {
            Action::StartPulled {
                incarnation,
                source,
            } => {
                let spec = self
                    .sources
                    .iter()
                    .find(|s| s.id == source)
                    .and_then(pulled_spec(&self.classroom));
                self.start(incarnation, spec, false, now);
            }
            Action::AcceptPublish {
                incarnation,
                source,
            } => {
                let Some(waiting) = self.waiting.take().filter(|w| w.source == source) else {
                    let error = "the publisher went away".to_string();
                    self.sup
                        .handle(Input::StartFailed { incarnation, error }, now);
                    return;
                };
                let spec = IngestSpec::pushed(waiting.caps);
                self.start(incarnation, Some(spec), false, now);
                let started = self.incarnations.get(&incarnation);
                let answer = started
                    .and_then(|i| i.input())
                    .map(|input| Admitted {
                        classroom_id: self.classroom.id,
                        input,
                        input_audio: started.and_then(|i| i.input_audio()),
                    })
                    .ok_or_else(|| Refusal::Pipeline("the ingest has no input".into()));
                let _ = waiting.reply.send(answer);
            }
            Action::RefusePublish { source, why } => {
                if let Some(waiting) = self.waiting.take().filter(|w| w.source == source) {
                    let _ = waiting.reply.send(Err(match why {
                        Refused::Busy => Refusal::Busy,
                        Refused::ShuttingDown => Refusal::Unavailable,
                    }));
                }
            }
            Action::StartSlate { incarnation } => {
                // At the size of the camera's top rendition, which the
                // slate's own H.264 then fills without a transcode.
                let top = self.last_plan.as_ref().and_then(|p| p.first());
                let spec = IngestSpec::Slate {
                    width: top.map_or(DEFAULT_WIDTH, |r| r.width),
                    height: top.map_or(DEFAULT_HEIGHT, |r| r.height),
                    fps: self.last_format.as_ref().map_or(DEFAULT_FPS, |f| f.fps),
                };
                self.start(incarnation, Some(spec), true, now);
            }
            Action::Retire { incarnation } => {
                if let Some(inc) = self.incarnations.get_mut(&incarnation)
                    && !inc.retire()
                {
                    // No ladder yet: nothing to flush.
                    self.incarnations.remove(&incarnation);
                }
            }
            Action::Abandon { incarnation } => {
                warn!(incarnation, "ladder did not flush in time; dropping it");
                self.incarnations.remove(&incarnation);
            }
            Action::StartLesson { lesson } => self.start_lesson(lesson),
            Action::EndLesson { lesson, reason } => self.end_lesson(lesson, reason),
            Action::Stopped => self.done = true,
        }
    }

    fn start(&mut self, id: u64, spec: Option<IngestSpec>, slate: bool, now: Instant) {
        let started = match spec {
            Some(spec) => Incarnation::start(id, &spec, slate, &self.channels),
            None => Err(IncarnationError::SourceGone),
        };
        match started {
            Ok(inc) => {
                info!(incarnation = id, slate, "ingest started");
                self.incarnations.insert(id, inc);
            }
            Err(error) => {
                warn!(incarnation = id, "cannot start ingest: {error}");
                self.sup.handle(
                    Input::StartFailed {
                        incarnation: id,
                        error: error.to_string(),
                    },
                    now,
                );
            }
        }
    }

    fn start_lesson(&mut self, no: u64) {
        for earlier in &mut self.lessons {
            // Only an ended lesson is still here when the next one starts.
            let reason = self
                .sup
                .ending_reason(earlier.no)
                .unwrap_or(EndReason::SourceStopped);
            earlier.superseded(reason, &self.ctx.ledger);
        }
        let source_id = self.sup.camera().map(|(_, s)| s);
        let lesson = Lesson::open(
            no,
            &self.ctx,
            &self.classroom,
            source_id,
            &self.output_tx,
            self.status.sender(),
        );
        self.lessons.push(lesson);
    }

    fn end_lesson(&mut self, no: u64, reason: EndReason) {
        let Some(at) = self.lessons.iter().position(|l| l.no == no) else {
            return;
        };
        let finishing = self.lessons.remove(at).close(reason, &self.ctx.ledger);
        // Forget the ones already done, so a classroom that runs for months
        // does not collect them.
        self.finishing
            .retain_mut(|f| matches!(f.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
        self.finishing.extend(finishing);
    }

    fn frame(&mut self, msg: FrameMsg) {
        let id = msg.incarnation;
        let is_camera = self.sup.camera().is_some_and(|(c, _)| c == id);
        let Some(inc) = self.incarnations.get_mut(&id) else {
            return;
        };
        match msg.kind {
            FrameKind::Audio(frame) => inc.audio(frame),
            FrameKind::Video { frame, format } => {
                let size = frame.buffer.size() as u64;
                let settings = LadderSettings {
                    segment: self.ctx.config.segment_duration(),
                    x264_preset: self.ctx.config.live.x264_preset.clone(),
                };
                let heights = &self.classroom.ladder_heights;
                let camera_plan = self.last_plan.as_deref();
                let slate = inc.slate;
                let outcome = inc.video(
                    frame,
                    format,
                    &settings,
                    |f| renditions_for(f, slate, camera_plan, heights),
                    &self.channels,
                );
                if is_camera {
                    self.status.frame(size);
                }
                match outcome {
                    VideoOutcome::Frame => {
                        if is_camera {
                            // Cheap: the supervisor only notes the time.
                            self.sup
                                .handle(Input::Video { incarnation: id }, Instant::now());
                        }
                    }
                    VideoOutcome::FirstPicture => {
                        if is_camera {
                            self.last_format = inc.format.clone();
                            self.last_plan = Some(inc.renditions.clone());
                        }
                        self.input(Input::FirstPicture { incarnation: id });
                    }
                    VideoOutcome::FormatChanged => self.input(Input::IngestEnded {
                        incarnation: id,
                        cause: EndCause::FormatChanged,
                    }),
                    VideoOutcome::LadderFailed(e) => {
                        warn!(incarnation = id, "{e}");
                        self.input(Input::IngestEnded {
                            incarnation: id,
                            cause: EndCause::Error(e.to_string()),
                        });
                    }
                }
            }
        }
    }

    fn ladder_output(&mut self, msg: LadderMsg) {
        let id = msg.incarnation;
        match msg.output {
            LadderOutput::Fragment {
                rendition,
                init,
                data,
                pts,
                duration,
            } => {
                let Some(no) = self.sup.lesson_of(id) else {
                    return;
                };
                let (Some(lesson), Some(inc)) = (
                    self.lessons.iter_mut().find(|l| l.no == no),
                    self.incarnations.get_mut(&id),
                ) else {
                    return;
                };
                lesson.fragment(inc, rendition, init, data, pts, duration);
            }
            LadderOutput::Thumbnail(jpeg) => {
                if self.sup.on_air() != Some(id) {
                    return;
                }
                let current = self.sup.current_lesson();
                if let Some(lesson) = self.lessons.iter_mut().find(|l| Some(l.no) == current) {
                    lesson.thumbnail(&jpeg);
                }
            }
        }
    }

    fn report(&mut self, report: Report) {
        // A pipeline reports its end after its last frame or fragment was
        // queued, on another channel: take those first, so the end of a
        // feed keeps its last pictures and a lesson its last segment.
        while let Ok(msg) = self.frames.try_recv() {
            self.frame(msg);
        }
        while let Ok(msg) = self.ladder_out.try_recv() {
            self.ladder_output(msg);
        }
        let id = report.incarnation;
        match (report.stage, report.news) {
            (Stage::Ingest, News::Error(e)) => {
                if self.incarnations.get(&id).is_some_and(|i| !i.retiring) {
                    warn!(incarnation = id, "ingest error: {e}");
                }
                self.input(Input::IngestEnded {
                    incarnation: id,
                    cause: EndCause::Error(e),
                });
            }
            (Stage::Ingest, News::Eos) => self.input(Input::IngestEnded {
                incarnation: id,
                cause: EndCause::Closed,
            }),
            (Stage::Ingest, News::AudioSeen) => self.input(Input::AudioSeen { incarnation: id }),
            (Stage::Ingest, News::Unsupported(caps)) => self.input(Input::Unsupported {
                incarnation: id,
                caps,
            }),
            (Stage::Ladder, News::Eos) => {
                self.incarnations.remove(&id);
                self.input(Input::Flushed { incarnation: id });
            }
            (Stage::Ladder, News::Error(e)) => {
                warn!(incarnation = id, "ladder error: {e}");
                // A ladder that failed will flush nothing more.
                self.input(Input::IngestEnded {
                    incarnation: id,
                    cause: EndCause::Error(e),
                });
                self.incarnations.remove(&id);
                self.input(Input::Flushed { incarnation: id });
            }
            (Stage::Ladder, _) => {}
        }
    }
}

/// The supervisor's timings for this classroom.
fn settings(ctx: &LiveContext, classroom: &Classroom) -> Settings {
    let config = &ctx.config;
    Settings {
        signal_timeout: config.signal_timeout(),
        first_picture_timeout: FIRST_PICTURE_TIMEOUT,
        flush_timeout: FLUSH_TIMEOUT,
        grace: classroom.grace_seconds.map_or(config.grace_period(), |s| {
            Duration::from_secs(s.max(0) as u64)
        }),
        reconnect_min: Duration::from_secs(1),
        reconnect_max: config.reconnect_max(),
    }
}

/// How to start a pulled source: an IP camera or the test pattern.
fn pulled_spec(classroom: &Classroom) -> impl Fn(&Source) -> Option<IngestSpec> + '_ {
    move |source| match source.kind {
        SourceKind::Test => Some(IngestSpec::Test {
            title: classroom.name.clone(),
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            fps: DEFAULT_FPS,
        }),
        SourceKind::Rtsp => Some(IngestSpec::Rtsp {
            url: source.url.clone().unwrap_or_default(),
            username: source.username.clone(),
            password: source.password.clone(),
        }),
        _ => None,
    }
}
