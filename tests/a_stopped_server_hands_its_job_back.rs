//! `classcast serve` stopped with SIGTERM in the middle of a transcode
//! stops its worker cleanly: the job is handed back (not counted as an
//! attempt, not left to its lease), and after the restart it is done in
//! one attempt with a whole output.

mod common;

use std::time::Duration;

use common::jobs::{
    check_ladder, enqueue_ladder, fast_jobs_env, make_clip, names, objects, wait_job,
};
use common::{ServerOptions, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_server_hands_its_job_back() {
    let mut server = TestServer::start(ServerOptions {
        env: fast_jobs_env(true),
        ..Default::default()
    })
    .await;
    let input = make_clip(&server, "uploads/long.mp4", "1280x720", 30);
    let id = enqueue_ladder(&server, &input, "lessons/long").await;
    wait_job(
        &server,
        &id,
        Duration::from_secs(60),
        "the transcode under way",
        |job| job["state"] == "running" && job["progress_percent"].as_f64().unwrap() > 5.0,
    )
    .await;
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
    assert!(
        server.logs().contains("job handed back for shutdown"),
        "{}",
        server.logs()
    );

    server.spawn().await;
    let done = wait_job(
        &server,
        &id,
        Duration::from_secs(180),
        "the job finished",
        |job| job["state"] == "succeeded" || job["state"] == "failed",
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        done["attempts"], 1,
        "the interrupted attempt is not counted: {done}"
    );
    assert_eq!(names(&objects(&server).join("lessons")), ["long"]);
    check_ladder(&objects(&server).join("lessons/long"), &[720, 360], 30.0);
}
