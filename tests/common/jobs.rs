//! Jobs in tests: clips made with ffmpeg, jobs queued through the API,
//! `classcast worker` processes beside the server, and the checks a
//! finished HLS VOD ladder must pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::TestServer;

/// Short leases and quick polling, so takeovers happen in seconds.
pub const FAST_JOBS: &[(&str, &str)] = &[
    ("CLASSCAST_JOBS__LEASE_SECONDS", "2"),
    ("CLASSCAST_JOBS__POLL_MS", "100"),
    ("CLASSCAST_JOBS__RETRY_BASE_SECONDS", "1"),
    ("CLASSCAST_JOBS__RETRY_MAX_SECONDS", "2"),
    ("CLASSCAST_JOBS__X264_PRESET", "ultrafast"),
];

pub fn fast_jobs_env(in_process: bool) -> Vec<(&'static str, String)> {
    let mut env: Vec<_> = FAST_JOBS.iter().map(|(k, v)| (*k, v.to_string())).collect();
    env.push(("CLASSCAST_JOBS__IN_PROCESS", in_process.to_string()));
    env
}

/// The server's media store (a local one, the default): where job inputs
/// and outputs are, by key.
pub fn objects(server: &TestServer) -> PathBuf {
    server.media.path().join("objects")
}

/// A test-pattern clip with a tone in the server's media store; returns
/// its key.
pub fn make_clip(server: &TestServer, key: &str, size: &str, seconds: u32) -> String {
    make_clip_at(server, key, size, seconds, 0)
}

/// `make_clip` with its tone `volume_db` louder (or quieter) than ffmpeg's
/// sine (peak -18 dBFS).
pub fn make_clip_at(
    server: &TestServer,
    key: &str,
    size: &str,
    seconds: u32,
    volume_db: i32,
) -> String {
    let path = objects(server).join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={size}:rate=25"),
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-af", &format!("volume={volume_db}dB")])
        .args(["-c:a", "aac", "-b:a", "96k"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made {key}");
    key.to_string()
}

/// Queues a `vod_ladder` job; returns its id.
pub async fn enqueue_ladder(server: &TestServer, input: &str, output_dir: &str) -> String {
    let (status, job) = server
        .post_json(
            "/api/jobs",
            json!({"kind": "vod_ladder", "payload": {"input": input, "output_dir": output_dir}}),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["state"], "queued");
    job["id"].as_str().unwrap().to_string()
}

pub async fn wait_job(
    server: &TestServer,
    id: &str,
    timeout: Duration,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    server
        .wait_for(&format!("/api/jobs/{id}"), timeout, what, check)
        .await
}

/// A `classcast worker` process on the server's database and media.
pub struct Worker {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Worker {
    pub fn start(server: &TestServer, name: &str) -> Self {
        let log = server.media.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_classcast"))
            .arg("worker")
            .env("DATABASE_URL", &server.database_url)
            .env("CLASSCAST_MEDIA__DIR", server.media.path())
            .env("CLASSCAST_NODE", name)
            .env("RUST_LOG", "info")
            .envs(FAST_JOBS.iter().copied())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("classcast binary runs");
        Self {
            child: Some(child),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: the worker gets no chance to hand anything back.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- {} ---\n{}", self.log.display(), self.logs());
        }
    }
}

/// Names in a directory, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// What ffprobe sees in a file: (codec type, height) per stream.
pub fn probe_streams(path: &Path) -> Vec<(String, Option<u64>)> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-of", "json"])
        .arg(path)
        .stderr(Stdio::null())
        .output()
        .expect("ffprobe runs");
    let value: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    value["streams"]
        .as_array()
        .map(|streams| {
            streams
                .iter()
                .map(|s| {
                    (
                        s["codec_type"].as_str().unwrap_or("").to_string(),
                        s["height"].as_u64(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A finished ladder: the master lists each expected video height and
/// an audio-only rendition; every media playlist is a complete VOD whose
/// segments exist, are no longer than the target, add up to the input's
/// length, and hold what their rendition says; nothing else is in the
/// rendition directories.
pub fn check_ladder(dir: &Path, heights: &[u64], seconds: f64) {
    let master = std::fs::read(dir.join("master.m3u8")).expect("master playlist");
    let master = match m3u8_rs::parse_playlist_res(&master) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(m)) => m,
        other => panic!("not a master playlist: {other:?}"),
    };
    let listed: Vec<(String, Option<u64>)> = master
        .variants
        .iter()
        .map(|v| (v.uri.clone(), v.resolution.map(|r| r.height)))
        .collect();
    let mut expected: Vec<(String, Option<u64>)> = heights
        .iter()
        .map(|h| (format!("{h}/index.m3u8"), Some(*h)))
        .collect();
    expected.push(("audio/index.m3u8".into(), None));
    assert_eq!(listed, expected, "renditions in the master playlist");
    for variant in &master.variants {
        assert!(variant.bandwidth > 0, "{} has a bandwidth", variant.uri);
        let rendition = variant.uri.trim_end_matches("/index.m3u8");
        let text = std::fs::read(dir.join(&variant.uri)).unwrap();
        let media = match m3u8_rs::parse_playlist_res(&text) {
            Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
            other => panic!("{}: not a media playlist: {other:?}", variant.uri),
        };
        assert!(media.end_list, "{} is complete", variant.uri);
        assert_eq!(
            media.playlist_type,
            Some(m3u8_rs::MediaPlaylistType::Vod),
            "{} is VOD",
            variant.uri
        );
        let total: f64 = media.segments.iter().map(|s| s.duration as f64).sum();
        assert!(
            (total - seconds).abs() < 0.5,
            "{}: segments add up to {total} s, the input is {seconds} s",
            variant.uri
        );
        for segment in &media.segments {
            assert!(
                segment.duration as f64 <= media.target_duration as f64 + 0.5,
                "{}: a {} s segment over the {} s target",
                variant.uri,
                segment.duration,
                media.target_duration
            );
        }
        let mut files: Vec<String> = media.segments.iter().map(|s| s.uri.clone()).collect();
        files.push("index.m3u8".into());
        files.sort();
        assert_eq!(
            names(&dir.join(rendition)),
            files,
            "{rendition} holds exactly its playlist and segments"
        );
        let streams = probe_streams(&dir.join(rendition).join(&media.segments[0].uri));
        let expected: Vec<(String, Option<u64>)> = match variant.resolution {
            Some(r) => vec![("video".into(), Some(r.height)), ("audio".into(), None)],
            None => vec![("audio".into(), None)],
        };
        let mut streams = streams;
        streams.sort_by_key(|s| s.0 != "video");
        assert_eq!(streams, expected, "streams of {rendition}'s first segment");
    }
}

/// The size of a picture, by ffprobe.
pub fn picture_size(path: &Path) -> (u32, u32) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
        ])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.trim().split(',').map(|n| n.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// A ladder's preview: a poster of `poster` size, and a WebVTT track whose
/// cues run from 0 to the end without gaps, each pointing at a tile inside
/// the sprite beside it.
pub fn check_preview(dir: &Path, poster: (u32, u32), seconds: f64) {
    assert_eq!(picture_size(&dir.join("poster.jpg")), poster, "poster");
    let sprite = picture_size(&dir.join("preview/sprite.jpg"));
    assert!(sprite.0 > 0 && sprite.1 > 0, "sprite decodes: {sprite:?}");
    let vtt = std::fs::read_to_string(dir.join("preview/thumbnails.vtt")).unwrap();
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    let seconds_of = |t: &str| {
        let parts: Vec<f64> = t.split(':').map(|p| p.parse().unwrap()).collect();
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
    };
    let mut expected_start = 0.0;
    let mut cues = 0;
    let lines: Vec<&str> = vtt.lines().collect();
    for pair in lines.windows(2) {
        let Some((start, end)) = pair[0].split_once(" --> ") else {
            continue;
        };
        assert!(
            (seconds_of(start) - expected_start).abs() < 0.01,
            "cues are contiguous: {vtt}"
        );
        expected_start = seconds_of(end);
        let (name, xywh) = pair[1].split_once("#xywh=").expect("a sprite cue");
        assert_eq!(name, "sprite.jpg");
        let n: Vec<u32> = xywh.split(',').map(|v| v.parse().unwrap()).collect();
        assert!(
            n[0] + n[2] <= sprite.0 && n[1] + n[3] <= sprite.1,
            "{xywh} inside {sprite:?}"
        );
        cues += 1;
    }
    assert!(cues >= 2, "{vtt}");
    assert!(
        (expected_start - seconds).abs() < 0.5,
        "the last cue ends at {expected_start} s of {seconds}"
    );
}

/// Integrated loudness (EBU R128, LUFS) of a rendition's segments played in
/// order, by FFmpeg's ebur128 filter.
pub fn rendition_loudness(dir: &Path) -> f64 {
    let playlist = std::fs::read_to_string(dir.join("index.m3u8")).unwrap();
    let joined = tempfile::NamedTempFile::new().unwrap();
    let mut bytes = Vec::new();
    for line in playlist
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        bytes.extend(std::fs::read(dir.join(line)).unwrap());
    }
    std::fs::write(joined.path(), bytes).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-f", "mpegts", "-i"])
        .arg(joined.path())
        .args(["-map", "0:a:0", "-af", "ebur128", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let log = String::from_utf8_lossy(&out.stderr);
    let summary = log.rsplit("Summary:").next().unwrap_or("");
    summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("I:"))
        .and_then(|v| v.trim().trim_end_matches("LUFS").trim().parse().ok())
        .unwrap_or_else(|| panic!("no loudness measured:\n{log}"))
}
