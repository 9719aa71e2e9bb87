//! One incarnation's media: its ingest pipeline and the ladder it starts on
//! the first keyframe, with frames timed onto the ladder's timeline (0 = the
//! first keyframe) and audio kept continuous with silence.
//!
//! Runs on the classroom task. Pushing into the ladder's appsrcs never
//! blocks (`block=false`); a full queue is counted and the frame dropped.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use gstreamer as gst;
use tokio::sync::mpsc;
use tracing::warn;

use crate::ingest::pipeline::{IngestPipeline, IngestSpec};
use crate::ingest::{Frame, FrameMsg};
use crate::media::format::VideoFormat;
use crate::media::pipeline::Report;
use crate::transcode::audio_gaps::{AudioAction, AudioGaps};
use crate::transcode::plan::{self, RenditionPlan};
use crate::transcode::{Ladder, LadderMsg, LadderSettings};

const AUDIO_RATE: u64 = 48_000;
const AUDIO_BYTES_PER_FRAME: u64 = 4; // S16LE stereo
/// A feed whose clock jumps further than this (an encoder restarting its
/// timestamps, a 32-bit wrap) starts over as a new incarnation: the
/// ladder's timeline must stay continuous, and a jump must never turn into
/// an hour of inserted silence.
const MAX_FORWARD_JUMP_NS: u64 = 10_000_000_000;
const MAX_BACKWARD_JUMP_NS: u64 = 1_000_000_000;
/// A fragment this short flushed at the end holds only trailing audio.
pub const TAIL_FRAGMENT_MIN: gst::ClockTime = gst::ClockTime::from_mseconds(200);

/// Where an incarnation's pipelines send what they make.
#[derive(Clone)]
pub struct Channels {
    pub frames: mpsc::Sender<FrameMsg>,
    pub ladder: mpsc::Sender<LadderMsg>,
    pub reports: mpsc::Sender<Report>,
    /// The WebRTC fan-out's intake, when WebRTC is on.
    pub rtp: Option<crate::transcode::rtp::RtpTap>,
}

/// What a video frame meant.
#[derive(Debug)]
pub enum VideoOutcome {
    /// An ordinary frame (or one dropped before the first keyframe).
    Frame,
    /// The first keyframe: the ladder runs and the incarnation shows a picture.
    FirstPicture,
    /// The camera changed size or codec, or its clock jumped: it must
    /// reconnect afresh.
    FormatChanged,
    /// The ladder could not be built or started.
    LadderFailed(IncarnationError),
}

pub struct Incarnation {
    pub id: u64,
    pub slate: bool,
    ingest: Option<IngestPipeline>,
    ladder: Option<Ladder>,
    /// Renditions in ladder order, and their names as one shared list.
    pub renditions: Vec<RenditionPlan>,
    pub lineup: Arc<[String]>,
    pub format: Option<VideoFormat>,
    /// Ingest running time of the first keyframe: 0 on the ladder's timeline.
    origin: Option<gst::ClockTime>,
    pub wall_origin: DateTime<Utc>,
    audio: AudioGaps,
    video_end: u64,
    /// The newest video decode time on the ladder's timeline.
    last_dts: Option<u64>,
    /// Renditions that already produced a fragment (the first one is a discontinuity).
    produced: Vec<bool>,
    pub retiring: bool,
    /// The newest video frame, pushed once the next one arrives. A feed that
    /// ends mid-frame (an SRT caller hanging up mid-PES) leaves its last
    /// frame truncated; holding one frame back keeps it out of the lesson.
    held_video: Option<gst::Buffer>,
    /// Codec strings per rendition, read from the muxer at its first fragment.
    codecs: Vec<Option<String>>,
}

/// Why an incarnation's pipelines did not start; shown in the classroom's
/// status as its problem.
#[derive(Debug, thiserror::Error)]
pub enum IncarnationError {
    #[error("the source is gone")]
    SourceGone,
    #[error("ingest: {0}")]
    Ingest(#[from] crate::ingest::IngestError),
    #[error("ladder: {0}")]
    Ladder(#[from] crate::transcode::LadderError),
}

impl Incarnation {
    pub fn start(
        id: u64,
        spec: &IngestSpec,
        slate: bool,
        channels: &Channels,
    ) -> Result<Self, IncarnationError> {
        let ingest =
            IngestPipeline::start(spec, id, channels.frames.clone(), channels.reports.clone())?;
        Ok(Self {
            id,
            slate,
            ingest: Some(ingest),
            ladder: None,
            renditions: Vec::new(),
            lineup: Arc::from(Vec::new()),
            format: None,
            origin: None,
            wall_origin: Utc::now(),
            audio: AudioGaps::new(),
            video_end: 0,
            last_dts: None,
            produced: Vec::new(),
            retiring: false,
            held_video: None,
            codecs: Vec::new(),
        })
    }

    /// Frames this incarnation's ladder has shed under overload.
    pub fn shed_frames(&self) -> u64 {
        self.ladder.as_ref().map_or(0, |l| l.shed_frames())
    }

    /// Where a pushed feed's bytes go (RTMP, SRT; WHIP video).
    pub fn input(&self) -> Option<gstreamer_app::AppSrc> {
        self.ingest.as_ref().and_then(|i| i.input())
    }

    pub fn input_audio(&self) -> Option<gstreamer_app::AppSrc> {
        self.ingest.as_ref().and_then(|i| i.input_audio())
    }

    /// Takes one video frame. `plan_for` decides the renditions when the
    /// first keyframe starts the ladder.
    pub fn video(
        &mut self,
        frame: Frame,
        format: Option<VideoFormat>,
        settings: &LadderSettings,
        plan_for: impl FnOnce(&VideoFormat) -> Vec<RenditionPlan>,
        channels: &Channels,
    ) -> VideoOutcome {
        if self.retiring {
            return VideoOutcome::Frame;
        }
        if let Some(format) = format {
            if self.format.as_ref().is_some_and(|f| {
                f.width != format.width || f.height != format.height || f.codec != format.codec
            }) {
                warn!(incarnation = self.id, "video format changed; reconnecting");
                return VideoOutcome::FormatChanged;
            }
            self.format = Some(format);
        }
        let mut outcome = VideoOutcome::Frame;
        if self.origin.is_none() {
            if !frame.keyframe {
                return outcome; // decoders need a keyframe to start
            }
            let Some(format) = self.format.clone() else {
                return outcome;
            };
            if let Err(e) = self.start_ladder(&format, settings, plan_for(&format), channels) {
                return VideoOutcome::LadderFailed(e);
            }
            self.origin = Some(frame.dts.min(frame.pts));
            self.wall_origin = Utc::now();
            outcome = VideoOutcome::FirstPicture;
        }
        let origin = self.origin.unwrap_or_default();
        let dts = frame.dts.saturating_sub(origin);
        let pts = frame.pts.saturating_sub(origin);
        if let Some(last) = self.last_dts
            && clock_jumped(last, dts.nseconds())
        {
            warn!(
                incarnation = self.id,
                from_ns = last,
                to_ns = dts.nseconds(),
                "the feed's clock jumped; reconnecting"
            );
            return VideoOutcome::FormatChanged;
        }
        self.last_dts = Some(dts.nseconds());
        let duration = frame.duration.unwrap_or(gst::ClockTime::from_mseconds(40));
        self.video_end = self.video_end.max((pts + duration).nseconds());
        let mut buffer = frame.buffer.copy();
        {
            // `copy` shares the memory and gives us a writable header.
            let buffer = buffer.get_mut().expect("fresh copy is writable");
            buffer.set_pts(pts);
            buffer.set_dts(dts);
        }
        let silence = self.audio.on_video(dts.nseconds());
        if let Some(ladder) = &self.ladder {
            if let Some(action) = silence {
                push_audio_action(ladder, action, None);
            }
            if let Some(previous) = self.held_video.replace(buffer)
                && ladder.push_video(previous).is_err()
            {
                metrics::counter!("classcast_ladder_push_failed_total").increment(1);
            }
        }
        outcome
    }

    fn start_ladder(
        &mut self,
        format: &VideoFormat,
        settings: &LadderSettings,
        renditions: Vec<RenditionPlan>,
        channels: &Channels,
    ) -> Result<(), IncarnationError> {
        let description = crate::transcode::describe(format, &renditions, settings)?;
        tracing::debug!(incarnation = self.id, "ladder:\n{description}");
        let ladder = Ladder::start(
            &description,
            format,
            &renditions,
            self.id,
            channels.ladder.clone(),
            channels.reports.clone(),
            channels.rtp.as_ref(),
        )?;
        self.produced = vec![false; renditions.len()];
        self.codecs = vec![None; renditions.len()];
        self.lineup = renditions.iter().map(|r| r.name.clone()).collect();
        self.renditions = renditions;
        self.ladder = Some(ladder);
        Ok(())
    }

    pub fn audio(&mut self, frame: Frame) {
        let (Some(origin), Some(ladder)) = (self.origin, &self.ladder) else {
            return;
        };
        if frame.pts < origin || self.retiring {
            return;
        }
        let pts = (frame.pts - origin).nseconds();
        if pts > self.video_end + MAX_FORWARD_JUMP_NS {
            // The clock jumped; the video will show it and start afresh.
            return;
        }
        let samples = frame.buffer.size() as u64 / AUDIO_BYTES_PER_FRAME;
        let duration = samples * 1_000_000_000 / AUDIO_RATE;
        for action in self.audio.on_audio(pts, duration) {
            push_audio_action(ladder, action, Some(&frame.buffer));
        }
    }

    /// Stops the ingest and flushes the ladder. True when a ladder is
    /// flushing (its end-of-stream will follow on the reports channel).
    pub fn retire(&mut self) -> bool {
        self.retiring = true;
        self.ingest = None; // stops the ingest pipeline
        let Some(ladder) = &self.ladder else {
            return false;
        };
        if let Some(action) = self.audio.finish(self.video_end) {
            push_audio_action(ladder, action, None);
        }
        ladder.finish();
        true
    }

    /// Facts about rendition `rendition`'s next fragment: whether it starts
    /// a discontinuity, and the rendition's codecs (read on its first
    /// fragment: codec parameters change only with a new incarnation).
    pub fn next_fragment(&mut self, rendition: usize) -> Option<(bool, Option<String>)> {
        let plan = self.renditions.get(rendition)?;
        let discontinuity = !std::mem::replace(self.produced.get_mut(rendition)?, true);
        if discontinuity {
            let codecs = self.ladder.as_ref().and_then(|l| l.codecs(&plan.name));
            self.codecs[rendition] = codecs;
        }
        Some((discontinuity, self.codecs[rendition].clone()))
    }
}

/// Whether a frame decoded at `now` after one at `last` (nanoseconds) is a
/// jump of the feed's clock rather than the next frame.
fn clock_jumped(last: u64, now: u64) -> bool {
    now > last + MAX_FORWARD_JUMP_NS || now + MAX_BACKWARD_JUMP_NS < last
}

/// Pushes real audio or generated silence into the ladder.
fn push_audio_action(ladder: &Ladder, action: AudioAction, real: Option<&gst::Buffer>) {
    let buffer = match (action, real) {
        (AudioAction::Pass { start }, Some(real)) => {
            let mut buffer = real.copy();
            let b = buffer.get_mut().expect("fresh copy is writable");
            b.set_pts(gst::ClockTime::from_nseconds(start));
            b.set_dts(gst::ClockTime::NONE);
            buffer
        }
        (AudioAction::Silence { start, duration }, _) => {
            let samples = duration * AUDIO_RATE / 1_000_000_000;
            if samples == 0 {
                return;
            }
            if duration > MAX_FORWARD_JUMP_NS {
                // Only a broken clock asks for this much; never allocate it.
                warn!(
                    duration_ns = duration,
                    "refusing to insert that much silence"
                );
                return;
            }
            let mut buffer =
                gst::Buffer::from_mut_slice(vec![0u8; (samples * AUDIO_BYTES_PER_FRAME) as usize]);
            let b = buffer.get_mut().expect("new buffer is writable");
            b.set_pts(gst::ClockTime::from_nseconds(start));
            b.set_duration(gst::ClockTime::from_nseconds(duration));
            buffer
        }
        _ => return,
    };
    if ladder.push_audio(buffer).is_err() {
        metrics::counter!("classcast_ladder_push_failed_total").increment(1);
    }
}

/// The renditions an incarnation gets: a slate takes the camera's names
/// and sizes, so players stay on their playlists through a drop.
pub fn renditions_for(
    format: &VideoFormat,
    slate: bool,
    camera_plan: Option<&[RenditionPlan]>,
    ladder_heights: &[i32],
) -> Vec<RenditionPlan> {
    match camera_plan {
        Some(camera) if slate => plan::stand_in(camera),
        _ => plan::plan(format, ladder_heights),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn frames_are_frames_and_an_encoder_restarting_its_clock_is_a_jump() {
        assert!(!clock_jumped(10 * S, 10 * S + 40_000_000), "the next frame");
        assert!(!clock_jumped(10 * S, 15 * S), "a 5 s hole in the network");
        assert!(
            !clock_jumped(10 * S, 10 * S - S / 2),
            "a little jitter back"
        );
        assert!(
            clock_jumped(10 * S, 3_610 * S),
            "an hour ahead: an encoder's new clock"
        );
        assert!(
            clock_jumped(3_600 * S, 2 * S),
            "back to zero: an encoder restarted"
        );
        // A 32-bit millisecond RTMP clock wrapping after 49.7 days.
        assert!(clock_jumped(4_294_967 * S, 0));
    }
}
