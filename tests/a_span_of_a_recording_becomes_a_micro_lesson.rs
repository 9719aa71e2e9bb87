//! A teacher cuts a micro-lesson out of a classroom recording (剪辑微课).
//! An encoder like OBS's (H.264 with B-frames, a 2 s GOP) records a
//! lesson; the recording is shared with a teacher, who picks a span that
//! starts and ends inside GOPs. The new draft lesson's video lasts the
//! span to within one frame and decodes cleanly, most of it copied (only
//! the two edge GOPs re-encoded), and it goes through the VOD ladder like
//! an upload. A span outside the recording, too short or the wrong way
//! round is a 422 naming its field and makes no lesson; a teacher of
//! another school cannot cut the recording.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::accounts::{call, within};
use common::jobs::{fast_jobs_env, objects};
use common::lesson_media::{lesson, play, wait_media};
use common::library::{Group, teacher};
use reqwest::Method;
use serde_json::{Value, json};

const PUBLISHED_SECONDS: u32 = 16;
const FPS: f64 = 25.0;
/// Frames 83 and 293 of the recording (25 fps): both inside 2 s GOPs.
const START: f64 = 3.32;
const END: f64 = 11.72;

/// OBS-like: x264 with B-frames (no zerolatency), keyframes every 2 s.
fn publish(url: &str) -> std::process::Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &PUBLISHED_SECONDS.to_string()])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "50",
        ])
        .args([
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-f", "flv", url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs (make test installs it)")
}

/// (decoded video frames, seconds of video, FFmpeg's complaints).
fn decode(path: &Path) -> (u64, f64, String) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args(["-show_entries", "stream=nb_read_frames:format=duration"])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    let frames = info["streams"][0]["nb_read_frames"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let seconds = info["format"]["duration"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    let errors = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    (
        frames,
        seconds,
        String::from_utf8_lossy(&errors.stderr).into(),
    )
}

/// The server's log as text: its ANSI colour codes taken out.
fn without_colours(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// Frames `numbers` of a video (0 = its first shown), small and grey.
fn pictures(input: &str, numbers: &[u64]) -> Vec<Vec<u8>> {
    let pick: Vec<String> = numbers.iter().map(|n| format!("eq(n\\,{n})")).collect();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i", input])
        .args(["-vf", &format!("select={},scale=160:90", pick.join("+"))])
        .args([
            "-fps_mode",
            "passthrough",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frame = 160 * 90;
    assert_eq!(
        out.stdout.len(),
        frame * numbers.len(),
        "frames {numbers:?} of {input}"
    );
    out.stdout.chunks(frame).map(<[u8]>::to_vec).collect()
}

fn difference(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.len() as f64
}

/// Which of the recording's frames `around` the clip's picture is.
fn closest(recording: &str, around: u64, picture: &[u8]) -> u64 {
    let numbers = [around - 2, around - 1, around, around + 1, around + 2];
    let candidates = pictures(recording, &numbers);
    let (best, _) = numbers
        .iter()
        .zip(&candidates)
        .map(|(n, c)| (*n, difference(c, picture)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    best
}

/// (start_time of the video, of the audio) in a file.
fn stream_starts(path: &Path) -> (f64, Option<f64>) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,start_time",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    let start = |kind: &str| {
        info["streams"]
            .as_array()?
            .iter()
            .find(|s| s["codec_type"] == kind)?["start_time"]
            .as_str()?
            .parse::<f64>()
            .ok()
    };
    (start("video").expect("a video stream"), start("audio"))
}

fn clips_under(dir: &Path) -> Vec<std::path::PathBuf> {
    common::files_under(dir)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "clip.ts"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_span_of_a_recording_becomes_a_frame_accurate_micro_lesson() {
    let mut env = fast_jobs_env(true);
    env.push(("CLASSCAST_LIVE__GRACE_SECONDS", "1".into()));
    let group = Group::start_with(env).await;
    let server = &group.server;
    let root = group.root.clone();
    let (status, room) = call(
        server,
        Method::POST,
        "/api/classrooms",
        Some(&root),
        Some(json!({"name": "录播教室 301", "school_id": group.main, "ladder_heights": []})),
    )
    .await;
    assert_eq!(status, 201, "{room}");
    let room = room["id"].as_str().unwrap().to_string();
    let (status, source) = call(
        server,
        Method::POST,
        &format!("/api/classrooms/{room}/sources"),
        Some(&root),
        Some(json!({"kind": "rtmp"})),
    )
    .await;
    assert_eq!(status, 201, "{source}");
    let mut encoder = publish(&server.rtmp_url(source["stream_key"].as_str().unwrap()));
    assert!(encoder.wait().unwrap().success(), "ffmpeg published");
    let recordings = format!("/api/recordings?classroom_id={room}");
    let complete = || async {
        let (_, list) = call(server, Method::GET, &recordings, Some(&root), None).await;
        (list[0]["status"] == "complete").then(|| list[0]["id"].as_str().unwrap().to_string())
    };
    within(
        Duration::from_secs(30),
        "the recording is complete",
        || async { complete().await.is_some() },
    )
    .await;
    let recording = complete().await.unwrap();

    let author = group.person("li_laoshi", &group.main, teacher()).await;
    let outsider = group.person("shanqu", &group.partner, teacher()).await;
    let (status, body) = call(
        server,
        Method::POST,
        &format!("/api/recordings/{recording}/shares"),
        Some(&root),
        Some(json!({"username": "li_laoshi"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let subject = group.term("subjects", "math").await;
    let grade = group.term("grades", "g7").await;
    let clip = |start: f64, end: f64| {
        json!({"start_seconds": start, "end_seconds": end, "title": "有理数的加法 · 课堂片段",
               "subject_id": subject, "grade_id": grade})
    };
    let clips_path = format!("/api/recordings/{recording}/clips");

    // Refused spans name their field and make nothing.
    for (start, end, field) in [
        (8.0, 4.0, "end_seconds"),
        (-1.0, 4.0, "start_seconds"),
        (2.0, 60.0, "end_seconds"),
        (5.0, 5.4, "end_seconds"),
    ] {
        let (status, body) = call(
            server,
            Method::POST,
            &clips_path,
            Some(&author),
            Some(clip(start, end)),
        )
        .await;
        assert_eq!(status, 422, "{start}..{end}: {body}");
        assert!(
            body["error"]["fields"][field].is_string(),
            "{start}..{end}: {body}"
        );
    }
    let (status, body) = call(
        server,
        Method::POST,
        &clips_path,
        Some(&outsider),
        Some(clip(START, END)),
    )
    .await;
    assert_eq!(status, 403, "another school's teacher: {body}");
    let unknown = "/api/recordings/00000000-0000-4000-8000-000000000000/clips";
    let (status, _) = call(
        server,
        Method::POST,
        unknown,
        Some(&author),
        Some(clip(1.0, 3.0)),
    )
    .await;
    assert_eq!(status, 404);
    let (_, mine) = call(
        server,
        Method::GET,
        "/api/library/lessons?mine=true",
        Some(&author),
        None,
    )
    .await;
    assert_eq!(
        mine["items"],
        json!([]),
        "no lesson from refused cuts: {mine}"
    );
    assert!(clips_under(&objects(server)).is_empty());

    // The cut.
    let (status, made) = call(
        server,
        Method::POST,
        &clips_path,
        Some(&author),
        Some(clip(START, END)),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["state"], "draft");
    assert_eq!(made["source_recording"]["recording_id"], recording.as_str());
    assert_eq!(made["source_recording"]["start_seconds"], START);
    let id = made["id"].as_str().unwrap().to_string();
    let clip_files = clips_under(&objects(server).join("lessons").join(&id));
    assert_eq!(clip_files.len(), 1, "the clip is kept under the lesson");
    let (frames, seconds, errors) = decode(&clip_files[0]);
    let span = END - START;
    let frame = 1.0 / FPS;
    assert!(
        errors.trim().is_empty(),
        "the clip decodes cleanly: {errors}"
    );
    assert!(
        (frames as f64 * frame - span).abs() <= frame,
        "{frames} frames ({} s) for a {span} s span",
        frames as f64 * frame
    );
    assert!(
        (seconds - span).abs() <= frame + 0.001,
        "the clip lasts {seconds} s for a {span} s span"
    );
    // Frame-accurate: its first picture is the recording's frame at START,
    // its last the one before END; and its sound starts with its picture.
    let top = server
        .media
        .path()
        .join("recordings")
        .join(&recording)
        .join("source");
    // The recording as its player reads it: its first incarnation's init
    // segment and segments.
    let journal = std::fs::read_to_string(top.join("segments.jsonl")).unwrap();
    let entries: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let init = entries[0]["init"].clone();
    let mut parts = vec![top.join(format!("init-{init}.mp4"))];
    for entry in entries.iter().take_while(|e| e["init"] == init) {
        parts.push(top.join(format!("{}.m4s", entry["sequence"])));
    }
    let parts: Vec<String> = parts.iter().map(|p| p.display().to_string()).collect();
    let whole = format!("concat:{}", parts.join("|"));
    let clip_path = clip_files[0].display().to_string();
    let (first_frame, last_frame) = ((START * FPS).round() as u64, (END * FPS).round() as u64 - 1);
    let ends = pictures(&clip_path, &[0, frames - 1]);
    assert_eq!(
        closest(&whole, first_frame, &ends[0]),
        first_frame,
        "the clip's first picture"
    );
    assert_eq!(
        closest(&whole, last_frame, &ends[1]),
        last_frame,
        "the clip's last picture"
    );
    let (video_start, audio_start) = stream_starts(&clip_files[0]);
    let audio_start = audio_start.expect("the clip has its sound");
    assert!(
        (audio_start - video_start).abs() <= frame,
        "sound starts at {audio_start} s, picture at {video_start} s"
    );

    let logs = without_colours(&server.logs());
    let cut_line = logs
        .lines()
        .find(|l| l.contains("micro-lesson cut from a recording"))
        .expect("the cut is logged");
    let count = |field: &str| -> u64 {
        cut_line
            .split(&format!("{field}="))
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{field} in {cut_line}"))
    };
    // 3.32 s and 11.72 s fall inside GOPs: two edge GOPs re-encoded (at most
    // 4 s of frames), the whole GOPs between copied.
    let (copied, encoded) = (count("copied"), count("encoded"));
    assert_eq!(copied + encoded, frames, "{cut_line}");
    assert!(encoded > 0 && encoded <= 100, "{cut_line}");
    assert!(copied >= 100, "{cut_line}");

    // It becomes a lesson like an upload: a ladder that plays.
    let (_, media) = wait_media(server, &author, &id, Duration::from_secs(120)).await;
    assert_eq!(media["state"], "ready", "{media}");
    assert!(
        media["poster"].is_string(),
        "a cut video has a poster: {media}"
    );
    let played = play(server, &author, &id).await;
    assert!(!played.is_empty());
    for (rendition, listed) in &played {
        assert!(
            (listed - span).abs() < 0.5,
            "{rendition}: {listed} s for {span} s"
        );
    }
    let shown = lesson(server, &author, &id).await;
    let duration = shown["media"]["duration_seconds"].as_f64().unwrap();
    assert!((duration - span).abs() <= frame + 0.001, "{shown}");
}
