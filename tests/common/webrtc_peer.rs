//! A WHEP viewer built on aiortc, a WebRTC stack independent of the
//! server's: runs `tests/peers/whep_play.py` from the venv that
//! `make deps-test` installs and parses the one JSON line it prints. It
//! reports what it decoded; judging it is the test's job.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

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

/// Waits for a viewer from [`aiortc_play_spawn`]; it stops by itself (its
/// own timeout, then DELETE). Panics with its stderr if it failed.
pub fn aiortc_result(child: Child) -> AiortcPlay {
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
