//! The `vod_ladder` job: one media file in, an HLS VOD ladder out — video
//! renditions from the file's own height down (1080, 720, 360; never
//! upscaled), an audio-only AAC rendition for weak links, its sound brought
//! to EBU R128's loudness (`loudness`), a master
//! playlist, and a poster with a seek-preview sprite and its WebVTT track
//! (`preview`). This file decides what to make (pure); `transcode` makes it
//! with GStreamer. Inputs and outputs go through `library::files`.

mod grab;
pub mod loudness;
pub mod preview;
mod transcode;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::files::{FilesError, JobFiles};
use super::jobs::runner::{JobContext, Work, WorkError};

pub const KIND: &str = "vod_ladder";

/// Heights of the ladder, highest first.
pub const LADDER_HEIGHTS: [u32; 3] = [1080, 720, 360];
/// Segment length of lesson playlists.
pub const SEGMENT_SECONDS: u64 = 4;
/// One AAC encode feeds every rendition, the audio-only one included.
pub const AUDIO_BPS: u32 = 96_000;
/// Name of the audio-only rendition's directory.
pub const AUDIO_ONLY: &str = "audio";

/// What a `vod_ladder` job is given: media keys (see `library::files`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// The media file to transcode, e.g. `uploads/lesson.mp4`.
    pub input: String,
    /// Where the ladder goes, e.g. `lessons/{id}/hls`; it holds `master.m3u8`.
    pub output_dir: String,
}

/// What probing the input found.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    pub duration: Duration,
    /// Display size and frame rate of the first video stream.
    pub video: Option<(u32, u32, u32)>,
    pub audio: bool,
}

/// One video rendition to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoRendition {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub kbps: u32,
}

/// The ladder's video renditions for an input of `width`×`height`: each
/// ladder height the input reaches, or the input's own height when it is
/// below them all. Widths keep the aspect ratio, rounded to even.
pub fn plan(width: u32, height: u32, fps: u32) -> Vec<VideoRendition> {
    let mut heights: Vec<u32> = LADDER_HEIGHTS
        .iter()
        .copied()
        .filter(|h| *h <= height)
        .collect();
    if heights.is_empty() {
        heights.push(height & !1);
    }
    heights
        .into_iter()
        .filter(|h| *h > 0)
        .map(|h| {
            let w = ((u64::from(width) * u64::from(h) / u64::from(height.max(1))) as u32 + 1) & !1;
            VideoRendition {
                name: h.to_string(),
                width: w.max(2),
                height: h,
                kbps: crate::media::format::kbps_for(w, h, fps.min(30)),
            }
        })
        .collect()
}

/// A rendition as the master playlist lists it, with its bandwidth
/// measured from the segments made.
#[derive(Debug, Clone, PartialEq)]
pub struct MadeRendition {
    pub dir: String,
    pub resolution: Option<(u32, u32)>,
    pub has_audio: bool,
    pub peak_bps: u64,
}

/// The master playlist: video renditions highest first, then audio only.
pub fn master_playlist(renditions: &[MadeRendition]) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for r in renditions {
        let codecs = match (r.resolution.is_some(), r.has_audio) {
            (true, true) => "avc1.4d401f,mp4a.40.2",
            (true, false) => "avc1.4d401f",
            _ => "mp4a.40.2",
        };
        out.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"{codecs}\"",
            r.peak_bps.max(1)
        ));
        if let Some((w, h)) = r.resolution {
            out.push_str(&format!(",RESOLUTION={w}x{h}"));
        }
        out.push_str(&format!("\n{}/index.m3u8\n", r.dir));
    }
    out
}

/// Peak bitrate over a media playlist's segments: (seconds, bytes) each.
/// Short last segments are not counted (their headers weigh too much).
pub fn peak_bps(segments: &[(f64, u64)]) -> u64 {
    let longest = segments.iter().map(|s| s.0).fold(0.0, f64::max);
    segments
        .iter()
        .filter(|(secs, _)| *secs > 0.0 && *secs >= longest / 2.0)
        .map(|(secs, bytes)| (*bytes as f64 * 8.0 / secs) as u64)
        .max()
        .unwrap_or(0)
}

/// The (duration, file name) entries of a media playlist hlssink2 wrote.
pub fn playlist_segments(playlist: &str) -> Vec<(f64, String)> {
    let mut out = Vec::new();
    let mut duration = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            duration = rest.split(',').next().and_then(|d| d.parse().ok());
        } else if !line.is_empty() && !line.starts_with('#') {
            out.push((duration.take().unwrap_or(0.0), line.to_string()));
        }
    }
    out
}

/// hlssink2 (GStreamer 1.22) writes no playlist type; a finished lesson's
/// playlists say VOD, so players show the whole timeline at once.
pub fn mark_vod(playlist: &str) -> String {
    if playlist.contains("#EXT-X-PLAYLIST-TYPE") {
        return playlist.to_string();
    }
    playlist.replacen("#EXTM3U\n", "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n", 1)
}

pub struct VodLadder {
    files: JobFiles,
    preset: String,
}

impl VodLadder {
    pub fn new(config: &crate::config::Config, files: JobFiles) -> Self {
        Self {
            files,
            preset: config.jobs.x264_preset.clone(),
        }
    }
}

impl Work for VodLadder {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn run(&self, payload: &serde_json::Value, job: &JobContext) -> Result<(), WorkError> {
        let payload: Payload = serde_json::from_value(payload.clone())
            .map_err(|e| WorkError::Failed(format!("invalid payload: {e}")))?;
        let files_error = |e: FilesError| WorkError::Failed(e.to_string());
        job.report(0.0, "probing");
        let input = self.files.input(&payload.input).map_err(files_error)?;
        let probed = transcode::probe(&input.path)?;
        let gain_db = if probed.audio {
            job.report(0.0, "loudness");
            loudness::measure(&input.path)?.map_or(0.0, loudness::gain_db)
        } else {
            0.0
        };
        let output = self
            .files
            .stage_output(&payload.output_dir, job.job_id, job.attempt)
            .map_err(files_error)?;
        let gain = loudness::linear(gain_db);
        let made = transcode::run(&input.path, &probed, output.dir(), &self.preset, gain, job)?;
        drop(input);
        job.report(100.0, "publishing");
        transcode::finish(output.dir(), &made)?;
        output.publish(|| job.is_cancelled()).map_err(|e| match e {
            FilesError::Stopped => WorkError::Cancelled,
            e => WorkError::Failed(format!("cannot publish the ladder: {e}")),
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heights(w: u32, h: u32) -> Vec<(u32, u32)> {
        plan(w, h, 25).iter().map(|r| (r.width, r.height)).collect()
    }

    #[test]
    fn the_ladder_starts_at_the_inputs_height_and_never_upscales() {
        assert_eq!(heights(1920, 1080), [(1920, 1080), (1280, 720), (640, 360)]);
        assert_eq!(heights(1280, 720), [(1280, 720), (640, 360)]);
        assert_eq!(heights(960, 540), [(640, 360)]);
        // Below the lowest rung: the input's own size, once.
        assert_eq!(heights(426, 240), [(426, 240)]);
        // Portrait phone video keeps its shape.
        assert_eq!(heights(1080, 1920), [(608, 1080), (406, 720), (202, 360)]);
    }

    #[test]
    fn the_master_lists_video_then_audio_only_with_measured_bandwidth() {
        let master = master_playlist(&[
            MadeRendition {
                dir: "720".into(),
                resolution: Some((1280, 720)),
                has_audio: true,
                peak_bps: 2_500_000,
            },
            MadeRendition {
                dir: "audio".into(),
                resolution: None,
                has_audio: true,
                peak_bps: 110_000,
            },
        ]);
        assert_eq!(
            master,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=2500000,CODECS=\"avc1.4d401f,mp4a.40.2\",RESOLUTION=1280x720\n720/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=110000,CODECS=\"mp4a.40.2\"\naudio/index.m3u8\n"
        );
    }

    #[test]
    fn peak_bandwidth_ignores_a_short_last_segment() {
        assert_eq!(
            peak_bps(&[(4.0, 500_000), (4.0, 1_000_000), (0.2, 100_000)]),
            2_000_000
        );
        assert_eq!(peak_bps(&[]), 0);
    }

    #[test]
    fn hlssink2_playlists_are_read_and_marked_vod() {
        let written = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:4\n\n\
                       #EXTINF:4,\nsegment00000.ts\n#EXTINF:0.96,\nsegment00001.ts\n#EXT-X-ENDLIST";
        assert_eq!(
            playlist_segments(written),
            [
                (4.0, "segment00000.ts".to_string()),
                (0.96, "segment00001.ts".to_string())
            ]
        );
        let marked = mark_vod(written);
        assert!(marked.starts_with("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n"));
        assert_eq!(mark_vod(&marked), marked);
    }
}
