//! One ingest pipeline: a source-specific head (RTSP camera, pushed bytes,
//! test pattern, slate) whose parsed elementary streams are linked to the
//! shared video and audio tails, which end in appsinks.
//!
//! Appsink callbacks run on GStreamer streaming threads: they only
//! `try_send` into the owner's bounded channels and count what they drop.
//! Frames go on one channel, reports (errors, facts about the feed) on
//! another, so a flood of frames never hides a failure.

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use tokio::sync::mpsc;

use super::{Frame, FrameKind, FrameMsg, IngestError};
use crate::media::format::{VideoCodec, VideoFormat, kbps_for};
use crate::media::pipeline::{News, Report, RunningPipeline, Stage, try_report};
use crate::pipelines;

/// What to build the head from.
#[derive(Debug, Clone)]
pub enum IngestSpec {
    /// A moving test pattern with the wall clock and a tone, encoded like a camera.
    Test {
        title: String,
        width: u32,
        height: u32,
        fps: u32,
    },
    /// The "signal lost" card, at the size of the camera it stands in for.
    Slate { width: u32, height: u32, fps: u32 },
    Rtsp {
        url: String,
        username: Option<String>,
        password: Option<String>,
    },
    /// Bytes pushed by the RTMP (as FLV) or SRT (as MPEG-TS) servers.
    Pushed { caps: &'static str },
    /// Frames a WHIP publisher sent, depacketized by the WebRTC hub: H.264
    /// access units on `input`, Opus packets on `input_audio`.
    Whip,
}

pub const FLV_CAPS: &str = "video/x-flv";
pub const MPEGTS_CAPS: &str = "video/mpegts,systemstream=true";
/// What the WHIP listener pushes: frames on two inputs, not one byte stream.
pub const WHIP_CAPS: &str = "video/x-h264+audio/x-opus";

impl IngestSpec {
    /// The ingest for what a push listener sends, by the caps it named.
    pub fn pushed(caps: &'static str) -> Self {
        if caps == WHIP_CAPS {
            IngestSpec::Whip
        } else {
            IngestSpec::Pushed { caps }
        }
    }
}

impl IngestSpec {
    fn description(&self) -> Result<String, IngestError> {
        let text = match self {
            IngestSpec::Test {
                title,
                width,
                height,
                fps,
            } => pipelines::fill(
                pipelines::INGEST_TEST,
                &[
                    ("width", &width.to_string()),
                    ("height", &height.to_string()),
                    ("fps", &fps.to_string()),
                    ("title", title),
                    ("font", pipelines::OVERLAY_FONT),
                    ("kbps", &kbps_for(*width, *height, *fps).to_string()),
                    ("gop", &(fps * 2).to_string()),
                ],
            )?,
            IngestSpec::Slate { width, height, fps } => pipelines::fill(
                pipelines::INGEST_SLATE,
                &[
                    ("width", &width.to_string()),
                    ("height", &height.to_string()),
                    ("fps", &fps.to_string()),
                    ("font", pipelines::OVERLAY_FONT),
                    ("font_size", &(height / 14).max(12).to_string()),
                    ("small_font_size", &(height / 28).max(8).to_string()),
                    // A still card compresses to almost nothing.
                    ("kbps", "300"),
                    ("gop", &(fps * 2).to_string()),
                ],
            )?,
            IngestSpec::Rtsp {
                url,
                username,
                password,
            } => pipelines::fill(
                pipelines::INGEST_RTSP,
                &[
                    ("url", url),
                    ("username", username.as_deref().unwrap_or("")),
                    ("password", password.as_deref().unwrap_or("")),
                ],
            )?,
            IngestSpec::Pushed { caps } => {
                pipelines::fill(pipelines::INGEST_PUSHED, &[("caps", caps)])?
            }
            IngestSpec::Whip => pipelines::INGEST_WHIP.to_string(),
        };
        Ok(text)
    }
}

/// A running ingest pipeline. Dropping it stops the pipeline off-thread.
pub struct IngestPipeline {
    _running: RunningPipeline,
    input: Option<gst_app::AppSrc>,
    input_audio: Option<gst_app::AppSrc>,
}

impl IngestPipeline {
    pub fn start(
        spec: &IngestSpec,
        incarnation: u64,
        frames: mpsc::Sender<FrameMsg>,
        reports: mpsc::Sender<Report>,
    ) -> Result<Self, IngestError> {
        let description = spec.description()?;
        let bin = gst::parse::bin_from_description(&description, false)
            .map_err(|e| IngestError::Pipeline(e.to_string()))?;
        let pipeline = gst::Pipeline::new();
        pipeline
            .add(&bin)
            .map_err(|e| IngestError::Pipeline(e.to_string()))?;
        // Dynamic tails go into the head's bin: pads link only within one bin.
        let linker = Linker {
            bin: bin.downgrade(),
            incarnation,
            frames,
            reports: reports.clone(),
        };

        if let Some(video) = pipeline.by_name("video_es") {
            linker.link(&static_src(&video)?)?;
        }
        if let Some(audio) = pipeline.by_name("audio_es") {
            linker.link(&static_src(&audio)?)?;
        }
        if let Some(parse) = pipeline.by_name("parse") {
            let linker = linker.clone();
            parse.connect_pad_added(move |_, pad| linker.link_or_report(pad));
        }
        if let Some(rtspsrc) = pipeline.by_name("src") {
            // Each RTSP stream gets its own parsebin to depayload and parse it.
            let linker = linker.clone();
            rtspsrc.connect_pad_added(move |_, pad| {
                let result = (|| -> Result<(), IngestError> {
                    let parsebin = gst::ElementFactory::make("parsebin")
                        .build()
                        .map_err(|e| IngestError::Pipeline(e.to_string()))?;
                    let inner = linker.clone();
                    parsebin.connect_pad_added(move |_, pad| inner.link_or_report(pad));
                    linker
                        .bin()?
                        .add(&parsebin)
                        .map_err(|e| IngestError::Pipeline(e.to_string()))?;
                    parsebin
                        .sync_state_with_parent()
                        .map_err(|e| IngestError::Pipeline(e.to_string()))?;
                    let sink = parsebin
                        .static_pad("sink")
                        .ok_or(IngestError::Pipeline("parsebin without sink".into()))?;
                    pad.link(&sink)
                        .map_err(|e| IngestError::Pipeline(e.to_string()))?;
                    Ok(())
                })();
                if let Err(e) = result {
                    linker.report(e.to_string());
                }
            });
        }

        let appsrc = |name: &str| {
            pipeline
                .by_name(name)
                .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        };
        let input = appsrc("input");
        let input_audio = appsrc("input_audio");
        let running = RunningPipeline::start(pipeline, incarnation, Stage::Ingest, reports)?;
        Ok(Self {
            _running: running,
            input,
            input_audio,
        })
    }

    /// Where pushed bytes go (RTMP, SRT), or a WHIP feed's video.
    pub fn input(&self) -> Option<gst_app::AppSrc> {
        self.input.clone()
    }

    /// A WHIP feed's audio.
    pub fn input_audio(&self) -> Option<gst_app::AppSrc> {
        self.input_audio.clone()
    }
}

impl Drop for IngestPipeline {
    fn drop(&mut self) {
        // A pushed feed's parser flushes what it has; the pipeline stops after.
        for input in [&self.input, &self.input_audio].into_iter().flatten() {
            let _ = input.end_of_stream();
        }
    }
}

fn static_src(element: &gst::Element) -> Result<gst::Pad, IngestError> {
    element
        .static_pad("src")
        .ok_or_else(|| IngestError::Pipeline(format!("{} has no src pad", element.name())))
}

/// Links parsed elementary-stream pads to the video/audio tails.
#[derive(Clone)]
struct Linker {
    /// Weak: the linker lives in pad-added handlers of elements inside
    /// this bin, and a strong reference would keep every ingest graph
    /// alive after it stops (one leaked pipeline per reconnect).
    bin: gst::glib::WeakRef<gst::Bin>,
    incarnation: u64,
    frames: mpsc::Sender<FrameMsg>,
    reports: mpsc::Sender<Report>,
}

impl Linker {
    fn report(&self, message: String) {
        self.send(News::Error(message));
    }

    fn link_or_report(&self, pad: &gst::Pad) {
        if let Err(e) = self.link(pad) {
            self.report(e.to_string());
        }
    }

    fn bin(&self) -> Result<gst::Bin, IngestError> {
        self.bin
            .upgrade()
            .ok_or_else(|| IngestError::Pipeline("the pipeline is gone".into()))
    }

    fn link(&self, pad: &gst::Pad) -> Result<(), IngestError> {
        let bin = self.bin()?;
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let name = caps
            .structure(0)
            .map(|s| s.name().to_string())
            .unwrap_or_default();
        let tail = if let Some(codec) = VideoCodec::from_caps_name(&name) {
            if bin.by_name("video").is_some() {
                None // a second video stream: keep the first
            } else {
                Some(pipelines::fill(
                    pipelines::INGEST_VIDEO,
                    &[("parser", codec.parser()), ("codec", codec.caps_name())],
                )?)
            }
        } else if name.starts_with("audio/") && bin.by_name("audio").is_none() {
            Some(pipelines::INGEST_AUDIO.to_string())
        } else {
            None
        };
        let Some(tail) = tail else {
            if name.starts_with("video/") && VideoCodec::from_caps_name(&name).is_none() {
                self.send(News::Unsupported(name.clone()));
            } else if name.starts_with("audio/") {
                self.send(News::AudioSeen);
            }
            // Unused streams still need a sink, or the demuxer stops with not-linked.
            return self.link_into(pad, "fakesink sync=false async=false");
        };
        if name.starts_with("audio/") {
            self.send(News::AudioSeen);
        }
        self.link_into(pad, &tail)
    }

    fn send(&self, news: News) {
        try_report(&self.reports, self.incarnation, Stage::Ingest, news);
    }

    fn link_into(&self, pad: &gst::Pad, description: &str) -> Result<(), IngestError> {
        let bin = gst::parse::bin_from_description(description, false)
            .map_err(|e| IngestError::Pipeline(e.to_string()))?;
        // Ghost the tail's entry explicitly: with decodebin's delayed links,
        // automatic ghosting may pick a pad deeper inside.
        let entry = bin
            .by_name("tail_in")
            .and_then(|e| e.static_pad("sink"))
            .or_else(|| {
                bin.iterate_elements()
                    .into_iter()
                    .flatten()
                    .find_map(|e| e.static_pad("sink"))
            })
            .ok_or_else(|| IngestError::Pipeline("tail without an entry".into()))?;
        let ghost =
            gst::GhostPad::with_target(&entry).map_err(|e| IngestError::Pipeline(e.to_string()))?;
        bin.add_pad(&ghost)
            .map_err(|e| IngestError::Pipeline(e.to_string()))?;
        if let Some(sink) = bin
            .by_name("video")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        {
            sink.set_callbacks(video_callbacks(self.incarnation, self.frames.clone()));
        }
        if let Some(sink) = bin
            .by_name("audio")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        {
            sink.set_callbacks(audio_callbacks(self.incarnation, self.frames.clone()));
        }
        self.bin()?
            .add(&bin)
            .map_err(|e| IngestError::Pipeline(e.to_string()))?;
        bin.sync_state_with_parent()
            .map_err(|e| IngestError::Pipeline(e.to_string()))?;
        pad.link(&ghost).map_err(|e| {
            IngestError::Pipeline(format!(
                "link {} ({}) to tail: {e:?}",
                pad.name(),
                pad.query_caps(None)
            ))
        })?;
        Ok(())
    }
}

fn video_format(caps: &gst::CapsRef) -> Option<VideoFormat> {
    let s = caps.structure(0)?;
    let codec = VideoCodec::from_caps_name(s.name())?;
    let width = s.get::<i32>("width").ok()?;
    let height = s.get::<i32>("height").ok()?;
    let fps = s
        .get::<gst::Fraction>("framerate")
        .ok()
        .filter(|f| f.numer() > 0 && f.denom() > 0)
        .map(|f| (f.numer() as f64 / f.denom() as f64).round() as u32)
        .unwrap_or(25);
    Some(VideoFormat {
        codec,
        width: width.max(2) as u32,
        height: height.max(2) as u32,
        fps: fps.clamp(1, 120),
        profile: s.get::<String>("profile").ok(),
    })
}

fn running_time(
    segment: &gst::FormattedSegment<gst::ClockTime>,
    t: Option<gst::ClockTime>,
) -> Option<gst::ClockTime> {
    t.and_then(|t| segment.to_running_time(t))
}

fn frame_from(sample: &gst::Sample) -> Option<Frame> {
    let buffer = sample.buffer_owned()?;
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?.clone();
    let pts = running_time(&segment, buffer.pts());
    let dts = running_time(&segment, buffer.dts()).or(pts);
    Some(Frame {
        pts: pts.or(dts)?,
        dts: dts?,
        duration: buffer.duration(),
        keyframe: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
        buffer,
    })
}

fn video_callbacks(incarnation: u64, frames: mpsc::Sender<FrameMsg>) -> gst_app::AppSinkCallbacks {
    let mut last_caps: Option<gst::Caps> = None;
    gst_app::AppSinkCallbacks::builder()
        .new_sample(move |sink| {
            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
            let changed = sample
                .caps()
                .filter(|caps| last_caps.as_ref().map(|c| c.as_ref()) != Some(*caps))
                .map(|caps| caps.to_owned());
            let format = changed.as_deref().and_then(video_format);
            if let Some(frame) = frame_from(&sample) {
                let msg = FrameMsg {
                    incarnation,
                    kind: FrameKind::Video { frame, format },
                };
                if frames.try_send(msg).is_ok() {
                    // Only once the format has reached the task: a dropped
                    // frame must not take the news of new caps with it.
                    if changed.is_some() {
                        last_caps = changed;
                    }
                } else {
                    metrics::counter!("classcast_channel_dropped_total", "channel" => "frames")
                        .increment(1);
                }
            }
            Ok(gst::FlowSuccess::Ok)
        })
        .build()
}

fn audio_callbacks(incarnation: u64, frames: mpsc::Sender<FrameMsg>) -> gst_app::AppSinkCallbacks {
    gst_app::AppSinkCallbacks::builder()
        .new_sample(move |sink| {
            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
            if let Some(frame) = frame_from(&sample) {
                let msg = FrameMsg {
                    incarnation,
                    kind: FrameKind::Audio(frame),
                };
                if frames.try_send(msg).is_err() {
                    metrics::counter!("classcast_channel_dropped_total", "channel" => "frames")
                        .increment(1);
                }
            }
            Ok(gst::FlowSuccess::Ok)
        })
        .build()
}
