//! A leaked stream key is fixed by rotating it: the encoder using the old
//! key is cut off at once and cannot come back with it, and the new key
//! works.

mod common;

use std::time::{Duration, Instant};

use common::{ServerOptions, TestServer, ffmpeg_fails, ffmpeg_publish};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn rotating_the_key_cuts_off_the_old_publisher() {
    let server = TestServer::start(ServerOptions {
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    let (classroom, source) = server
        .classroom_with_source("初三(4)班", json!({"kind": "rtmp"}))
        .await;
    let old_key = source["stream_key"].as_str().unwrap().to_string();
    let mut publisher = ffmpeg_publish(&server.rtmp_url(&old_key), "flv", 60, true);
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
        ffmpeg_publish(&server.rtmp_url(&old_key), "flv", 5, true),
        "the old key",
    );
    assert!(
        stderr.contains("unknown stream key"),
        "refused for the key: {stderr}"
    );
    let mut fresh = ffmpeg_publish(&server.rtmp_url(&new_key), "flv", 4, true);
    server.wait_live(&classroom).await;
    assert!(fresh.wait().unwrap().success());
}
