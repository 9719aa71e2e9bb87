//! Cutting a micro-lesson out of a recording (剪辑微课), beside ffmpeg.
//!
//! The recording: SECONDS (default 600) of 1080p25 H.264 with B-frames
//! and 2 s GOPs (as OBS sends it) and AAC, in 2 s fMP4 segments laid out
//! as the recorder keeps them, made once by ffmpeg under
//! target/bench-media. The span starts and ends inside GOPs: 30.3 s to
//! SECONDS − 19.7 s.
//!
//! - classcast: `library::clips` (whole GOPs copied, the two edge GOPs
//!   re-encoded with x264 veryfast, crf 18), frame-accurate.
//! - ffmpeg, re-encoding the span (`-ss`/`-to` on the decoded frames, x264
//!   veryfast, crf 18): also frame-accurate, the way without a smart cut.
//!   Not the same work, on purpose: this is what the smart cut saves.
//! - ffmpeg, `-c copy`: fast but starts at a keyframe, not the chosen
//!   frame; shown for the cost of reading and writing the bytes alone.
//!
//!     cargo bench --bench clip_cut [-- SECONDS]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use classcast::hls::playlist::SegmentEntry;
use classcast::library::clips::{cut, select};

fn source(seconds: u32) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-media")
        .join(format!("clip-source-{seconds}"));
    let dir = root.join("source");
    if dir.join("index.m3u8").exists() {
        return dir;
    }
    std::fs::create_dir_all(&dir).unwrap();
    eprintln!("making a {seconds} s 1080p recording once (ffmpeg)…");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "50",
        ])
        .args([
            "-b:v", "4M", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
        ])
        .args(["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"])
        .args([
            "-hls_segment_type",
            "fmp4",
            "-hls_fmp4_init_filename",
            "init-0.mp4",
        ])
        .arg("-hls_segment_filename")
        .arg(dir.join("%d.m4s"))
        .arg(dir.join("index.m3u8"))
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg made no recording");
    dir
}

/// The rendition's segments as the recorder's journal would list them.
fn segments(dir: &Path) -> Vec<SegmentEntry> {
    let text = std::fs::read(dir.join("index.m3u8")).unwrap();
    let playlist = m3u8_rs::parse_media_playlist_res(&text).expect("a media playlist");
    playlist
        .segments
        .iter()
        .map(|s| SegmentEntry {
            sequence: s.uri.trim_end_matches(".m4s").parse().unwrap(),
            duration: Duration::from_secs_f64(f64::from(s.duration)),
            started_at: Utc::now(),
            init: 0,
            discontinuity: false,
            slate: false,
            size: 0,
        })
        .collect()
}

/// (video frames, seconds) of a file, by ffprobe.
fn frames(path: &Path) -> (u64, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_packets"])
        .args(["-show_entries", "stream=nb_read_packets:format=duration"])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let number = |v: &serde_json::Value| v.as_str().and_then(|n| n.parse::<f64>().ok());
    (
        number(&info["streams"][0]["nb_read_packets"]).unwrap_or(0.0) as u64,
        number(&info["format"]["duration"]).unwrap_or(0.0),
    )
}

fn ffmpeg(before: &[&str], input: &Path, after: &[&str], output: &Path) -> Duration {
    let began = Instant::now();
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(before)
        .arg("-i")
        .arg(input)
        .args(after)
        .arg(output)
        .status()
        .unwrap();
    assert!(status.success());
    began.elapsed()
}

fn main() {
    let seconds: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(600);
    let dir = source(seconds);
    let segments = segments(&dir);
    let (start, end) = (30.3, f64::from(seconds) - 19.7);
    let span = end - start;
    let out = tempfile::tempdir().unwrap();

    let selection = select(&segments, start, end).expect("the span is cuttable");
    let ours = out.path().join("classcast.ts");
    let began = Instant::now();
    let done = cut::cut(&dir, &selection, &ours).expect("cut");
    let ours_took = began.elapsed();

    // ffmpeg reads the same bytes: the init segment and every segment, as
    // one fragmented MP4 (its HLS demuxer does not seek in fMP4 playlists).
    let mut parts = vec![dir.join("init-0.mp4")];
    parts.extend(segments.iter().map(|s| dir.join(s.uri())));
    let parts: Vec<String> = parts.iter().map(|p| p.display().to_string()).collect();
    let master = PathBuf::from(format!("concat:{}", parts.join("|")));
    let (ss, t) = (format!("{start}"), format!("{span}"));
    let reencoded = out.path().join("ffmpeg-reencode.ts");
    let x264 = [
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-bf", "0",
    ];
    let reencode_took = ffmpeg(
        &["-ss", &ss],
        &master,
        &[&["-t", &t][..], &x264[..], &["-c:a", "copy"][..]].concat(),
        &reencoded,
    );
    let copied = out.path().join("ffmpeg-copy.ts");
    let copy_took = ffmpeg(&["-ss", &ss], &master, &["-t", &t, "-c", "copy"], &copied);

    println!(
        "span {start}–{end} s ({span:.1} s, {} frames at 25 fps) of a {seconds} s 1080p recording",
        (span * 25.0).round()
    );
    for (name, took, path) in [
        (
            "classcast (GOPs copied, edges re-encoded)",
            ours_took,
            &ours,
        ),
        ("ffmpeg re-encoding the span", reencode_took, &reencoded),
        ("ffmpeg -c copy (not frame-accurate)", copy_took, &copied),
    ] {
        let (n, secs) = frames(path);
        println!(
            "{name:45} {:>8.2} s   {n} frames, {secs:.3} s",
            took.as_secs_f64()
        );
    }
    println!(
        "classcast copied {} frames and re-encoded {}; {:.1}x faster than re-encoding",
        done.copied_frames,
        done.encoded_frames,
        reencode_took.as_secs_f64() / ours_took.as_secs_f64()
    );
}
