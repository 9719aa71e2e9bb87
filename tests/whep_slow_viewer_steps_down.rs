//! A viewer whose network cannot keep up (it loses 60% of what arrives,
//! and says so in its receiver reports) is moved down a rendition, then let
//! go, while a viewer of the same rendition on a good network keeps every
//! picture coming. aiortc plays both.

mod common;

use std::time::{Duration, Instant};

use common::webrtc_peer::{aiortc_play_lossy_spawn, aiortc_play_spawn, aiortc_result};
use common::{ServerOptions, TestServer};

const DEMO: &str = "00000000-0000-4000-8000-0000000000de";

fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lossy_viewer_moves_down_then_goes_and_the_others_play_on() {
    let server = TestServer::start(ServerOptions {
        demo: true,
        ..Default::default()
    })
    .await;
    server.wait_live(DEMO).await;
    let url = server.url(&format!("/whep/{DEMO}?rendition=source"));
    // The healthy viewer: 12 s of pictures at the camera's 30 fps.
    let healthy = aiortc_play_spawn(&url, None, 30, false, Duration::from_secs(12));
    // Each step down waits for a run of lossy receiver reports, and their
    // pace follows the machine's load (the first step came 13 s in once,
    // beside other tests): the lossy viewer stays long enough for both
    // steps, and the test goes on as soon as the server has let it go.
    let lossy = aiortc_play_lossy_spawn(&url, 0.6, Duration::from_secs(2), 30);

    let deadline = Instant::now() + Duration::from_secs(28);
    let (mut moved, mut dropped) = (0.0, 0.0);
    while Instant::now() < deadline && dropped < 1.0 {
        let metrics = server.get("/metrics").await.text().await.unwrap();
        moved = counter(&metrics, "classcast_webrtc_viewers_moved_down_total");
        dropped = counter(&metrics, "classcast_webrtc_viewers_dropped_total");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        moved >= 1.0,
        "the lossy viewer was moved down first\n{}",
        server.logs()
    );
    assert!(dropped >= 1.0, "then let go\n{}", server.logs());

    let lossy = tokio::task::spawn_blocking(move || aiortc_result(lossy))
        .await
        .unwrap();
    assert_eq!(lossy.status, 201, "{lossy:?}");
    // aiortc only notices when ICE consent runs out (30 s); that the server
    // let it go shows in its session being gone when it leaves.
    assert_eq!(
        lossy.delete_status,
        Some(404),
        "the server ended it: {lossy:?}"
    );
    // What it managed to decode only ever got smaller.
    let heights = lossy.heights.clone().unwrap_or_default();
    assert!(heights.windows(2).all(|w| w[1] < w[0]), "{heights:?}");

    let healthy = tokio::task::spawn_blocking(move || aiortc_result(healthy))
        .await
        .unwrap();
    assert_eq!(healthy.status, 201, "{healthy:?}");
    assert_eq!(healthy.pts_advancing, Some(true), "{healthy:?}");
    assert_eq!(healthy.ended_by_server, Some(false), "{healthy:?}");
    // 12 s of hold at 30 fps; allow the start and this machine's hiccups.
    let frames = healthy.video_frames.unwrap();
    assert!(
        frames >= 300,
        "the good viewer kept its pictures: {frames} frames"
    );
    assert_eq!(healthy.rendition.as_deref(), Some("source"));
}
