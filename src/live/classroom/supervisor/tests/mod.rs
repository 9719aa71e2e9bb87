//! The supervisor's behaviours on explicit instants, one file each. Every
//! test starts from a fixed `t0` and moves time by hand: no sleeps, no clock.

use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::*;

mod camera_drop;
mod first_frame_timeout;
mod first_picture;
mod key_rotated;
mod reconnect_during_teardown;
mod second_publisher;
mod shutdown_mid_drop;
mod silent_publisher_replaced;

pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(3);
pub const FIRST_PICTURE_TIMEOUT: Duration = Duration::from_secs(10);
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
pub const GRACE: Duration = Duration::from_secs(30);

pub fn settings(grace: Duration) -> Settings {
    Settings {
        signal_timeout: SIGNAL_TIMEOUT,
        first_picture_timeout: FIRST_PICTURE_TIMEOUT,
        flush_timeout: FLUSH_TIMEOUT,
        grace,
        reconnect_min: Duration::from_secs(1),
        reconnect_max: Duration::from_secs(10),
    }
}

/// A supervisor, its clock, and the actions it asked for.
pub struct Room {
    pub sup: Supervisor,
    pub t0: Instant,
    pub now: Instant,
}

impl Room {
    pub fn new(grace: Duration) -> Self {
        let t0 = Instant::now();
        Self {
            sup: Supervisor::new(settings(grace)),
            t0,
            now: t0,
        }
    }

    /// A classroom with one pushed source (RTMP/SRT), enabled.
    pub fn pushed(grace: Duration) -> (Self, Uuid) {
        let mut room = Self::new(grace);
        let source = Uuid::new_v4();
        room.input(Input::Sources {
            pulled: None,
            enabled: vec![source],
        });
        assert_eq!(room.actions(), []);
        (room, source)
    }

    /// A classroom with an IP camera it pulls.
    pub fn pulled(grace: Duration) -> (Self, Uuid) {
        let mut room = Self::new(grace);
        let source = Uuid::new_v4();
        room.input(Input::Sources {
            pulled: Some(source),
            enabled: vec![source],
        });
        (room, source)
    }

    pub fn at(&mut self, since_t0: Duration) -> &mut Self {
        assert!(self.t0 + since_t0 >= self.now, "time only moves forward");
        self.now = self.t0 + since_t0;
        self
    }

    pub fn input(&mut self, input: Input) -> &mut Self {
        self.sup.handle(input, self.now);
        self
    }

    pub fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.sup.poll_action()).collect()
    }

    /// Publishes into `source`; returns the incarnation it was accepted as.
    pub fn publish(&mut self, source: Uuid) -> IncarnationId {
        self.input(Input::Publish { source });
        match self.actions().as_slice() {
            [
                ..,
                Action::AcceptPublish {
                    incarnation,
                    source: s,
                },
            ] if *s == source => *incarnation,
            other => panic!("publish not accepted: {other:?}"),
        }
    }

    /// Frames keep arriving from `incarnation` every 40 ms until `until`.
    pub fn frames(&mut self, incarnation: IncarnationId, until: Duration) -> &mut Self {
        while self.now + Duration::from_millis(40) <= self.t0 + until {
            self.now += Duration::from_millis(40);
            self.sup.handle(Input::Video { incarnation }, self.now);
            self.sup.handle(Input::Tick, self.now);
        }
        self
    }

    /// Ticks every 250 ms (as the classroom task does) until `until`.
    pub fn ticks(&mut self, until: Duration) -> Vec<Action> {
        let mut seen = Vec::new();
        while self.now + Duration::from_millis(250) <= self.t0 + until {
            self.now += Duration::from_millis(250);
            self.sup.handle(Input::Tick, self.now);
            seen.extend(self.actions());
        }
        seen
    }

    /// The incarnation of the slate the last actions started.
    pub fn started_slate(actions: &[Action]) -> IncarnationId {
        actions
            .iter()
            .find_map(|a| match a {
                Action::StartSlate { incarnation } => Some(*incarnation),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no slate started in {actions:?}"))
    }
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
