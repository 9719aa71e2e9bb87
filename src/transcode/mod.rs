//! The ABR ladder: one pipeline per incarnation that takes the camera's
//! elementary streams from appsrcs, passes H.264 through, decodes once and
//! encodes each lower rendition once, and muxes every rendition into fMP4
//! fragments. Encode once, fan out to many: nothing here is per viewer.

pub mod audio_gaps;
pub mod plan;
pub mod rtp;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use tokio::sync::mpsc;

use crate::media::format::VideoFormat;
use crate::media::pipeline::{Report, RunningPipeline, Stage};
use crate::pipelines;
use plan::{RenditionKind, RenditionPlan};

/// What a ladder makes, sent from its appsinks to the classroom.
#[derive(Debug)]
pub enum LadderOutput {
    /// One complete fMP4 fragment (moof+mdat): an HLS segment. The first
    /// fragment of each rendition carries its init segment (ftyp+moov), and
    /// so does every fragment until one was delivered: an init cannot be
    /// lost to a full channel, and arrives with the segment that needs it.
    Fragment {
        rendition: usize,
        init: Option<Bytes>,
        data: Bytes,
        pts: gst::ClockTime,
        duration: gst::ClockTime,
    },
    /// A small JPEG of the picture, about once a second.
    Thumbnail(Bytes),
}

#[derive(Debug)]
pub struct LadderMsg {
    pub incarnation: u64,
    pub output: LadderOutput,
}

#[derive(Debug, thiserror::Error)]
pub enum LadderError {
    #[error("pipeline description: {0}")]
    Template(#[from] crate::pipelines::TemplateError),
    #[error("pipeline: {0}")]
    Pipeline(String),
    #[error(transparent)]
    Start(#[from] crate::media::pipeline::StartError),
}

/// Settings a ladder is built with.
#[derive(Debug, Clone)]
pub struct LadderSettings {
    pub segment: std::time::Duration,
    pub x264_preset: String,
}

/// How far behind an encoder may fall before its queue sheds frames:
/// enough to ride out bursts of frames from the network, little enough that
/// an overloaded rendition stays close to live.
const SHED_QUEUE: std::time::Duration = std::time::Duration::from_millis(300);

pub struct Ladder {
    running: RunningPipeline,
    video: gst_app::AppSrc,
    audio: gst_app::AppSrc,
    /// The leaky queues in front of the decoder and the encoders.
    shedding: Vec<ShedQueue>,
    /// Where the RTP branches go; told when this ladder ends.
    rtp: Option<(rtp::RtpTap, u64)>,
}

impl Drop for Ladder {
    fn drop(&mut self) {
        if let Some((tap, incarnation)) = &self.rtp {
            let ended = rtp::RtpMsg::Ended {
                classroom: tap.classroom,
                incarnation: *incarnation,
            };
            tap.send(ended);
        }
    }
}

/// 16:9-ish thumbnails, 320 wide, height following the camera.
fn thumbnail_size(format: &VideoFormat) -> (u32, u32) {
    let height = (320.0 * f64::from(format.height) / f64::from(format.width.max(1))) as u32;
    (320, (height / 2 * 2).max(2))
}

/// The whole ladder as one gst-launch description: readable, loggable, and
/// runnable by hand with the appsrcs swapped for a file.
pub fn describe(
    format: &VideoFormat,
    renditions: &[RenditionPlan],
    settings: &LadderSettings,
) -> Result<String, LadderError> {
    let (thumb_width, thumb_height) = thumbnail_size(format);
    let video_caps = format!(
        "{},stream-format=byte-stream,alignment=au",
        format.codec.caps_name()
    );
    let mut text = pipelines::fill(
        pipelines::LADDER,
        &[
            ("video_caps", &video_caps),
            ("parser", format.codec.parser()),
            ("codec", format.codec.caps_name()),
            ("decoder", format.codec.decoder()),
            ("thumb_width", &thumb_width.to_string()),
            ("thumb_height", &thumb_height.to_string()),
        ],
    )?;
    let fragment_ns = settings.segment.as_nanos().to_string();
    // The muxer asks the encoder upstream for a keyframe at every fragment
    // boundary (fmp4mux's send-force-keyunit), by running time, so a
    // rendition that sheds frames still cuts its segments on time; x264's
    // own limit, in frames, is only a distant backstop.
    let max_gop = (format.fps as u64 * settings.segment.as_secs().max(1) * 4).to_string();
    for rendition in renditions {
        let part = match rendition.kind {
            RenditionKind::Passthrough => pipelines::fill(
                pipelines::RENDITION_PASSTHROUGH,
                &[("name", &rendition.name), ("fragment_ns", &fragment_ns)],
            )?,
            RenditionKind::Transcode { kbps } => pipelines::fill(
                pipelines::RENDITION_TRANSCODE,
                &[
                    ("name", &rendition.name),
                    ("fragment_ns", &fragment_ns),
                    ("shed_ns", &SHED_QUEUE.as_nanos().to_string()),
                    ("width", &rendition.width.to_string()),
                    ("height", &rendition.height.to_string()),
                    ("kbps", &kbps.to_string()),
                    ("max_gop", &max_gop),
                    ("preset", &settings.x264_preset),
                ],
            )?,
        };
        text.push('\n');
        text.push_str(&part);
    }
    Ok(text)
}

impl Ladder {
    pub fn start(
        description: &str,
        format: &VideoFormat,
        renditions: &[RenditionPlan],
        incarnation: u64,
        outputs: mpsc::Sender<LadderMsg>,
        reports: mpsc::Sender<Report>,
        tap: Option<&rtp::RtpTap>,
    ) -> Result<Self, LadderError> {
        let bin = gst::parse::bin_from_description(description, false)
            .map_err(|e| LadderError::Pipeline(e.to_string()))?;
        let pipeline = gst::Pipeline::with_name(&format!("ladder-{incarnation}"));
        pipeline
            .add(&bin)
            .map_err(|e| LadderError::Pipeline(e.to_string()))?;
        let appsrc = |name: &str| {
            pipeline
                .by_name(name)
                .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
                .ok_or_else(|| LadderError::Pipeline(format!("no appsrc {name}")))
        };
        let video = appsrc("video")?;
        let audio = appsrc("audio")?;
        let shedding = watch_shedding(&pipeline, renditions);
        pace_thumbnails(&pipeline);
        for (index, rendition) in renditions.iter().enumerate() {
            let sink = pipeline
                .by_name(&format!("rendition_{}", rendition.name))
                .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
                .ok_or_else(|| LadderError::Pipeline(format!("no sink for {}", rendition.name)))?;
            sink.set_callbacks(fragment_callbacks(index, incarnation, outputs.clone()));
        }
        if let Some(thumbnail) = pipeline
            .by_name("thumbnail")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        {
            let outputs = outputs.clone();
            thumbnail.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        if let Some(buffer) = sample.buffer()
                            && let Ok(map) = buffer.map_readable()
                        {
                            // A lost thumbnail is replaced within a second.
                            let thumbnail = LadderMsg {
                                incarnation,
                                output: LadderOutput::Thumbnail(Bytes::copy_from_slice(&map)),
                            };
                            if outputs.try_send(thumbnail).is_err() {
                                metrics::counter!(
                                    "classcast_channel_dropped_total",
                                    "channel" => "thumbnails"
                                )
                                .increment(1);
                            }
                        }
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
        }
        let video_tracks =
            tap.map(|tap| rtp::attach(&pipeline, format, renditions, incarnation, tap));
        let running = RunningPipeline::start(pipeline, incarnation, Stage::Ladder, reports)?;
        let rtp = tap.zip(video_tracks).map(|(tap, video)| {
            let started = rtp::RtpMsg::Started {
                classroom: tap.classroom,
                incarnation,
                video,
            };
            tap.send(started);
            (tap.clone(), incarnation)
        });
        Ok(Self {
            running,
            video,
            audio,
            shedding,
            rtp,
        })
    }

    /// Pictures shed so far because the machine could not keep up, by the
    /// decoder's queue and every encoder's.
    pub fn shed_frames(&self) -> u64 {
        self.shedding.iter().map(ShedQueue::shed).sum()
    }

    /// Both pushes are non-blocking (appsrc `block=false`); a full queue
    /// means the machine cannot keep up, and the error says so.
    pub fn push_video(&self, buffer: gst::Buffer) -> Result<(), gst::FlowError> {
        self.video.push_buffer(buffer).map(|_| ())
    }

    pub fn push_audio(&self, buffer: gst::Buffer) -> Result<(), gst::FlowError> {
        self.audio.push_buffer(buffer).map(|_| ())
    }

    /// Flushes the last fragments out; `LadderEos` follows on the channel.
    pub fn finish(&self) {
        let _ = self.video.end_of_stream();
        let _ = self.audio.end_of_stream();
    }

    /// Current caps on a muxer's input pads, for the playlist's CODECS.
    pub fn codecs(&self, rendition: &str) -> Option<String> {
        let mux = self
            .running
            .pipeline()
            .by_name(&format!("mux_{rendition}"))?;
        let mut codecs = Vec::new();
        for pad in mux.sink_pads() {
            let caps = pad.current_caps()?;
            let codec =
                gstreamer_pbutils::functions::codec_utils_caps_get_mime_codec(&caps).ok()?;
            codecs.push(codec.to_string());
        }
        Some(codecs.join(","))
    }
}

/// One leaky queue and what passed through it, counted by probes on its
/// pads: what went in, less what came out and what it holds, was shed.
struct ShedQueue {
    queue: gst::Element,
    entered: Arc<AtomicU64>,
    left: Arc<AtomicU64>,
    /// Pictures dropped after the queue, waiting for a keyframe.
    discarded: Arc<AtomicU64>,
}

impl ShedQueue {
    fn shed(&self) -> u64 {
        let level = u64::from(self.queue.property::<u32>("current-level-buffers"));
        let entered = self.entered.load(Ordering::Relaxed);
        let left = self.left.load(Ordering::Relaxed);
        entered.saturating_sub(left + level) + self.discarded.load(Ordering::Relaxed)
    }
}

/// One thumbnail a second of stream time. This used to be `videorate
/// drop-only=true max-rate=1`, but videorate asserts (a `g_error`, so the
/// whole process exits) on buffers without a duration, which is what a
/// browser's WHIP H.264 decodes to: its SPS carries no frame timing.
fn pace_thumbnails(pipeline: &gst::Pipeline) {
    let Some(src) = pipeline
        .by_name("thumb_gate")
        .and_then(|q| q.static_pad("src"))
    else {
        return;
    };
    const NONE: u64 = u64::MAX;
    let last = AtomicU64::new(NONE);
    src.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let Some(pts) = info.buffer().and_then(|b| b.pts()) else {
            return gst::PadProbeReturn::Drop;
        };
        let previous = last.load(Ordering::Relaxed);
        let previous = (previous != NONE).then_some(previous);
        if thumbnail_due(previous, pts.nseconds()) {
            last.store(pts.nseconds(), Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        } else {
            gst::PadProbeReturn::Drop
        }
    });
}

/// Whether a picture at `pts` becomes the next thumbnail: the first one,
/// one a second after the last, or any after timestamps jumped back.
fn thumbnail_due(last: Option<u64>, pts: u64) -> bool {
    match last {
        None => true,
        Some(last) => pts < last || pts - last >= 1_000_000_000,
    }
}

/// Counts what the leaky queues drop, and keeps the decoder from being fed
/// pictures whose references were dropped: a queue that leaked marks the
/// next buffer it lets out DISCONT, and from there everything up to the
/// next keyframe goes too. Probes run on streaming threads: they count and
/// decide, nothing more.
fn watch_shedding(pipeline: &gst::Pipeline, renditions: &[RenditionPlan]) -> Vec<ShedQueue> {
    let queues =
        std::iter::once("decode".to_string()).chain(renditions.iter().map(|r| r.name.clone()));
    let mut watched = Vec::new();
    for name in queues {
        let Some(queue) = pipeline.by_name(&format!("shed_{name}")) else {
            continue; // passthrough renditions have no shedding queue
        };
        let (Some(sink), Some(src)) = (queue.static_pad("sink"), queue.static_pad("src")) else {
            continue;
        };
        let shed = ShedQueue {
            queue,
            entered: Arc::new(AtomicU64::new(0)),
            left: Arc::new(AtomicU64::new(0)),
            discarded: Arc::new(AtomicU64::new(0)),
        };
        let entered = shed.entered.clone();
        sink.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            entered.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
        let (left, discarded) = (shed.left.clone(), shed.discarded.clone());
        let decode = name == "decode";
        let broken = AtomicBool::new(false);
        src.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            left.fetch_add(1, Ordering::Relaxed);
            let Some(flags) = info.buffer().map(|b| b.flags()) else {
                return gst::PadProbeReturn::Ok;
            };
            if !decode {
                return gst::PadProbeReturn::Ok;
            }
            if !flags.contains(gst::BufferFlags::DELTA_UNIT) {
                broken.store(false, Ordering::Relaxed);
                return gst::PadProbeReturn::Ok;
            }
            if flags.contains(gst::BufferFlags::DISCONT) {
                broken.store(true, Ordering::Relaxed);
            }
            if broken.load(Ordering::Relaxed) {
                discarded.fetch_add(1, Ordering::Relaxed);
                gst::PadProbeReturn::Drop
            } else {
                gst::PadProbeReturn::Ok
            }
        });
        watched.push(shed);
    }
    watched
}

/// Turns isofmp4mux output into fragments. Each sample is a buffer list:
/// [init (DISCONT|HEADER), only once] + moof (HEADER) + media.
fn fragment_callbacks(
    rendition: usize,
    incarnation: u64,
    outputs: mpsc::Sender<LadderMsg>,
) -> gst_app::AppSinkCallbacks {
    // Only this rendition's streaming thread touches it.
    let mut pending_init: Option<Bytes> = None;
    gst_app::AppSinkCallbacks::builder()
        .new_sample(move |sink| {
            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
            let Some(list) = sample.buffer_list() else {
                return Ok(gst::FlowSuccess::Ok);
            };
            let mut fragment = BytesMut::new();
            let mut first: Option<(gst::ClockTime, gst::ClockTime)> = None;
            for buffer in list.iter() {
                let Ok(map) = buffer.map_readable() else {
                    continue;
                };
                let flags = buffer.flags();
                if flags.contains(gst::BufferFlags::DISCONT | gst::BufferFlags::HEADER) {
                    pending_init = Some(Bytes::copy_from_slice(&map));
                    continue;
                }
                if first.is_none() && flags.contains(gst::BufferFlags::HEADER) {
                    let segment = sample
                        .segment()
                        .and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned());
                    let pts = buffer
                        .pts()
                        .and_then(|pts| segment.and_then(|s| s.to_running_time(pts)))
                        .unwrap_or(gst::ClockTime::ZERO);
                    first = Some((pts, buffer.duration().unwrap_or(gst::ClockTime::ZERO)));
                }
                fragment.extend_from_slice(&map);
            }
            if let Some((pts, duration)) = first {
                let msg = LadderMsg {
                    incarnation,
                    output: LadderOutput::Fragment {
                        rendition,
                        init: pending_init.clone(),
                        data: fragment.freeze(),
                        pts,
                        duration,
                    },
                };
                if outputs.try_send(msg).is_ok() {
                    pending_init = None;
                } else {
                    metrics::counter!("classcast_channel_dropped_total", "channel" => "fragments")
                        .increment(1);
                }
            }
            Ok(gst::FlowSuccess::Ok)
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::thumbnail_due;

    const S: u64 = 1_000_000_000;

    #[test]
    fn thumbnails_come_once_a_second_of_stream_time() {
        assert!(thumbnail_due(None, 5 * S));
        assert!(!thumbnail_due(Some(5 * S), 5 * S + S / 30));
        assert!(!thumbnail_due(Some(5 * S), 6 * S - 1));
        assert!(thumbnail_due(Some(5 * S), 6 * S));
    }

    #[test]
    fn timestamps_that_jump_back_restart_the_pace() {
        assert!(thumbnail_due(Some(50 * S), S));
    }
}
