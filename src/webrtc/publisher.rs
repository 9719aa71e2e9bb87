//! A WHIP publisher as the hub holds it: the frames str0m depacketized
//! (H.264 access units in Annex B, Opus packets), timestamped and pushed
//! into the classroom's ingest, which treats them like any camera's.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer_app as gst_app;
use str0m::format::Codec;
use str0m::media::{MediaData, Mid};

/// Presentation times for frames of several streams on one timeline.
///
/// Each stream's RTP clock starts at a random value, so a stream's times
/// count from its first frame, placed on the timeline at that frame's
/// arrival; after that the stream's own clock rules (smooth, not jittery
/// arrival times). Audio and video line up to within the difference of
/// their first frames' network delays.
#[derive(Debug, Default)]
pub struct FrameClock {
    start: Option<Instant>,
    streams: HashMap<Mid, (u64, u32, Duration)>,
}

impl FrameClock {
    /// Nanoseconds on the timeline for a frame at `ticks` of a clock of
    /// `rate` Hz that arrived at `arrival`.
    pub fn pts(&mut self, mid: Mid, ticks: u64, rate: u32, arrival: Instant) -> Option<u64> {
        let start = *self.start.get_or_insert(arrival);
        let (first, rate, offset) = *self
            .streams
            .entry(mid)
            .or_insert_with(|| (ticks, rate.max(1), arrival.saturating_duration_since(start)));
        // A frame from before the stream's first (reordered) is dropped.
        let elapsed = ticks.checked_sub(first)?;
        let elapsed_ns = u128::from(elapsed) * 1_000_000_000 / u128::from(rate);
        Some(offset.as_nanos().saturating_add(elapsed_ns) as u64)
    }
}

/// Why a publisher's feed can take no more.
#[derive(Debug)]
pub struct Closed;

pub struct Publishing {
    pub classroom: uuid::Uuid,
    video: gst_app::AppSrc,
    audio: Option<gst_app::AppSrc>,
    clock: FrameClock,
    /// Pictures are dropped from a loss until the next keyframe: the
    /// decoder would show garbage otherwise.
    waiting_for_keyframe: bool,
    /// Browsers' encoders make keyframes only when asked, and the camera's
    /// own H.264 is cut into HLS segments at its keyframes: the publisher
    /// is asked for one whenever this long passed without.
    gop: Duration,
    last_keyframe: Option<Instant>,
}

impl Publishing {
    pub fn new(
        classroom: uuid::Uuid,
        video: gst_app::AppSrc,
        audio: Option<gst_app::AppSrc>,
        gop: Duration,
    ) -> Self {
        Self {
            classroom,
            video,
            audio,
            clock: FrameClock::default(),
            waiting_for_keyframe: true,
            gop,
            last_keyframe: None,
        }
    }

    /// Pushes one frame; asks (true) for a keyframe when the picture broke.
    /// An input that refuses (the classroom stopped this feed) closes it.
    pub fn frame(&mut self, data: &MediaData) -> Result<bool, Closed> {
        let codec = data.params.spec().codec;
        let input = match codec {
            Codec::H264 => &self.video,
            Codec::Opus => match &self.audio {
                Some(audio) => audio,
                None => return Ok(false),
            },
            _ => return Ok(false),
        };
        let mut want_keyframe = false;
        if codec == Codec::H264 {
            if !data.contiguous {
                self.waiting_for_keyframe = true;
            }
            let keyframe = is_keyframe(&data.data);
            if keyframe {
                self.last_keyframe = Some(data.network_time);
            }
            if self.waiting_for_keyframe {
                if !keyframe {
                    return Ok(true);
                }
                self.waiting_for_keyframe = false;
            }
            want_keyframe = self
                .last_keyframe
                .is_some_and(|at| data.network_time.saturating_duration_since(at) >= self.gop);
        }
        let Some(pts) = self.clock.pts(
            data.mid,
            data.time.numer(),
            data.time.denom(),
            data.network_time,
        ) else {
            return Ok(want_keyframe);
        };
        let mut buffer = gst::Buffer::from_slice(data.data.to_vec());
        if let Some(buffer) = buffer.get_mut() {
            buffer.set_pts(gst::ClockTime::from_nseconds(pts));
            if codec == Codec::Opus {
                buffer.set_duration(gst::ClockTime::from_mseconds(20));
            }
        }
        match input.push_buffer(buffer) {
            Ok(_) => {}
            // Flushing or end of stream: the classroom let go of this feed
            // (key rotated, source removed, another incarnation).
            Err(gst::FlowError::Flushing | gst::FlowError::Eos) => return Err(Closed),
            // A full queue: the machine cannot keep up; this frame is lost.
            Err(_) => {
                metrics::counter!("classcast_whip_frames_dropped_total").increment(1);
                want_keyframe = codec == Codec::H264;
                self.waiting_for_keyframe |= want_keyframe;
            }
        }
        Ok(want_keyframe)
    }

    /// The publisher is gone: the ingest flushes and the feed ends.
    pub fn finish(&self) {
        let _ = self.video.end_of_stream();
        if let Some(audio) = &self.audio {
            let _ = audio.end_of_stream();
        }
    }
}

/// Whether an Annex B access unit holds an IDR slice (or SPS, which
/// encoders send with one).
pub fn is_keyframe(au: &[u8]) -> bool {
    let mut i = 0;
    while i + 3 < au.len() {
        if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
            let nal = au[i + 3] & 0x1f;
            if nal == 5 || nal == 7 {
                return true;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stream_counts_from_its_first_frame_placed_at_its_arrival() {
        let mut clock = FrameClock::default();
        let t0 = Instant::now();
        let (video, audio) = (Mid::from("0"), Mid::from("1"));
        assert_eq!(clock.pts(video, 1_000_000, 90_000, t0), Some(0));
        // Audio's first packet came 30 ms later on a clock of its own.
        let audio_start = t0 + Duration::from_millis(30);
        assert_eq!(clock.pts(audio, 77, 48_000, audio_start), Some(30_000_000));
        assert_eq!(
            clock.pts(audio, 77 + 960, 48_000, audio_start),
            Some(50_000_000)
        );
        // Video follows its clock, not its jittery arrivals.
        let late = t0 + Duration::from_millis(80);
        assert_eq!(
            clock.pts(video, 1_000_000 + 3_000, 90_000, late),
            Some(33_333_333)
        );
        // A frame from before the first is dropped.
        assert_eq!(clock.pts(video, 999_000, 90_000, late), None);
    }

    #[test]
    fn keyframes_are_found_by_their_nal_units() {
        assert!(is_keyframe(&[
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0, 0, 1, 0x65, 1
        ]));
        assert!(is_keyframe(&[0, 0, 1, 0x65, 0x88]));
        assert!(!is_keyframe(&[0, 0, 0, 1, 0x41, 0x9a]));
        assert!(!is_keyframe(&[]));
    }
}
