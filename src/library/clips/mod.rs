//! Micro-lessons cut from a classroom recording (剪辑微课): the pure part.
//! Whether a span a teacher picked on a recording's timeline can be cut
//! (`select`), which of the recording's segments hold it, and how each GOP
//! of those segments is treated (`plan`): whole GOPs inside the span are
//! copied as they are, the GOPs the span's edges fall in are decoded and
//! re-encoded from the first frame kept to the last, GOPs outside are
//! dropped. So a cut is frame-accurate and costs one or two GOPs of
//! encoding, however long it is. `cut` does it with FFmpeg; `make` turns
//! the cut into a draft micro-lesson whose VOD ladder is queued.

pub mod cut;
pub mod make;

use std::ops::Range;

use crate::hls::playlist::SegmentEntry;

/// Shorter than this is a slip of the mouse, not a lesson.
pub const MIN_SECONDS: f64 = 1.0;
/// Longer than any class period; a micro-lesson is 5–15 minutes.
pub const MAX_SECONDS: f64 = 2.0 * 3600.0;

/// Why a span cannot be cut; each names the field the editor shows it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanRefused {
    /// Negative, not a number, or past the recording's end.
    OutOfRange(&'static str),
    /// The end at or before the start.
    Backwards,
    TooShort,
    TooLong,
    /// A camera reconnect (new timestamps, maybe a new resolution) or the
    /// "signal lost" slate lies inside the span.
    SpansABreak,
}

impl SpanRefused {
    pub fn field_and_code(self) -> (&'static str, &'static str) {
        match self {
            SpanRefused::OutOfRange(field) => (field, "clip_out_of_range"),
            SpanRefused::Backwards => ("end_seconds", "before_start"),
            SpanRefused::TooShort => ("end_seconds", "clip_too_short"),
            SpanRefused::TooLong => ("end_seconds", "clip_too_long"),
            SpanRefused::SpansABreak => ("end_seconds", "clip_spans_a_break"),
        }
    }
}

/// The segments a span needs, all of one pipeline incarnation.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The init segment they all follow (`init-{n}.mp4`).
    pub init: u32,
    /// The segments' file names (`SegmentEntry::uri`), in order.
    pub segments: Vec<String>,
    /// Where the first of them starts on the recording's timeline.
    pub first_starts_at: f64,
    /// The span, on the recording's timeline (seconds).
    pub start: f64,
    pub end: f64,
}

/// The segments of a recording's rendition (as its journal lists them, in
/// order) that hold `start..end`, seconds on the recording's timeline —
/// the sum of the segments' durations, which is what its player shows.
pub fn select(segments: &[SegmentEntry], start: f64, end: f64) -> Result<Selection, SpanRefused> {
    let length: f64 = segments.iter().map(|s| s.duration.as_secs_f64()).sum();
    // A player's clock may run a hair past the last segment.
    let end = if end > length && end - length < 0.05 {
        length
    } else {
        end
    };
    if !start.is_finite() || start < 0.0 || start >= length {
        return Err(SpanRefused::OutOfRange("start_seconds"));
    }
    if !end.is_finite() || end > length {
        return Err(SpanRefused::OutOfRange("end_seconds"));
    }
    if end <= start {
        return Err(SpanRefused::Backwards);
    }
    if end - start < MIN_SECONDS {
        return Err(SpanRefused::TooShort);
    }
    if end - start > MAX_SECONDS {
        return Err(SpanRefused::TooLong);
    }
    let mut at = 0.0;
    let mut picked: Vec<(&SegmentEntry, f64)> = Vec::new();
    for segment in segments {
        let next = at + segment.duration.as_secs_f64();
        if next > start && at < end {
            picked.push((segment, at));
        }
        at = next;
    }
    let Some(&(first, first_starts_at)) = picked.first() else {
        return Err(SpanRefused::OutOfRange("start_seconds"));
    };
    let broken = picked
        .iter()
        .enumerate()
        .any(|(i, (s, _))| s.slate || s.init != first.init || (i > 0 && s.discontinuity));
    if broken {
        return Err(SpanRefused::SpansABreak);
    }
    Ok(Selection {
        init: first.init,
        segments: picked.iter().map(|(s, _)| s.uri()).collect(),
        first_starts_at,
        start,
        end,
    })
}

/// A video packet as read, in decode order: timestamps in the stream's
/// time base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub pts: i64,
    pub dts: i64,
    pub key: bool,
}

/// What is done with one GOP (a keyframe and the packets after it in
/// decode order, up to the next keyframe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GopAction {
    /// Every frame is inside the span: its packets go out as they are.
    Copy,
    /// Some frames are: decoded, and those inside encoded anew.
    Reencode,
    /// None are.
    Drop,
}

/// One GOP: the packets `packets` (indices into the timings) and its fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gop {
    pub packets: Range<usize>,
    pub action: GopAction,
}

/// Splits `timings` (decode order) into GOPs and decides each, keeping the
/// frames whose pts lies in `keep`. Packets before the first keyframe
/// cannot be decoded alone and form a dropped GOP of their own.
pub fn plan(timings: &[Timing], keep: Range<i64>) -> Vec<Gop> {
    let mut gops = Vec::new();
    let mut from = 0;
    for i in 1..=timings.len() {
        if i == timings.len() || timings[i].key {
            let packets = from..i;
            let inside = timings[packets.clone()]
                .iter()
                .filter(|t| keep.contains(&t.pts))
                .count();
            let action = if !timings[from].key || inside == 0 {
                GopAction::Drop
            } else if inside == packets.len() {
                GopAction::Copy
            } else {
                GopAction::Reencode
            };
            gops.push(Gop { packets, action });
            from = i;
        }
    }
    gops
}

/// The largest amount any packet's pts runs ahead of its dts (B-frames):
/// the cut's output is shifted by it, so re-encoded frames (whose dts is
/// their pts) and copied ones keep their decode order.
pub fn reorder_delay(timings: &[Timing]) -> i64 {
    timings
        .iter()
        .map(|t| t.pts - t.dts)
        .max()
        .unwrap_or(0)
        .max(0)
}

/// Seconds → ticks of a time base `num/den`, rounded to the nearest tick.
pub fn ticks(seconds: f64, (num, den): (i32, i32)) -> i64 {
    (seconds * f64::from(den) / f64::from(num.max(1))).round() as i64
}

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// From an avcC box (H.264's extradata in MP4): how many bytes give each
/// NAL unit's length in the samples, and the SPS and PPS as Annex B.
/// None when it is not an avcC (already Annex B, or missing).
pub fn avcc_parameter_sets(avcc: &[u8]) -> Option<(usize, Vec<u8>)> {
    if avcc.len() < 7 || avcc[0] != 1 {
        return None;
    }
    let length_size = usize::from(avcc[4] & 0b11) + 1;
    let mut sets = Vec::new();
    let mut at = 5;
    for mask in [0x1f, 0xff] {
        let count = usize::from(*avcc.get(at)? & mask);
        at += 1;
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([*avcc.get(at)?, *avcc.get(at + 1)?]));
            let unit = avcc.get(at + 2..at + 2 + len)?;
            sets.extend_from_slice(&START_CODE);
            sets.extend_from_slice(unit);
            at += 2 + len;
        }
    }
    Some((length_size, sets))
}

/// An MP4 sample (NAL units each behind a `length_size`-byte length) as
/// Annex B, with `parameter_sets` first when given and the sample does not
/// carry its own SPS. A length running past the end ends the sample.
pub fn to_annex_b(sample: &[u8], length_size: usize, parameter_sets: Option<&Vec<u8>>) -> Vec<u8> {
    let mut units = Vec::new();
    let mut at = 0;
    while at + length_size <= sample.len() {
        let len = sample[at..at + length_size]
            .iter()
            .fold(0usize, |n, b| (n << 8) | usize::from(*b));
        let Some(unit) = sample.get(at + length_size..at + length_size + len) else {
            break;
        };
        units.push(unit);
        at += length_size + len;
    }
    let has_sps = units
        .iter()
        .any(|u| u.first().is_some_and(|b| b & 0x1f == 7));
    let mut out = Vec::with_capacity(sample.len() + 64);
    if let Some(sets) = parameter_sets.filter(|_| !has_sps) {
        out.extend_from_slice(sets);
    }
    for unit in units {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(unit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use std::time::Duration;

    fn segment(sequence: u64, seconds: f64) -> SegmentEntry {
        SegmentEntry {
            sequence,
            duration: Duration::from_secs_f64(seconds),
            started_at: Utc::now(),
            init: 0,
            discontinuity: false,
            slate: false,
            size: 1000,
        }
    }

    fn four_of_two_seconds() -> Vec<SegmentEntry> {
        (0..4).map(|n| segment(n, 2.0)).collect()
    }

    #[test]
    fn a_span_takes_the_segments_it_overlaps() {
        let s = select(&four_of_two_seconds(), 2.5, 5.0).unwrap();
        assert_eq!(s.segments, ["1.m4s", "2.m4s"]);
        assert_eq!(s.first_starts_at, 2.0);
        // An end on a segment's boundary does not take the next one.
        let s = select(&four_of_two_seconds(), 0.0, 4.0).unwrap();
        assert_eq!(s.segments, ["0.m4s", "1.m4s"]);
        assert_eq!(s.first_starts_at, 0.0);
    }

    #[test]
    fn spans_outside_the_recording_or_too_short_are_refused() {
        let segments = four_of_two_seconds();
        let refused = |a: f64, b: f64| select(&segments, a, b).unwrap_err();
        assert_eq!(refused(-1.0, 3.0), SpanRefused::OutOfRange("start_seconds"));
        assert_eq!(refused(8.0, 9.0), SpanRefused::OutOfRange("start_seconds"));
        assert_eq!(
            refused(f64::NAN, 3.0),
            SpanRefused::OutOfRange("start_seconds")
        );
        assert_eq!(refused(1.0, 8.5), SpanRefused::OutOfRange("end_seconds"));
        assert_eq!(refused(3.0, 2.0), SpanRefused::Backwards);
        assert_eq!(refused(3.0, 3.5), SpanRefused::TooShort);
        // The player's clock a hair past the end is the end.
        assert_eq!(select(&segments, 6.0, 8.02).unwrap().end, 8.0);
    }

    #[test]
    fn more_than_two_hours_is_refused() {
        let long: Vec<_> = (0..2000).map(|n| segment(n, 4.0)).collect();
        assert_eq!(select(&long, 0.0, 7300.0), Err(SpanRefused::TooLong));
        assert!(select(&long, 0.0, 7200.0).is_ok());
    }

    #[test]
    fn a_reconnect_or_the_slate_inside_the_span_is_a_break() {
        let mut segments = four_of_two_seconds();
        segments[2].discontinuity = true;
        segments[2].init = 1;
        segments[3].init = 1;
        assert_eq!(select(&segments, 1.0, 5.0), Err(SpanRefused::SpansABreak));
        // Starting at the reconnect is fine: one incarnation.
        let s = select(&segments, 4.0, 8.0).unwrap();
        assert_eq!(
            (s.init, s.segments),
            (1, vec!["2.m4s".to_string(), "3.m4s".into()])
        );
        let mut segments = four_of_two_seconds();
        segments[1].slate = true;
        assert_eq!(select(&segments, 0.0, 3.0), Err(SpanRefused::SpansABreak));
        assert!(select(&segments, 4.0, 8.0).is_ok());
    }

    fn frames(keys: &[usize], n: usize) -> Vec<Timing> {
        (0..n)
            .map(|i| Timing {
                pts: i as i64 * 10,
                dts: i as i64 * 10,
                key: keys.contains(&i),
            })
            .collect()
    }

    fn actions(gops: &[Gop]) -> Vec<(Range<usize>, GopAction)> {
        gops.iter().map(|g| (g.packets.clone(), g.action)).collect()
    }

    #[test]
    fn whole_gops_are_copied_and_the_edges_re_encoded() {
        // Keyframes every 5 frames; keep frames 3..=11.
        let gops = plan(&frames(&[0, 5, 10, 15], 20), 30..120);
        use GopAction::*;
        assert_eq!(
            actions(&gops),
            vec![
                (0..5, Reencode),
                (5..10, Copy),
                (10..15, Reencode),
                (15..20, Drop)
            ]
        );
    }

    #[test]
    fn a_span_on_keyframes_is_copied_only() {
        let gops = plan(&frames(&[0, 5, 10, 15], 20), 50..150);
        use GopAction::*;
        assert_eq!(
            actions(&gops),
            vec![(0..5, Drop), (5..10, Copy), (10..15, Copy), (15..20, Drop)]
        );
    }

    #[test]
    fn a_span_inside_one_gop_re_encodes_that_gop() {
        let gops = plan(&frames(&[0, 10], 20), 20..60);
        use GopAction::*;
        assert_eq!(actions(&gops), vec![(0..10, Reencode), (10..20, Drop)]);
    }

    #[test]
    fn packets_before_the_first_keyframe_are_dropped() {
        let gops = plan(&frames(&[3], 6), 0..60);
        use GopAction::*;
        assert_eq!(actions(&gops), vec![(0..3, Drop), (3..6, Copy)]);
    }

    #[test]
    fn b_frames_set_the_reorder_delay() {
        // I P B B in decode order, pts I=0 P=30 B=10 B=20, dts 0..30 minus 10.
        let t = [(0, -10), (30, 0), (10, 10), (20, 20)].map(|(pts, dts)| Timing {
            pts,
            dts,
            key: pts == 0,
        });
        assert_eq!(reorder_delay(&t), 30);
        assert_eq!(reorder_delay(&frames(&[0], 4)), 0);
    }

    #[test]
    fn avcc_samples_become_annex_b_with_the_parameter_sets_on_keyframes() {
        // avcC: version 1, profile/compat/level, 4-byte lengths, 1 SPS, 1 PPS.
        let avcc = [
            1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 2, 0x67, 0xaa, 1, 0, 1, 0x68,
        ];
        let (n, sets) = avcc_parameter_sets(&avcc).unwrap();
        assert_eq!(n, 4);
        assert_eq!(sets, [0, 0, 0, 1, 0x67, 0xaa, 0, 0, 0, 1, 0x68]);
        let idr = [0, 0, 0, 2, 0x65, 0x01, 0, 0, 0, 1, 0x06];
        assert_eq!(
            to_annex_b(&idr, 4, Some(&sets)),
            [&sets[..], &[0, 0, 0, 1, 0x65, 0x01, 0, 0, 0, 1, 0x06]].concat()
        );
        assert_eq!(
            to_annex_b(&idr, 4, None),
            [0, 0, 0, 1, 0x65, 0x01, 0, 0, 0, 1, 0x06]
        );
        // A sample with its own SPS gets no second one; a torn length ends it.
        let own = [0, 0, 0, 1, 0x67, 0, 0, 0, 1, 0x65, 0, 0, 0, 9, 1];
        assert_eq!(
            to_annex_b(&own, 4, Some(&sets)),
            [0, 0, 0, 1, 0x67, 0, 0, 0, 1, 0x65]
        );
        assert_eq!(avcc_parameter_sets(&[0, 0, 0, 1, 0x67]), None);
        assert_eq!(
            avcc_parameter_sets(&[1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 9]),
            None
        );
    }

    #[test]
    fn seconds_become_ticks_of_the_time_base() {
        assert_eq!(ticks(1.5, (1, 90_000)), 135_000);
        assert_eq!(ticks(0.04, (1, 1000)), 40);
    }
}
