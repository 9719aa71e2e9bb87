//! The classroom camera's cable is pulled for 5 seconds during a lesson and
//! plugged back in: viewers see the "signal lost" slate instead of an error,
//! the same live stream continues when the camera returns, and the lesson
//! stays one recording with the gap marked.

mod common;

use std::time::{Duration, Instant};

use common::rtsp_camera::{CameraCodecs, RtspCamera};
use common::{ServerOptions, TestServer, check_hls, slate_segments};
use serde_json::json;

const CUT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread")]
async fn five_second_camera_cut_is_one_recording_with_a_gap() {
    let camera = RtspCamera::start(CameraCodecs::H264Alaw, None);
    // Long enough grace for the reconnect backoff to find the camera again.
    let server = TestServer::start(ServerOptions {
        grace_seconds: Some(20),
        ..Default::default()
    })
    .await;
    let (classroom, _) = server
        .classroom_with_source("初一(2)班", json!({"kind": "rtsp", "url": camera.url()}))
        .await;
    let live = server.wait_live(&classroom).await;
    let lesson_started = Instant::now();
    let recording_id = live["live"]["recording_id"].as_str().unwrap().to_string();
    let master = format!("/live/{classroom}/index.m3u8");
    // A few seconds of lesson before the cable is pulled: two camera segments.
    let playlist = wait_playlist(&server, &master, "two camera segments", |p| {
        slate_segments(p).len() >= 2
    })
    .await;
    assert!(slate_segments(&playlist).iter().all(|s| !s), "{playlist}");

    camera.unplug();
    let unplugged = Instant::now();
    let cut_at = lesson_started.elapsed();
    server
        .wait_for_classroom(&classroom, Duration::from_secs(6), "signal lost", |c| {
            c["live"]["state"] == "signal_lost"
        })
        .await;
    // Viewers keep a playable stream: the slate, after a discontinuity.
    let during = wait_playlist(&server, &master, "the slate", |p| {
        slate_segments(p).iter().any(|s| *s)
    })
    .await;
    assert!(during.contains("#EXT-X-DISCONTINUITY\n"), "{during}");
    check_hls(&server, &master).await;
    let sequence_during = media_sequence(&during);
    // The cable stays out for the whole cut.
    tokio::time::sleep_until((unplugged + CUT).into()).await;

    camera.plug_in();
    let back = server
        .wait_for_classroom(&classroom, Duration::from_secs(15), "camera back", |c| {
            c["live"]["state"] == "live"
        })
        .await;
    assert_eq!(
        back["live"]["recording_id"], recording_id,
        "the camera's return continues the same recording"
    );
    // The same stream continues with the camera's pictures: after the
    // signal-lost mark, a discontinuity, then the newest segments are the
    // camera's again (a growing sequence alone would also be the slate's).
    let after = wait_playlist(&server, &master, "camera segments after the slate", |p| {
        let slate = slate_segments(p);
        slate.iter().any(|s| *s) && slate.iter().rev().take(2).all(|s| !s) && slate.len() >= 3
    })
    .await;
    assert!(
        media_sequence(&after) > sequence_during,
        "the same stream continues:\n{during}\n---\n{after}"
    );
    check_hls(&server, &master).await;

    camera.unplug();
    let recording = server
        .wait_for_recording(&recording_id, Duration::from_secs(40), |r| {
            r["status"] == "complete"
        })
        .await;
    let gaps = recording["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "one gap marked: {recording}");
    let gap = gaps[0]["duration_ms"].as_i64().unwrap();
    assert!(
        gap >= CUT.as_millis() as i64 && gap <= 15_000,
        "the gap covers the cut and the reconnect: {gap} ms"
    );
    let offset = gaps[0]["offset_ms"].as_i64().unwrap();
    let expected = cut_at.as_millis() as i64;
    eprintln!("camera unplugged {expected} ms in; gap marked at {offset} ms, {gap} ms long");
    assert!(
        (offset - expected).abs() <= 2_000,
        "gap at {offset} ms, camera unplugged {expected} ms into the lesson"
    );
    let recordings = server
        .get_json(&format!("/api/recordings?classroom_id={classroom}"))
        .await;
    assert_eq!(recordings.as_array().unwrap().len(), 1, "{recordings}");
    let sessions = server
        .get_json(&format!("/api/sessions?classroom_id={classroom}"))
        .await;
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    check_hls(&server, recording["hls_url"].as_str().unwrap()).await;
}

/// Polls the top rendition's live playlist until `ready` holds.
async fn wait_playlist(
    server: &TestServer,
    master: &str,
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let top = master.replace("index.m3u8", "source/index.m3u8");
    loop {
        let response = server.get(&top).await;
        let text = if response.status() == 200 {
            response.text().await.unwrap()
        } else {
            String::new()
        };
        if ready(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{text}\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn media_sequence(playlist: &str) -> u64 {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no media sequence in {playlist}"))
}
