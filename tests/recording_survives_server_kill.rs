//! The server is killed with SIGKILL in the middle of a lesson (power cut,
//! OOM killer) and started again: the recording is marked interrupted and
//! plays everything up to the last completed 2-second segment. The classroom
//! is ready for the next lesson.
//!
//! What is lost is the segment in progress, never one that reached the disk.
//! The test kills the server the moment the fourth segment is journalled
//! (watching the recording's journal, not a clock, so a loaded machine
//! cannot make it flake): the recording must keep every journalled segment,
//! and lose less than one segment of the lesson.

mod common;

use std::time::Duration;

use common::{ServerOptions, TestServer, check_hls, ffmpeg_publish, ffprobe_duration};
use serde_json::json;

const SEGMENT: f64 = 2.0;
/// Killed as soon as this many segments of the top rendition are on disk.
const JOURNALLED: usize = 4;
/// The lesson clock starts when the first keyframe has been handled; the
/// encoder's first frames are already in by then.
const AHEAD: f64 = 0.3;

/// Durations of the segments journalled in a rendition's segments.jsonl.
fn journal(path: &std::path::Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|e| {
            e["duration"]["secs"].as_f64().unwrap_or(0.0)
                + e["duration"]["nanos"].as_f64().unwrap_or(0.0) / 1e9
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_lesson_keeps_every_segment_on_disk() {
    let mut server = TestServer::start(ServerOptions {
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    let (classroom, source) = server
        .classroom_with_source("高二(1)班 物理", json!({"kind": "rtmp"}))
        .await;
    let url = server.rtmp_url(source["stream_key"].as_str().unwrap());
    let mut publisher = ffmpeg_publish(&url, "flv", 60, true);
    let live = server.wait_live(&classroom).await;
    let recording_id = live["live"]["recording_id"].as_str().unwrap().to_string();
    // From the lesson's first keyframe (the server's clock, this machine's).
    let live_since: chrono::DateTime<chrono::Utc> = live["live"]["live_since"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let journal_path = server
        .media
        .path()
        .join("recordings")
        .join(&recording_id)
        .join("source/segments.jsonl");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while journal(&journal_path).len() < JOURNALLED {
        assert!(
            std::time::Instant::now() < deadline,
            "no segments journalled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    server.kill();
    let lesson = (chrono::Utc::now() - live_since).as_seconds_f64();
    // What had reached the disk when the server died.
    let kept: f64 = journal(&journal_path).iter().sum();
    let _ = publisher.kill();
    let _ = publisher.wait();

    server.spawn().await;
    let recording = server
        .wait_for_recording(&recording_id, Duration::from_secs(10), |r| {
            r["status"] != "recording"
        })
        .await;
    assert_eq!(recording["status"], "interrupted", "{recording}");
    assert!(recording["ended_at"].is_string(), "{recording}");
    let variants = check_hls(&server, recording["hls_url"].as_str().unwrap()).await;
    let played = ffprobe_duration(&server.url(&variants[0]));
    eprintln!(
        "killed {lesson:.2} s into the lesson; the recording plays {played:.2} s (lost {:.2} s)",
        lesson - played
    );
    assert!(
        (played - kept).abs() <= 0.1,
        "every journalled segment is kept: plays {played:.2} s, {kept:.2} s were on disk"
    );
    assert!(
        played > lesson - SEGMENT && played <= lesson + AHEAD,
        "recording plays {played:.2} s of a {lesson:.2} s lesson: more than the segment in progress was lost"
    );
    let catalogued = recording["duration_ms"].as_i64().unwrap() as f64 / 1000.0;
    assert!(
        (catalogued - played).abs() <= 0.5,
        "{catalogued} vs {played}"
    );
    let playlist = server.get(&variants[0]).await.text().await.unwrap();
    assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");

    // The open session was closed, and the classroom takes the next lesson.
    let sessions = server
        .get_json(&format!("/api/sessions?classroom_id={classroom}"))
        .await;
    assert!(sessions[0]["ended_at"].is_string(), "{sessions}");
    let mut publisher = ffmpeg_publish(&url, "flv", 4, true);
    let next = server.wait_live(&classroom).await;
    assert_ne!(next["live"]["recording_id"], recording_id);
    assert!(publisher.wait().unwrap().success());
}
