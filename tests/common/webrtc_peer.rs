//! A WHEP viewer and a WHIP publisher built on aiortc, a WebRTC stack
//! independent of the server's: they run `tests/peers/whep_play.py` and
//! `tests/peers/whip_publish.py` from the venv that `make deps-test`
//! installs and parse the one JSON line each prints. They report what they
//! decoded or sent; judging it is the test's job.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// What the aiortc viewer saw. A refused POST carries only `status` and
/// `body`; a played session carries the rest.
#[derive(Debug, Clone, Deserialize)]
pub struct AiortcPlay {
    /// Status of the WHEP POST.
    pub status: u16,
    /// Response body of a refused POST (the JSON error).
    pub body: Option<String>,
    /// `Classcast-Rendition` of the answer.
    pub rendition: Option<String>,
    pub location: Option<String>,
    pub etag: Option<String>,
    /// Decoded frames, including those of the hold after the target.
    pub video_frames: Option<u64>,
    /// Size of the last decoded video frame.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub audio_frames: Option<u64>,
    /// From sending the POST to the first decoded video frame.
    pub first_frame_ms: Option<u64>,
    /// Every presentation time later than the one before (video, or audio
    /// when audio only), over at least two frames.
    pub pts_advancing: Option<bool>,
    /// RMS of the decoded left channel, 0..1 of full scale: near 0 is
    /// silence, whatever the frame count says.
    pub audio_rms: Option<f64>,
    /// Pitch of the decoded audio by zero crossings; only meaningful for a
    /// single tone such as the publishers' 440 Hz sine.
    pub audio_hz: Option<f64>,
    /// The target frame count was not reached in time.
    pub timed_out: Option<bool>,
    /// Every picture height, in the order they came (a change is a move
    /// to another rendition).
    pub heights: Option<Vec<u32>>,
    /// The connection failed or was closed before the viewer let go.
    pub ended_by_server: Option<bool>,
    /// aiortc's connection state when playing stopped.
    pub connection_state: Option<String>,
    /// Status of the DELETE of `location`; absent when it could not be sent.
    pub delete_status: Option<u16>,
    pub delete_error: Option<String>,
}

fn peers_python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/peers-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run make deps-test",
        python.display()
    );
    python
}

/// Plays `url` (the full WHEP POST url) until `frames` video frames are
/// decoded (audio frames when `audio_only`, which offers no video), or 20 s
/// pass, then ends the session with DELETE. Blocks the calling thread.
pub fn aiortc_play(url: &str, bearer: Option<&str>, frames: u32, audio_only: bool) -> AiortcPlay {
    aiortc_result(aiortc_play_spawn(
        url,
        bearer,
        frames,
        audio_only,
        Duration::ZERO,
    ))
}

/// Starts the viewer and returns at once, so a test can do something else
/// while it plays; it keeps playing `hold` after reaching `frames`. Collect
/// the result with [`aiortc_result`].
pub fn aiortc_play_spawn(
    url: &str,
    bearer: Option<&str>,
    frames: u32,
    audio_only: bool,
    hold: Duration,
) -> Child {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/whep_play.py");
    let mut command = Command::new(peers_python());
    command
        .arg(script)
        .args(["--url", url])
        .args(["--frames", &frames.to_string()])
        .args(["--hold", &hold.as_secs_f64().to_string()]);
    if let Some(token) = bearer {
        command.args(["--bearer", token]);
    }
    if audio_only {
        command.arg("--audio-only");
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the aiortc peer starts (run make deps-test)")
}

/// A viewer on a network that cannot keep up: from `after` past its first
/// picture it loses `fraction` of the packets arriving, and it plays until
/// `seconds` pass or the server lets it go.
pub fn aiortc_play_lossy_spawn(url: &str, fraction: f64, after: Duration, seconds: u32) -> Child {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/whep_play.py");
    Command::new(peers_python())
        .arg(script)
        .args(["--url", url])
        .args(["--frames", "1000000"])
        .args(["--seconds", &seconds.to_string()])
        .args(["--drop", &fraction.to_string()])
        .args(["--drop-after", &after.as_secs_f64().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the aiortc peer starts (run make deps-test)")
}

/// Waits for a viewer from [`aiortc_play_spawn`]; it stops by itself (its
/// own timeout, then DELETE). Panics with its stderr if it failed.
pub fn aiortc_result(child: Child) -> AiortcPlay {
    peer_report(child)
}

/// What the aiortc publisher did. A refused POST carries only `status` and
/// `body`; a published session carries the rest.
#[derive(Debug, Clone, Deserialize)]
pub struct AiortcPublish {
    /// Status of the WHIP POST.
    pub status: u16,
    /// Response body of a refused POST (the JSON error).
    pub body: Option<String>,
    pub location: Option<String>,
    pub etag: Option<String>,
    /// aiortc's connection state when publishing stopped, before the
    /// DELETE: `connected` unless it never came up within 10 s of the
    /// answer or the server dropped it (`failed`, `closed`).
    pub connection_state: Option<String>,
    /// From sending the POST to the connection being up.
    pub connect_ms: Option<u64>,
    /// Frames handed to aiortc's H.264 encoder (each different: a moving
    /// pattern with the frame number drawn on it), 30 per second by default.
    pub video_frames_sent: Option<u64>,
    /// 20 ms frames of the 440 Hz sine handed to the Opus encoder.
    pub audio_frames_sent: Option<u64>,
    /// Status of the DELETE of `location`; absent when it could not be sent.
    pub delete_status: Option<u16>,
    pub delete_error: Option<String>,
}

/// Publishes to `url` (the full WHIP POST url: `{base}/whip` with the
/// stream key as `bearer`, or `{base}/whip/{key}` with `None`) for `seconds`
/// once connected, then ends the publish with DELETE. Blocks the calling
/// thread.
pub fn aiortc_publish(url: &str, bearer: Option<&str>, seconds: u32) -> AiortcPublish {
    aiortc_publish_result(aiortc_publish_spawn(url, bearer, seconds))
}

/// Starts the publisher (640x360 at 30 fps of H.264, and Opus) and returns
/// at once, so a test can watch the classroom while it publishes. Collect
/// the result with [`aiortc_publish_result`].
pub fn aiortc_publish_spawn(url: &str, bearer: Option<&str>, seconds: u32) -> Child {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/whip_publish.py");
    let mut command = Command::new(peers_python());
    command
        .arg(script)
        .args(["--url", url])
        .args(["--seconds", &seconds.to_string()]);
    if let Some(key) = bearer {
        command.args(["--bearer", key]);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the aiortc peer starts (run make deps-test)")
}

/// Waits for a publisher from [`aiortc_publish_spawn`]; it stops by itself
/// (`seconds` after connecting, or 10 s without connecting, then DELETE).
/// Panics with its stderr if it failed.
pub fn aiortc_publish_result(child: Child) -> AiortcPublish {
    peer_report(child)
}

/// The last line the peer printed, parsed; panics with its stderr if it
/// exited non-zero or printed something else.
fn peer_report<T: DeserializeOwned>(child: Child) -> T {
    let output = child
        .wait_with_output()
        .expect("the aiortc peer can be waited for");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        panic!("the aiortc peer failed ({}):\n{stderr}", output.status);
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("the aiortc peer printed nothing:\n{stderr}"));
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the aiortc peer printed {line:?} ({e}):\n{stderr}"))
}
