//! Per-viewer forwarding decisions, pure: which shared packets a viewer
//! gets and with which sequence number and timestamp, and how often a
//! rendition's encoder is asked for a keyframe.
//!
//! A viewer's outgoing stream must look like one continuous RTP stream
//! while its source changes under it (a camera reconnects and a new ladder
//! starts, the viewer picks or is moved to another rendition). So each
//! viewer counts its own sequence numbers, shifts timestamps to continue
//! from the last one it sent, and after a change of source waits for a
//! keyframe before it sends video again: a decoder fed the middle of a GOP
//! shows garbage.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::transcode::rtp::RtpPacket;

/// Where a packet came from: an incarnation's rendition (or its audio).
pub type Source = (u64, Option<usize>);

/// One outgoing stream of one viewer.
#[derive(Debug, Clone)]
pub struct Rewriter {
    video: bool,
    /// Extended: str0m takes the rollover counter from the upper bits.
    next_seq: u64,
    last: Option<Last>,
    waiting_for_keyframe: bool,
}

#[derive(Debug, Clone, Copy)]
struct Last {
    source: Source,
    seq: u16,
    offset: u32,
    out_ts: u32,
}

/// Timestamp step across a change of source: one frame at 30 fps, one
/// 20 ms Opus packet.
const VIDEO_STEP: u32 = 3_000;
const AUDIO_STEP: u32 = 960;
/// A jump in the source's sequence numbers larger than this is a restart,
/// not loss.
const MAX_GAP: u16 = 1_000;

impl Rewriter {
    pub fn new(video: bool, first_seq: u16) -> Self {
        Self {
            video,
            next_seq: u64::from(first_seq),
            last: None,
            waiting_for_keyframe: video,
        }
    }

    /// The next packet to send this viewer must start a keyframe.
    pub fn restart(&mut self) {
        self.waiting_for_keyframe = self.video;
    }

    pub fn waiting_for_keyframe(&self) -> bool {
        self.waiting_for_keyframe
    }

    /// The sequence number and timestamp to send `packet` with, or None to
    /// skip it (a duplicate, or video before the keyframe it needs).
    pub fn forward(&mut self, source: Source, packet: &RtpPacket) -> Option<(u64, u32)> {
        let same_source = self.last.is_some_and(|l| l.source == source);
        if !same_source {
            self.restart();
        }
        if self.waiting_for_keyframe {
            if !packet.keyframe {
                return None;
            }
            self.waiting_for_keyframe = false;
        }
        let (seq, offset) = match self.last {
            Some(last) if same_source => {
                let gap = packet.seq.wrapping_sub(last.seq);
                if gap == 0 || gap > 0x8000 {
                    return None; // a duplicate or a late packet
                }
                let gap = if gap > MAX_GAP { 1 } else { gap };
                (self.next_seq + u64::from(gap) - 1, last.offset)
            }
            Some(last) => {
                let step = if self.video { VIDEO_STEP } else { AUDIO_STEP };
                let offset = last
                    .out_ts
                    .wrapping_add(step)
                    .wrapping_sub(packet.timestamp);
                (self.next_seq, offset)
            }
            None => (self.next_seq, 0),
        };
        let out_ts = packet.timestamp.wrapping_add(offset);
        self.next_seq = seq + 1;
        self.last = Some(Last {
            source,
            seq: packet.seq,
            offset,
            out_ts,
        });
        Some((seq, out_ts))
    }
}

/// Viewers' keyframe requests (PLI/FIR), coalesced: at most one per
/// second reaches a rendition's encoder however many viewers ask.
#[derive(Debug, Default)]
pub struct KeyframeRequests {
    last: HashMap<(Uuid, u64, usize), Instant>,
}

pub const KEYFRAME_INTERVAL: Duration = Duration::from_secs(1);

impl KeyframeRequests {
    /// Whether a request for this rendition should go to its encoder now.
    pub fn allow(&mut self, rendition: (Uuid, u64, usize), now: Instant) -> bool {
        match self.last.get(&rendition) {
            Some(&at) if now.saturating_duration_since(at) < KEYFRAME_INTERVAL => false,
            _ => {
                self.last.insert(rendition, now);
                true
            }
        }
    }

    /// Forgets an incarnation's renditions.
    pub fn forget(&mut self, classroom: Uuid, incarnation: u64) {
        self.last
            .retain(|(c, i, _), _| !(*c == classroom && *i == incarnation));
    }
}

/// Whether a viewer's network keeps up, from its receiver reports (about
/// one a second): loss above `HEAVY_LOSS` in `LOSSY_REPORTS` reports in a
/// row means it cannot, and it should get less.
#[derive(Debug, Default, Clone)]
pub struct LossWatch {
    in_a_row: u32,
}

pub const HEAVY_LOSS: f32 = 0.2;
pub const LOSSY_REPORTS: u32 = 3;

impl LossWatch {
    /// True when the viewer should move down (then start counting afresh).
    pub fn report(&mut self, loss: Option<f32>) -> bool {
        if loss.is_none_or(|loss| loss < HEAVY_LOSS) {
            self.in_a_row = 0;
            return false;
        }
        self.in_a_row += 1;
        if self.in_a_row < LOSSY_REPORTS {
            return false;
        }
        self.in_a_row = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn packet(seq: u16, timestamp: u32, keyframe: bool) -> RtpPacket {
        RtpPacket {
            seq,
            timestamp,
            marker: false,
            keyframe,
            payload: Arc::from(&[0u8][..]),
            arrived: Instant::now(),
        }
    }

    #[test]
    fn video_waits_for_a_keyframe_then_keeps_its_own_numbers() {
        let mut rw = Rewriter::new(true, 100);
        let source = (1, Some(0));
        assert_eq!(rw.forward(source, &packet(5000, 90_000, false)), None);
        assert_eq!(
            rw.forward(source, &packet(5001, 93_000, true)),
            Some((100, 93_000))
        );
        assert_eq!(
            rw.forward(source, &packet(5002, 93_000, false)),
            Some((101, 93_000))
        );
        // Loss upstream shows as a gap; a duplicate is skipped.
        assert_eq!(
            rw.forward(source, &packet(5004, 96_000, false)),
            Some((103, 96_000))
        );
        assert_eq!(rw.forward(source, &packet(5004, 96_000, false)), None);
    }

    #[test]
    fn a_new_source_continues_the_stream_from_its_next_keyframe() {
        let mut rw = Rewriter::new(true, 10);
        rw.forward((1, Some(0)), &packet(65_535, 4_000_000_000, true));
        // The camera reconnected: a new incarnation, its own numbering.
        assert_eq!(rw.forward((2, Some(0)), &packet(7, 1_000, false)), None);
        let (seq, ts) = rw.forward((2, Some(0)), &packet(8, 4_000, true)).unwrap();
        assert_eq!(seq, 11);
        assert_eq!(ts, 4_000_000_000 + VIDEO_STEP);
        // And follows the new source's clock from there.
        assert_eq!(
            rw.forward((2, Some(0)), &packet(9, 7_000, false)),
            Some((12, 4_000_000_000 + VIDEO_STEP + 3_000))
        );
    }

    #[test]
    fn sequence_numbers_roll_over_into_the_extended_counter() {
        let mut rw = Rewriter::new(false, 65_535);
        let source = (1, None);
        assert_eq!(rw.forward(source, &packet(1, 0, false)), Some((65_535, 0)));
        assert_eq!(
            rw.forward(source, &packet(2, 960, false)),
            Some((65_536, 960))
        );
    }

    #[test]
    fn audio_needs_no_keyframe() {
        let mut rw = Rewriter::new(false, 0);
        assert!(rw.forward((1, None), &packet(3, 0, false)).is_some());
    }

    #[test]
    fn three_heavy_loss_reports_in_a_row_move_a_viewer_down() {
        let mut watch = LossWatch::default();
        assert!(!watch.report(Some(0.5)));
        assert!(!watch.report(Some(0.3)));
        // A good report in between starts the count again.
        assert!(!watch.report(Some(0.01)));
        assert!(!watch.report(Some(0.4)));
        assert!(!watch.report(Some(0.4)));
        assert!(watch.report(Some(0.25)));
        // And after a move, three more are needed before the next one.
        assert!(!watch.report(Some(0.9)));
        assert!(!watch.report(None));
    }

    #[test]
    fn keyframe_requests_are_coalesced_per_rendition_per_second() {
        let mut requests = KeyframeRequests::default();
        let room = Uuid::new_v4();
        let t0 = Instant::now();
        assert!(requests.allow((room, 1, 1), t0));
        assert!(!requests.allow((room, 1, 1), t0 + Duration::from_millis(999)));
        assert!(requests.allow((room, 1, 2), t0 + Duration::from_millis(10)));
        assert!(requests.allow((room, 1, 1), t0 + Duration::from_secs(1)));
        requests.forget(room, 1);
        assert!(requests.allow((room, 1, 1), t0 + Duration::from_millis(1001)));
    }
}
