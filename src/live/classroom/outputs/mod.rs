//! A lesson's outputs: everything that receives what the ladders make.
//! Live HLS and the recorder today; WebRTC fan-out and LL-HLS parts plug
//! in as further implementations of [`LessonOutput`] without touching the
//! supervisor or the classroom task.
//!
//! An output receives, in order: fragments (each says whether it starts a
//! discontinuity, whether it is "signal lost" slate (a gap), and, with the
//! first fragment of each rendition of an incarnation, the init segment it
//! needs), the occasional thumbnail, possibly the news that a newer lesson
//! has taken over the classroom's live face, and the end. Outputs never
//! block: whatever may wait (disk, database) runs on their own tasks.

pub mod live_hls;
pub mod recording;

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use crate::hls::playlist::{SegmentEntry, Variant};

/// One fMP4 fragment of one rendition, as every output receives it.
#[derive(Debug, Clone)]
pub struct Fragment {
    pub incarnation: u64,
    /// Place in the ladder (0 = top).
    pub rank: usize,
    pub rendition: String,
    /// The renditions of this fragment's incarnation, in ladder order.
    pub lineup: Arc<[String]>,
    /// The init segment (`entry.init` names it), with a rendition's first fragment.
    pub init: Option<Bytes>,
    /// Sequence, duration, wall-clock start, discontinuity and slate flags.
    pub entry: SegmentEntry,
    pub data: Bytes,
    pub variant: Variant,
}

/// How a lesson ended, for its outputs.
#[derive(Debug, Clone)]
pub struct LessonEnd {
    pub ended_at: DateTime<Utc>,
    pub reason: &'static str,
    /// Drop the slate at the end: the feed never came back.
    pub trim_slate: bool,
}

/// Resolves when an output has finished writing what it holds.
pub type Finishing = Option<oneshot::Receiver<()>>;

pub trait LessonOutput: Send {
    fn fragment(&mut self, fragment: &Fragment);
    fn thumbnail(&mut self, _jpeg: &Bytes) {}
    /// A newer lesson now shows live in this classroom: stop publishing
    /// live views, keep taking this lesson's last fragments.
    fn superseded(&mut self) {}
    fn end(&mut self, end: &LessonEnd) -> Finishing;
}
