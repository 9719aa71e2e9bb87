//! Where feeds enter: pulled RTSP cameras, generated test patterns and the
//! slate (all as GStreamer heads), and the RTMP and SRT listeners that take
//! pushed feeds by stream key.
//!
//! Listeners know nothing of classrooms or the catalogue: they hand each
//! publish request to the [`gate`] and get an answer (an appsrc to push
//! bytes into, or a refusal), so the way in runs one way.

pub mod flv;
pub mod gate;
pub mod pipeline;
pub mod rtmp;
pub mod srt;

use gstreamer as gst;

use crate::media::format::VideoFormat;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("pipeline description: {0}")]
    Template(#[from] crate::pipelines::TemplateError),
    #[error("pipeline: {0}")]
    Pipeline(String),
    #[error(transparent)]
    Start(#[from] crate::media::pipeline::StartError),
}

/// A timestamped buffer from an ingest appsink; times are the ingest
/// pipeline's running time.
#[derive(Debug, Clone)]
pub struct Frame {
    pub buffer: gst::Buffer,
    pub pts: gst::ClockTime,
    pub dts: gst::ClockTime,
    pub duration: Option<gst::ClockTime>,
    pub keyframe: bool,
}

#[derive(Debug)]
pub enum FrameKind {
    /// `format` is set on the first frame and whenever the caps change.
    Video {
        frame: Frame,
        format: Option<VideoFormat>,
    },
    /// Decoded audio (S16LE, 48 kHz, stereo).
    Audio(Frame),
}

/// A frame from the ingest pipeline of incarnation `incarnation`.
#[derive(Debug)]
pub struct FrameMsg {
    pub incarnation: u64,
    pub kind: FrameKind,
}

/// Why a pushed feed's bytes were not taken.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The classroom dropped the feed (key rotated, feed replaced).
    #[error("feed closed by the server: {0:?}")]
    Closed(gstreamer::FlowError),
    /// The pipeline is not keeping up; rather than queue without bound, the
    /// publisher is cut off (encoders reconnect on their own).
    #[error("the classroom is not keeping up with this feed ({0} bytes queued)")]
    Overloaded(u64),
}

/// Hands bytes from an RTMP or SRT publisher to the classroom's ingest.
/// `appsrc` with `block=false` treats `max-bytes` as a hint only, so the
/// bound is enforced here.
pub fn push_bytes(input: &gstreamer_app::AppSrc, bytes: bytes::Bytes) -> Result<(), PushError> {
    let queued = input.current_level_bytes();
    if queued >= input.max_bytes() {
        return Err(PushError::Overloaded(queued));
    }
    input
        .push_buffer(gstreamer::Buffer::from_slice(bytes))
        .map(|_| ())
        .map_err(PushError::Closed)
}
