//! GStreamer plumbing shared by ingest and transcode: the messages their
//! streaming threads send to a classroom, bus watching, and stopping a
//! pipeline without blocking the async runtime.

use std::sync::Once;

use bytes::Bytes;
use futures::StreamExt;
use gstreamer as gst;
use gstreamer::prelude::*;
use tokio::sync::mpsc;

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

/// Forwards errors and end-of-stream from a pipeline's bus to its owner.
/// The task ends when the pipeline is dropped (the bus flushes) or the
/// owner's channel closes.
pub fn watch_bus(pipeline: &gst::Pipeline, incarnation: u64, events: mpsc::Sender<MediaMsg>) {
    let Some(bus) = pipeline.bus() else { return };
    let is_ladder = pipeline.name().starts_with("ladder");
    let mut stream = bus.stream();
    tokio::spawn(async move {
        while let Some(message) = stream.next().await {
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
pub fn stop_pipeline(pipeline: gst::Pipeline) {
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
