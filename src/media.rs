//! GStreamer plumbing shared by ingest and transcode: the messages their
//! streaming threads send to a classroom, bus watching, and stopping a
//! pipeline without blocking the async runtime.

use std::sync::Once;

use bytes::Bytes;
use futures::StreamExt;
use gstreamer as gst;
use gstreamer::prelude::*;
use tokio::sync::{mpsc, oneshot};

use crate::transcode::plan::VideoFormat;

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

/// Something a pipeline of incarnation `incarnation` has to say.
#[derive(Debug)]
pub struct MediaMsg {
    pub incarnation: u64,
    pub event: MediaEvent,
}

#[derive(Debug)]
pub enum MediaEvent {
    /// `format` is set on the first frame and whenever the caps change.
    Video {
        frame: Frame,
        format: Option<VideoFormat>,
    },
    Audio(Frame),
    /// The feed carries audio (used to explain an audio-only stream).
    AudioSeen,
    /// The feed carries video we cannot use (e.g. VP8 from some encoders).
    Unsupported(String),
    IngestError(String),
    IngestEos,
    /// An init segment (ftyp+moov) for rendition `rendition`.
    Init {
        rendition: usize,
        data: Bytes,
    },
    /// One complete fMP4 fragment (moof+mdat): an HLS segment.
    Fragment {
        rendition: usize,
        data: Bytes,
        pts: gst::ClockTime,
        duration: gst::ClockTime,
    },
    Thumbnail(Bytes),
    LadderError(String),
    LadderEos,
}

/// Initialises GStreamer and the statically linked plugins once per process.
pub fn init() -> Result<(), gst::glib::Error> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = gst::init().and_then(|_| {
            gstfmp4::plugin_register_static()
                .map_err(|e| gst::glib::Error::new(gst::CoreError::Failed, &e.to_string()))
        });
    });
    result
}

/// A playing pipeline with its bus watched. Dropping it stops the pipeline
/// off the runtime's threads and ends the bus task, whether or not the
/// pipeline ever reached end-of-stream.
pub struct RunningPipeline {
    pipeline: gst::Pipeline,
    _bus_watch: oneshot::Sender<()>,
}

impl RunningPipeline {
    pub fn start(
        pipeline: gst::Pipeline,
        incarnation: u64,
        events: mpsc::Sender<MediaMsg>,
    ) -> Result<Self, String> {
        let (cancel, cancelled) = oneshot::channel();
        watch_bus(&pipeline, incarnation, events, cancelled);
        let running = Self {
            pipeline,
            _bus_watch: cancel,
        };
        // Going to PLAYING may wait on elements (an RTSP source's first
        // exchange); tell the runtime this thread is busy instead of stalling it.
        let result =
            tokio::task::block_in_place(|| running.pipeline.set_state(gst::State::Playing));
        result.map_err(|e| format!("cannot start: {e}"))?;
        Ok(running)
    }

    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }
}

impl Drop for RunningPipeline {
    fn drop(&mut self) {
        stop_pipeline(self.pipeline.clone());
    }
}

/// Forwards errors and end-of-stream from a pipeline's bus to its owner,
/// until EOS, until the owner's channel closes, or until `cancelled`.
fn watch_bus(
    pipeline: &gst::Pipeline,
    incarnation: u64,
    events: mpsc::Sender<MediaMsg>,
    mut cancelled: oneshot::Receiver<()>,
) {
    let Some(bus) = pipeline.bus() else { return };
    let is_ladder = pipeline.name().starts_with("ladder");
    let mut stream = bus.stream();
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                message = stream.next() => match message {
                    Some(message) => message,
                    None => break,
                },
                _ = &mut cancelled => break,
            };
            let event = match message.view() {
                gst::MessageView::Error(err) => {
                    let text = format!(
                        "{} ({})",
                        err.error(),
                        err.src()
                            .map(|s| s.path_string().to_string())
                            .unwrap_or_default()
                    );
                    if is_ladder {
                        MediaEvent::LadderError(text)
                    } else {
                        MediaEvent::IngestError(text)
                    }
                }
                gst::MessageView::Eos(_) => {
                    if is_ladder {
                        MediaEvent::LadderEos
                    } else {
                        MediaEvent::IngestEos
                    }
                }
                _ => continue,
            };
            let last = matches!(event, MediaEvent::LadderEos | MediaEvent::IngestEos);
            if events.send(MediaMsg { incarnation, event }).await.is_err() || last {
                break;
            }
        }
    });
}

/// `set_state(Null)` joins streaming threads and may take a while (an RTSP
/// teardown waits for the camera): never do it on the runtime's threads.
fn stop_pipeline(pipeline: gst::Pipeline) {
    let stop = move || {
        let _ = pipeline.set_state(gst::State::Null);
        if let Some(bus) = pipeline.bus() {
            bus.set_flushing(true);
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn_blocking(stop);
        }
        Err(_) => stop(),
    }
}
