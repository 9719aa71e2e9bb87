//! A job whose input is not media (a text file named .mp4) is tried its
//! configured number of times, waiting between tries, and then ends
//! `failed` with a reason a person can read; nothing is left behind.

mod common;

use std::time::Duration;

use common::jobs::{enqueue_ladder, fast_jobs_env, names, objects, wait_job};
use common::{ServerOptions, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_cannot_succeed_fails_with_its_reason() {
    let mut env = fast_jobs_env(true);
    env.push(("CLASSCAST_JOBS__MAX_ATTEMPTS", "2".into()));
    let server = TestServer::start(ServerOptions {
        env,
        ..Default::default()
    })
    .await;
    let uploads = objects(&server).join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(
        uploads.join("notes.mp4"),
        "这不是视频 / this is not a video\n",
    )
    .unwrap();
    let id = enqueue_ladder(&server, "uploads/notes.mp4", "lessons/notes").await;

    // After the first failure the job waits for its retry, reason shown.
    let retrying = wait_job(&server, &id, Duration::from_secs(30), "a retry", |job| {
        (job["state"] == "queued" && job["attempts"] == 1) || job["state"] == "failed"
    })
    .await;
    assert_eq!(retrying["state"], "queued", "{retrying}");
    assert!(
        retrying["error"]
            .as_str()
            .unwrap()
            .contains("not a playable media file")
    );

    let failed = wait_job(&server, &id, Duration::from_secs(30), "failure", |job| {
        job["state"] == "failed" || job["state"] == "succeeded"
    })
    .await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["attempts"], 2);
    let reason = failed["error"].as_str().unwrap();
    assert!(reason.starts_with("not a playable media file"), "{reason}");
    assert!(!failed["finished_at"].is_null());
    assert!(names(&objects(&server).join("lessons")).is_empty());
}
