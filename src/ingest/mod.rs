//! Where feeds enter: pulled RTSP cameras, generated test patterns and the
//! slate (all as GStreamer heads), and the RTMP and SRT listeners that accept
//! pushed feeds by stream key and hand their bytes to a classroom.

pub mod flv;
pub mod pipeline;
pub mod rtmp;
pub mod srt;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("pipeline description: {0}")]
    Template(#[from] crate::pipelines::TemplateError),
    #[error("pipeline: {0}")]
    Pipeline(String),
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
