//! A lesson file queued as a `vod_ladder` job is transcoded by the
//! server's own worker into an HLS VOD ladder that plays: 720p and 360p
//! (the input is 720p, so nothing is upscaled to 1080p) and audio only,
//! with progress shown while it runs.

mod common;

use std::time::Duration;

use common::jobs::{check_ladder, enqueue_ladder, fast_jobs_env, make_clip, names, wait_job};
use common::{ServerOptions, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_lesson_becomes_a_vod_ladder() {
    let server = TestServer::start(ServerOptions {
        env: fast_jobs_env(true),
        ..Default::default()
    })
    .await;
    let input = make_clip(&server, "uploads/lesson.mp4", "1280x720", 10);
    let id = enqueue_ladder(&server, &input, "lessons/first/hls").await;

    // Progress is seen on the way, not only the end.
    let running = wait_job(&server, &id, Duration::from_secs(60), "progress", |job| {
        job["state"] == "succeeded"
            || (job["state"] == "running"
                && job["step"] == "transcoding"
                && job["progress_percent"].as_f64().unwrap() > 0.0)
    })
    .await;
    assert_eq!(
        running["state"], "running",
        "progress was never shown: {running}"
    );
    assert!(running["progress_percent"].as_f64().unwrap() < 100.0);

    let done = wait_job(
        &server,
        &id,
        Duration::from_secs(120),
        "the ladder",
        |job| job["state"] != "running" && job["state"] != "queued",
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["progress_percent"], 100.0);
    assert!(done["error"].is_null());

    let out = server.media.path().join("lessons/first/hls");
    check_ladder(&out, &[720, 360], 10.0);
    // Only the finished ladder is left: no staging directory beside it.
    assert_eq!(names(&server.media.path().join("lessons/first")), ["hls"]);
}
