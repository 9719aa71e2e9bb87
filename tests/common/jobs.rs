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

/// A test-pattern clip with a tone under the server's media directory;
/// returns its key.
pub fn make_clip(server: &TestServer, key: &str, size: &str, seconds: u32) -> String {
    let path = server.media.path().join(key);
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
