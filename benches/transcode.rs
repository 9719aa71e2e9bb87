//! Transcode speed: one 1080p30 H.264 classroom through the default ladder
//! (passthrough source + 720p + 360p, x264 veryfast/zerolatency, AAC),
//! side by side with ffmpeg doing the same ladder with the same x264
//! settings, in the same run. Reports each as a speed factor over real time
//! and the ratio.
//!
//! classcast's side is the production ladder description from
//! `transcode::describe`, with its two appsrcs replaced by a file reader, so
//! the graph measured is the one classrooms run.
//!
//!     cargo bench --bench transcode [-- SECONDS]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use classcast::media::format::{VideoCodec, VideoFormat};
use classcast::transcode::plan::{self, RenditionKind};
use classcast::transcode::{LadderSettings, describe};
use gstreamer as gst;
use gstreamer::prelude::*;

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
const FPS: u32 = 30;
const PRESET: &str = "veryfast";

fn main() {
    let seconds: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let input = dir.join(format!("classroom-1080p30-{seconds}s.mp4"));
    if !input.exists() {
        make_input(&input, seconds);
    }
    classcast::media::init().expect("GStreamer initialises");

    let format = VideoFormat {
        codec: VideoCodec::H264,
        width: WIDTH,
        height: HEIGHT,
        fps: FPS,
        profile: Some("high".into()),
    };
    let renditions = plan::plan(&format, &[720, 360]);

    // Alternate the two so neither always gets the warmer cache or quieter moment.
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..2 {
        ours.push(run_classcast(&input, &format, &renditions));
        theirs.push(run_ffmpeg(&input, &renditions, dir));
    }
    let best = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    let (ours, theirs) = (best(&ours), best(&theirs));
    let speed = |wall: f64| f64::from(seconds) / wall;
    println!(
        "input: {seconds} s of 1080p{FPS} H.264 + AAC ({})",
        input.display()
    );
    println!(
        "ladder: {}",
        renditions
            .iter()
            .map(|r| format!("{} {}x{}", r.name, r.width, r.height))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("classcast: {ours:.2} s wall, {:.2}x real time", speed(ours));
    println!(
        "ffmpeg:    {theirs:.2} s wall, {:.2}x real time",
        speed(theirs)
    );
    println!(
        "ratio (classcast speed / ffmpeg speed): {:.2}",
        theirs / ours
    );
    println!(
        "classrooms per machine at this load: {}",
        speed(ours).floor() as u32
    );
}

/// A lesson-like input: moving test pattern, 2-second GOP like a classroom
/// encoder set up for HLS, AAC audio.
fn make_input(path: &Path, seconds: u32) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}"),
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "high",
            "-b:v",
            "5M",
        ])
        .args(["-g", &(FPS * 2).to_string(), "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-b:a", "128k"])
        .arg(path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "could not make the input");
}

fn run_classcast(input: &Path, format: &VideoFormat, renditions: &[plan::RenditionPlan]) -> f64 {
    let settings = LadderSettings {
        segment: std::time::Duration::from_secs(2),
        x264_preset: PRESET.into(),
    };
    let ladder = describe(format, renditions, &settings).expect("ladder describes");
    let description = from_file(&ladder, input);
    let pipeline = gst::parse::launch(&description)
        .expect("ladder parses")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let bus = pipeline.bus().expect("pipeline has a bus");
    let started = Instant::now();
    pipeline
        .set_state(gst::State::Playing)
        .expect("ladder starts");
    for message in bus.iter_timed(gst::ClockTime::NONE) {
        match message.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(err) => panic!("ladder failed: {}", err.error()),
            _ => {}
        }
    }
    let wall = started.elapsed().as_secs_f64();
    pipeline.set_state(gst::State::Null).expect("ladder stops");
    wall
}

/// Swaps the ladder's appsrcs for a demuxed file and its appsinks for
/// fakesinks; everything between is untouched.
fn from_file(ladder: &str, input: &Path) -> String {
    let mut out = String::new();
    let mut lines = ladder.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("appsrc name=video") {
            out.push_str(&format!(
                "filesrc location=\"{}\" ! qtdemux name=demux\ndemux.video_0 ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0\n",
                input.display()
            ));
        } else if line.starts_with("appsrc name=audio") {
            // The caps continue on the next line.
            lines.next();
            out.push_str(
                "demux.audio_0 ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! avdec_aac ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=2\n",
            );
        } else if let Some(at) = line.find("appsink name=") {
            // An appsink nobody pulls from holds end-of-stream back forever.
            let name = line[at + "appsink name=".len()..]
                .split_whitespace()
                .next()
                .unwrap_or_default();
            out.push_str(&format!("{}fakesink name={name} sync=false\n", &line[..at]));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn run_ffmpeg(input: &Path, renditions: &[plan::RenditionPlan], dir: &Path) -> f64 {
    let transcoded: Vec<_> = renditions
        .iter()
        .filter_map(|r| match r.kind {
            RenditionKind::Transcode { kbps } => Some((r, kbps)),
            RenditionKind::Passthrough => None,
        })
        .collect();
    let mut filter = format!("[0:v]split={}", transcoded.len());
    for (r, _) in &transcoded {
        filter.push_str(&format!("[in{}]", r.name));
    }
    for (r, _) in &transcoded {
        filter.push_str(&format!(
            ";[in{0}]scale={1}:{2}[out{0}]",
            r.name, r.width, r.height
        ));
    }
    let mut command = Command::new("ffmpeg");
    command
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(input)
        .args(["-filter_complex", &filter]);
    let fragmented = [
        "-f",
        "mp4",
        "-movflags",
        "+frag_keyframe+empty_moov+default_base_moof",
    ];
    // Passthrough rendition: video copied, audio encoded, as classcast does.
    command.args([
        "-map", "0:v", "-c:v", "copy", "-map", "0:a", "-c:a", "aac", "-b:a", "128k",
    ]);
    command.args(fragmented).arg(dir.join("ffmpeg-source.mp4"));
    for (r, kbps) in &transcoded {
        // Same x264 settings as the ladder: preset, tune, bitrate with
        // x264enc's default CBR-like VBV, GOP of 2 s, constrained baseline
        // (what every WebRTC decoder takes).
        command.args(["-map", &format!("[out{}]", r.name)]);
        command.args([
            "-c:v",
            "libx264",
            "-preset",
            PRESET,
            "-tune",
            "zerolatency",
            "-profile:v",
            "baseline",
        ]);
        command.args(["-b:v", &format!("{kbps}k"), "-maxrate", &format!("{kbps}k")]);
        command.args([
            "-bufsize",
            &format!("{}k", kbps * 6 / 10),
            "-g",
            &(FPS * 2).to_string(),
        ]);
        command.args(["-map", "0:a", "-c:a", "aac", "-b:a", "128k"]);
        command
            .args(fragmented)
            .arg(dir.join(format!("ffmpeg-{}.mp4", r.name)));
    }
    let started = Instant::now();
    let status = command.status().expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg ladder failed");
    started.elapsed().as_secs_f64()
}
