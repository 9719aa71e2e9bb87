//! An encoder pushes a lesson over RTMP or SRT (ffmpeg, H.264 + AAC): the
//! classroom goes live, every HLS rendition parses and decodes, and after
//! the encoder stops the recording is catalogued and plays as VOD, as long
//! as what was published (±0.5 s). How fast (live within 3 s, the VOD
//! within 5 s of the end) is measured by benches/going_live.sh, not here:
//! a timed assertion flakes on a loaded machine.

mod common;

use std::time::{Duration, Instant};

use common::{ServerOptions, TestServer, check_hls, ffmpeg_publish, ffprobe_duration};
use serde_json::json;

const PUBLISHED_SECONDS: u32 = 10;

async fn lesson_over(protocol: &str) {
    let server = TestServer::start(ServerOptions {
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    let (classroom, source) = server
        .classroom_with_source(&format!("初二(3)班 {protocol}"), json!({"kind": protocol}))
        .await;
    let ladder = server
        .client
        .patch(server.url(&format!("/api/classrooms/{classroom}")))
        .json(&json!({"ladder_heights": [240]}))
        .send()
        .await
        .unwrap();
    assert_eq!(ladder.status(), 200);
    let key = source["stream_key"]
        .as_str()
        .expect("pushed sources get a key");
    let url = match protocol {
        "rtmp" => server.rtmp_url(key),
        _ => server.srt_url(key),
    };
    let format = if protocol == "rtmp" { "flv" } else { "mpegts" };
    let started = Instant::now();
    let mut publisher = ffmpeg_publish(&url, format, PUBLISHED_SECONDS, true);

    let live = server.wait_live(&classroom).await;
    eprintln!(
        "{protocol}: live in the API {:?} after starting the publisher",
        started.elapsed()
    );
    let recording_id = live["live"]["recording_id"]
        .as_str()
        .expect("recording on by default")
        .to_string();

    // The camera's 360p H.264 passes through and a 240p rung is encoded
    // (the ladder set below): both renditions play.
    server
        .wait_for_classroom(&classroom, Duration::from_secs(20), "two renditions", |c| {
            c["live"]["renditions"]
                .as_array()
                .is_some_and(|r| r.len() == 2)
        })
        .await;
    let variants = check_hls(&server, &format!("/live/{classroom}/index.m3u8")).await;
    assert_eq!(variants.len(), 2, "{variants:?}");
    assert!(
        variants.iter().any(|v| v.contains("/source/")),
        "camera H.264 passes through: {variants:?}"
    );
    assert!(
        variants.iter().any(|v| v.contains("/240p/")),
        "the ladder's 240p is transcoded: {variants:?}"
    );

    // Two players watching: the classroom and /metrics count them.
    for player in ["hls.js 1.7 (教室大屏)", "AppleCoreMedia/1.0 (iPad)"] {
        let response = server
            .client
            .get(server.url(&variants[0]))
            .header("user-agent", player)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    server
        .wait_for_classroom(&classroom, Duration::from_secs(5), "viewers", |c| {
            c["live"]["viewers"].as_u64().is_some_and(|n| n >= 2)
        })
        .await;
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("classcast_viewers{")
            && l.contains(&classroom)
            && l.rsplit(' ')
                .next()
                .and_then(|n| n.parse::<f64>().ok())
                .is_some_and(|n| n >= 2.0)),
        "{metrics}"
    );

    let status = publisher.wait().unwrap();
    assert!(status.success(), "ffmpeg failed: {:?}", publisher.stderr);
    let ended = Instant::now();
    let recording = server
        .wait_for_recording(&recording_id, Duration::from_secs(20), |r| {
            r["status"] == "complete"
        })
        .await;
    // The publisher's hang-up ends the camera at once; after the grace
    // period (1 s) the lesson ends and its recording is catalogued.
    eprintln!(
        "{protocol}: recording complete {:?} after the encoder stopped",
        ended.elapsed()
    );
    let duration = recording["duration_ms"].as_i64().unwrap() as f64 / 1000.0;
    assert!(
        (duration - PUBLISHED_SECONDS as f64).abs() <= 0.5,
        "catalogued duration {duration} s for {PUBLISHED_SECONDS} s published"
    );
    let vod = recording["hls_url"].as_str().unwrap();
    let variants = check_hls(&server, vod).await;
    let played = ffprobe_duration(&server.url(&variants[0]));
    assert!(
        (played - PUBLISHED_SECONDS as f64).abs() <= 0.5,
        "VOD plays {played} s for {PUBLISHED_SECONDS} s published"
    );
    let playlist = server.get(&variants[0]).await.text().await.unwrap();
    assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    let sessions = server
        .get_json(&format!("/api/sessions?classroom_id={classroom}"))
        .await;
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    assert!(sessions[0]["ended_at"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn rtmp_lesson_goes_live_and_is_recorded() {
    lesson_over("rtmp").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn srt_lesson_goes_live_and_is_recorded() {
    lesson_over("srt").await;
}
