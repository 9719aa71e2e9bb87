//! An encoder that reconnects over and over while the lesson is torn down
//! (grace_seconds = 0, so every hang-up ends the lesson at once) is never
//! accepted and then cut off: each of 100 quick reconnects publishes to
//! the end, and what they sent is recorded. (An outside probe saw 20 of
//! 100 cut with "feed closed by the server: Flushing".)

mod common;

use std::io::Read;
use std::time::Duration;

use common::{Pattern, ServerOptions, TestServer, ffmpeg_publish_pattern};
use serde_json::{Value, json};

const RECONNECTS: usize = 100;
const EACH_MS: u64 = 1000;

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_quick_reconnects_with_no_grace_all_go_live() {
    let server = TestServer::start(ServerOptions {
        grace_seconds: Some(0),
        ..Default::default()
    })
    .await;
    let (classroom, source) = server
        .classroom_with_source(
            "初一(5)班 断线重连",
            json!({"kind": "rtmp", "name": "教室编码器"}),
        )
        .await;
    let url = server.rtmp_url(source["stream_key"].as_str().unwrap());
    let mut cut = Vec::new();
    for attempt in 0..RECONNECTS {
        // A one-second burst, keyframe first, as an encoder on a flaky link.
        let mut encoder = ffmpeg_publish_pattern(
            &url,
            "flv",
            Pattern {
                video: Some("320x180"),
                seconds: EACH_MS as f64 / 1000.0,
                gop: 25,
            },
        );
        let status = tokio::task::spawn_blocking(move || {
            let status = encoder.wait().unwrap();
            let mut stderr = String::new();
            let _ = encoder.stderr.take().unwrap().read_to_string(&mut stderr);
            (status, stderr)
        })
        .await
        .unwrap();
        if !status.0.success() {
            cut.push(format!("reconnect {attempt}: {}", status.1.trim()));
        }
    }
    assert!(
        cut.is_empty(),
        "publishers cut off: {cut:#?}\n{}",
        server.logs()
    );

    // Every burst reached a lesson, and every lesson is in the catalogue:
    // one closed lesson row and one complete recording each. (A lesson whose
    // ladders still flushed when the next began once kept its row open, and
    // the next lesson's rows were refused as a second open lesson.)
    let recordings: Value = server
        .wait_for(
            &format!("/api/recordings?classroom_id={classroom}&limit=500"),
            Duration::from_secs(30),
            "every recording complete",
            |r| {
                r.as_array()
                    .is_some_and(|a| !a.is_empty() && a.iter().all(|r| r["status"] == "complete"))
            },
        )
        .await;
    let sessions = server
        .get_json(&format!("/api/sessions?classroom_id={classroom}&limit=500"))
        .await;
    let sessions = sessions.as_array().unwrap();
    let recordings = recordings.as_array().unwrap();
    assert!(
        sessions.iter().all(|s| !s["ended_at"].is_null()),
        "a lesson row left open: {sessions:#?}"
    );
    let logs = server.logs();
    assert!(
        !logs.contains("the database refused"),
        "catalogue writes refused:\n{logs}"
    );
    assert_eq!(sessions.len(), recordings.len(), "one recording per lesson");
    let recorded: f64 = recordings
        .iter()
        .map(|r| r["duration_ms"].as_f64().unwrap() / 1000.0)
        .sum();
    let sent = RECONNECTS as f64 * EACH_MS as f64 / 1000.0;
    eprintln!(
        "{RECONNECTS} reconnects: {} lessons, {recorded:.1} s recorded of {sent:.1} s sent",
        sessions.len()
    );
    assert!(
        recorded >= sent * 0.9,
        "only {recorded:.1} s of {sent:.1} s were recorded"
    );
}
