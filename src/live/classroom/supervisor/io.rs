//! What goes into the supervisor and what comes out: its whole vocabulary.

use std::time::Duration;

use uuid::Uuid;

use super::{IncarnationId, LessonNo};

/// Timings the supervisor decides by.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// A camera that showed pictures and then sends no video for this long is lost.
    pub signal_timeout: Duration,
    /// A feed that connects but sends no picture for this long has failed.
    pub first_picture_timeout: Duration,
    /// A retiring ladder gets this long to flush its last fragment.
    pub flush_timeout: Duration,
    /// How long the slate shows before a lesson whose camera is gone ends.
    pub grace: Duration,
    /// Pulled cameras are retried after this, doubling up to `reconnect_max`.
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndCause {
    /// The feed closed (end of stream, publisher hung up).
    Closed,
    /// The feed broke.
    Error(String),
    /// The camera changed size or codec mid-stream: it reconnects afresh.
    FormatChanged,
}

/// What happened, as the classroom task saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Time passed; deadlines are checked.
    Tick,
    /// The classroom's sources as last loaded: the enabled pulled source
    /// (RTSP camera or test pattern), and every enabled source.
    Sources {
        pulled: Option<Uuid>,
        enabled: Vec<Uuid>,
    },
    /// An encoder asks to publish into `source`.
    Publish { source: Uuid },
    /// A pipeline the supervisor asked for could not be started.
    StartFailed {
        incarnation: IncarnationId,
        error: String,
    },
    /// A video frame arrived: the feed is alive.
    Video { incarnation: IncarnationId },
    /// The first keyframe arrived and the ladder runs: it shows a picture.
    FirstPicture { incarnation: IncarnationId },
    /// The feed carries audio (to explain a feed without pictures).
    AudioSeen { incarnation: IncarnationId },
    /// The feed carries video we cannot use.
    Unsupported {
        incarnation: IncarnationId,
        caps: String,
    },
    IngestEnded {
        incarnation: IncarnationId,
        cause: EndCause,
    },
    /// A retiring incarnation's ladder delivered its last fragment (or failed).
    Flushed { incarnation: IncarnationId },
    /// The source's key was rotated, or the source removed: drop its feed.
    Detach { source: Uuid },
    /// End everything cleanly, then stop.
    Shutdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The camera was gone for the whole grace period.
    SourceStopped,
    Shutdown,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::SourceStopped => "source_stopped",
            EndReason::Shutdown => "shutdown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Another feed is live and healthy.
    Busy,
    ShuttingDown,
}

/// What the classroom task must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start the pulled source's ingest as this incarnation.
    StartPulled {
        incarnation: IncarnationId,
        source: Uuid,
    },
    /// Start a pushed ingest as this incarnation and hand its input to the
    /// publisher waiting for `source`.
    AcceptPublish {
        incarnation: IncarnationId,
        source: Uuid,
    },
    RefusePublish {
        source: Uuid,
        why: Refused,
    },
    /// Start the "signal lost" slate as this incarnation.
    StartSlate {
        incarnation: IncarnationId,
    },
    /// Stop the ingest and flush the ladder; `Flushed` is expected back for
    /// an incarnation that showed a picture.
    Retire {
        incarnation: IncarnationId,
    },
    /// The flush took too long: drop what is left.
    Abandon {
        incarnation: IncarnationId,
    },
    /// A lesson starts (the camera's first picture).
    StartLesson {
        lesson: LessonNo,
    },
    /// Every incarnation of the lesson has flushed: finish its outputs.
    EndLesson {
        lesson: LessonNo,
        reason: EndReason,
    },
    /// Shutdown is complete.
    Stopped,
}

/// What viewers are told about the classroom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Idle,
    Live,
    SignalLost,
}
