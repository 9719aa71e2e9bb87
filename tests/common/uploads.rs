//! Helpers for the upload tests: a teacher allowed to upload, test videos
//! made with ffmpeg, tus-js-client (the reference client, run by node) and
//! what the server kept (rows and objects).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::TestServer;
use super::accounts::{self, PASSWORD};

/// A school with a teacher; returns the teacher's API token.
pub async fn teacher(server: &TestServer, name: &str) -> String {
    server.create_admin("root", PASSWORD);
    let root = accounts::api_token(server, "root", PASSWORD).await;
    let school = accounts::school(server, &root, "实验中学", "campus").await;
    teacher_of(server, &root, &school, name).await
}

pub async fn teacher_of(server: &TestServer, root: &str, school: &str, name: &str) -> String {
    accounts::user(
        server,
        root,
        json!({"username": name, "password": PASSWORD, "school_id": school,
               "roles": [{"role": "teacher"}]}),
    )
    .await;
    accounts::api_token(server, name, PASSWORD).await
}

/// A lesson-like MP4 (H.264 + AAC, moov first) of `seconds` at `size`.
/// `noisy` makes every frame nearly incompressible (lossless x264 on
/// noise, about 11 MB/s at 640x360), for files of a wanted size.
pub fn video(path: &Path, seconds: f64, size: &str, noisy: bool) {
    let source = if noisy {
        format!("testsrc2=size={size}:rate=25,noise=alls=60:allf=t")
    } else {
        format!("testsrc2=size={size}:rate=25")
    };
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "lavfi", "-i", &source])
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
        .args(if noisy { &["-qp", "0"][..] } else { &[][..] })
        .args(["-c:a", "aac", "-ac", "2", "-movflags", "+faststart"])
        .arg(path)
        .status()
        .expect("ffmpeg runs (make test installs it)");
    assert!(status.success(), "ffmpeg made no test video");
}

/// Watches the lesson in Chromium as `username` (web/tests/plays_in_chromium.mjs):
/// the player starts and its decoded frames and time advance.
pub fn plays_in_chromium(server: &TestServer, username: &str, lesson: &str) {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let out = Command::new("node")
        .args(["--test", "tests/plays_in_chromium.mjs"])
        .current_dir(&web)
        .env("CLASSCAST_URL", server.url(""))
        .env("CLASSCAST_USER", username)
        .env("CLASSCAST_PASSWORD", PASSWORD)
        .env("CLASSCAST_LESSON", lesson)
        .output()
        .expect("node runs (make test installs it, playwright-core and chromium)");
    assert!(
        out.status.success(),
        "the lesson does not play in Chromium:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web/tests/tus_upload.mjs")
}

/// tus-js-client uploading `file` (see web/tests/tus_upload.mjs for `extra`).
pub fn tus_client(server: &TestServer, token: &str, file: &Path, extra: &[&str]) -> Child {
    Command::new("node")
        .arg(script())
        .args(["--endpoint", &server.url("/api/uploads")])
        .args(["--token", token])
        .arg("--file")
        .arg(file)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs (make test installs it and tus-js-client)")
}

/// Runs the client to its end; returns its events.
pub fn tus_upload(server: &TestServer, token: &str, file: &Path, extra: &[&str]) -> Vec<Value> {
    let child = tus_client(server, token, file, extra);
    events(child)
}

/// Reads a client's events until it exits.
pub fn events(mut child: Child) -> Vec<Value> {
    let stdout = child.stdout.take().unwrap();
    let events: Vec<Value> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect();
    let _ = child.wait();
    events
}

pub fn last<'a>(events: &'a [Value], kind: &str) -> Option<&'a Value> {
    events.iter().rev().find(|e| e["event"] == kind)
}

/// The upload's path (`/api/uploads/{id}`) from a client's events.
pub fn upload_path(events: &[Value]) -> String {
    let url = last(events, "created").expect("the upload was created")["url"]
        .as_str()
        .unwrap()
        .to_string();
    url.find("/api/uploads/")
        .map(|i| url[i..].to_string())
        .unwrap()
}

/// Rows in `uploads` and in `upload_parts`.
pub fn rows(server: &TestServer) -> (i64, i64) {
    let count = |table: &str| {
        accounts::psql(server, &format!("SELECT count(*) FROM {table}"))
            .parse()
            .unwrap()
    };
    (count("uploads"), count("upload_parts"))
}

/// Every file under the local object store's `uploads/`.
pub fn objects(server: &TestServer) -> Vec<PathBuf> {
    super::files_under(&server.media.path().join("objects/uploads"))
}

/// Where a resumed client's first progress event says it started.
pub fn resumed_from(events: &[Value]) -> u64 {
    events
        .iter()
        .find(|e| e["event"] == "progress")
        .and_then(|e| e["sent"].as_u64())
        .expect("the client reported progress")
}

/// `GET {upload}/info` as `token`: the upload's state and probe.
pub async fn info(server: &TestServer, path: &str, token: &str) -> Value {
    let (status, info) = accounts::call(
        server,
        reqwest::Method::GET,
        &format!("{path}/info"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{info}");
    info
}

/// What the server kept of an upload whose client was cut off: waits for
/// the offset to move off 0 (it does once the server sees the socket
/// close), for at most `within`.
pub async fn kept_after_cut(server: &TestServer, path: &str, token: &str, within: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let kept = offset(server, path, token).await.unwrap();
        if kept > 0 {
            return kept;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing of the cut upload was kept within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A tus request made by hand (reqwest), for what the client never sends.
pub fn tus(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> reqwest::RequestBuilder {
    server
        .client
        .request(method, server.url(path))
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
}

/// HEAD: the upload's offset, or the status when it has none.
pub async fn offset(server: &TestServer, path: &str, token: &str) -> Result<u64, u16> {
    let response = tus(server, reqwest::Method::HEAD, path, token)
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        return Err(response.status().as_u16());
    }
    Ok(response.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap())
}
