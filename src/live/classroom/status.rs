//! What a classroom tells the API and the live wall: its state and
//! lesson, and once a second the ingest's bitrate and frame rate, its
//! viewers, and whether it sheds work to stay live.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use super::lesson::Lesson;
use super::supervisor::{Phase, Supervisor};
use super::{ClassroomStatus, LiveState};
use crate::hls::viewers::{DEFAULT_VIEWER_TIMEOUT, Viewers};

/// A classroom counts as shedding for this long after its last dropped frame.
const SHEDDING_HOLD: Duration = Duration::from_secs(5);

pub struct StatusBoard {
    tx: watch::Sender<ClassroomStatus>,
    since: Instant,
    bytes: u64,
    frames: u64,
    viewers: Viewers,
    /// Frames shed by the ladders, as last read, and when that last grew.
    shed_seen: u64,
    shed_at: Option<Instant>,
}

impl StatusBoard {
    pub fn new(tx: watch::Sender<ClassroomStatus>, now: Instant) -> Self {
        Self {
            tx,
            since: now,
            bytes: 0,
            frames: 0,
            viewers: Viewers::new(DEFAULT_VIEWER_TIMEOUT),
            shed_seen: 0,
            shed_at: None,
        }
    }

    pub fn sender(&self) -> &watch::Sender<ClassroomStatus> {
        &self.tx
    }

    /// A camera frame of `size` bytes arrived.
    pub fn frame(&mut self, size: u64) {
        self.bytes += size;
        self.frames += 1;
    }

    pub fn viewer(&mut self, viewer: u64, now: Instant) {
        self.viewers.seen(viewer, now);
    }

    /// The lesson and the feed, from what the supervisor decided.
    pub fn publish(&self, sup: &Supervisor, lessons: &[Lesson]) {
        let state = match sup.phase() {
            Phase::Idle => LiveState::Idle,
            Phase::Live => LiveState::Live,
            Phase::SignalLost => LiveState::SignalLost,
        };
        let current = sup.current_lesson();
        let lesson = lessons.iter().find(|l| Some(l.no) == current);
        let source_id = sup.camera().map(|(_, s)| s);
        let problem = sup.problem().map(str::to_string);
        self.tx.send_if_modified(|s| {
            let before = s.clone();
            s.state = state;
            s.session_id = lesson.map(|l| l.id);
            s.recording_id = lesson.and_then(|l| l.recording_id);
            s.live_since = lesson.map(|l| l.started_at);
            s.source_id = source_id;
            s.problem = problem;
            if state == LiveState::Idle {
                s.ingest_kbps = 0;
                s.fps = 0.0;
                s.renditions.clear();
            }
            *s != before
        });
    }

    /// Once a second: rates, viewers and shedding, in the status and /metrics.
    /// `shed_total` is what the running ladders have dropped so far.
    pub fn tick(&mut self, now: Instant, classroom: Uuid, shed_total: u64) {
        let elapsed = now - self.since;
        if elapsed < Duration::from_secs(1) {
            return;
        }
        let kbps = (self.bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1000.0) as u64;
        let fps = self.frames as f64 / elapsed.as_secs_f64();
        if shed_total != self.shed_seen {
            // A new ladder starts from zero: only growth means drops.
            if shed_total > self.shed_seen {
                self.shed_at = Some(now);
                metrics::counter!("classcast_frames_shed_total", "classroom" => classroom.to_string())
                    .increment(shed_total - self.shed_seen);
            }
            self.shed_seen = shed_total;
        }
        let shedding = self.shed_at.is_some_and(|t| now - t < SHEDDING_HOLD);
        let labels = [("classroom", classroom.to_string())];
        metrics::gauge!("classcast_ingest_bitrate_bps", &labels).set(kbps as f64 * 1000.0);
        metrics::gauge!("classcast_ingest_fps", &labels).set(fps);
        let viewers = self.viewers.count(now);
        metrics::gauge!("classcast_viewers", &labels).set(viewers as f64);
        metrics::gauge!("classcast_shedding", &labels).set(if shedding { 1.0 } else { 0.0 });
        self.since = now;
        self.bytes = 0;
        self.frames = 0;
        self.tx.send_if_modified(|s| {
            let before = (s.ingest_kbps, s.fps, s.viewers, s.shedding);
            s.ingest_kbps = kbps;
            s.fps = (fps * 10.0).round() / 10.0;
            s.viewers = viewers;
            s.shedding = shedding;
            before != (s.ingest_kbps, s.fps, s.viewers, s.shedding)
        });
    }
}
