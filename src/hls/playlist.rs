//! HLS playlist text from segment bookkeeping. Pure: no I/O, no clock.
//!
//! One [`MediaPlaylist`] per rendition serves both the live window (bounded,
//! sliding) and the recording (unbounded, `EVENT` while running, `VOD` once
//! ended). Wall-clock times come in with each segment, so tests drive them.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

/// One fMP4 media segment as listed in a playlist.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentEntry {
    pub sequence: u64,
    pub duration: Duration,
    /// Wall-clock time of the segment's first frame.
    pub started_at: DateTime<Utc>,
    /// Which init segment (`init-{n}.mp4`) this segment needs.
    pub init: u32,
    /// A new pipeline incarnation (camera reconnected, slate started or ended)
    /// begins here: timestamps and codec parameters may change.
    pub discontinuity: bool,
    /// The segment shows the "signal lost" slate, not the camera.
    pub slate: bool,
    pub size: u64,
}

impl SegmentEntry {
    pub fn uri(&self) -> String {
        format!("{}.m4s", self.sequence)
    }
}

pub fn init_uri(init: u32) -> String {
    format!("init-{init}.mp4")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistKind {
    /// Sliding window of the newest segments.
    Live { window: usize },
    /// Every segment is kept; `EVENT` until ended, then `VOD`.
    Recording,
    /// Keeps segments covering at most this long, oldest dropped first.
    Rolling { keep: Duration },
}

#[derive(Debug, Clone)]
pub struct MediaPlaylist {
    kind: PlaylistKind,
    target_duration: Duration,
    segments: VecDeque<SegmentEntry>,
    /// Discontinuities already removed from the front (EXT-X-DISCONTINUITY-SEQUENCE).
    discontinuity_sequence: u64,
    ended: bool,
}

impl MediaPlaylist {
    pub fn new(kind: PlaylistKind, target_duration: Duration) -> Self {
        Self {
            kind,
            target_duration,
            segments: VecDeque::new(),
            discontinuity_sequence: 0,
            ended: false,
        }
    }

    /// Appends a segment and returns the segments that fell out of the window,
    /// so the caller can delete their files.
    pub fn push(&mut self, segment: SegmentEntry) -> Vec<SegmentEntry> {
        // EXTINF rounded must not exceed the target duration; a camera whose
        // GOP is longer than configured makes longer segments, so grow it.
        let rounded = Duration::from_secs(segment.duration.as_secs_f64().round() as u64);
        if rounded > self.target_duration {
            self.target_duration = rounded;
        }
        self.segments.push_back(segment);
        let mut evicted = Vec::new();
        while self.over_limit() {
            // over_limit() is only true with at least two segments queued.
            let old = self.segments.pop_front().expect("non-empty");
            // The tag belongs to the evicted segment; removing it moves the count on
            // (RFC 8216 6.2.2). The new first segment keeps its own tag, if any.
            if old.discontinuity {
                self.discontinuity_sequence += 1;
            }
            evicted.push(old);
        }
        evicted
    }

    fn over_limit(&self) -> bool {
        if self.segments.len() < 2 {
            return false;
        }
        match self.kind {
            PlaylistKind::Live { window } => self.segments.len() > window.max(1),
            PlaylistKind::Recording => false,
            PlaylistKind::Rolling { keep } => {
                let total: Duration = self.segments.iter().map(|s| s.duration).sum();
                total > keep
            }
        }
    }

    /// Removes "signal lost" segments from the end: a lesson that ended
    /// because the feed never came back ends where the feed stopped.
    pub fn pop_trailing_slate(&mut self) -> Vec<SegmentEntry> {
        let mut removed = Vec::new();
        while self.segments.back().is_some_and(|s| s.slate) {
            removed.extend(self.segments.pop_back());
        }
        removed
    }

    pub fn end(&mut self) {
        self.ended = true;
    }

    pub fn segments(&self) -> impl Iterator<Item = &SegmentEntry> {
        self.segments.iter()
    }

    pub fn last(&self) -> Option<&SegmentEntry> {
        self.segments.back()
    }

    pub fn duration(&self) -> Duration {
        self.segments.iter().map(|s| s.duration).sum()
    }

    pub fn size(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    pub fn target_duration(&self) -> Duration {
        self.target_duration
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(128 + self.segments.len() * 96);
        self.render_header(&mut out);
        let mut previous = None;
        for segment in &self.segments {
            render_segment(&mut out, previous, segment);
            previous = Some(segment);
        }
        if self.ended {
            out.push_str("#EXT-X-ENDLIST\n");
        }
        out
    }

    /// The lines of the newest segment alone, for a recorder that appends
    /// to a growing `EVENT` playlist instead of rewriting it: the cost of a
    /// segment stays the same however long the lesson runs.
    pub fn render_last(&self) -> String {
        let mut out = String::with_capacity(160);
        let n = self.segments.len();
        if let Some(last) = self.segments.back() {
            let previous = n.checked_sub(2).and_then(|i| self.segments.get(i));
            render_segment(&mut out, previous, last);
        }
        out
    }

    fn render_header(&self, out: &mut String) {
        let first_sequence = self.segments.front().map_or(0, |s| s.sequence);
        out.push_str("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "#EXT-X-TARGETDURATION:{}",
            self.target_duration.as_secs().max(1)
        );
        let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{first_sequence}");
        let _ = writeln!(
            out,
            "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
            self.discontinuity_sequence
        );
        match (self.kind, self.ended) {
            (PlaylistKind::Recording, false) => out.push_str("#EXT-X-PLAYLIST-TYPE:EVENT\n"),
            (PlaylistKind::Recording, true) => out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n"),
            _ => {}
        }
    }
}

/// One segment's lines; what they say depends only on the segment before.
fn render_segment(out: &mut String, previous: Option<&SegmentEntry>, segment: &SegmentEntry) {
    if segment.discontinuity && previous.is_some() {
        out.push_str("#EXT-X-DISCONTINUITY\n");
    }
    if previous.map(|p| p.init) != Some(segment.init) {
        let _ = writeln!(out, "#EXT-X-MAP:URI=\"{}\"", init_uri(segment.init));
    }
    if previous.is_none() || segment.discontinuity {
        let _ = writeln!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            segment
                .started_at
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        );
    }
    if segment.slate && !previous.is_some_and(|p| p.slate) {
        // Marks where the feed was lost, for players and reviewers.
        let _ = writeln!(
            out,
            "#EXT-X-DATERANGE:ID=\"signal-lost-{}\",CLASS=\"cn.classcast.signal-lost\",START-DATE=\"{}\"",
            segment.sequence,
            segment
                .started_at
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        );
    }
    let _ = writeln!(
        out,
        "#EXTINF:{:.3},\n{}",
        segment.duration.as_secs_f64(),
        segment.uri()
    );
}

/// A playlist read while a segment's lines were being appended may end in
/// the middle of them: keep everything up to the last complete segment
/// (and the end marker, if written), so a player never sees a torn entry.
pub fn complete_prefix(text: &str) -> &str {
    let whole = text.rfind('\n').map_or("", |i| &text[..=i]);
    let mut end = 0;
    let mut offset = 0;
    let mut saw_segment = false;
    for line in whole.split_inclusive('\n') {
        offset += line.len();
        let line = line.trim_end();
        if !line.is_empty() && !line.starts_with('#') {
            end = offset;
            saw_segment = true;
        } else if line == "#EXT-X-ENDLIST" && saw_segment {
            end = offset;
        }
    }
    if saw_segment { &whole[..end] } else { whole }
}

/// One entry of a master playlist.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Variant {
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// Peak bits per second, as HLS requires.
    pub bandwidth: u64,
    /// RFC 6381 codecs, e.g. `avc1.64001f,mp4a.40.2`.
    pub codecs: String,
    pub frame_rate: Option<f64>,
}

pub fn render_master(variants: &[Variant]) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for variant in variants {
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{}\"",
            variant.bandwidth.max(1),
            variant.width,
            variant.height,
            variant.codecs
        );
        if let Some(rate) = variant.frame_rate {
            let _ = write!(out, ",FRAME-RATE={rate:.3}");
        }
        let _ = writeln!(
            out,
            ",NAME=\"{}\"\n{}/index.m3u8",
            variant.name, variant.name
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn segment(sequence: u64, init: u32, discontinuity: bool) -> SegmentEntry {
        SegmentEntry {
            sequence,
            duration: Duration::from_millis(2000),
            started_at: Utc
                .timestamp_opt(1_700_000_000 + 2 * sequence as i64, 0)
                .unwrap(),
            init,
            discontinuity,
            slate: false,
            size: 1000,
        }
    }

    #[test]
    fn live_window_slides_and_counts_removed_discontinuities() {
        let mut playlist =
            MediaPlaylist::new(PlaylistKind::Live { window: 3 }, Duration::from_secs(2));
        playlist.push(segment(0, 0, true));
        playlist.push(segment(1, 0, false));
        playlist.push(segment(2, 1, true));
        assert!(playlist.push(segment(3, 1, false)).len() == 1);
        let text = playlist.render();
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:1\n"));
        // Segment 0 carried the stream's opening mark, segment 2 still carries its own.
        assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 1);
        let evicted = playlist.push(segment(4, 1, false));
        assert_eq!(evicted[0].sequence, 1);
        playlist.push(segment(5, 1, false));
        let text = playlist.render();
        assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:2\n"));
        assert!(!text.contains("#EXT-X-DISCONTINUITY\n"));
        assert!(!text.contains("ENDLIST"));
    }

    #[test]
    fn recording_lists_every_segment_and_switches_init_after_a_gap() {
        let mut playlist = MediaPlaylist::new(PlaylistKind::Recording, Duration::from_secs(2));
        for s in 0..3 {
            playlist.push(segment(s, 0, s == 0));
        }
        let mut slate = segment(3, 1, true);
        slate.slate = true;
        playlist.push(slate);
        playlist.push(segment(4, 2, true));
        assert!(playlist.render().contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"));
        playlist.end();
        let text = playlist.render();
        assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"));
        assert!(text.ends_with("#EXT-X-ENDLIST\n"));
        assert_eq!(text.matches("#EXT-X-MAP:").count(), 3);
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 2);
        assert_eq!(text.matches("#EXT-X-DATERANGE:").count(), 1);
        assert_eq!(playlist.duration(), Duration::from_secs(10));
        let mut trailing = segment(5, 3, true);
        trailing.slate = true;
        playlist.push(trailing);
        assert_eq!(playlist.pop_trailing_slate().len(), 1);
        assert_eq!(playlist.duration(), Duration::from_secs(10));
        let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).expect("valid playlist");
        assert_eq!(parsed.segments.len(), 5);
        assert!(parsed.end_list);
    }

    #[test]
    fn long_camera_gops_raise_the_target_duration() {
        let mut playlist =
            MediaPlaylist::new(PlaylistKind::Live { window: 3 }, Duration::from_secs(2));
        let mut long = segment(0, 0, false);
        long.duration = Duration::from_millis(4040);
        playlist.push(long);
        assert!(playlist.render().contains("#EXT-X-TARGETDURATION:4\n"));
    }

    #[test]
    fn rolling_window_keeps_about_the_configured_length() {
        let mut playlist = MediaPlaylist::new(
            PlaylistKind::Rolling {
                keep: Duration::from_secs(6),
            },
            Duration::from_secs(2),
        );
        let mut evicted = 0;
        for s in 0..10 {
            evicted += playlist.push(segment(s, 0, s == 0)).len();
        }
        assert_eq!(evicted, 7);
        assert_eq!(playlist.duration(), Duration::from_secs(6));
    }

    #[test]
    fn master_lists_variants_in_order() {
        let text = render_master(&[
            Variant {
                name: "source".into(),
                width: 1920,
                height: 1080,
                bandwidth: 4_000_000,
                codecs: "avc1.640028,mp4a.40.2".into(),
                frame_rate: Some(25.0),
            },
            Variant {
                name: "360p".into(),
                width: 640,
                height: 360,
                bandwidth: 800_000,
                codecs: "avc1.4d401e,mp4a.40.2".into(),
                frame_rate: None,
            },
        ]);
        let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).expect("valid master");
        assert_eq!(parsed.variants.len(), 2);
        assert_eq!(parsed.variants[0].uri, "source/index.m3u8");
        assert_eq!(parsed.variants[1].bandwidth, 800_000);
    }

    #[test]
    fn appending_each_segment_gives_the_same_playlist_as_rendering_it_whole() {
        let mut playlist = MediaPlaylist::new(PlaylistKind::Recording, Duration::from_secs(2));
        let mut appended = String::new();
        let mut slate = segment(3, 2, true);
        slate.slate = true;
        let mut back = segment(5, 3, true);
        back.started_at += chrono::Duration::seconds(30);
        for s in [
            segment(0, 1, true),
            segment(1, 1, false),
            segment(2, 1, false),
            slate.clone(),
            segment(4, 2, false),
            back,
            segment(6, 3, false),
        ] {
            let mut s = s;
            if s.sequence == 4 {
                s.slate = true;
            }
            playlist.push(s);
            if appended.is_empty() {
                playlist.render_header(&mut appended);
            }
            appended.push_str(&playlist.render_last());
        }
        assert_eq!(appended, playlist.render());
        assert_eq!(appended.matches("#EXT-X-DATERANGE").count(), 1);
    }

    #[test]
    fn a_torn_read_of_an_appended_playlist_keeps_whole_segments_only() {
        let whole = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init-1.mp4\"\n#EXTINF:2.000,\n0.m4s\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n1.m4s\n";
        assert_eq!(complete_prefix(whole), whole);
        let ended = format!("{whole}#EXT-X-ENDLIST\n");
        assert_eq!(complete_prefix(&ended), ended);
        let first = whole.find("#EXT-X-DISCONTINUITY").unwrap();
        for cut in first..whole.len() {
            assert_eq!(
                complete_prefix(&whole[..cut]),
                &whole[..first],
                "cut at {cut}"
            );
        }
        let header = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n";
        assert_eq!(complete_prefix(header), header);
        assert_eq!(complete_prefix("#EXTM3U\n#EXT-X-TARG"), "#EXTM3U\n");
    }
}
