//! A classroom set to keep only a rolling window of recording (the demo
//! classroom, rooms used only for live) never fills the disk: its
//! recording lists only the last few seconds, and the older segment files
//! are gone from disk.

mod common;

use std::time::Duration;

use common::{ServerOptions, TestServer, check_hls};
use serde_json::json;

const WINDOW: u64 = 6;

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_recording_keeps_only_its_window() {
    let server = TestServer::start(ServerOptions::default()).await;
    let (status, room) = server
        .post_json(
            "/api/classrooms",
            json!({"name": "演示窗口", "recording_window_seconds": WINDOW, "ladder_heights": []}),
        )
        .await;
    assert_eq!(status, 201, "{room}");
    let id = room["id"].as_str().unwrap();
    let (status, _) = server
        .post_json(
            &format!("/api/classrooms/{id}/sources"),
            json!({"kind": "test"}),
        )
        .await;
    assert_eq!(status, 201);
    let live = server.wait_live(id).await;
    let recording = live["live"]["recording_id"].as_str().unwrap().to_string();
    let dir = server
        .media
        .path()
        .join("recordings")
        .join(&recording)
        .join("source");
    let journalled = |dir: &std::path::Path| {
        std::fs::read_to_string(dir.join("segments.jsonl"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    // Three windows' worth of lesson: far more than the window was written.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while journalled(&dir) < (3 * WINDOW / 2) as usize {
        assert!(std::time::Instant::now() < deadline, "no segments written");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A rolling recording is a sliding playlist (like live): add it up.
    let playlist = server
        .get(&format!("/vod/{recording}/source/index.m3u8"))
        .await
        .text()
        .await
        .unwrap();
    let media = m3u8_rs::parse_media_playlist_res(playlist.as_bytes()).expect("parses");
    let listed: f64 = media.segments.iter().map(|s| f64::from(s.duration)).sum();
    assert!(
        media.media_sequence > 0,
        "the oldest segments left the playlist:\n{playlist}"
    );
    assert!(
        listed <= (WINDOW + 2) as f64,
        "the recording lists {listed} s for a {WINDOW} s window"
    );
    let on_disk = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".m4s"))
        })
        .count();
    assert!(
        on_disk <= (WINDOW / 2 + 1) as usize,
        "{on_disk} segment files kept for a {WINDOW} s window of 2 s segments"
    );
    assert!(
        !dir.join("0.m4s").exists(),
        "the first segment was deleted once it left the window"
    );
    // What is listed still plays.
    check_hls(&server, &format!("/vod/{recording}/index.m3u8")).await;
    let catalogued = server
        .get_json(&format!("/api/recordings/{recording}"))
        .await;
    assert_eq!(catalogued["rolling"], true, "{catalogued}");
}
