//! Shared helpers for the integration tests: a real classcast process on
//! free ports with its own database and media directory, ffmpeg publishers,
//! and ffprobe checks. Nothing here is mocked.
#![allow(dead_code)]

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod accounts;
pub mod hls_check;
pub mod jobs;
pub mod lesson_media;
pub mod library;
pub mod openapi;
pub mod rtsp_camera;
pub mod slow_disk;
pub mod throwaway_postgres;
pub mod uploads;
pub mod webrtc_peer;

// Not every test binary uses them; each compiles this module anew.
#[allow(unused_imports)]
pub use hls_check::*;

pub const ADMIN_URL: &str = "postgres://classcast:classcast@127.0.0.1:5432/postgres";

/// Every file under `dir`, at any depth (none if it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct TestServer {
    pub http: u16,
    pub rtmp: u16,
    pub srt: u16,
    pub database_url: String,
    pub media: tempfile::TempDir,
    pub log: PathBuf,
    extra_env: Vec<(String, String)>,
    /// The database was made for this server on the shared cluster.
    own_database: bool,
    child: Option<Child>,
    pub client: reqwest::Client,
}

/// Options beyond the defaults a test may want.
#[derive(Default, Clone)]
pub struct ServerOptions {
    pub demo: bool,
    pub grace_seconds: Option<u64>,
    /// Require sign-in (the accounts issue); off keeps the open test bench.
    pub auth: bool,
    /// Any other settings, as CLASSCAST_* environment variables.
    pub env: Vec<(&'static str, String)>,
    /// A database elsewhere (a throwaway cluster); by default a fresh
    /// database on the shared server, dropped afterwards.
    pub database_url: Option<String>,
}

impl TestServer {
    pub async fn start(options: ServerOptions) -> Self {
        let db_name = format!("classcast_test_{}", uuid::Uuid::new_v4().simple());
        let media = tempfile::tempdir().unwrap();
        let log = media.path().join("server.log");
        let mut extra_env = vec![(
            "CLASSCAST_DEMO__ENABLED".to_string(),
            options.demo.to_string(),
        )];
        for (key, value) in &options.env {
            extra_env.push((key.to_string(), value.clone()));
        }
        // Media tests run on an open bench; access control has its own tests.
        extra_env.push(("CLASSCAST_AUTH__ENABLED".into(), options.auth.to_string()));
        if let Some(grace) = options.grace_seconds {
            extra_env.push(("CLASSCAST_LIVE__GRACE_SECONDS".into(), grace.to_string()));
        }
        let mut server = Self {
            http: free_tcp_port(),
            rtmp: free_tcp_port(),
            srt: free_udp_port(),
            database_url: options.database_url.clone().unwrap_or_else(|| {
                format!("postgres://classcast:classcast@127.0.0.1:5432/{db_name}")
            }),
            own_database: options.database_url.is_none(),
            media,
            log,
            extra_env,
            child: None,
            client: reqwest::Client::new(),
        };
        server.spawn().await;
        server
    }

    pub async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_classcast"))
            .arg("serve")
            .env("DATABASE_URL", &self.database_url)
            .env("CLASSCAST_HTTP__ADDR", format!("127.0.0.1:{}", self.http))
            .env(
                "CLASSCAST_INGEST__RTMP_ADDR",
                format!("127.0.0.1:{}", self.rtmp),
            )
            .env(
                "CLASSCAST_INGEST__SRT_ADDR",
                format!("127.0.0.1:{}", self.srt),
            )
            .env("CLASSCAST_MEDIA__DIR", self.media.path())
            // Servers run side by side: each takes a free WebRTC port (the
            // answers' candidates name it).
            .env("CLASSCAST_WEBRTC__UDP_ADDR", "127.0.0.1:0")
            .env("CLASSCAST_WEBRTC__TCP_ADDR", "127.0.0.1:0")
            .env(
                "CLASSCAST_HTTP__WEB_DIR",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("web/dist"),
            )
            .env("RUST_LOG", "info")
            .envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("classcast binary runs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.client.get(self.url("/healthz")).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("server exited with {status}:\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "server did not start:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `classcast admin create`, as a school's IT admin runs it.
    pub fn create_admin(&self, username: &str, password: &str) {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_classcast"))
            .args([
                "admin",
                "create",
                "--username",
                username,
                "--password-stdin",
            ])
            .env("DATABASE_URL", &self.database_url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("classcast binary runs");
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "admin create failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Signs in; returns the session cookie and CSRF token.
    pub async fn sign_in(&self, username: &str, password: &str) -> (String, String) {
        let response = self
            .client
            .post(self.url("/api/session"))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "sign-in as {username}");
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let body: Value = response.json().await.unwrap();
        (cookie, body["csrf_token"].as_str().unwrap().to_string())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    pub fn rtmp_url(&self, key: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live/{key}", self.rtmp)
    }

    pub fn srt_url(&self, key: &str) -> String {
        format!(
            "srt://127.0.0.1:{}?streamid=publish:{key}&pkt_size=1316",
            self.srt
        )
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server process's id, to read its memory from /proc.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        child.wait().unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates a classroom with one source of `kind`; returns (classroom id, source json).
    pub async fn classroom_with_source(&self, name: &str, source: Value) -> (String, Value) {
        let (status, classroom) = self
            .post_json("/api/classrooms", serde_json::json!({"name": name}))
            .await;
        assert_eq!(status, 201, "{classroom}");
        let id = classroom["id"].as_str().unwrap().to_string();
        let (status, source) = self
            .post_json(&format!("/api/classrooms/{id}/sources"), source)
            .await;
        assert_eq!(status, 201, "{source}");
        (id, source)
    }

    pub async fn classroom(&self, id: &str) -> Value {
        self.get_json(&format!("/api/classrooms/{id}")).await
    }

    /// Polls a JSON resource until `check` holds; fails with its last state.
    pub async fn wait_for(
        &self,
        path: &str,
        timeout: Duration,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.get_json(path).await;
            if check(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {value}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_for_classroom(
        &self,
        id: &str,
        timeout: Duration,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_for(&format!("/api/classrooms/{id}"), timeout, what, check)
            .await
    }

    /// Until the classroom's lesson is live (camera delivering).
    pub async fn wait_live(&self, id: &str) -> Value {
        self.wait_for_classroom(id, Duration::from_secs(10), "live", |c| {
            c["live"]["state"] == "live"
        })
        .await
    }

    /// Until the live classroom has HLS segments to serve.
    pub async fn wait_segments(&self, id: &str) -> Value {
        self.wait_for_classroom(id, Duration::from_secs(20), "segments", |c| {
            c["live"]["renditions"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        })
        .await
    }

    pub async fn wait_for_recording(
        &self,
        id: &str,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_for(
            &format!("/api/recordings/{id}"),
            timeout,
            "recording",
            check,
        )
        .await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- server log ---\n{}", self.logs());
        }
        // Leave the database behind only when a test failed, for inspection.
        if !std::thread::panicking() && self.own_database {
            let name = self
                .database_url
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            let _ = Command::new("psql")
                .args([
                    ADMIN_URL,
                    "-qc",
                    &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// ffmpeg publishing a test pattern with a clock-like counter and a tone,
/// with a 2-second GOP like a classroom encoder set up for HLS.
pub fn ffmpeg_publish(url: &str, format: &str, seconds: u32, with_video: bool) -> Child {
    ffmpeg_publish_pattern(
        url,
        format,
        Pattern {
            video: with_video.then_some("640x360"),
            seconds: seconds as f64,
            gop: 50,
        },
    )
}

/// What an ffmpeg test publisher sends: a 25 fps test pattern of `video`
/// size (none: audio only) and a tone, for `seconds`, keyframes every `gop`.
pub struct Pattern {
    pub video: Option<&'static str>,
    pub seconds: f64,
    pub gop: u32,
}

pub fn ffmpeg_publish_pattern(url: &str, format: &str, pattern: Pattern) -> Child {
    let mut command = Command::new("ffmpeg");
    command.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"]);
    if let Some(size) = pattern.video {
        let source = format!("testsrc2=size={size}:rate=25");
        command.args(["-f", "lavfi", "-i", &source]);
    }
    command.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
    command.args(["-t", &pattern.seconds.to_string()]);
    if pattern.video.is_some() {
        let gop = pattern.gop.to_string();
        command.args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-g",
            &gop,
            "-pix_fmt",
            "yuv420p",
        ]);
    }
    command.args(["-c:a", "aac", "-b:a", "96k", "-f", format, url]);
    command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs (make test installs it)")
}

/// Waits (up to 15 s) for a publisher the server should refuse; returns
/// what ffmpeg said, so the test can check the reason.
pub fn ffmpeg_fails(mut publisher: std::process::Child, what: &str) -> String {
    use std::io::Read;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = publisher.try_wait().unwrap() {
            let mut stderr = String::new();
            publisher
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            assert!(!status.success(), "{what}: ffmpeg was accepted");
            return stderr;
        }
        if Instant::now() > deadline {
            let _ = publisher.kill();
            panic!("{what}: ffmpeg was neither refused nor stopped");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `target` exactly as written (no client-side normalisation of
/// `..` or percent escapes); returns the status code and body.
pub fn raw_get(port: u16, target: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}
