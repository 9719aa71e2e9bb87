//! A live classroom plays over WebRTC (WHEP) in aiortc, a WebRTC stack of
//! its own: the camera's H.264 passed through, a transcoded rendition, the
//! tone as Opus; and the session ends with DELETE.

mod common;

use common::webrtc_peer::{aiortc_play, aiortc_play_spawn, aiortc_result};
use common::{ServerOptions, TestServer};

const DEMO: &str = "00000000-0000-4000-8000-0000000000de";

async fn demo_server() -> TestServer {
    let server = TestServer::start(ServerOptions {
        demo: true,
        ..Default::default()
    })
    .await;
    server.wait_live(DEMO).await;
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn aiortc_plays_the_camera_and_a_transcoded_rendition_with_sound() {
    let server = demo_server().await;
    let url = server.url(&format!("/whep/{DEMO}"));
    // The demo camera sends constrained baseline without B-frames: a peer
    // that offers only that profile gets the camera's own H.264.
    let played = tokio::task::spawn_blocking(move || aiortc_play(&url, None, 60, false))
        .await
        .unwrap();
    assert_eq!(played.status, 201, "{played:?}");
    assert_eq!(played.rendition.as_deref(), Some("source"));
    assert!(played.video_frames.unwrap() >= 60, "{played:?}");
    assert_eq!(played.pts_advancing, Some(true));
    assert!(played.height.unwrap() >= 360, "{played:?}");
    // Sound, and the demo's 440 Hz tone rather than silence.
    assert!(played.audio_frames.unwrap() > 20, "{played:?}");
    assert!(played.audio_rms.unwrap() > 0.01, "{played:?}");
    let hz = played.audio_hz.unwrap();
    assert!((hz - 440.0).abs() < 20.0, "tone at {hz} Hz");
    assert_eq!(played.delete_status, Some(200));
    let location = played.location.unwrap();
    assert!(
        location.starts_with(&format!("/whep/{DEMO}/")),
        "{location}"
    );
    assert!(played.etag.is_some());

    // A transcoded rendition, chosen by name.
    let url = server.url(&format!("/whep/{DEMO}?rendition=360p"));
    let played = tokio::task::spawn_blocking(move || aiortc_play(&url, None, 30, false))
        .await
        .unwrap();
    assert_eq!(played.status, 201, "{played:?}");
    assert_eq!(played.rendition.as_deref(), Some("360p"));
    assert_eq!(played.height, Some(360), "{played:?}");
    assert!(played.video_frames.unwrap() >= 30);

    // Sound only.
    let url = server.url(&format!("/whep/{DEMO}?rendition=audio"));
    let played = tokio::task::spawn_blocking(move || aiortc_play(&url, None, 50, true))
        .await
        .unwrap();
    assert_eq!(played.status, 201, "{played:?}");
    assert_eq!(played.rendition.as_deref(), Some("audio"));
    assert!(played.audio_frames.unwrap() >= 50, "{played:?}");
    assert_eq!(played.video_frames.unwrap_or(0), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn viewers_of_one_rendition_play_side_by_side() {
    let server = demo_server().await;
    // Three viewers at once on the same transcoded rendition and one on
    // the camera: the same packets fan out to each.
    let mut children = Vec::new();
    for rendition in ["360p", "360p", "360p", "source"] {
        let url = server.url(&format!("/whep/{DEMO}?rendition={rendition}"));
        children.push(aiortc_play_spawn(
            &url,
            None,
            45,
            false,
            std::time::Duration::from_secs(1),
        ));
    }
    let results = tokio::task::spawn_blocking(move || {
        children.into_iter().map(aiortc_result).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for played in &results {
        assert_eq!(played.status, 201, "{played:?}");
        assert!(played.video_frames.unwrap() >= 45, "{played:?}");
        assert_eq!(played.pts_advancing, Some(true), "{played:?}");
        assert_eq!(played.delete_status, Some(200));
    }
    let metrics = server.get("/metrics").await.text().await.unwrap();
    let viewers = metrics
        .lines()
        .find(|l| l.starts_with("classcast_webrtc_viewers "))
        .unwrap_or_default();
    assert_eq!(viewers, "classcast_webrtc_viewers 0", "all ended");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_bound_to_every_interface_still_connects() {
    // 0.0.0.0, as a school server facing its LAN is set up: the answer
    // names concrete addresses and packets to them are matched up.
    let server = TestServer::start(ServerOptions {
        demo: true,
        env: vec![
            ("CLASSCAST_WEBRTC__UDP_ADDR", "0.0.0.0:0".into()),
            ("CLASSCAST_WEBRTC__TCP_ADDR", "0.0.0.0:0".into()),
        ],
        ..Default::default()
    })
    .await;
    server.wait_live(DEMO).await;
    let url = server.url(&format!("/whep/{DEMO}?rendition=360p"));
    let played = tokio::task::spawn_blocking(move || aiortc_play(&url, None, 30, false))
        .await
        .unwrap();
    assert_eq!(played.status, 201, "{played:?}");
    assert!(played.video_frames.unwrap() >= 30, "{played:?}");
}
