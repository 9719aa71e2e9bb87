//! A 1080p classroom camera with the default ladder: its own H.264 passes
//! through as the top rendition, and 720p and 360p are encoded, each at its
//! size, every segment decoding.

mod common;

use std::process::Command;

use common::{Pattern, ServerOptions, TestServer, check_hls, ffmpeg_publish_pattern};
use serde_json::json;

/// The height of the first video stream of a media playlist, as ffprobe sees it.
fn height(url: &str) -> u64 {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=height",
            "-of",
            "csv=p=0",
            url,
        ])
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&output.stdout);
    // One line per program the playlist's segments hold; they agree.
    text.lines()
        .next()
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no height for {url}: {text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_1080p_camera_gets_source_720p_and_360p() {
    let server = TestServer::start(ServerOptions {
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    let (classroom, source) = server
        .classroom_with_source("阶梯教室 1080p", json!({"kind": "rtmp"}))
        .await;
    let url = server.rtmp_url(source["stream_key"].as_str().unwrap());
    let mut publisher = ffmpeg_publish_pattern(
        &url,
        "flv",
        Pattern {
            video: Some("1920x1080"),
            seconds: 12.0,
            gop: 50,
        },
    );
    let status = server
        .wait_for_classroom(
            &classroom,
            std::time::Duration::from_secs(30),
            "three renditions",
            |c| {
                c["live"]["renditions"]
                    .as_array()
                    .is_some_and(|r| r.len() == 3)
            },
        )
        .await;
    let names: Vec<&str> = status["live"]["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["source", "720p", "360p"], "{status}");
    let sizes: Vec<(u64, u64)> = status["live"]["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap()))
        .collect();
    assert_eq!(sizes, [(1920, 1080), (1280, 720), (640, 360)]);
    let variants = check_hls(&server, &format!("/live/{classroom}/index.m3u8")).await;
    let heights: Vec<u64> = variants.iter().map(|v| height(&server.url(v))).collect();
    assert_eq!(heights, [1080, 720, 360], "{variants:?}");
    let _ = publisher.kill();
    let _ = publisher.wait();
}
