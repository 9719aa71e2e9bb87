//! A leaked stream key is fixed by rotating it: the encoder using the old
//! key is cut off at once and cannot come back with it, and the new key
//! works; over RTMP and over SRT.

mod common;

use std::time::{Duration, Instant};

use common::{ServerOptions, TestServer, ffmpeg_fails, ffmpeg_publish};
use serde_json::json;

async fn rotating_the_key_cuts_off_the_old_publisher(protocol: &str) {
    let server = TestServer::start(ServerOptions {
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    let (classroom, source) = server
        .classroom_with_source(&format!("初三(4)班 {protocol}"), json!({"kind": protocol}))
        .await;
    let url = |key: &str| match protocol {
        "rtmp" => server.rtmp_url(key),
        _ => server.srt_url(key),
    };
    let format = if protocol == "rtmp" { "flv" } else { "mpegts" };
    let old_key = source["stream_key"].as_str().unwrap().to_string();
    let mut publisher = ffmpeg_publish(&url(&old_key), format, 60, true);
    server.wait_live(&classroom).await;

    let sid = source["id"].as_str().unwrap();
    let (status, rotated) = server
        .post_json(
            &format!("/api/classrooms/{classroom}/sources/{sid}/rotate-key"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_key = rotated["stream_key"].as_str().unwrap().to_string();
    assert_ne!(new_key, old_key);

    // The old publisher is disconnected within seconds, long before its 60 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = publisher.try_wait().unwrap() {
            eprintln!("old publisher ended: {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the old publisher is still connected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server
        .wait_for_classroom(&classroom, Duration::from_secs(10), "not live", |c| {
            c["live"]["state"] != "live"
        })
        .await;
    // The old key is refused; the new one is taken.
    let stderr = ffmpeg_fails(
        ffmpeg_publish(&url(&old_key), format, 5, true),
        "the old key",
    );
    if protocol == "rtmp" {
        assert!(
            stderr.contains("unknown stream key"),
            "refused for the key: {stderr}"
        );
    } else {
        // SRT callers only hear "rejected"; the server says why in its log.
        assert!(
            stderr.contains("REJECT"),
            "refused at the handshake: {stderr}"
        );
        assert!(
            server
                .logs()
                .contains("srt publish refused: unknown stream key"),
            "{}",
            server.logs()
        );
    }
    let mut fresh = ffmpeg_publish(&url(&new_key), format, 4, true);
    server.wait_live(&classroom).await;
    assert!(fresh.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_an_rtmp_key_cuts_off_the_old_publisher() {
    rotating_the_key_cuts_off_the_old_publisher("rtmp").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_an_srt_key_cuts_off_the_old_publisher() {
    rotating_the_key_cuts_off_the_old_publisher("srt").await;
}
