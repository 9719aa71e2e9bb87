//! A running GStreamer pipeline and what it reports to its owner.
//!
//! Reports (errors, end-of-stream, facts found while linking) are rare, so
//! they travel on their own bounded channel, apart from the stream of
//! frames and fragments: a burst of media can never crowd out the news
//! that a pipeline failed.

use futures::StreamExt;
use gstreamer as gst;
use gstreamer::prelude::*;
use tokio::sync::{mpsc, oneshot};

/// Which of an incarnation's two pipelines is speaking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Ingest,
    Ladder,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    Error(String),
    Eos,
    /// The feed carries audio (used to explain an audio-only stream).
    AudioSeen,
    /// The feed carries video we cannot use (e.g. VP8 from some encoders).
    Unsupported(String),
}

/// Something pipeline `stage` of incarnation `incarnation` has to say.
#[derive(Debug, Clone)]
pub struct Report {
    pub incarnation: u64,
    pub stage: Stage,
    pub news: News,
}

/// Sends a report from a GStreamer streaming thread: never waits, counts
/// what it could not deliver.
pub fn try_report(reports: &mpsc::Sender<Report>, incarnation: u64, stage: Stage, news: News) {
    if reports
        .try_send(Report {
            incarnation,
            stage,
            news,
        })
        .is_err()
    {
        metrics::counter!("classcast_channel_dropped_total", "channel" => "reports").increment(1);
    }
}

/// A playing pipeline with its bus watched. Dropping it stops the pipeline
/// off the runtime's threads and ends the bus task, whether or not the
/// pipeline ever reached end-of-stream.
pub struct RunningPipeline {
    pipeline: gst::Pipeline,
    _bus_watch: oneshot::Sender<()>,
}

/// A pipeline that would not go to PLAYING (an element failed to open: a
/// device, a port, a plugin missing).
#[derive(Debug, thiserror::Error)]
#[error("cannot start: {0}")]
pub struct StartError(#[from] gst::StateChangeError);

impl RunningPipeline {
    pub fn start(
        pipeline: gst::Pipeline,
        incarnation: u64,
        stage: Stage,
        reports: mpsc::Sender<Report>,
    ) -> Result<Self, StartError> {
        let (cancel, cancelled) = oneshot::channel();
        watch_bus(&pipeline, incarnation, stage, reports, cancelled);
        let running = Self {
            pipeline,
            _bus_watch: cancel,
        };
        // Going to PLAYING may wait on elements (an RTSP source's first
        // exchange); tell the runtime this thread is busy instead of stalling it.
        let result =
            tokio::task::block_in_place(|| running.pipeline.set_state(gst::State::Playing));
        result?;
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
/// until EOS, until the owner's channel closes, or until `cancelled`. This
/// is an async task, not a streaming thread, so it may wait for room.
fn watch_bus(
    pipeline: &gst::Pipeline,
    incarnation: u64,
    stage: Stage,
    reports: mpsc::Sender<Report>,
    mut cancelled: oneshot::Receiver<()>,
) {
    let Some(bus) = pipeline.bus() else { return };
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
            let news = match message.view() {
                gst::MessageView::Error(err) => News::Error(format!(
                    "{} ({})",
                    err.error(),
                    err.src()
                        .map(|s| s.path_string().to_string())
                        .unwrap_or_default()
                )),
                gst::MessageView::Eos(_) => News::Eos,
                _ => continue,
            };
            let last = news == News::Eos;
            let report = Report {
                incarnation,
                stage,
                news,
            };
            if reports.send(report).await.is_err() || last {
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
