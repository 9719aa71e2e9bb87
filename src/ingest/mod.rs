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
