//! The decisions of one classroom, as a pure state machine: which feed is
//! the camera, when the slate stands in, when a lesson starts and ends,
//! when a pulled camera is retried, when a feed has failed.
//!
//! Sans-IO, like str0m: inputs go in through [`Supervisor::handle`] with the
//! time they happened, actions come out of [`Supervisor::poll_action`]. It
//! owns no pipeline, socket, database or clock, so every case is unit-tested
//! on explicit instants (see `tests/`, one file per behaviour). The
//! classroom task performs the actions and feeds back what came of them.
//!
//! An *incarnation* is one ingest + ladder pair: a camera connection, or a
//! stretch of "signal lost" slate. A lesson spans incarnations: each one
//! that shows a picture while the lesson runs belongs to it, so the camera's
//! last pictures still flushing out of a ladder are recorded with the lesson
//! they were taken in, even when a new lesson has already begun.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

mod io;
#[cfg(test)]
mod tests;

pub use io::{Action, EndCause, EndReason, Input, Phase, Refused, Settings};

pub type IncarnationId = u64;
/// Lessons of this classroom, numbered from 1 in the order they started.
pub type LessonNo = u64;

#[derive(Debug)]
struct Camera {
    id: IncarnationId,
    source: Uuid,
    pulled: bool,
    connected_at: Instant,
    shows_picture: bool,
    last_video: Instant,
    audio_seen: bool,
    unsupported: Option<String>,
}

#[derive(Debug)]
struct Lesson {
    no: LessonNo,
    lost_since: Option<Instant>,
}

#[derive(Debug)]
pub struct Supervisor {
    settings: Settings,
    pulled: Option<Uuid>,
    enabled: Vec<Uuid>,
    next_incarnation: IncarnationId,
    camera: Option<Camera>,
    slate: Option<IncarnationId>,
    /// Incarnations flushing, with their deadline.
    retiring: Vec<(IncarnationId, Instant)>,
    /// Which lesson each incarnation that showed a picture belongs to.
    belongs: HashMap<IncarnationId, LessonNo>,
    lesson: Option<Lesson>,
    last_lesson: LessonNo,
    /// Lessons whose incarnations are still flushing.
    ending: Vec<(LessonNo, EndReason)>,
    retry_at: Option<Instant>,
    backoff: Duration,
    problem: Option<String>,
    shutting_down: bool,
    stopped: bool,
    actions: VecDeque<Action>,
}

impl Supervisor {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            pulled: None,
            enabled: Vec::new(),
            next_incarnation: 1,
            camera: None,
            slate: None,
            retiring: Vec::new(),
            belongs: HashMap::new(),
            lesson: None,
            last_lesson: 0,
            ending: Vec::new(),
            retry_at: None,
            backoff: settings.reconnect_min,
            problem: None,
            shutting_down: false,
            stopped: false,
            actions: VecDeque::new(),
        }
    }

    pub fn set_settings(&mut self, settings: Settings) {
        self.settings = settings;
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn phase(&self) -> Phase {
        match &self.lesson {
            None => Phase::Idle,
            Some(l) if l.lost_since.is_some() => Phase::SignalLost,
            Some(_) => Phase::Live,
        }
    }

    /// Why the feed is not delivering: a message code from the UI's
    /// catalogue, with detail after a colon.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// The camera's incarnation and source, if a feed is connected.
    pub fn camera(&self) -> Option<(IncarnationId, Uuid)> {
        self.camera.as_ref().map(|c| (c.id, c.source))
    }

    /// The incarnation on air: the camera once it shows a picture, else the slate.
    pub fn on_air(&self) -> Option<IncarnationId> {
        self.camera
            .as_ref()
            .filter(|c| c.shows_picture)
            .map(|c| c.id)
            .or(self.slate)
    }

    pub fn is_slate(&self, incarnation: IncarnationId) -> bool {
        self.slate == Some(incarnation)
    }

    /// The lesson whose outputs an incarnation's fragments go to.
    pub fn lesson_of(&self, incarnation: IncarnationId) -> Option<LessonNo> {
        self.belongs.get(&incarnation).copied()
    }

    /// Why a lesson that has ended, and whose ladders still flush, ended.
    pub fn ending_reason(&self, lesson: LessonNo) -> Option<EndReason> {
        self.ending
            .iter()
            .find(|(no, _)| *no == lesson)
            .map(|(_, reason)| *reason)
    }

    /// The lesson running now (not one still flushing its end).
    pub fn current_lesson(&self) -> Option<LessonNo> {
        self.lesson.as_ref().map(|l| l.no)
    }

    /// When the supervisor next needs a `Tick`.
    pub fn next_deadline(&self) -> Option<Instant> {
        let s = &self.settings;
        let camera = self.camera.as_ref().map(|c| {
            if c.shows_picture {
                c.last_video + s.signal_timeout
            } else {
                c.connected_at + s.first_picture_timeout
            }
        });
        let grace = self
            .lesson
            .as_ref()
            .and_then(|l| l.lost_since)
            .map(|t| t + s.grace);
        let retry = self.retry_at.filter(|_| self.camera.is_none());
        let flush = self.retiring.iter().map(|(_, t)| *t).min();
        [camera, grace, retry, flush].into_iter().flatten().min()
    }

    pub fn handle(&mut self, input: Input, now: Instant) {
        match input {
            Input::Tick => self.tick(now),
            Input::Sources { pulled, enabled } => {
                self.pulled = pulled;
                self.enabled = enabled;
                if let Some(camera) = &self.camera
                    && !self.enabled.contains(&camera.source)
                {
                    self.lose_camera("source_removed", now);
                }
                if self.camera.is_none() && self.pulled.is_some() {
                    self.retry_at = Some(now);
                }
                self.tick(now);
            }
            Input::Publish { source } => self.publish(source, now),
            Input::StartFailed { incarnation, error } => {
                if self.camera.as_ref().is_some_and(|c| c.id == incarnation) {
                    let pulled = self.camera.take().is_some_and(|c| c.pulled);
                    self.problem = Some(format!("source_failed: {error}"));
                    if pulled {
                        self.schedule_retry(now);
                    }
                } else if self.slate == Some(incarnation) {
                    self.slate = None;
                }
            }
            Input::Video { incarnation } => {
                if let Some(camera) = self.camera.as_mut().filter(|c| c.id == incarnation) {
                    camera.last_video = now;
                }
            }
            Input::FirstPicture { incarnation } => self.first_picture(incarnation, now),
            Input::AudioSeen { incarnation } => {
                if let Some(camera) = self.camera.as_mut().filter(|c| c.id == incarnation) {
                    camera.audio_seen = true;
                }
            }
            Input::Unsupported { incarnation, caps } => {
                if let Some(camera) = self.camera.as_mut().filter(|c| c.id == incarnation) {
                    camera.unsupported = Some(caps);
                }
            }
            Input::IngestEnded { incarnation, cause } => self.ingest_ended(incarnation, cause, now),
            Input::Flushed { incarnation } => {
                self.retiring.retain(|(id, _)| *id != incarnation);
                self.belongs.remove(&incarnation);
                self.finish_ending();
            }
            Input::Detach { source } => {
                if self.camera.as_ref().is_some_and(|c| c.source == source) {
                    self.lose_camera("detached", now);
                }
            }
            Input::Shutdown => self.shutdown(now),
        }
    }

    fn publish(&mut self, source: Uuid, now: Instant) {
        if self.shutting_down {
            self.actions.push_back(Action::RefusePublish {
                source,
                why: Refused::ShuttingDown,
            });
            return;
        }
        if let Some(camera) = &self.camera {
            let healthy =
                camera.shows_picture && now - camera.last_video < self.settings.signal_timeout;
            if healthy {
                self.actions.push_back(Action::RefusePublish {
                    source,
                    why: Refused::Busy,
                });
                return;
            }
            // A silent connection (or one that never showed a picture)
            // gives way: encoders reconnect faster than timeouts fire.
            self.lose_camera("replaced", now);
        }
        let id = self.new_incarnation();
        self.camera = Some(Camera::new(id, source, false, now));
        self.actions.push_back(Action::AcceptPublish {
            incarnation: id,
            source,
        });
    }

    fn first_picture(&mut self, incarnation: IncarnationId, now: Instant) {
        if self.slate == Some(incarnation) {
            return; // bound to its lesson when it was started
        }
        let Some(camera) = self.camera.as_mut().filter(|c| c.id == incarnation) else {
            return;
        };
        camera.shows_picture = true;
        camera.last_video = now;
        self.backoff = self.settings.reconnect_min;
        self.problem = None;
        if let Some(slate) = self.slate.take() {
            self.retire(slate, now);
        }
        let lesson = match &mut self.lesson {
            Some(lesson) => {
                // The recorder closes the gap at the camera's first segment.
                lesson.lost_since = None;
                lesson.no
            }
            None => {
                self.last_lesson += 1;
                let no = self.last_lesson;
                self.lesson = Some(Lesson {
                    no,
                    lost_since: None,
                });
                self.actions.push_back(Action::StartLesson { lesson: no });
                no
            }
        };
        self.belongs.insert(incarnation, lesson);
    }

    fn ingest_ended(&mut self, incarnation: IncarnationId, cause: EndCause, now: Instant) {
        if self.camera.as_ref().is_some_and(|c| c.id == incarnation) {
            let reason = match &cause {
                EndCause::Closed => "source_ended",
                EndCause::Error(e) => {
                    self.problem = Some(format!("source_failed: {e}"));
                    "error"
                }
                EndCause::FormatChanged => "format_changed",
            };
            self.lose_camera(reason, now);
            if cause == EndCause::FormatChanged && self.pulled.is_some() {
                self.retry_at = Some(now);
            }
        } else if self.slate == Some(incarnation) {
            self.slate = None;
            self.retire(incarnation, now);
        }
        // A retiring incarnation's ingest is already stopped: nothing to do.
    }

    /// The camera is gone: its ladder flushes, the slate stands in while a
    /// lesson runs, a pulled camera is retried.
    fn lose_camera(&mut self, reason: &str, now: Instant) {
        let Some(camera) = self.camera.take() else {
            return;
        };
        if !camera.shows_picture {
            let detail = if let Some(caps) = &camera.unsupported {
                format!("unsupported_video: {caps}")
            } else if camera.audio_seen {
                "audio_only".to_string()
            } else {
                format!("no_video: {reason}")
            };
            // A failure to start says more than "no video" after it.
            let keep = self
                .problem
                .as_deref()
                .is_some_and(|p| p.starts_with("source_failed"))
                && !camera.audio_seen
                && camera.unsupported.is_none();
            if !keep {
                self.problem = Some(detail);
            }
        }
        self.retire(camera.id, now);
        if camera.pulled {
            self.schedule_retry(now);
        }
        if let Some(lesson) = &mut self.lesson {
            let no = lesson.no;
            lesson.lost_since.get_or_insert(now);
            if self.slate.is_none() && !self.shutting_down {
                let id = self.new_incarnation();
                self.slate = Some(id);
                self.belongs.insert(id, no);
                self.actions
                    .push_back(Action::StartSlate { incarnation: id });
            }
        }
    }

    fn retire(&mut self, incarnation: IncarnationId, now: Instant) {
        self.actions.push_back(Action::Retire { incarnation });
        if self.belongs.contains_key(&incarnation) {
            self.retiring
                .push((incarnation, now + self.settings.flush_timeout));
        }
    }

    fn tick(&mut self, now: Instant) {
        let s = self.settings;
        if let Some(camera) = &self.camera {
            if camera.shows_picture && now - camera.last_video > s.signal_timeout {
                self.lose_camera("timeout", now);
            } else if !camera.shows_picture && now - camera.connected_at > s.first_picture_timeout {
                self.lose_camera("no_first_frame", now);
            }
        }
        if self
            .lesson
            .as_ref()
            .and_then(|l| l.lost_since)
            .is_some_and(|t| now - t > s.grace)
        {
            self.end_lesson(EndReason::SourceStopped, now);
        }
        if self.camera.is_none()
            && !self.shutting_down
            && let (Some(source), Some(at)) = (self.pulled, self.retry_at)
            && now >= at
        {
            self.retry_at = None;
            let id = self.new_incarnation();
            self.camera = Some(Camera::new(id, source, true, now));
            self.actions.push_back(Action::StartPulled {
                incarnation: id,
                source,
            });
        }
        let late: Vec<IncarnationId> = self
            .retiring
            .iter()
            .filter(|(_, deadline)| now >= *deadline)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            self.actions.push_back(Action::Abandon { incarnation: id });
            self.retiring.retain(|(r, _)| *r != id);
            self.belongs.remove(&id);
        }
        self.finish_ending();
    }

    /// Ends the running lesson: its slate (and, at shutdown, its camera)
    /// flush, and `EndLesson` follows once they have. A camera that is
    /// still connecting stays: its first picture starts the next lesson.
    fn end_lesson(&mut self, reason: EndReason, now: Instant) {
        let Some(lesson) = self.lesson.take() else {
            return;
        };
        if let Some(slate) = self.slate.take() {
            self.retire(slate, now);
        }
        if self
            .camera
            .as_ref()
            .is_some_and(|c| self.belongs.get(&c.id) == Some(&lesson.no))
        {
            let camera = self.camera.take().map(|c| c.id);
            if let Some(id) = camera {
                self.retire(id, now);
            }
        }
        self.ending.push((lesson.no, reason));
        self.finish_ending();
    }

    fn finish_ending(&mut self) {
        let flushing: Vec<LessonNo> = self
            .retiring
            .iter()
            .filter_map(|(id, _)| self.belongs.get(id).copied())
            .collect();
        let mut still = Vec::new();
        for (no, reason) in std::mem::take(&mut self.ending) {
            if flushing.contains(&no) {
                still.push((no, reason));
            } else {
                self.actions
                    .push_back(Action::EndLesson { lesson: no, reason });
            }
        }
        self.ending = still;
        if self.shutting_down
            && !self.stopped
            && self.ending.is_empty()
            && self.lesson.is_none()
            && self.retiring.is_empty()
        {
            self.stopped = true;
            self.actions.push_back(Action::Stopped);
        }
    }

    fn shutdown(&mut self, now: Instant) {
        if self.shutting_down {
            return;
        }
        self.shutting_down = true;
        self.retry_at = None;
        self.end_lesson(EndReason::Shutdown, now);
        if let Some(camera) = self.camera.take() {
            self.retire(camera.id, now);
        }
        self.finish_ending();
    }

    fn schedule_retry(&mut self, now: Instant) {
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(self.settings.reconnect_max);
    }

    fn new_incarnation(&mut self) -> IncarnationId {
        let id = self.next_incarnation;
        self.next_incarnation += 1;
        id
    }
}

impl Camera {
    fn new(id: IncarnationId, source: Uuid, pulled: bool, now: Instant) -> Self {
        Self {
            id,
            source,
            pulled,
            connected_at: now,
            shows_picture: false,
            last_video: now,
            audio_seen: false,
            unsupported: None,
        }
    }
}
