//! A lesson file queued as a `vod_ladder` job is transcoded by the
//! server's own worker into an HLS VOD ladder that plays: 720p and 360p
//! (the input is 720p, so nothing is upscaled to 1080p) and audio only,
//! with progress shown while it runs, at EBU R128's loudness whatever the
//! room's level, and a poster and a seek-preview
//! sprite with its WebVTT thumbnails track beside it.

mod common;

use std::time::Duration;

use common::jobs::{
    check_ladder, check_preview, enqueue_ladder, fast_jobs_env, make_clip, make_clip_at, names,
    objects, rendition_loudness, wait_job,
};
use common::{ServerOptions, TestServer};

/// EBU R128's target, which classcast normalises lessons to.
const TARGET_LUFS: f64 = -23.0;

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

    let out = objects(&server).join("lessons/first/hls");
    check_ladder(&out, &[720, 360], 10.0);
    check_preview(&out, (320, 180), 10.0);
    let level = rendition_loudness(&out.join("audio"));
    assert!(
        (level - TARGET_LUFS).abs() < 1.0,
        "the lesson plays at {level} LUFS"
    );

    // A room recorded 20 dB quieter plays at the same level.
    let quiet = make_clip_at(&server, "uploads/quiet.mp4", "640x360", 6, -20);
    let id = enqueue_ladder(&server, &quiet, "lessons/quiet/hls").await;
    let done = wait_job(
        &server,
        &id,
        Duration::from_secs(120),
        "the quiet ladder",
        |job| job["state"] != "running" && job["state"] != "queued",
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let quiet_out = objects(&server).join("lessons/quiet/hls");
    for rendition in ["audio", "360"] {
        let level = rendition_loudness(&quiet_out.join(rendition));
        assert!(
            (level - TARGET_LUFS).abs() < 1.0,
            "{rendition} of the quiet room plays at {level} LUFS"
        );
    }
    // Only the finished ladder is left: no staging directory beside it.
    assert_eq!(names(&objects(&server).join("lessons/first")), ["hls"]);
}
